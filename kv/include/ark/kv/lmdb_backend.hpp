#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "ark/kv/backend.hpp"
#include "ark/kv/durability.hpp"
#include "ark/kv/raw.hpp"

namespace ark::kv {

struct lmdb_options {
  /// Open for reading only: no lock file is taken, writes fail with read_only.
  /// Works while a host writes to the same directory.
  bool read_only = false;
  /// Create the directory when it is missing (ignored when read_only).
  bool create_if_missing = true;
  /// sync: every commit fsynced; relaxed: MDB_NOMETASYNC; none: MDB_NOSYNC.
  durability mode = durability::sync;
  /// Initial LMDB map size; the map doubles on MDB_MAP_FULL up to max_map_size.
  std::size_t initial_map_size = std::size_t{1} << 30;
  /// Ceiling for automatic growth (default 1 TiB); beyond it writes get map_full.
  std::size_t max_map_size = std::size_t{1} << 40;
  /// Concurrent read transactions (open cursors count) this process may hold.
  unsigned max_readers = 1024;
  /// Told once, with one line, when a writable open upgraded a directory of
  /// an older storage format (ark-host passes its log). Unset: silent.
  std::function<void(const std::string&)> on_upgrade;
};

/// The default backend: one LMDB environment per data directory, with the
/// named databases `meta`, `spaces` and `kv` (doc/storage_format.md).
///
/// A writable backend holds an exclusive lock on `<dir>/ark.lock` for its
/// lifetime, so a second writer on the same directory fails with `locked`
/// and leaves the first unharmed. Writes are serialized inside the process;
/// reads run concurrently and never block the writer.
class lmdb_backend final : public backend {
 public:
  /// Opens (or creates) the data directory `dir`. Errors: no_data_dir (missing
  /// directory when read_only or !create_if_missing, or not an ark directory
  /// when read_only), locked, format_version, io_error, backend_failure.
  static expected<std::shared_ptr<lmdb_backend>> open(const std::string& dir,
                                                      const lmdb_options& opts = {});

  ~lmdb_backend() override;

  std::string_view name() const override { return "lmdb"; }
  expected<std::string> get(std::string_view space, std::string_view key) override;
  expected<std::vector<std::optional<std::string>>> get_batch(
      std::string_view space, const std::vector<std::string>& keys) override;
  expected<std::unique_ptr<backend_cursor>> scan(std::string_view space, const byte_range& range,
                                                 bool reverse) override;
  expected<std::uint64_t> apply(const backend_batch& batch) override;
  expected<std::vector<std::string>> spaces(std::string_view after, std::size_t limit) override;

  const std::string& path() const;
  /// The current map size in bytes (grows on demand).
  std::size_t map_size() const;
  /// Flushes buffered commits to disk (mdb_env_sync; useful in durability::none).
  expected<void> sync() override;

  /// Calls `visit` for every entry of the `meta`, `spaces` and `kv` databases,
  /// in that order and each in key order, exactly as stored (no decoding, no
  /// checks), all from one read snapshot: a consistent view even while a host
  /// writes. For tools that check or copy a whole directory (ark-dash verify).
  /// The views passed to `visit` are valid during that call only. The snapshot
  /// stays pinned for the whole walk (a writer cannot reuse the pages it sees),
  /// so keep `visit` quick. Errors: those of LMDB while reading (io_error,
  /// corrupt_value for a damaged file, ...), naming the database and directory.
  expected<void> walk_raw(const raw_visitor& visit);

  /// Writes a consistent, compacted copy of the environment (one read
  /// snapshot: writers go on meanwhile) to `<dir>/data.mdb`; `dir` must exist
  /// and hold no data.mdb. mdb_env_copy2 with MDB_CP_COMPACT. Errors: those
  /// of LMDB (disk_full, io_error, ...) naming both directories.
  expected<void> copy_to(const std::string& dir);

  struct impl;

 private:
  explicit lmdb_backend(std::shared_ptr<impl> p);
  std::shared_ptr<impl> impl_;  // shared with open cursors
};

}  // namespace ark::kv
