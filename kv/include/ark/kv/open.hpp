#pragma once

// Opening a data directory with the backend it holds (doc/backends.md,
// "Directory detection").

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ark/expected.hpp"
#include "ark/kv/backend.hpp"
#include "ark/kv/durability.hpp"
#include "ark/kv/raw.hpp"

namespace ark::kv {

/// The durable backends a data directory can hold.
enum class backend_kind : std::uint8_t {
  lmdb,    ///< lmdb_backend: data.mdb (+ lock.mdb)
  sqlite,  ///< sqlite_backend: ark.sqlite (+ ark.sqlite-wal, ark.sqlite-shm)
  postgres,  ///< pg_backend: tables in a PostgreSQL schema (no data directory)
};

/// "lmdb", "sqlite" or "postgres" (as `--backend` spells them); anything
/// else is invalid_argument naming the text and the choices.
expected<backend_kind> parse_backend_kind(std::string_view text);

/// "lmdb", "sqlite" or "postgres".
std::string_view to_string(backend_kind kind);

/// Which backend the existing data directory `dir` holds: data.mdb → lmdb,
/// ark.sqlite → sqlite. not_found when it holds neither (or does not exist);
/// invalid_argument when it holds both (someone copied files together).
expected<backend_kind> detect_backend(const std::string& dir);

/// How a data directory is opened. ark-host's flags (--backend,
/// --durability, --map-size, --max-map-size) and ark::runtime_options bind to
/// these fields; their defaults are declared here only.
struct open_options {
  /// The backend of a new directory, and the one an existing directory must
  /// hold (see open_backend). Unset: whatever an existing directory holds,
  /// LMDB for a new one.
  std::optional<backend_kind> kind;
  /// Open for reading only: no writer lock; works while a host writes.
  bool read_only = false;
  /// Create the directory when it is missing (ignored when read_only).
  bool create_if_missing = true;
  durability mode = durability::sync;
  /// LMDB only: the initial map size (it doubles on demand).
  std::size_t initial_map_size = std::size_t{1} << 30;
  /// LMDB only: the map's growth ceiling; beyond it writes get map_full.
  std::size_t max_map_size = std::size_t{1} << 40;
  /// PostgreSQL only: the libpq connection string (pg_options::conninfo);
  /// the directory argument of open_backend is then unused.
  std::string pg_conninfo;
  /// PostgreSQL only: the schema holding ark's tables.
  std::string pg_schema = "ark";
  /// LMDB and SQLite: told once, with one line, when a writable open
  /// upgraded a directory of an older storage format (ark-host passes its
  /// log). Unset: silent.
  std::function<void(const std::string&)> on_upgrade;
  /// PostgreSQL only: hold the schema's lock (pg_options::exclusive).
  bool pg_exclusive = true;
};

/// Points `opts` at a PostgreSQL server, as the flags `--pg CONNINFO` and
/// `--pg-file FILE` say (at most one of them non-empty; both empty: no
/// change). Sets opts.kind to postgres (invalid_argument when it names
/// another backend) and opts.pg_conninfo. A password inside `pg` is refused
/// (a command line is visible to every local user): it belongs in libpq's
/// password file (~/.pgpass, PGPASSFILE) or in `pg_file`, which must not be
/// readable by group or others. Errors name the flag and the remedy.
expected<void> configure_postgres(open_options& opts, const std::string& pg,
                                  const std::string& pg_file);

/// Opens the data directory `dir` with the backend opts.kind (postgres: the
/// server and schema opts.pg_conninfo and opts.pg_schema name; `dir` is
/// unused; unset: the one
/// it holds, or LMDB for a new directory). A directory that already holds a
/// backend's data must hold opts.kind when it is set: a mismatch is
/// invalid_argument naming both ("this directory was created with --backend
/// lmdb"), so a host never starts an empty second database next to the first.
/// A new (missing or empty) directory gets opts.kind. Read-only opens of a
/// directory holding neither fail with no_data_dir. Other errors: those of
/// lmdb_backend::open and sqlite_backend::open.
expected<std::shared_ptr<backend>> open_backend(const std::string& dir, const open_options& opts);

/// Opens the existing data directory `dir` with whatever backend it holds
/// (detect_backend), or with opts.kind (LMDB when unset) when it holds none
/// yet. For tools that
/// read any directory (ark-dash); hosts use open_backend, which insists on
/// the backend they were told to use.
expected<std::shared_ptr<backend>> open_detected(const std::string& dir, open_options opts);

/// Calls `visit` for every entry of the directory's `meta`, `spaces` and `kv`
/// tables, in that order and each in key order, from one read snapshot, in
/// the layout of doc/storage_format.md (lmdb_backend::walk_raw,
/// sqlite_backend::walk_raw, pg_backend::walk_raw). invalid_argument for
/// other backends.
expected<void> walk_raw(backend& b, const raw_visitor& visit);

/// Writes a consistent copy of the data directory `b` holds into `to` (a new
/// directory: missing or empty; created with mode 0700) while writers go on:
/// LMDB's mdb_env_copy2 with compaction, SQLite's online backup API. The
/// copy is a data directory of the same backend and storage format. Errors:
/// invalid_argument for a backend without a directory (postgres: use
/// pg_dump) or a `to` that holds anything; those of the copy.
expected<void> copy_data_dir(backend& b, const std::string& to);

/// The writer lock of a data directory (flock on `<dir>/ark.lock`, the one
/// every writable open takes), held until destroyed: for tools that replace
/// a directory as a whole (ark-dash restore) without opening it.
class dir_lock {
 public:
  /// Errors: locked, naming the process that holds it; io_error.
  static expected<dir_lock> take(const std::string& dir);
  dir_lock(dir_lock&& o) noexcept;
  dir_lock& operator=(dir_lock&& o) noexcept;
  ~dir_lock();

 private:
  explicit dir_lock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace ark::kv
