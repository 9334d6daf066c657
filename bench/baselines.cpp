// Disk and raw LMDB baselines: what the disk and LMDB itself can do, measured
// in the same run as ark so that ark's figures can be read against them.
//
//   fdatasync_us                median of pwrite(4 KiB) + fdatasync
//   fdatasync_after_idle_us     the same after the thread slept 300 us: what
//                               a flush costs a committer that waited for
//                               its next request (a remote client's round
//                               trip), rather than flushing back to back
//   raw_lmdb_sync_commit_per_s  one put per write txn, sync commit
//   raw_lmdb_sync_commit_us     median latency of one such txn
//   raw_lmdb_batched_put_per_s  1000 random puts per write txn, sync commit
//   raw_lmdb_batched_put_checked_per_s  the same, each value sealed with its
//                               checksum as lmdb_backend writes it (XXH3 of
//                               key and value, MDB_RESERVE): the check's cost
//   checked_vs_raw_batched      the ratio of the two (1.0: free)
//   record_check_ns             CPU time of one record's check (a 16-byte
//                               key, a 64-byte value), in a tight loop
//   record_check_share          that time over the time of one batched
//                               raw put: the check's share of a write, free
//                               of the disk's noise

#include <fcntl.h>
#include <lmdb.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ark/kv/big_endian.hpp"
#include "bench.hpp"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace ark::bench {
namespace {

using clock_type = std::chrono::steady_clock;

void lmdb_fail(const char* metric, const char* what, int rc) {
  std::fprintf(stderr, "ark-bench: %s: %s failed: %s (skipping the metric)\n", metric, what,
               mdb_strerror(rc));
}

/// An LMDB environment for one measurement, closed on destruction.
class raw_env {
 public:
  raw_env() = default;
  raw_env(const raw_env&) = delete;
  raw_env& operator=(const raw_env&) = delete;
  ~raw_env() {
    if (env_ != nullptr) mdb_env_close(env_);
  }

  /// Opens `dir` with the default (fully synchronous) commit flags, a 1 GiB
  /// map and MDB_NOTLS, as ark's lmdb_backend does in durability::sync, and
  /// opens the unnamed database. False (after a message) on any error.
  bool open(const char* metric, const std::string& dir) {
    if (int rc = mdb_env_create(&env_); rc != 0) {
      env_ = nullptr;
      lmdb_fail(metric, "mdb_env_create", rc);
      return false;
    }
    if (int rc = mdb_env_set_mapsize(env_, std::size_t{1} << 30); rc != 0) {
      lmdb_fail(metric, "mdb_env_set_mapsize", rc);
      return false;
    }
    if (int rc = mdb_env_open(env_, dir.c_str(), MDB_NOTLS, 0644); rc != 0) {
      lmdb_fail(metric, "mdb_env_open", rc);
      return false;
    }
    MDB_txn* t = nullptr;
    if (int rc = mdb_txn_begin(env_, nullptr, 0, &t); rc != 0) {
      lmdb_fail(metric, "mdb_txn_begin", rc);
      return false;
    }
    if (int rc = mdb_dbi_open(t, nullptr, 0, &dbi_); rc != 0) {
      mdb_txn_abort(t);
      lmdb_fail(metric, "mdb_dbi_open", rc);
      return false;
    }
    if (int rc = mdb_txn_commit(t); rc != 0) {
      lmdb_fail(metric, "mdb_txn_commit (open)", rc);
      return false;
    }
    return true;
  }

  MDB_env* env() const { return env_; }
  MDB_dbi dbi() const { return dbi_; }

 private:
  MDB_env* env_ = nullptr;
  MDB_dbi dbi_ = 0;
};

// -- fdatasync_us ----------------------------------------------------------------

// `idle`: each round starts after the thread slept for that long (0: back
// to back).
void measure_fdatasync(context& ctx, std::chrono::microseconds idle = {}) {
  const char* metric = idle.count() > 0 ? "fdatasync_after_idle_us" : "fdatasync_us";
  const int n = ctx.pick(200, 1000);
  const std::string path = ctx.fresh_dir("fsync") + "/probe";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::fprintf(stderr, "ark-bench: %s: open %s: %s (skipping the metric)\n", metric, path.c_str(),
                 std::strerror(errno));
    return;
  }
  std::array<char, 4096> block;
  block.fill('x');
  // One untimed round first: it allocates the block, so the timed rounds all
  // overwrite an allocated block in place (as LMDB's page writes mostly do).
  bool ok = ::pwrite(fd, block.data(), block.size(), 0) == static_cast<ssize_t>(block.size()) &&
            ::fdatasync(fd) == 0;
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(n));
  for (int i = 0; ok && i < n; ++i) {
    if (idle.count() > 0) std::this_thread::sleep_for(idle);
    block[0] = static_cast<char>('a' + i % 26);  // a real change each round
    // Timed: the pwrite and the fdatasync together. The pwrite only copies
    // 4 KiB into the page cache (a few microseconds), so the figure is
    // dominated by the flush, and it is the cost a committer actually pays
    // for "write one page durably".
    auto t0 = clock_type::now();
    if (::pwrite(fd, block.data(), block.size(), 0) != static_cast<ssize_t>(block.size()) ||
        ::fdatasync(fd) != 0) {
      ok = false;
      break;
    }
    us.push_back(seconds_since(t0) * 1e6);
  }
  if (!ok) {
    std::fprintf(stderr, "ark-bench: %s: pwrite/fdatasync on %s: %s (skipping the metric)\n",
                 metric, path.c_str(), std::strerror(errno));
  }
  ::close(fd);
  ::unlink(path.c_str());
  if (ok) ctx.add(metric, median(us), "us");
}

// -- raw_lmdb_sync_commit_* ------------------------------------------------------

void measure_sync_commit(context& ctx) {
  const char* metric = "raw_lmdb_sync_commit_per_s";
  const double duration = ctx.pick(1.0, 5.0);
  raw_env db;
  if (!db.open(metric, ctx.fresh_dir("raw-lmdb-commit"))) return;

  unsigned char key[8];
  unsigned char val[64];
  std::memset(val, 0x5a, sizeof val);
  std::vector<double> us;
  us.reserve(16384);
  std::uint64_t commits = 0;
  const auto start = clock_type::now();
  while (seconds_since(start) < duration) {
    // A small rotating key set keeps the tree (and so the pages a commit
    // writes) the same size throughout the run.
    kv::put_be64(key, commits % 1024);
    kv::put_be64(val, commits);
    auto t0 = clock_type::now();
    MDB_txn* t = nullptr;
    if (int rc = mdb_txn_begin(db.env(), nullptr, 0, &t); rc != 0) {
      lmdb_fail(metric, "mdb_txn_begin", rc);
      return;
    }
    MDB_val k{sizeof key, key}, v{sizeof val, val};
    if (int rc = mdb_put(t, db.dbi(), &k, &v, 0); rc != 0) {
      mdb_txn_abort(t);
      lmdb_fail(metric, "mdb_put", rc);
      return;
    }
    if (int rc = mdb_txn_commit(t); rc != 0) {
      lmdb_fail(metric, "mdb_txn_commit", rc);
      return;
    }
    us.push_back(seconds_since(t0) * 1e6);
    ++commits;
  }
  const double elapsed = seconds_since(start);
  ctx.add("raw_lmdb_sync_commit_per_s", static_cast<double>(commits) / elapsed, "1/s");
  ctx.add("raw_lmdb_sync_commit_us", median(us), "us");
}

// -- raw_lmdb_batched_put_per_s ----------------------------------------------------

/// Key k (0 <= k < 10,000) shaped like an ark kv key: an 8-byte big-endian
/// space id (100 spaces) followed by a 16-byte encoded tuple
/// ["user", 2^40 + k % 100, "n"]: 02 'user' 00 | 1a + 6-byte magnitude | 02 'n' 00.
std::array<unsigned char, 24> batched_key(std::uint64_t k) {
  std::array<unsigned char, 24> out{};
  kv::put_be64(out.data(), 1 + k / 100);
  unsigned char* p = out.data() + 8;
  const unsigned char head[] = {0x02, 'u', 's', 'e', 'r', 0x00, 0x1a};
  std::memcpy(p, head, sizeof head);
  p += sizeof head;
  std::uint64_t id = (std::uint64_t{1} << 40) + k % 100;
  for (int i = 5; i >= 0; --i, id >>= 8) p[i] = static_cast<unsigned char>(id);
  p += 6;
  p[0] = 0x02;
  p[1] = 'n';
  p[2] = 0x00;
  return out;
}

// `checked`: every value is written as lmdb_backend writes it in storage
// format 2 (kv/src/record_check.hpp): reserved in the page, then value and
// check written into it.
void measure_batched_put(context& ctx, bool checked) {
  const char* metric =
      checked ? "raw_lmdb_batched_put_checked_per_s" : "raw_lmdb_batched_put_per_s";
  const double duration = ctx.pick(1.0, 5.0);
  constexpr std::uint64_t key_count = 10000;
  constexpr int puts_per_txn = 1000;
  raw_env db;
  if (!db.open(metric, ctx.fresh_dir("raw-lmdb-batched"))) return;

  std::vector<std::array<unsigned char, 24>> keys;
  keys.reserve(key_count);
  for (std::uint64_t k = 0; k < key_count; ++k) keys.push_back(batched_key(k));
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<std::uint64_t> pick_key(0, key_count - 1);
  unsigned char val[64];
  std::memset(val, 0x33, sizeof val);

  std::uint64_t puts = 0;
  const auto start = clock_type::now();
  while (seconds_since(start) < duration) {
    MDB_txn* t = nullptr;
    if (int rc = mdb_txn_begin(db.env(), nullptr, 0, &t); rc != 0) {
      lmdb_fail(metric, "mdb_txn_begin", rc);
      return;
    }
    for (int i = 0; i < puts_per_txn; ++i) {
      auto& key = keys[pick_key(rng)];
      kv::put_be64(val, puts + static_cast<std::uint64_t>(i));
      MDB_val k{key.size(), key.data()}, v{sizeof val + (checked ? 4 : 0), val};
      int rc = mdb_put(t, db.dbi(), &k, &v, checked ? MDB_RESERVE : 0);
      if (rc == 0 && checked) {
        // As record_check.hpp: space id 1, the user key after 8 id bytes.
        auto seed = XXH3_64bits_withSeed(key.data() + 8, key.size() - 8, 1);
        auto c = static_cast<std::uint32_t>(XXH3_64bits_withSeed(val, sizeof val, seed));
        auto* out = static_cast<unsigned char*>(v.mv_data);
        std::memcpy(out, val, sizeof val);
        for (int b = 0; b < 4; ++b) out[sizeof val + b] = static_cast<unsigned char>(c >> (24 - 8 * b));
      }
      if (rc != 0) {
        mdb_txn_abort(t);
        lmdb_fail(metric, "mdb_put", rc);
        return;
      }
    }
    if (int rc = mdb_txn_commit(t); rc != 0) {
      lmdb_fail(metric, "mdb_txn_commit", rc);
      return;
    }
    puts += puts_per_txn;
  }
  ctx.add(metric, static_cast<double>(puts) / seconds_since(start), "1/s");
}

// The check alone, on the CPU: what every put and every read adds.
void measure_record_check(context& ctx) {
  unsigned char key[16], val[64];
  std::memset(key, 0x5a, sizeof key);
  std::memset(val, 0x33, sizeof val);
  const std::uint64_t n = ctx.pick(2'000'000, 20'000'000);
  std::uint64_t sink = 0;
  const auto start = clock_type::now();
  for (std::uint64_t i = 0; i < n; ++i) {
    kv::put_be64(val, i);
    auto seed = XXH3_64bits_withSeed(key, sizeof key, 1);
    sink += static_cast<std::uint32_t>(XXH3_64bits_withSeed(val, sizeof val, seed));
  }
  const double ns = seconds_since(start) * 1e9 / static_cast<double>(n);
  if (sink == 42) std::fprintf(stderr, " ");  // keeps the loop from being optimized away
  ctx.add("record_check_ns", ns, "ns");
  if (auto puts = ctx.get("raw_lmdb_batched_put_per_s"); puts > 0)
    ctx.add("record_check_share", ns / (1e9 / puts), "ratio");
}

}  // namespace

void run_disk_baselines(context& ctx) {
  measure_fdatasync(ctx);
  measure_fdatasync(ctx, std::chrono::microseconds(300));
  measure_sync_commit(ctx);
  measure_batched_put(ctx, false);
  measure_batched_put(ctx, true);
  if (auto raw = ctx.get("raw_lmdb_batched_put_per_s"); raw > 0)
    ctx.add("checked_vs_raw_batched", ctx.get("raw_lmdb_batched_put_checked_per_s") / raw,
            "ratio");
  measure_record_check(ctx);
}

}  // namespace ark::bench
