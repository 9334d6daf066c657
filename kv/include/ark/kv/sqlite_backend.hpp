#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ark/kv/backend.hpp"
#include "ark/kv/durability.hpp"
#include "ark/kv/raw.hpp"

namespace ark::kv {

struct sqlite_options {
  /// Open for reading only (SQLITE_OPEN_READONLY): no lock file is taken,
  /// writes fail with read_only. Works while a host writes to the directory.
  bool read_only = false;
  /// Create the directory when it is missing (ignored when read_only).
  bool create_if_missing = true;
  /// sync: PRAGMA synchronous=FULL (the WAL is fsynced at every commit);
  /// relaxed: NORMAL (fsync at checkpoints only); none: OFF.
  durability mode = durability::sync;
  /// How long a connection waits for a lock SQLite itself holds (a checkpoint,
  /// WAL recovery by another process) before failing with backend_failure.
  unsigned busy_timeout_ms = 5000;
  /// Told once, with one line, when a writable open upgraded a directory of
  /// an older storage format (ark-host passes its log). Unset: silent.
  std::function<void(const std::string&)> on_upgrade;
};

/// The second durable backend: one SQLite database, `<dir>/ark.sqlite`, in WAL
/// mode, with the tables `meta`, `spaces` and `kv` (doc/storage_format.md,
/// "SQLite"). The whole data directory is one file (plus the transient
/// `-wal` and `-shm`), readable with the `sqlite3` tool.
///
/// Same discipline as lmdb_backend: a writable backend holds the exclusive
/// lock on `<dir>/ark.lock` for its lifetime (a second writer gets `locked`);
/// writes are serialized on one connection; every read, and every cursor,
/// runs on its own pooled read-only connection, so readers run concurrently,
/// never block the writer, and a cursor sees the snapshot it was opened on
/// (its read transaction). Thread-safe.
class sqlite_backend final : public backend {
 public:
  /// Opens (or creates) the data directory `dir`. Errors: no_data_dir (missing
  /// directory when read_only or !create_if_missing, or no ark.sqlite when
  /// read_only), invalid_argument (the directory holds an LMDB database),
  /// locked, format_version, corrupt_value (ark.sqlite is damaged or not a
  /// SQLite database), io_error, backend_failure.
  static expected<std::shared_ptr<sqlite_backend>> open(const std::string& dir,
                                                        const sqlite_options& opts = {});

  ~sqlite_backend() override;

  std::string_view name() const override { return "sqlite"; }
  expected<std::string> get(std::string_view space, std::string_view key) override;
  expected<std::vector<std::optional<std::string>>> get_batch(
      std::string_view space, const std::vector<std::string>& keys) override;
  expected<std::unique_ptr<backend_cursor>> scan(std::string_view space, const byte_range& range,
                                                 bool reverse) override;
  expected<std::uint64_t> apply(const backend_batch& batch) override;
  expected<std::vector<std::string>> spaces(std::string_view after, std::size_t limit) override;

  /// fsyncs the WAL and the database file, so every committed write is on
  /// stable storage (what relaxed and none leave to the OS). No-op read-only.
  expected<void> sync() override;

  /// The data directory.
  const std::string& path() const;
  /// The database file, `<dir>/ark.sqlite`.
  const std::string& file() const;

  /// Calls `visit` for every row of the `meta`, `spaces` and `kv` tables, in
  /// that order and each in key order, from one read transaction, in the form
  /// lmdb_backend::walk_raw reports (raw_db): integers of `meta` and space ids
  /// as big-endian bytes (u32 format_version, u64 next_space_id and ids), kv
  /// keys as the 8-byte space id ++ the user key. A `meta` value that is not an
  /// integer is passed as stored (so a checker sees its wrong size). The views
  /// are valid during the call only. Errors: corrupt_value, io_error, ...
  /// naming the table and the file.
  expected<void> walk_raw(const raw_visitor& visit);

  /// Runs `PRAGMA integrity_check` on the database file: an empty vector when
  /// SQLite finds it sound, else its problem lines (at most 100; damage that
  /// stops the check early is one line).
  expected<std::vector<std::string>> integrity_check();

  /// Writes a consistent copy of the database (SQLite's online backup API,
  /// from one read transaction: the writer goes on meanwhile) to
  /// `<dir>/ark.sqlite`, which must not exist. Errors name both files.
  expected<void> copy_to(const std::string& dir);

  struct impl;

 private:
  explicit sqlite_backend(std::shared_ptr<impl> p);
  std::shared_ptr<impl> impl_;  // shared with open cursors
};

}  // namespace ark::kv
