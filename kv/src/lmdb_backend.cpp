#include "ark/kv/lmdb_backend.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <unordered_map>

#include "ark/kv/big_endian.hpp"
#include "ark/kv/key.hpp"
#include "ark/kv/store.hpp"
#include "data_dir.hpp"
#include "lmdb_raii.hpp"
#include "record_check.hpp"

namespace ark::kv {
namespace fs = std::filesystem;

namespace lmdb {

error lmdb_error(int rc, std::string_view what) {
  std::string ctx(what);
  ctx += ": ";
  ctx += mdb_strerror(rc);
  switch (rc) {
    case MDB_NOTFOUND:
      return error{errc::not_found, std::move(ctx)};
    case MDB_MAP_FULL:
      return error{errc::map_full, std::move(ctx)};
    case MDB_TXN_FULL:
      return error{errc::batch_too_large, std::move(ctx)};
    case MDB_BAD_VALSIZE:
      return error{errc::key_too_large, std::move(ctx)};
    case ENOSPC:
    case EDQUOT:
      return error{errc::disk_full, std::move(ctx)};
    case EIO:
    case EACCES:
    case EPERM:
    case EROFS:
      return error{errc::io_error, std::move(ctx)};
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
      return error{errc::corrupt_value,
                   ctx + " (the LMDB data file is damaged or not an LMDB file)"};
    case MDB_VERSION_MISMATCH:
      return error{errc::format_version, ctx + " (written by an incompatible LMDB version)"};
    case MDB_PANIC:
      return error{errc::storage_failed,
                   ctx + " (LMDB stopped the environment after a failed write of its meta "
                         "page; it reopens at the last durable commit)"};
    case MDB_READERS_FULL:
      return error{errc::backend_failure,
                   ctx +
                       " (too many open cursors and reads; raise lmdb_options::max_readers "
                       "or close cursors sooner)"};
    default:
      return error{errc::backend_failure, std::move(ctx)};
  }
}

}  // namespace lmdb

namespace {

// On-disk constants of the `meta` database: never change these values.
constexpr std::string_view meta_format_version = "format_version";  // u32 big-endian
constexpr std::string_view meta_next_space_id = "next_space_id";    // u64 big-endian
constexpr std::size_t space_id_size = 8;                            // u64 big-endian prefix
constexpr std::size_t lmdb_max_key = 511;

// Format 2: `spaces` values and next_space_id are the 8 id bytes ++ their
// check (record_check.hpp, space id meta_check_space, keyed by the space key
// or the meta name); `kv` values are the stored value ++ its check. The id
// sealed in `stored` under `key`, or nullopt when its check fails.
std::optional<std::uint64_t> unseal_id(std::string_view key, std::string_view stored) {
  auto b = detail::unseal(detail::meta_check_space, key, stored);
  if (!b || b->size() != space_id_size) return std::nullopt;
  return get_be(*b);
}

// Readers announce themselves here so that a map resize, which LMDB allows
// only while no transaction of this process is open, can wait for them.
// Unlike a shared_mutex it may be entered and left on different threads.
class reader_gate {
 public:
  void enter() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !exclusive_; });
    ++readers_;
  }
  void leave() {
    std::lock_guard lock(mu_);
    if (--readers_ == 0) cv_.notify_all();
  }
  // Runs fn once no reader is inside, keeping new ones out meanwhile; false
  // when readers stayed inside longer than `timeout`.
  template <class F>
  bool exclusive(std::chrono::milliseconds timeout, F fn) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !exclusive_; });
    exclusive_ = true;
    bool ok = cv_.wait_for(lock, timeout, [&] { return readers_ == 0; });
    if (ok) fn();
    exclusive_ = false;
    cv_.notify_all();
    return ok;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int readers_ = 0;
  bool exclusive_ = false;
};

// Data directories open in this process: LMDB forbids opening one
// environment twice in a process (its locks would break).
std::mutex open_dirs_mu;
std::map<std::string, int> open_dirs;

}  // namespace

struct lmdb_backend::impl {
  std::string path;
  std::string canonical;
  lmdb_options opts;
  lmdb::env env;
  MDB_dbi meta = 0;
  MDB_dbi spaces = 0;
  MDB_dbi kv = 0;
  int lock_fd = -1;
  std::size_t map_size = 0;

  std::mutex write_mu;  // one write transaction at a time
  reader_gate gate;

  std::mutex cache_mu;
  std::unordered_map<std::string, std::uint64_t> space_ids;  // never change once assigned

  ~impl() {
    env = lmdb::env();  // close before releasing the lock file
    if (lock_fd >= 0) ::close(lock_fd);
    if (!canonical.empty()) {
      std::lock_guard lock(open_dirs_mu);
      open_dirs.erase(canonical);
    }
  }

  // A read transaction inside the reader gate; released on destruction.
  class reader {
   public:
    explicit reader(impl* db) : db_(db) {}
    reader(const reader&) = delete;
    ~reader() { release(); }
    void release() {
      if (entered_) {
        txn_.abort();
        db_->gate.leave();
        entered_ = false;
      }
    }
    expected<void> begin() {
      for (int attempt = 0; attempt < 3; ++attempt) {
        db_->gate.enter();
        entered_ = true;
        int rc = txn_.begin(db_->env.get(), MDB_RDONLY);
        if (rc == 0) return {};
        release();
        if (rc != MDB_MAP_RESIZED) return lmdb::lmdb_error(rc, "begin read transaction");
        // Another process grew the map: adopt its size, then retry.
        if (auto r = db_->adopt_map_size(); !r) return r;
      }
      return error{errc::backend_failure, "begin read transaction: the map kept resizing"};
    }
    MDB_txn* txn() const { return txn_.get(); }

   private:
    impl* db_;
    lmdb::txn txn_;
    bool entered_ = false;
  };

  expected<void> adopt_map_size() {
    int rc = 0;
    bool ok = gate.exclusive(std::chrono::seconds(30), [&] {
      rc = mdb_env_set_mapsize(env.get(), 0);
      MDB_envinfo info;
      if (rc == 0 && mdb_env_info(env.get(), &info) == 0) map_size = info.me_mapsize;
    });
    if (!ok) return error{errc::backend_failure, "adopt the grown map: readers stayed open"};
    if (rc != 0) return lmdb::lmdb_error(rc, "adopt the grown map size");
    return {};
  }

  // Doubles the map (bounded by max_map_size). REQUIRES: write_mu held and no
  // write transaction open.
  expected<void> grow_map() {
    if (map_size >= opts.max_map_size)
      return error{errc::map_full, "data directory " + path + " reached the map size limit of " +
                                       std::to_string(opts.max_map_size) + " bytes"};
    std::size_t next = std::min(opts.max_map_size, std::max(map_size * 2, map_size + (1u << 20)));
    int rc = 0;
    bool ok = gate.exclusive(std::chrono::seconds(30),
                             [&] { rc = mdb_env_set_mapsize(env.get(), next); });
    if (!ok)
      return error{errc::map_full, "growing the map of " + path +
                                       " needs every cursor closed, and some stayed open 30 s"};
    if (rc != 0) return lmdb::lmdb_error(rc, "grow the map of " + path);
    map_size = next;
    return {};
  }

  // The id of `space`, from the cache or `t`; 0 when the space has none.
  expected<std::uint64_t> find_space(MDB_txn* t, std::string_view space) {
    {
      std::lock_guard lock(cache_mu);
      auto it = space_ids.find(std::string(space));
      if (it != space_ids.end()) return it->second;
    }
    MDB_val k = lmdb::to_val(space), v;
    int rc = mdb_get(t, spaces, &k, &v);
    if (rc == MDB_NOTFOUND) return std::uint64_t{0};
    if (rc != 0) return lmdb::lmdb_error(rc, "look up space " + to_hex(space));
    auto id = unseal_id(space, lmdb::to_view(v));
    if (!id) return detail::damaged_space(path, space);
    std::lock_guard lock(cache_mu);
    space_ids.emplace(std::string(space), *id);
    return *id;
  }

  // Assigns a new id to `space` inside write transaction `t`.
  expected<std::uint64_t> create_space(MDB_txn* t, std::string_view space) {
    MDB_val mk = lmdb::to_val(meta_next_space_id), mv;
    std::uint64_t id = 1;
    int rc = mdb_get(t, meta, &mk, &mv);
    if (rc == 0) {
      auto next = unseal_id(meta_next_space_id, lmdb::to_view(mv));
      if (!next)
        return error{errc::corrupt_value,
                     "next_space_id in the meta database of " + path +
                         " fails its checksum: restore the data directory from a backup "
                         "(`ark-dash verify --data " + path + "` lists every damaged record)"};
      id = *next;
    } else if (rc != MDB_NOTFOUND) {
      return lmdb::lmdb_error(rc, "read next_space_id");
    }
    auto next = detail::sealed(detail::meta_check_space, meta_next_space_id, be64(id + 1));
    MDB_val nv = lmdb::to_val(next);
    if (rc = mdb_put(t, meta, &mk, &nv, 0); rc != 0)
      return lmdb::lmdb_error(rc, "write next_space_id");
    auto idb = detail::sealed(detail::meta_check_space, space, be64(id));
    MDB_val k = lmdb::to_val(space), v = lmdb::to_val(idb);
    if (rc = mdb_put(t, spaces, &k, &v, MDB_NOOVERWRITE); rc != 0)
      return lmdb::lmdb_error(rc, "register space " + to_hex(space));
    return id;
  }

  // Applies one attempt of `batch` in a fresh write transaction.
  expected<std::uint64_t> apply_once(const backend_batch& batch) {
    lmdb::txn t;
    if (int rc = t.begin(env.get(), 0); rc != 0) return lmdb::lmdb_error(rc, "begin write");
    std::vector<std::pair<std::string, std::uint64_t>> created;
    std::uint64_t removed = 0;
    // One write transaction at a time per environment, but commits run on
    // the writer's thread or (inline) an actor's: a buffer per thread keeps
    // its capacity from commit to commit.
    thread_local std::string full;
    for (const auto& g : batch.groups()) {
      // Spaces created earlier in this transaction first: find_space caches
      // what it reads, and it must never cache an id that is not committed.
      std::uint64_t id = 0;
      for (const auto& [s, sid] : created)
        if (s == g.space) id = sid;
      if (id == 0) {
        auto found = find_space(t.get(), g.space);
        if (!found) return found.error();
        id = *found;
      }
      bool has_put = std::any_of(g.ops.begin(), g.ops.end(),
                                 [](const write_op& op) { return op.op == write_op::kind::put; });
      if (id == 0) {
        if (!has_put) continue;  // nothing to delete in a space that never held keys
        auto nid = create_space(t.get(), g.space);
        if (!nid) return nid.error();
        id = *nid;
        created.emplace_back(g.space, id);
      }
      const std::string prefix = be64(id);
      for (const auto& op : g.ops) {
        if (op.op == write_op::kind::clear) {
          auto n = clear_space(t.get(), prefix);
          if (!n) return n.error();
          removed += *n;
          continue;
        }
        if (op.key.size() + space_id_size > lmdb_max_key)
          return error{errc::key_too_large, "encoded key " + to_hex(op.key.substr(0, 32)) +
                                                "... is " + std::to_string(op.key.size()) +
                                                " bytes, limit " + std::to_string(max_key_size)};
        full.assign(prefix).append(op.key);
        MDB_val k = lmdb::to_val(full);
        if (op.op == write_op::kind::put) {
          // Reserve the value's room in the map and write value and check
          // straight into it: no intermediate copy.
          MDB_val v{op.value.size() + detail::check_size, nullptr};
          if (int rc = mdb_put(t.get(), kv, &k, &v, MDB_RESERVE); rc != 0)
            return lmdb::lmdb_error(rc, "put key " + to_hex(op.key));
          detail::seal_into(static_cast<char*>(v.mv_data), id, op.key, op.value);
        } else {
          int rc = mdb_del(t.get(), kv, &k, nullptr);
          if (rc == 0)
            ++removed;
          else if (rc != MDB_NOTFOUND)
            return lmdb::lmdb_error(rc, "delete key " + to_hex(op.key));
        }
      }
    }
    if (int rc = t.commit(); rc != 0) return lmdb::lmdb_error(rc, "commit to " + path);
    if (!created.empty()) {
      std::lock_guard lock(cache_mu);
      for (auto& [s, id] : created) space_ids.emplace(std::move(s), id);
    }
    return removed;
  }

  // Upgrades a directory of storage format 1 (no checksums) to 2 in one
  // write transaction: every `spaces` entry, next_space_id and every `kv`
  // value gets its check, then format_version becomes 2. A crash leaves
  // format 1 untouched. REQUIRES: the directory lock, no transaction open.
  expected<void> upgrade_from_v1() {
    auto t0 = std::chrono::steady_clock::now();
    for (;;) {
      auto records = upgrade_once();
      if (records) {
        if (opts.on_upgrade) opts.on_upgrade(detail::upgraded_line(path, *records, t0));
        return {};
      }
      if (records.error() != errc::map_full) return records.error();
      if (auto g = grow_map(); !g) return g;
    }
  }

  // One attempt of upgrade_from_v1; the number of records it rewrote.
  expected<std::uint64_t> upgrade_once() {
    lmdb::txn t;
    if (int rc = t.begin(env.get(), 0); rc != 0) return lmdb::lmdb_error(rc, "begin upgrade");
    MDB_stat ks{}, ss{};
    mdb_stat(t.get(), kv, &ks);
    mdb_stat(t.get(), spaces, &ss);
    const std::uint64_t records = ks.ms_entries + ss.ms_entries;
    detail::upgrade_progress progress(path, records);
    auto old = [&](std::string_view what) {
      return error{errc::corrupt_value, "cannot upgrade " + path + " to storage format 2: " +
                                            std::string(what) +
                                            " is damaged; restore the directory from a backup"};
    };
    MDB_val mk = lmdb::to_val(meta_next_space_id), mv;
    int rc = mdb_get(t.get(), meta, &mk, &mv);
    if (rc == 0) {
      if (mv.mv_size != space_id_size) return old("next_space_id");
      auto next = detail::sealed(detail::meta_check_space, meta_next_space_id, lmdb::to_view(mv));
      MDB_val nv = lmdb::to_val(next);
      if (rc = mdb_put(t.get(), meta, &mk, &nv, 0); rc != 0)
        return lmdb::lmdb_error(rc, "upgrade next_space_id");
    } else if (rc != MDB_NOTFOUND) {
      return lmdb::lmdb_error(rc, "read next_space_id");
    }
    for (MDB_dbi dbi : {spaces, kv}) {
      lmdb::cursor c;
      if (rc = c.open(t.get(), dbi); rc != 0) return lmdb::lmdb_error(rc, "open cursor");
      MDB_val k, v;
      std::string key, value;
      for (rc = mdb_cursor_get(c.get(), &k, &v, MDB_FIRST); rc == 0;
           rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT)) {
        key.assign(lmdb::to_view(k));  // the put may move the page k points into
        if (dbi == spaces) {
          if (v.mv_size != space_id_size) return old("the id of space " + to_hex(key));
          value = detail::sealed(detail::meta_check_space, key, lmdb::to_view(v));
        } else {
          if (key.size() < space_id_size) return old("kv key " + to_hex(key));
          value = detail::sealed(get_be(std::string_view(key).substr(0, space_id_size)),
                                 std::string_view(key).substr(space_id_size), lmdb::to_view(v));
        }
        MDB_val nk = lmdb::to_val(key), nv = lmdb::to_val(value);
        if (rc = mdb_cursor_put(c.get(), &nk, &nv, MDB_CURRENT); rc != 0)
          return lmdb::lmdb_error(rc, "upgrade key " + to_hex(key));
        progress.step();
      }
      if (rc != MDB_NOTFOUND) return lmdb::lmdb_error(rc, "upgrade " + path);
    }
    auto version = be32(storage_format_version);
    MDB_val fk = lmdb::to_val(meta_format_version), fv = lmdb::to_val(version);
    if (rc = mdb_put(t.get(), meta, &fk, &fv, 0); rc != 0)
      return lmdb::lmdb_error(rc, "write format version");
    if (rc = t.commit(); rc != 0) return lmdb::lmdb_error(rc, "commit the upgrade of " + path);
    return records;
  }

  expected<std::uint64_t> clear_space(MDB_txn* t, const std::string& prefix) {
    lmdb::cursor c;
    if (int rc = c.open(t, kv); rc != 0) return lmdb::lmdb_error(rc, "open cursor");
    MDB_val k = lmdb::to_val(prefix), v;
    std::uint64_t n = 0;
    int rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET_RANGE);
    while (rc == 0 && lmdb::to_view(k).substr(0, prefix.size()) == prefix) {
      if (rc = mdb_cursor_del(c.get(), 0); rc != 0) return lmdb::lmdb_error(rc, "delete all");
      ++n;
      rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) return lmdb::lmdb_error(rc, "delete all");
    return n;
  }
};

namespace {

class lmdb_cursor final : public backend_cursor {
 public:
  lmdb_cursor(std::shared_ptr<lmdb_backend::impl> db) : db_(std::move(db)), reader_(db_.get()) {}

  expected<void> start(std::string_view space, const byte_range& range, bool reverse) {
    if (auto r = reader_.begin(); !r) return r;
    auto id = db_->find_space(reader_.txn(), space);
    if (!id) return id.error();
    if (*id == 0) {  // a space that never held keys: valid() stays false
      reader_.release();
      return {};
    }
    const std::string prefix = be64(*id);
    space_.assign(space);
    space_id_ = *id;
    keep_damaged_ = range.keep_damaged;
    lo_ = prefix + range.begin;
    if (range.end) {
      hi_ = prefix + *range.end;
    } else {
      hi_ = *prefix_successor(prefix);
    }
    reverse_ = reverse;
    if (int rc = cur_.open(reader_.txn(), db_->kv); rc != 0)
      return lmdb::lmdb_error(rc, "open cursor");
    prefix_len_ = prefix.size();
    int rc;
    if (!reverse_) {
      k_ = lmdb::to_val(lo_);
      rc = mdb_cursor_get(cur_.get(), &k_, &v_, MDB_SET_RANGE);
    } else {
      k_ = lmdb::to_val(hi_);
      rc = mdb_cursor_get(cur_.get(), &k_, &v_, MDB_SET_RANGE);
      if (rc == 0)
        rc = mdb_cursor_get(cur_.get(), &k_, &v_, MDB_PREV);
      else if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(cur_.get(), &k_, &v_, MDB_LAST);
    }
    settle(rc);
    return {};
  }

  bool valid() const override { return valid_; }
  void next() override {
    settle(mdb_cursor_get(cur_.get(), &k_, &v_, reverse_ ? MDB_PREV : MDB_NEXT));
  }
  std::string_view key() const override { return lmdb::to_view(k_).substr(prefix_len_); }
  std::string_view value() const override { return value_; }
  const error& status() const override { return status_; }
  bool damaged() const override { return damaged_; }

 private:
  void settle(int rc) {
    valid_ = false;
    if (rc == MDB_NOTFOUND) return finish();
    if (rc != 0) {
      status_ = lmdb::lmdb_error(rc, "iterate");
      return finish();
    }
    auto k = lmdb::to_view(k_);
    if (!reverse_ ? k >= hi_ : k < lo_) return finish();
    // A damaged record ends the iteration with its error: never wrong bytes.
    auto v = detail::unseal(space_id_, key(), lmdb::to_view(v_));
    damaged_ = !v;
    if (damaged_ && !keep_damaged_) {
      status_ = detail::damaged_record(db_->path, space_, key());
      return finish();
    }
    value_ = v.value_or(std::string_view());
    valid_ = true;
  }
  // Ends the read transaction as soon as iteration is over, so that
  // exhausted cursors kept around hold no LMDB snapshot.
  void finish() {
    cur_.close();
    reader_.release();
  }

  std::shared_ptr<lmdb_backend::impl> db_;
  lmdb_backend::impl::reader reader_;
  lmdb::cursor cur_;
  std::string lo_, hi_;
  std::string space_;
  std::uint64_t space_id_ = 0;
  std::string_view value_;
  bool keep_damaged_ = false;
  bool damaged_ = false;
  std::size_t prefix_len_ = 0;
  bool reverse_ = false;
  bool valid_ = false;
  MDB_val k_{}, v_{};
  error status_;
};

}  // namespace

lmdb_backend::lmdb_backend(std::shared_ptr<impl> p) : impl_(std::move(p)) {}
lmdb_backend::~lmdb_backend() = default;

const std::string& lmdb_backend::path() const {
  return impl_->path;
}
std::size_t lmdb_backend::map_size() const {
  std::lock_guard lock(impl_->write_mu);
  return impl_->map_size;
}

expected<std::shared_ptr<lmdb_backend>> lmdb_backend::open(const std::string& dir,
                                                           const lmdb_options& opts) {
  if (auto r = detail::prepare_data_dir(dir, opts.read_only, opts.create_if_missing); !r)
    return r.error();
  if (auto r = detail::refuse_other_backend(dir, "lmdb"); !r) return r.error();
  auto p = std::make_shared<impl>();
  p->path = dir;
  p->opts = opts;
  std::error_code ec;
  if (opts.read_only && !fs::exists(fs::path(dir) / detail::lmdb_file_name, ec))
    return error{errc::no_data_dir, dir + " is not an ark data directory (no data.mdb)"};

  auto canonical = fs::canonical(dir, ec).string();
  if (ec) return error{errc::io_error, "cannot resolve " + dir + ": " + ec.message()};
  {
    std::lock_guard lock(open_dirs_mu);
    if (open_dirs.count(canonical) != 0)
      return error{errc::locked, "data directory " + dir +
                                     " is already open in this process; share that backend"};
    open_dirs[canonical] = 1;
  }
  p->canonical = canonical;

  if (!opts.read_only) {
    auto fd = detail::lock_data_dir(dir);
    if (!fd) return fd.error();
    p->lock_fd = *fd;
  }

  MDB_env* raw = nullptr;
  if (int rc = mdb_env_create(&raw); rc != 0) return lmdb::lmdb_error(rc, "create environment");
  p->env = lmdb::env(raw);
  if (int rc = mdb_env_set_maxdbs(raw, 8); rc != 0) return lmdb::lmdb_error(rc, "set maxdbs");
  if (int rc = mdb_env_set_maxreaders(raw, opts.max_readers); rc != 0)
    return lmdb::lmdb_error(rc, "set maxreaders");
  if (int rc = mdb_env_set_mapsize(raw, opts.initial_map_size); rc != 0)
    return lmdb::lmdb_error(rc, "set map size");
  unsigned flags = MDB_NOTLS;
  if (opts.read_only) flags |= MDB_RDONLY;
  if (opts.mode == durability::relaxed) flags |= MDB_NOMETASYNC;
  if (opts.mode == durability::none) flags |= MDB_NOSYNC;
  if (int rc = mdb_env_open(raw, dir.c_str(), flags, 0600); rc != 0)
    return lmdb::lmdb_error(rc, "open LMDB environment in " + dir);
  MDB_envinfo info;
  if (int rc = mdb_env_info(raw, &info); rc != 0) return lmdb::lmdb_error(rc, "env info");
  p->map_size = info.me_mapsize;

  // Open the named databases and check (or write) the format version.
  lmdb::txn t;
  if (int rc = t.begin(raw, opts.read_only ? MDB_RDONLY : 0); rc != 0)
    return lmdb::lmdb_error(rc, "begin open transaction");
  const unsigned dbflags = opts.read_only ? 0 : MDB_CREATE;
  struct {
    const char* name;
    MDB_dbi* dbi;
  } dbs[] = {{"meta", &p->meta}, {"spaces", &p->spaces}, {"kv", &p->kv}};
  for (auto& d : dbs) {
    int rc = mdb_dbi_open(t.get(), d.name, dbflags, d.dbi);
    if (rc == MDB_NOTFOUND)
      return error{errc::no_data_dir, dir + " is not an ark data directory (no '" +
                                          std::string(d.name) + "' database)"};
    if (rc != 0) return lmdb::lmdb_error(rc, std::string("open database ") + d.name);
  }
  MDB_val fk = lmdb::to_val(meta_format_version), fv;
  int rc = mdb_get(t.get(), p->meta, &fk, &fv);
  bool upgrade = false;
  if (rc == 0) {
    if (fv.mv_size != 4)
      return error{errc::corrupt_value, "format_version in " + dir + " has a bad size"};
    auto version = static_cast<std::uint32_t>(get_be(lmdb::to_view(fv)));
    if (version > storage_format_version || version == 0)
      return error{errc::format_version, "data directory " + dir + " has storage format version " +
                                             std::to_string(version) +
                                             "; this ark reads versions up to " +
                                             std::to_string(storage_format_version)};
    if (version < storage_format_version) {
      if (opts.read_only) return detail::needs_upgrade(dir, version);
      upgrade = true;
    }
  } else if (rc == MDB_NOTFOUND) {
    if (opts.read_only)
      return error{errc::no_data_dir, dir + " is not an ark data directory (no format version)"};
    auto v = be32(storage_format_version);
    MDB_val vv = lmdb::to_val(v);
    if (rc = mdb_put(t.get(), p->meta, &fk, &vv, 0); rc != 0)
      return lmdb::lmdb_error(rc, "write format version");
  } else {
    return lmdb::lmdb_error(rc, "read format version");
  }
  if (rc = t.commit(); rc != 0) return lmdb::lmdb_error(rc, "commit open transaction");
  if (upgrade)
    if (auto r = p->upgrade_from_v1(); !r) return r.error();
  return std::shared_ptr<lmdb_backend>(new lmdb_backend(std::move(p)));
}

expected<std::string> lmdb_backend::get(std::string_view space, std::string_view key) {
  impl::reader r(impl_.get());
  if (auto b = r.begin(); !b) return b.error();
  auto id = impl_->find_space(r.txn(), space);
  if (!id) return id.error();
  if (*id == 0) return error{errc::not_found, "key " + to_hex(key)};
  std::string full = be64(*id);
  full.append(key);
  MDB_val k = lmdb::to_val(full), v;
  int rc = mdb_get(r.txn(), impl_->kv, &k, &v);
  if (rc == MDB_NOTFOUND) return error{errc::not_found, "key " + to_hex(key)};
  if (rc != 0) return lmdb::lmdb_error(rc, "get key " + to_hex(key));
  auto value = detail::unseal(*id, key, lmdb::to_view(v));
  if (!value) return detail::damaged_record(impl_->path, space, key);
  return std::string(*value);
}

expected<std::vector<std::optional<std::string>>> lmdb_backend::get_batch(
    std::string_view space, const std::vector<std::string>& keys) {
  std::vector<std::optional<std::string>> out(keys.size());
  impl::reader r(impl_.get());
  if (auto b = r.begin(); !b) return b.error();
  auto id = impl_->find_space(r.txn(), space);
  if (!id) return id.error();
  if (*id == 0) return out;
  const std::string prefix = be64(*id);
  std::string full;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    full.assign(prefix).append(keys[i]);
    MDB_val k = lmdb::to_val(full), v;
    int rc = mdb_get(r.txn(), impl_->kv, &k, &v);
    if (rc == MDB_NOTFOUND) continue;
    if (rc != 0) return lmdb::lmdb_error(rc, "get key " + to_hex(keys[i]));
    auto value = detail::unseal(*id, keys[i], lmdb::to_view(v));
    if (!value) return detail::damaged_record(impl_->path, space, keys[i]);
    out[i] = std::string(*value);
  }
  return out;
}

expected<std::unique_ptr<backend_cursor>> lmdb_backend::scan(std::string_view space,
                                                             const byte_range& range,
                                                             bool reverse) {
  auto c = std::make_unique<lmdb_cursor>(impl_);
  if (auto r = c->start(space, range, reverse); !r) return r.error();
  return std::unique_ptr<backend_cursor>(std::move(c));
}

expected<std::uint64_t> lmdb_backend::apply(const backend_batch& batch) {
  if (impl_->opts.read_only)
    return error{errc::read_only, "data directory " + impl_->path + " was opened read-only"};
  std::lock_guard lock(impl_->write_mu);
  for (;;) {
    auto r = impl_->apply_once(batch);
    if (r) return r;
    if (r.error() == errc::map_full) {
      if (auto g = impl_->grow_map(); !g) return g.error();
      continue;
    }
    // A failed write of a meta page makes LMDB refuse every later
    // transaction (MDB_PANIC). Tell the caller now, with this failure's
    // cause, rather than at the next commit.
    lmdb::txn probe;
    if (r.error() != errc::storage_failed && probe.begin(impl_->env.get(), MDB_RDONLY) == MDB_PANIC)
      return error{errc::storage_failed,
                   r.error().context() + "; LMDB has stopped the environment of " + impl_->path};
    return r;
  }
}

expected<std::vector<std::string>> lmdb_backend::spaces(std::string_view after, std::size_t limit) {
  std::vector<std::string> out;
  impl::reader r(impl_.get());
  if (auto b = r.begin(); !b) return b.error();
  lmdb::cursor sc, kc;
  if (int rc = sc.open(r.txn(), impl_->spaces); rc != 0) return lmdb::lmdb_error(rc, "cursor");
  if (int rc = kc.open(r.txn(), impl_->kv); rc != 0) return lmdb::lmdb_error(rc, "cursor");
  MDB_val k = lmdb::to_val(after), v;
  int rc = after.empty() ? mdb_cursor_get(sc.get(), &k, &v, MDB_FIRST)
                         : mdb_cursor_get(sc.get(), &k, &v, MDB_SET_RANGE);
  for (; rc == 0; rc = mdb_cursor_get(sc.get(), &k, &v, MDB_NEXT)) {
    if (!after.empty() && lmdb::to_view(k) == after) continue;
    if (limit != 0 && out.size() >= limit) break;
    auto id = unseal_id(lmdb::to_view(k), lmdb::to_view(v));
    if (!id) return detail::damaged_space(impl_->path, lmdb::to_view(k));
    const std::string prefix = be64(*id);
    MDB_val pk = lmdb::to_val(prefix), pv;
    int prc = mdb_cursor_get(kc.get(), &pk, &pv, MDB_SET_RANGE);
    if (prc == 0 && lmdb::to_view(pk).substr(0, prefix.size()) == prefix)
      out.emplace_back(lmdb::to_view(k));
    else if (prc != 0 && prc != MDB_NOTFOUND)
      return lmdb::lmdb_error(prc, "probe space");
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb::lmdb_error(rc, "list spaces");
  return out;
}

expected<void> lmdb_backend::walk_raw(const raw_visitor& visit) {
  impl::reader r(impl_.get());
  if (auto b = r.begin(); !b) return b;
  const struct {
    raw_db db;
    MDB_dbi dbi;
    const char* name;
  } dbs[] = {{raw_db::meta, impl_->meta, "meta"},
             {raw_db::spaces, impl_->spaces, "spaces"},
             {raw_db::kv, impl_->kv, "kv"}};
  for (const auto& d : dbs) {
    lmdb::cursor c;
    if (int rc = c.open(r.txn(), d.dbi); rc != 0)
      return lmdb::lmdb_error(rc, std::string("open a cursor on the ") + d.name + " database");
    MDB_val k, v;
    int rc = mdb_cursor_get(c.get(), &k, &v, MDB_FIRST);
    for (; rc == 0; rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT)) {
      auto key = lmdb::to_view(k), stored = lmdb::to_view(v);
      detail::checked_value rec{stored, true};  // format_version: plain, any version reads it
      if (d.db != raw_db::kv) {
        if (d.db == raw_db::spaces || key != meta_format_version)
          rec = detail::check_record(detail::meta_check_space, key, stored);
      } else if (key.size() < space_id_size) {
        rec = detail::check_record(0, {}, stored);  // no space id: never intact
        rec.intact = false;
      } else {
        rec = detail::check_record(get_be(key.substr(0, space_id_size)), key.substr(space_id_size),
                                   stored);
      }
      if (!visit(d.db, key, rec.value, rec.intact)) return {};
    }
    if (rc != MDB_NOTFOUND)
      return lmdb::lmdb_error(rc,
                              std::string("walk the ") + d.name + " database of " + impl_->path);
  }
  return {};
}

expected<void> lmdb_backend::copy_to(const std::string& dir) {
  auto target = (fs::path(dir) / detail::lmdb_file_name).string();
  std::error_code ec;
  if (fs::exists(target, ec))
    return error{errc::invalid_argument, target + " exists; a copy never overwrites a file"};
  for (int attempt = 0;; ++attempt) {
    // Inside the reader gate: this process may not resize the map while
    // the copy's read transaction is open.
    impl_->gate.enter();
    int rc = mdb_env_copy2(impl_->env.get(), dir.c_str(), MDB_CP_COMPACT);
    impl_->gate.leave();
    if (rc == 0) return {};
    fs::remove(target, ec);  // created by the failed copy
    if (rc == MDB_MAP_RESIZED && attempt < 3) {
      // Another process grew the map: adopt its size, then copy again.
      if (auto r = impl_->adopt_map_size(); !r) return r;
      continue;
    }
    return lmdb::lmdb_error(rc, "copy " + impl_->path + " to " + dir);
  }
}

expected<void> lmdb_backend::sync() {
  if (int rc = mdb_env_sync(impl_->env.get(), 1); rc != 0)
    return lmdb::lmdb_error(rc, "sync " + impl_->path);
  return {};
}

}  // namespace ark::kv
