#include "ark/kv/sqlite_backend.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "ark/kv/big_endian.hpp"
#include "ark/kv/json.hpp"
#include "ark/kv/key.hpp"
#include "ark/kv/store.hpp"
#include "data_dir.hpp"
#include "record_check.hpp"

namespace ark::kv {
namespace fs = std::filesystem;

namespace {

// On-disk constants (doc/storage_format.md, "SQLite"): never change these values.
constexpr std::string_view meta_format_version = "format_version";  // INTEGER
constexpr std::string_view meta_next_space_id = "next_space_id";    // INTEGER
// PRAGMA application_id: "ark1" in ASCII, so `file ark.sqlite` and tools can
// tell an ark database from other SQLite files.
constexpr std::int32_t application_id = 0x61726b31;

// The schema of format version 2. BLOB columns compare with memcmp, shorter
// first on a common prefix: exactly LMDB's key order. No views: with one,
// SQLite 3.40's integrity_check skips its check for pages no table uses.
// Checksums (record_check.hpp): `kv.value` is the stored value ++ its check,
// `spaces.sum` the check of the space key and its id (be64). Format 1 had
// neither (the upgrade adds `sum` with ALTER TABLE, hence its default).
constexpr const char* schema_sql =
    "CREATE TABLE meta (name TEXT PRIMARY KEY NOT NULL, value NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE spaces (space BLOB PRIMARY KEY NOT NULL, id INTEGER NOT NULL UNIQUE,"
    " json TEXT, sum INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE TABLE kv (space_id INTEGER NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL,"
    " PRIMARY KEY (space_id, key)) WITHOUT ROWID;";

// Statements, prepared once per connection (keyed by these pointers).
constexpr const char* sql_begin = "BEGIN";
constexpr const char* sql_begin_immediate = "BEGIN IMMEDIATE";
constexpr const char* sql_commit = "COMMIT";
constexpr const char* sql_rollback = "ROLLBACK";
constexpr const char* sql_find_space = "SELECT id, sum FROM spaces WHERE space = ?1";
constexpr const char* sql_get = "SELECT value FROM kv WHERE space_id = ?1 AND key = ?2";
constexpr const char* sql_scan_fwd =
    "SELECT key, value FROM kv WHERE space_id = ?1 AND key >= ?2 ORDER BY key";
constexpr const char* sql_scan_fwd_end =
    "SELECT key, value FROM kv WHERE space_id = ?1 AND key >= ?2 AND key < ?3 ORDER BY key";
constexpr const char* sql_scan_rev =
    "SELECT key, value FROM kv WHERE space_id = ?1 AND key >= ?2 ORDER BY key DESC";
constexpr const char* sql_scan_rev_end =
    "SELECT key, value FROM kv WHERE space_id = ?1 AND key >= ?2 AND key < ?3 "
    "ORDER BY key DESC";
constexpr const char* sql_spaces =
    "SELECT space FROM spaces WHERE space > ?1 AND EXISTS (SELECT 1 FROM kv WHERE space_id = "
    "spaces.id) ORDER BY space LIMIT ?2";
constexpr const char* sql_put =
    "INSERT INTO kv (space_id, key, value) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (space_id, key) DO UPDATE SET value = excluded.value";
constexpr const char* sql_del = "DELETE FROM kv WHERE space_id = ?1 AND key = ?2";
constexpr const char* sql_clear = "DELETE FROM kv WHERE space_id = ?1";
constexpr const char* sql_get_meta = "SELECT value FROM meta WHERE name = ?1";
constexpr const char* sql_set_meta =
    "INSERT INTO meta (name, value) VALUES (?1, ?2) "
    "ON CONFLICT (name) DO UPDATE SET value = excluded.value";
constexpr const char* sql_add_space =
    "INSERT INTO spaces (space, id, json, sum) VALUES (?1, ?2, ?3, ?4)";
constexpr const char* sql_has_meta =
    "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'meta'";
constexpr const char* sql_walk_meta = "SELECT name, value FROM meta ORDER BY name";
constexpr const char* sql_walk_spaces = "SELECT space, id, sum FROM spaces ORDER BY space";
constexpr const char* sql_walk_kv = "SELECT space_id, key, value FROM kv ORDER BY space_id, key";

// Format 1 -> 2 (record_check.hpp), with the SQL functions the writer
// registers for it.
constexpr const char* sql_upgrade =
    "ALTER TABLE spaces ADD COLUMN sum INTEGER NOT NULL DEFAULT 0;"
    "UPDATE spaces SET sum = ark_space_sum(space, id);"
    "UPDATE kv SET value = ark_seal(space_id, key, value);";

// The check of a `spaces` row.
std::int64_t space_sum(std::string_view space, std::uint64_t id) {
  return detail::record_check(detail::meta_check_space, space, be64(id));
}

std::string_view value_bytes(sqlite3_value* v) {
  const void* p = sqlite3_value_blob(v);
  auto n = sqlite3_value_bytes(v);
  if (p == nullptr || n <= 0) return {};
  return {static_cast<const char*>(p), static_cast<std::size_t>(n)};
}

// ark_seal(space_id, key, value): the value with its check.
void seal_fn(sqlite3_context* ctx, int, sqlite3_value** argv) {
  auto sealed = detail::sealed(static_cast<std::uint64_t>(sqlite3_value_int64(argv[0])),
                               value_bytes(argv[1]), value_bytes(argv[2]));
  sqlite3_result_blob64(ctx, sealed.data(), sealed.size(), SQLITE_TRANSIENT);
  static_cast<detail::upgrade_progress*>(sqlite3_user_data(ctx))->step();
}

// ark_space_sum(space, id): the check of a `spaces` row.
void space_sum_fn(sqlite3_context* ctx, int, sqlite3_value** argv) {
  sqlite3_result_int64(
      ctx, space_sum(value_bytes(argv[0]), static_cast<std::uint64_t>(sqlite3_value_int64(argv[1]))));
  static_cast<detail::upgrade_progress*>(sqlite3_user_data(ctx))->step();
}

// Idle read connections kept for reuse; more may be open while cursors live.
constexpr std::size_t max_idle_readers = 16;

// Binds `b` as a BLOB (a zero-length one for empty input, never NULL).
int bind_blob(sqlite3_stmt* s, int i, std::string_view b) {
  return sqlite3_bind_blob64(s, i, b.empty() ? "" : b.data(), b.size(), SQLITE_STATIC);
}

int bind_text(sqlite3_stmt* s, int i, std::string_view t) {
  return sqlite3_bind_text64(s, i, t.empty() ? "" : t.data(), t.size(), SQLITE_STATIC, SQLITE_UTF8);
}

// Column `i` of the current row as bytes; valid until the next step or reset.
std::string_view column_bytes(sqlite3_stmt* s, int i) {
  const void* p = sqlite3_column_blob(s, i);
  auto n = sqlite3_column_bytes(s, i);
  if (p == nullptr || n <= 0) return {};
  return {static_cast<const char*>(p), static_cast<std::size_t>(n)};
}

// Resets a statement (ending the read it may hold) when the scope ends.
class reset_on_exit {
 public:
  explicit reset_on_exit(sqlite3_stmt* s) : s_(s) {}
  ~reset_on_exit() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  reset_on_exit(const reset_on_exit&) = delete;
  reset_on_exit& operator=(const reset_on_exit&) = delete;

 private:
  sqlite3_stmt* s_;
};

}  // namespace

namespace sqlite {

/// Maps a SQLite result code to an ark error whose context names `what` (the
/// operation and its subject), SQLite's message and, where it helps, `file`.
error sqlite_error(int rc, sqlite3* db, std::string_view what, const std::string& file) {
  std::string ctx(what);
  ctx += ": ";
  ctx +=
      db != nullptr && sqlite3_extended_errcode(db) == rc ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const int sys = db != nullptr ? sqlite3_system_errno(db) : 0;
  switch (rc & 0xff) {
    case SQLITE_FULL:
      return error{errc::disk_full, ctx + " (" + file + ")"};
    case SQLITE_IOERR:
      if (sys == ENOSPC || sys == EDQUOT) return error{errc::disk_full, ctx + " (" + file + ")"};
      return error{errc::io_error, ctx + " (" + file + ")"};
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      return error{errc::io_error, ctx + " (" + file + ")"};
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return error{errc::corrupt_value, ctx + " (" + file +
                                            " is damaged or not a SQLite database; sqlite3 " +
                                            file + " 'PRAGMA integrity_check' tells more)"};
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return error{errc::backend_failure, ctx + " (another connection held a lock on " + file +
                                              " longer than sqlite_options::busy_timeout_ms)"};
    case SQLITE_TOOBIG:
      return error{errc::value_too_large, std::move(ctx)};
    default:
      return error{errc::backend_failure, std::move(ctx)};
  }
}

/// One SQLite connection and its prepared statements. Used by one thread at
/// a time (SQLITE_OPEN_NOMUTEX): the writer under write_mu, readers leased
/// from the pool.
class connection {
 public:
  connection() = default;
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  ~connection() {
    for (auto& [sql, s] : stmts_) sqlite3_finalize(s);
    if (db_ != nullptr) sqlite3_close_v2(db_);
  }

  expected<void> open(const std::string& file, bool read_only, unsigned busy_timeout_ms) {
    int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(file.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) return sqlite_error(rc, db_, "open " + file, file);
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, static_cast<int>(busy_timeout_ms));
    file_ = file;
    return {};
  }

  sqlite3* get() const { return db_; }
  const std::string& file() const { return file_; }

  /// The statement for `sql` (one of the constants above), prepared on first use.
  expected<sqlite3_stmt*> stmt(const char* sql) {
    auto it = stmts_.find(sql);
    if (it != stmts_.end()) return it->second;
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
    if (rc != SQLITE_OK) return fail(rc, std::string("prepare \"") + sql + "\"");
    stmts_.emplace(sql, s);
    return s;
  }

  /// Runs a statement without results (BEGIN, COMMIT, ...).
  expected<void> run(const char* sql) {
    auto s = stmt(sql);
    if (!s) return s.error();
    reset_on_exit guard(*s);
    int rc = sqlite3_step(*s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return fail(rc, sql);
    return {};
  }

  /// Runs SQL text once (pragmas, the schema).
  expected<void> exec(const std::string& sql) {
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return fail(rc, sql.substr(0, 60));
    return {};
  }

  /// The first column of the first row of a one-off query, as text.
  expected<std::string> query_text(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr);
    if (rc != SQLITE_OK) return fail(rc, sql);
    rc = sqlite3_step(s);
    std::string out;
    if (rc == SQLITE_ROW) {
      if (auto t = sqlite3_column_text(s, 0)) out = reinterpret_cast<const char*>(t);
      rc = SQLITE_DONE;
    }
    if (rc != SQLITE_DONE) {
      auto e = fail(rc, sql);
      sqlite3_finalize(s);
      return e;
    }
    sqlite3_finalize(s);
    return out;
  }

  error fail(int rc, std::string_view what) const { return sqlite_error(rc, db_, what, file_); }

  /// Ends the transaction if one is open (after a failure).
  void rollback() {
    if (db_ != nullptr && sqlite3_get_autocommit(db_) == 0) (void)run(sql_rollback);
  }

 private:
  sqlite3* db_ = nullptr;
  std::string file_;
  std::unordered_map<const char*, sqlite3_stmt*> stmts_;
};

}  // namespace sqlite

struct sqlite_backend::impl {
  std::string path;
  std::string file;
  sqlite_options opts;
  int lock_fd = -1;

  std::mutex write_mu;  // the writer connection, one transaction at a time
  std::unique_ptr<sqlite::connection> writer;
  std::string seal_buf;  // a value being written, with its check (under write_mu)

  std::mutex pool_mu;
  std::vector<std::unique_ptr<sqlite::connection>> idle;

  std::mutex cache_mu;
  std::unordered_map<std::string, std::uint64_t> space_ids;  // never change once assigned

  ~impl() {
    idle.clear();
    writer.reset();  // the last connection checkpoints and removes the WAL
    if (lock_fd >= 0) ::close(lock_fd);
  }

  // A pooled read-only connection, returned to the pool on destruction.
  class lease {
   public:
    explicit lease(impl* db) : db_(db) {}
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;
    ~lease() { release(); }

    expected<void> acquire() {
      {
        std::lock_guard lock(db_->pool_mu);
        if (!db_->idle.empty()) {
          conn_ = std::move(db_->idle.back());
          db_->idle.pop_back();
          return {};
        }
      }
      auto c = std::make_unique<sqlite::connection>();
      if (auto r = c->open(db_->file, true, db_->opts.busy_timeout_ms); !r) return r;
      conn_ = std::move(c);
      return {};
    }
    void release() {
      if (!conn_) return;
      conn_->rollback();
      std::lock_guard lock(db_->pool_mu);
      if (db_->idle.size() < max_idle_readers) db_->idle.push_back(std::move(conn_));
      conn_.reset();
    }
    sqlite::connection* operator->() const { return conn_.get(); }
    sqlite::connection& operator*() const { return *conn_; }

   private:
    impl* db_;
    std::unique_ptr<sqlite::connection> conn_;
  };

  // The id of `space` from the cache or `c`; 0 when the space has none. What
  // it reads is cached, so `c` must not see an uncommitted id of `space`.
  expected<std::uint64_t> find_space(sqlite::connection& c, std::string_view space) {
    {
      std::lock_guard lock(cache_mu);
      auto it = space_ids.find(std::string(space));
      if (it != space_ids.end()) return it->second;
    }
    auto s = c.stmt(sql_find_space);
    if (!s) return s.error();
    reset_on_exit guard(*s);
    bind_blob(*s, 1, space);
    int rc = sqlite3_step(*s);
    if (rc == SQLITE_DONE) return std::uint64_t{0};
    if (rc != SQLITE_ROW) return c.fail(rc, "look up space " + to_hex(space));
    if (sqlite3_column_type(*s, 0) != SQLITE_INTEGER || sqlite3_column_int64(*s, 0) <= 0)
      return error{errc::corrupt_value, "space " + to_hex(space) + " has a bad id in " + file +
                                            " (not a positive integer)"};
    auto id = static_cast<std::uint64_t>(sqlite3_column_int64(*s, 0));
    if (sqlite3_column_int64(*s, 1) != space_sum(space, id))
      return detail::damaged_space(path, space);
    std::lock_guard lock(cache_mu);
    space_ids.emplace(std::string(space), id);
    return id;
  }

  // Reads a meta integer through `c`; nullopt when absent.
  expected<std::optional<std::int64_t>> meta_int(sqlite::connection& c, std::string_view name) {
    auto s = c.stmt(sql_get_meta);
    if (!s) return s.error();
    reset_on_exit guard(*s);
    bind_text(*s, 1, name);
    int rc = sqlite3_step(*s);
    if (rc == SQLITE_DONE) return std::optional<std::int64_t>{};
    if (rc != SQLITE_ROW) return c.fail(rc, "read " + std::string(name));
    if (sqlite3_column_type(*s, 0) != SQLITE_INTEGER)
      return error{errc::corrupt_value, std::string(name) + " in " + file + " is not an integer"};
    return std::optional<std::int64_t>{sqlite3_column_int64(*s, 0)};
  }

  expected<void> set_meta_int(std::string_view name, std::int64_t v) {
    auto s = writer->stmt(sql_set_meta);
    if (!s) return s.error();
    reset_on_exit guard(*s);
    bind_text(*s, 1, name);
    sqlite3_bind_int64(*s, 2, v);
    if (int rc = sqlite3_step(*s); rc != SQLITE_DONE)
      return writer->fail(rc, "write " + std::string(name));
    return {};
  }

  // Assigns a new id to `space` in the writer's open transaction.
  expected<std::uint64_t> create_space(std::string_view space) {
    auto next = meta_int(*writer, meta_next_space_id);
    if (!next) return next.error();
    std::int64_t id = next->value_or(1);
    if (auto r = set_meta_int(meta_next_space_id, id + 1); !r) return r.error();
    auto s = writer->stmt(sql_add_space);
    if (!s) return s.error();
    reset_on_exit guard(*s);
    bind_blob(*s, 1, space);
    sqlite3_bind_int64(*s, 2, id);
    // For people reading the file with SQL tools only; ark never reads it.
    std::string json;
    if (auto k = decode_key(space)) json = key_to_json_text(*k);
    if (json.empty())
      sqlite3_bind_null(*s, 3);
    else
      bind_text(*s, 3, json);
    sqlite3_bind_int64(*s, 4, space_sum(space, static_cast<std::uint64_t>(id)));
    if (int rc = sqlite3_step(*s); rc != SQLITE_DONE)
      return writer->fail(rc, "register space " + to_hex(space));
    return static_cast<std::uint64_t>(id);
  }

  // Runs the writes of `batch` in the writer's open transaction. REQUIRES:
  // write_mu held.
  expected<std::uint64_t> write_all(const backend_batch& batch,
                                    std::vector<std::pair<std::string, std::uint64_t>>& created) {
    std::uint64_t removed = 0;
    for (const auto& g : batch.groups()) {
      // Spaces created earlier in this transaction first: find_space caches
      // what it reads, and it must never cache an id that is not committed.
      std::uint64_t id = 0;
      for (const auto& [sp, sid] : created)
        if (sp == g.space) id = sid;
      if (id == 0) {
        // Safe to cache: the only uncommitted rows of `spaces` are `created`.
        auto found = find_space(*writer, g.space);
        if (!found) return found.error();
        id = *found;
      }
      bool has_put = std::any_of(g.ops.begin(), g.ops.end(),
                                 [](const write_op& op) { return op.op == write_op::kind::put; });
      if (id == 0) {
        if (!has_put) continue;  // nothing to delete in a space that never held keys
        auto nid = create_space(g.space);
        if (!nid) return nid.error();
        id = *nid;
        created.emplace_back(g.space, id);
      }
      for (const auto& op : g.ops) {
        const char* sql = op.op == write_op::kind::put   ? sql_put
                          : op.op == write_op::kind::del ? sql_del
                                                         : sql_clear;
        auto s = writer->stmt(sql);
        if (!s) return s.error();
        reset_on_exit guard(*s);
        sqlite3_bind_int64(*s, 1, static_cast<std::int64_t>(id));
        if (op.op != write_op::kind::clear) bind_blob(*s, 2, op.key);
        if (op.op == write_op::kind::put) {
          seal_buf.resize(op.value.size() + detail::check_size);
          detail::seal_into(seal_buf.data(), id, op.key, op.value);
          bind_blob(*s, 3, seal_buf);
        }
        if (int rc = sqlite3_step(*s); rc != SQLITE_DONE) {
          const char* verb = op.op == write_op::kind::put   ? "put key "
                             : op.op == write_op::kind::del ? "delete key "
                                                            : "delete all of space ";
          return writer->fail(
              rc, verb + to_hex(op.op == write_op::kind::clear ? std::string_view(g.space)
                                                               : std::string_view(op.key)));
        }
        if (op.op != write_op::kind::put)
          removed += static_cast<std::uint64_t>(sqlite3_changes64(writer->get()));
      }
    }
    return removed;
  }
};

namespace {

class sqlite_cursor final : public backend_cursor {
 public:
  explicit sqlite_cursor(std::shared_ptr<sqlite_backend::impl> db)
      : db_(std::move(db)), conn_(db_.get()) {}
  ~sqlite_cursor() override { finish(); }

  expected<void> start(std::string_view space, const byte_range& range, bool reverse) {
    if (auto r = conn_.acquire(); !r) return r;
    auto id = db_->find_space(*conn_, space);
    if (!id) return id.error();
    if (*id == 0) {  // a space that never held keys: valid() stays false
      conn_.release();
      return {};
    }
    const char* sql = range.end ? (reverse ? sql_scan_rev_end : sql_scan_fwd_end)
                                : (reverse ? sql_scan_rev : sql_scan_fwd);
    auto s = conn_->stmt(sql);
    if (!s) return s.error();
    stmt_ = *s;
    space_.assign(space);
    space_id_ = *id;
    keep_damaged_ = range.keep_damaged;
    begin_ = range.begin;
    if (range.end) end_ = *range.end;
    sqlite3_bind_int64(stmt_, 1, static_cast<std::int64_t>(*id));
    bind_blob(stmt_, 2, begin_);
    if (range.end) bind_blob(stmt_, 3, end_);
    // The first step opens the read transaction: the cursor's snapshot.
    settle(sqlite3_step(stmt_));
    return {};
  }

  bool valid() const override { return valid_; }
  void next() override { settle(sqlite3_step(stmt_)); }
  std::string_view key() const override { return column_bytes(stmt_, 0); }
  std::string_view value() const override { return value_; }
  const error& status() const override { return status_; }
  bool damaged() const override { return damaged_; }

 private:
  void settle(int rc) {
    valid_ = rc == SQLITE_ROW;
    if (valid_) {
      // A damaged record ends the iteration with its error: never wrong bytes.
      auto v = detail::unseal(space_id_, key(), column_bytes(stmt_, 1));
      damaged_ = !v;
      if (v || keep_damaged_) {
        value_ = v.value_or(std::string_view());
        return;
      }
      valid_ = false;
      status_ = detail::damaged_record(db_->path, space_, key());
    } else if (rc != SQLITE_DONE) {
      status_ = conn_->fail(rc, "iterate");
    }
    finish();
  }
  // Ends the read transaction as soon as iteration is over, so exhausted
  // cursors kept around hold no snapshot (which would stop checkpoints).
  void finish() {
    if (stmt_ != nullptr) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
      stmt_ = nullptr;
    }
    conn_.release();
  }

  std::shared_ptr<sqlite_backend::impl> db_;
  sqlite_backend::impl::lease conn_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string begin_, end_;  // bound with SQLITE_STATIC: must outlive the statement's use
  std::string space_;
  std::uint64_t space_id_ = 0;
  std::string_view value_;
  bool keep_damaged_ = false;
  bool damaged_ = false;
  bool valid_ = false;
  error status_;
};

// Ends a read transaction begun with BEGIN when the scope ends.
class read_txn {
 public:
  explicit read_txn(sqlite::connection& c) : c_(c) {}
  ~read_txn() { c_.rollback(); }
  expected<void> begin() { return c_.run(sql_begin); }

 private:
  sqlite::connection& c_;
};

}  // namespace

namespace {

// Storage format 1 -> 2 inside the writer's open transaction (the caller
// writes the new format_version and commits): `spaces` gets its `sum`
// column, every row its check.
expected<std::uint64_t> upgrade_from_v1(sqlite::connection& w, const std::string& dir) {
  auto total = w.query_text("SELECT (SELECT count(*) FROM kv) + (SELECT count(*) FROM spaces)");
  if (!total) return total.error();
  const auto records = std::strtoull(total->c_str(), nullptr, 10);
  detail::upgrade_progress progress(dir, records);
  const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC;
  auto* db = w.get();
  sqlite3_create_function_v2(db, "ark_seal", 3, flags, &progress, seal_fn, nullptr, nullptr,
                             nullptr);
  sqlite3_create_function_v2(db, "ark_space_sum", 2, flags, &progress, space_sum_fn, nullptr,
                             nullptr, nullptr);
  auto r = w.exec(sql_upgrade);
  // Unregistered: they point at `progress`.
  sqlite3_create_function_v2(db, "ark_seal", 3, flags, nullptr, nullptr, nullptr, nullptr, nullptr);
  sqlite3_create_function_v2(db, "ark_space_sum", 2, flags, nullptr, nullptr, nullptr, nullptr,
                             nullptr);
  if (!r)
    return error{r.error().code(), "upgrading " + dir + " to storage format 2: " + r.error().context()};
  return std::uint64_t{records};
}

}  // namespace

sqlite_backend::sqlite_backend(std::shared_ptr<impl> p) : impl_(std::move(p)) {}
sqlite_backend::~sqlite_backend() = default;

const std::string& sqlite_backend::path() const {
  return impl_->path;
}
const std::string& sqlite_backend::file() const {
  return impl_->file;
}

expected<std::shared_ptr<sqlite_backend>> sqlite_backend::open(const std::string& dir,
                                                               const sqlite_options& opts) {
  if (sqlite3_threadsafe() == 0)
    return error{errc::backend_failure, "libsqlite3 was built without thread support"};
  if (auto r = detail::prepare_data_dir(dir, opts.read_only, opts.create_if_missing); !r)
    return r.error();
  if (auto r = detail::refuse_other_backend(dir, "sqlite"); !r) return r.error();
  auto p = std::make_shared<impl>();
  p->path = dir;
  p->file = (fs::path(dir) / detail::sqlite_file_name).string();
  p->opts = opts;
  std::error_code ec;
  const bool exists = fs::exists(p->file, ec);
  if (opts.read_only && !exists)
    return error{errc::no_data_dir, dir + " is not an ark data directory (no " +
                                        std::string(detail::sqlite_file_name) + ")"};

  if (opts.read_only) {
    // Readers need no writer connection: check the directory through the
    // first pooled reader.
    auto c = std::make_unique<sqlite::connection>();
    if (auto r = c->open(p->file, true, opts.busy_timeout_ms); !r) return r.error();
    auto has_meta = c->query_text(sql_has_meta);
    if (!has_meta) return has_meta.error();
    if (*has_meta != "1")
      return error{errc::no_data_dir,
                   dir + " is not an ark data directory (" + p->file + " has no meta table)"};
    auto version = p->meta_int(*c, meta_format_version);
    if (!version) return version.error();
    if (!*version)
      return error{errc::no_data_dir, dir + " is not an ark data directory (no format version)"};
    if (**version > static_cast<std::int64_t>(storage_format_version) || **version < 1)
      return error{errc::format_version,
                   "data directory " + dir + " (" + p->file + ") has storage format version " +
                       std::to_string(**version) + "; this ark reads versions up to " +
                       std::to_string(storage_format_version)};
    if (**version < static_cast<std::int64_t>(storage_format_version))
      return detail::needs_upgrade(dir, static_cast<std::uint64_t>(**version));
    c->rollback();
    p->idle.push_back(std::move(c));
    return std::shared_ptr<sqlite_backend>(new sqlite_backend(std::move(p)));
  }

  auto fd = detail::lock_data_dir(dir);
  if (!fd) return fd.error();
  p->lock_fd = *fd;
  if (!exists) {
    // Create the file ourselves so it, and the -wal and -shm files SQLite
    // gives the same mode, are private to the owner (doc/security.md).
    int f = ::open(p->file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (f < 0)
      return error{errc::io_error, "cannot create " + p->file + ": " + std::strerror(errno)};
    ::close(f);
  }
  p->writer = std::make_unique<sqlite::connection>();
  auto& w = *p->writer;
  if (auto r = w.open(p->file, false, opts.busy_timeout_ms); !r) return r.error();
  // Reading the journal mode reads the file header: a file that is not a
  // SQLite database fails here (corrupt_value).
  auto mode = w.query_text("PRAGMA journal_mode=WAL");
  if (!mode) return mode.error();
  if (*mode != "wal")
    return error{errc::backend_failure,
                 "cannot switch " + p->file + " to WAL mode (journal_mode is " + *mode + ")"};
  const char* sync = opts.mode == durability::sync      ? "FULL"
                     : opts.mode == durability::relaxed ? "NORMAL"
                                                        : "OFF";
  if (auto r = w.exec(std::string("PRAGMA synchronous=") + sync); !r) return r.error();
  auto app = w.query_text("PRAGMA application_id");
  if (!app) return app.error();
  if (*app != "0" && *app != std::to_string(application_id))
    return error{errc::no_data_dir, dir + " is not an ark data directory (" + p->file +
                                        " belongs to another application: application_id " + *app +
                                        ")"};

  if (auto r = w.run(sql_begin_immediate); !r) return r.error();
  auto fail = [&](error e) {
    w.rollback();
    return e;
  };
  auto has_meta = w.query_text(sql_has_meta);
  if (!has_meta) return fail(has_meta.error());
  if (*has_meta != "1") {
    if (auto r = w.exec(schema_sql); !r) return fail(r.error());
    if (auto r = w.exec("PRAGMA application_id=" + std::to_string(application_id)); !r)
      return fail(r.error());
  }
  auto version = p->meta_int(w, meta_format_version);
  if (!version) return fail(version.error());
  if (*version && (**version > static_cast<std::int64_t>(storage_format_version) || **version < 1))
    return fail(error{errc::format_version,
                      "data directory " + dir + " (" + p->file + ") has storage format version " +
                          std::to_string(**version) + "; this ark reads versions up to " +
                          std::to_string(storage_format_version)});
  std::optional<std::string> upgraded;  // told once the upgrade committed
  if (!*version || **version < static_cast<std::int64_t>(storage_format_version)) {
    if (*version) {
      auto t0 = std::chrono::steady_clock::now();
      auto n = upgrade_from_v1(w, dir);
      if (!n) return fail(n.error());
      upgraded = detail::upgraded_line(dir, *n, t0);
    }
    if (auto r = p->set_meta_int(meta_format_version, storage_format_version); !r)
      return fail(r.error());
  }
  if (auto r = w.run(sql_commit); !r) return fail(r.error());
  if (upgraded && opts.on_upgrade) opts.on_upgrade(*upgraded);
  return std::shared_ptr<sqlite_backend>(new sqlite_backend(std::move(p)));
}

expected<std::string> sqlite_backend::get(std::string_view space, std::string_view key) {
  impl::lease c(impl_.get());
  if (auto r = c.acquire(); !r) return r.error();
  auto id = impl_->find_space(*c, space);
  if (!id) return id.error();
  if (*id == 0) return error{errc::not_found, "key " + to_hex(key)};
  auto s = c->stmt(sql_get);
  if (!s) return s.error();
  reset_on_exit guard(*s);
  sqlite3_bind_int64(*s, 1, static_cast<std::int64_t>(*id));
  bind_blob(*s, 2, key);
  int rc = sqlite3_step(*s);
  if (rc == SQLITE_DONE) return error{errc::not_found, "key " + to_hex(key)};
  if (rc != SQLITE_ROW) return c->fail(rc, "get key " + to_hex(key));
  auto value = detail::unseal(*id, key, column_bytes(*s, 0));
  if (!value) return detail::damaged_record(impl_->path, space, key);
  return std::string(*value);
}

expected<std::vector<std::optional<std::string>>> sqlite_backend::get_batch(
    std::string_view space, const std::vector<std::string>& keys) {
  std::vector<std::optional<std::string>> out(keys.size());
  impl::lease c(impl_.get());
  if (auto r = c.acquire(); !r) return r.error();
  read_txn txn(*c);
  if (auto r = txn.begin(); !r) return r.error();
  auto id = impl_->find_space(*c, space);
  if (!id) return id.error();
  if (*id == 0) return out;
  auto s = c->stmt(sql_get);
  if (!s) return s.error();
  for (std::size_t i = 0; i < keys.size(); ++i) {
    reset_on_exit guard(*s);
    sqlite3_bind_int64(*s, 1, static_cast<std::int64_t>(*id));
    bind_blob(*s, 2, keys[i]);
    int rc = sqlite3_step(*s);
    if (rc == SQLITE_DONE) continue;
    if (rc != SQLITE_ROW) return c->fail(rc, "get key " + to_hex(keys[i]));
    auto value = detail::unseal(*id, keys[i], column_bytes(*s, 0));
    if (!value) return detail::damaged_record(impl_->path, space, keys[i]);
    out[i] = std::string(*value);
  }
  return out;
}

expected<std::unique_ptr<backend_cursor>> sqlite_backend::scan(std::string_view space,
                                                               const byte_range& range,
                                                               bool reverse) {
  auto c = std::make_unique<sqlite_cursor>(impl_);
  if (auto r = c->start(space, range, reverse); !r) return r.error();
  return std::unique_ptr<backend_cursor>(std::move(c));
}

expected<std::uint64_t> sqlite_backend::apply(const backend_batch& batch) {
  if (impl_->opts.read_only)
    return error{errc::read_only, "data directory " + impl_->path + " was opened read-only"};
  // Validate first, as LMDB does through its key limit: the same keys fail on
  // every backend.
  for (const auto& g : batch.groups())
    for (const auto& op : g.ops)
      if (op.op != write_op::kind::clear && op.key.size() > max_key_size)
        return error{errc::key_too_large, "encoded key " + to_hex(op.key.substr(0, 32)) +
                                              "... is " + std::to_string(op.key.size()) +
                                              " bytes, limit " + std::to_string(max_key_size)};
  std::lock_guard lock(impl_->write_mu);
  auto& w = *impl_->writer;
  if (auto r = w.run(sql_begin_immediate); !r) return r.error();
  std::vector<std::pair<std::string, std::uint64_t>> created;
  auto removed = impl_->write_all(batch, created);
  if (!removed) {
    w.rollback();
    return removed.error();
  }
  if (auto r = w.run(sql_commit); !r) {  // names the file
    w.rollback();
    return r.error();
  }
  if (!created.empty()) {
    std::lock_guard cache(impl_->cache_mu);
    for (auto& [s, id] : created) impl_->space_ids.emplace(std::move(s), id);
  }
  return *removed;
}

expected<std::vector<std::string>> sqlite_backend::spaces(std::string_view after,
                                                          std::size_t limit) {
  std::vector<std::string> out;
  impl::lease c(impl_.get());
  if (auto r = c.acquire(); !r) return r.error();
  auto s = c->stmt(sql_spaces);
  if (!s) return s.error();
  reset_on_exit guard(*s);
  bind_blob(*s, 1, after);
  sqlite3_bind_int64(*s, 2, limit == 0 ? -1 : static_cast<std::int64_t>(limit));
  int rc;
  while ((rc = sqlite3_step(*s)) == SQLITE_ROW) out.emplace_back(column_bytes(*s, 0));
  if (rc != SQLITE_DONE) return c->fail(rc, "list spaces");
  return out;
}

expected<void> sqlite_backend::sync() {
  if (impl_->opts.read_only) return {};
  std::lock_guard lock(impl_->write_mu);
  auto& w = *impl_->writer;
  // The WAL holds every commit not yet checkpointed, the database file the
  // rest: fsync both (SQLite's own file objects, so its locks are untouched).
  for (int op : {SQLITE_FCNTL_JOURNAL_POINTER, SQLITE_FCNTL_FILE_POINTER}) {
    sqlite3_file* f = nullptr;
    if (int rc = sqlite3_file_control(w.get(), "main", op, &f); rc != SQLITE_OK)
      return w.fail(rc, "sync " + impl_->file);
    if (f == nullptr || f->pMethods == nullptr) continue;  // not open: nothing to flush
    if (int rc = f->pMethods->xSync(f, SQLITE_SYNC_NORMAL); rc != SQLITE_OK)
      return sqlite::sqlite_error(
          rc, nullptr,
          op == SQLITE_FCNTL_JOURNAL_POINTER ? "sync the WAL" : "sync the database file",
          impl_->file);
  }
  return {};
}

expected<void> sqlite_backend::walk_raw(const raw_visitor& visit) {
  impl::lease c(impl_.get());
  if (auto r = c.acquire(); !r) return r;
  read_txn txn(*c);
  if (auto r = txn.begin(); !r) return r;
  const struct {
    raw_db db;
    const char* sql;
    const char* name;
  } tables[] = {{raw_db::meta, sql_walk_meta, "meta"},
                {raw_db::spaces, sql_walk_spaces, "spaces"},
                {raw_db::kv, sql_walk_kv, "kv"}};
  std::string k, v;
  bool intact = true;
  for (const auto& t : tables) {
    auto s = c->stmt(t.sql);
    if (!s) return s.error();
    reset_on_exit guard(*s);
    int rc;
    while ((rc = sqlite3_step(*s)) == SQLITE_ROW) {
      switch (t.db) {
        case raw_db::meta:
          k.assign(column_bytes(*s, 0));
          if (sqlite3_column_type(*s, 1) == SQLITE_INTEGER) {
            v = be64(static_cast<std::uint64_t>(sqlite3_column_int64(*s, 1)));
            if (k == meta_format_version) v.erase(0, 4);  // u32, as LMDB stores it
          } else {
            v.assign(column_bytes(*s, 1));
          }
          break;
        case raw_db::spaces:
          k.assign(column_bytes(*s, 0));
          if (sqlite3_column_type(*s, 1) == SQLITE_INTEGER) {
            auto id = static_cast<std::uint64_t>(sqlite3_column_int64(*s, 1));
            v = be64(id);
            intact = sqlite3_column_int64(*s, 2) == space_sum(k, id);
          } else {
            v.assign(column_bytes(*s, 1));
          }
          break;
        case raw_db::kv: {
          auto id = static_cast<std::uint64_t>(sqlite3_column_int64(*s, 0));
          k = be64(id);
          k.append(column_bytes(*s, 1));
          auto rec = detail::check_record(id, column_bytes(*s, 1), column_bytes(*s, 2));
          intact = rec.intact;
          v.assign(rec.value);
          break;
        }
      }
      if (!visit(t.db, k, v, intact)) return {};
      intact = true;
    }
    if (rc != SQLITE_DONE)
      return c->fail(rc, std::string("walk the ") + t.name + " table of " + impl_->file);
  }
  return {};
}

expected<void> sqlite_backend::copy_to(const std::string& dir) {
  auto target = (fs::path(dir) / detail::sqlite_file_name).string();
  // Created here, private to the owner like every ark database file; never
  // over an existing one.
  int f = ::open(target.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (f < 0) {
    const int e = errno;
    return error{e == EEXIST ? errc::invalid_argument : errc::io_error,
                 "cannot create " + target + ": " + std::strerror(e) +
                     (e == EEXIST ? " (a copy never overwrites a file)" : "")};
  }
  ::close(f);
  auto fail = [&](error e) {
    std::error_code ec;
    fs::remove(target, ec);  // created above
    return e;
  };
  sqlite::connection dest;
  if (auto r = dest.open(target, false, impl_->opts.busy_timeout_ms); !r) return fail(r.error());
  impl::lease src(impl_.get());
  if (auto r = src.acquire(); !r) return fail(r.error());
  sqlite3_backup* b = sqlite3_backup_init(dest.get(), "main", src->get(), "main");
  if (b == nullptr)
    return fail(dest.fail(sqlite3_errcode(dest.get()), "copy " + impl_->file + " to " + target));
  // One step: the whole database from one read transaction of the source.
  int rc = sqlite3_backup_step(b, -1);
  sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) return fail(src->fail(rc, "copy " + impl_->file + " to " + target));
  if (auto r = dest.query_text("PRAGMA journal_mode=WAL"); !r) return fail(r.error());
  return {};
}

expected<std::vector<std::string>> sqlite_backend::integrity_check() {
  impl::lease c(impl_.get());
  if (auto r = c.acquire(); !r) return r.error();
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(c->get(), "PRAGMA integrity_check(100)", -1, &s, nullptr);
  if (rc != SQLITE_OK) return c->fail(rc, "integrity_check of " + impl_->file);
  std::vector<std::string> problems;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    std::string line(column_bytes(s, 0));
    if (line != "ok") problems.push_back(std::move(line));
  }
  sqlite3_finalize(s);
  if (rc == SQLITE_DONE) return problems;
  auto e = c->fail(rc, "integrity_check of " + impl_->file);
  // Damage too bad for the check to go on is its finding, not a failure to check.
  if (e != errc::corrupt_value) return e;
  problems.push_back(e.context());
  return problems;
}

}  // namespace ark::kv
