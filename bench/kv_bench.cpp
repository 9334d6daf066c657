// Actor KV: ark's typed store against raw LMDB on the same data and the same
// random key sequence.
//
//   kv_get_per_s           random store.get<std::int64_t> over N keys
//   raw_lmdb_get_per_s     the same gets via the LMDB C API on its own env
//   kv_list_entries_per_s  store.list() over the whole keyspace
//
// Like for like: ark's store.get opens one read transaction per call
// (lmdb_backend::get builds an impl::reader, i.e. mdb_txn_begin(MDB_RDONLY)
// behind the in-process reader gate, and aborts it on return; the env is
// opened with MDB_NOTLS, so every begin claims a reader slot and every abort
// frees it). The raw side therefore also uses MDB_NOTLS and does
// mdb_txn_begin(RDONLY) + mdb_get + mdb_txn_abort for each get.
// Differences that remain on purpose (they are part of ark's layout): ark's
// entries live in the named database `kv`, whose root LMDB looks up again in
// the main database in every new read txn, and its keys are 8 bytes of space
// id + the encoded ["item", i] (about 17 bytes) against 8 bytes here.

#include <lmdb.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "ark/kv/big_endian.hpp"
#include "ark/kv/key.hpp"
#include "ark/kv/lmdb_backend.hpp"
#include "ark/kv/store.hpp"
#include "bench.hpp"

namespace ark::bench {
namespace {

using clock_type = std::chrono::steady_clock;

constexpr std::int64_t fill_chunk = 10000;

/// The value stored under item i (both sides).
std::int64_t value_of(std::int64_t i) {
  return i * 3 + 7;
}

void lmdb_fail(const char* metric, const char* what, int rc) {
  std::fprintf(stderr, "ark-bench: %s: %s failed: %s (skipping the metric)\n", metric, what,
               mdb_strerror(rc));
}

/// A fixed sequence of random item numbers in [0, n), replayed by every get
/// loop so both sides read exactly the same keys in the same order.
std::vector<std::uint32_t> random_items(std::int64_t n) {
  std::vector<std::uint32_t> out(std::size_t{1} << 20);
  std::mt19937_64 rng(20240611);
  std::uniform_int_distribution<std::uint32_t> d(0, static_cast<std::uint32_t>(n - 1));
  for (auto& x : out) x = d(rng);
  return out;
}

// -- ark side ----------------------------------------------------------------------

bool fill_ark(kv::store& s, std::int64_t n) {
  for (std::int64_t lo = 0; lo < n; lo += fill_chunk) {
    kv::write_batch b;
    for (std::int64_t i = lo; i < std::min(n, lo + fill_chunk); ++i)
      b.put(ark::key{"item", i}, value_of(i));
    if (auto r = s.apply(std::move(b)); !r) {
      std::fprintf(stderr, "ark-bench: kv fill: %s\n", r.error().message().c_str());
      return false;
    }
  }
  return true;
}

void measure_kv_get(context& ctx, const kv::store& s, const std::vector<std::uint32_t>& items) {
  const char* metric = "kv_get_per_s";
  const double duration = ctx.pick(1.0, 3.0);
  const std::size_t mask = items.size() - 1;
  std::uint64_t gets = 0;
  const auto start = clock_type::now();
  for (;;) {
    for (int j = 0; j < 256; ++j, ++gets) {
      const std::int64_t i = items[gets & mask];
      auto v = s.get<std::int64_t>(ark::key{"item", i});
      if (!v) {
        std::fprintf(stderr, "ark-bench: %s: get item %lld: %s (skipping the metric)\n", metric,
                     static_cast<long long>(i), v.error().message().c_str());
        return;
      }
      if (*v != value_of(i)) {
        std::fprintf(stderr,
                     "ark-bench: %s: item %lld holds %lld, expected %lld (skipping the metric)\n",
                     metric, static_cast<long long>(i), static_cast<long long>(*v),
                     static_cast<long long>(value_of(i)));
        return;
      }
    }
    if (seconds_since(start) >= duration) break;
  }
  ctx.add(metric, static_cast<double>(gets) / seconds_since(start), "1/s");
}

void measure_kv_list(context& ctx, const kv::store& s, std::int64_t n) {
  const char* metric = "kv_list_entries_per_s";
  // Whole passes until the minimum time is reached (at least one pass), so a
  // quick run over 200k entries still measures more than a few milliseconds.
  const double min_duration = ctx.pick(0.5, 2.0);
  std::uint64_t entries = 0;
  std::size_t key_elements = 0;  // keeps the loop body from being optimized away
  const auto start = clock_type::now();
  do {
    std::int64_t count = 0;
    kv::list_options opts;
    auto c = s.list(opts);
    for (; c.valid(); c.next()) {
      key_elements += c.key().size();
      ++count;
    }
    if (c.status()) {
      std::fprintf(stderr, "ark-bench: %s: list: %s (skipping the metric)\n", metric,
                   c.status().message().c_str());
      return;
    }
    if (count != n) {
      std::fprintf(stderr, "ark-bench: %s: list visited %lld entries, expected %lld (skipping)\n",
                   metric, static_cast<long long>(count), static_cast<long long>(n));
      return;
    }
    entries += static_cast<std::uint64_t>(count);
  } while (seconds_since(start) < min_duration);
  const double elapsed = seconds_since(start);
  if (key_elements != 2 * entries) {
    std::fprintf(stderr, "ark-bench: %s: keys of unexpected shape (skipping)\n", metric);
    return;
  }
  ctx.add(metric, static_cast<double>(entries) / elapsed, "1/s");
}

void run_ark_side(context& ctx, std::int64_t n, const std::vector<std::uint32_t>& items) {
  kv::lmdb_options o;
  o.create_if_missing = true;
  o.mode = kv::durability::none;  // the fill need not be durable
  auto b = kv::lmdb_backend::open(ctx.fresh_dir("kv-ark"), o);
  if (!b) {
    std::fprintf(stderr, "ark-bench: kv: open backend: %s (skipping kv metrics)\n",
                 b.error().message().c_str());
    return;
  }
  auto s = kv::store::open(*b, ark::key{"bench", "kv"});
  if (!s) {
    std::fprintf(stderr, "ark-bench: kv: open store: %s (skipping kv metrics)\n",
                 s.error().message().c_str());
    return;
  }
  if (!fill_ark(*s, n)) return;
  // Flush the fill so that OS write-back does not run during the reads.
  if (auto r = (*b)->sync(); !r)
    std::fprintf(stderr, "ark-bench: kv: sync after fill: %s\n", r.error().message().c_str());
  measure_kv_get(ctx, *s, items);
  measure_kv_list(ctx, *s, n);
}

// -- raw LMDB side -------------------------------------------------------------------

void run_raw_side(context& ctx, std::int64_t n, const std::vector<std::uint32_t>& items) {
  const char* metric = "raw_lmdb_get_per_s";
  const double duration = ctx.pick(1.0, 3.0);
  const std::string dir = ctx.fresh_dir("kv-raw");
  MDB_env* env = nullptr;
  if (int rc = mdb_env_create(&env); rc != 0) return lmdb_fail(metric, "mdb_env_create", rc);
  // Closes env on every return path.
  std::unique_ptr<MDB_env, void (*)(MDB_env*)> guard(env, mdb_env_close);
  if (int rc = mdb_env_set_mapsize(env, std::size_t{1} << 30); rc != 0)
    return lmdb_fail(metric, "mdb_env_set_mapsize", rc);
  // MDB_NOTLS as in ark; MDB_NOSYNC for the fill, like ark's durability::none
  // above (sync flags do not affect reads).
  if (int rc = mdb_env_open(env, dir.c_str(), MDB_NOTLS | MDB_NOSYNC, 0644); rc != 0)
    return lmdb_fail(metric, "mdb_env_open", rc);
  MDB_dbi dbi = 0;
  {
    MDB_txn* t = nullptr;
    if (int rc = mdb_txn_begin(env, nullptr, 0, &t); rc != 0)
      return lmdb_fail(metric, "mdb_txn_begin", rc);
    if (int rc = mdb_dbi_open(t, nullptr, 0, &dbi); rc != 0) {
      mdb_txn_abort(t);
      return lmdb_fail(metric, "mdb_dbi_open", rc);
    }
    if (int rc = mdb_txn_commit(t); rc != 0) return lmdb_fail(metric, "mdb_txn_commit", rc);
  }
  // Fill: 8-byte big-endian key i, 9-byte value (a tag byte + big-endian
  // value_of(i), about the size of ark's tagged msgpack int), 10,000 per txn.
  for (std::int64_t lo = 0; lo < n; lo += fill_chunk) {
    MDB_txn* t = nullptr;
    if (int rc = mdb_txn_begin(env, nullptr, 0, &t); rc != 0)
      return lmdb_fail(metric, "mdb_txn_begin (fill)", rc);
    for (std::int64_t i = lo; i < std::min(n, lo + fill_chunk); ++i) {
      unsigned char kb[8], vb[9];
      kv::put_be64(kb, static_cast<std::uint64_t>(i));
      vb[0] = 0x01;
      kv::put_be64(vb + 1, static_cast<std::uint64_t>(value_of(i)));
      MDB_val k{sizeof kb, kb}, v{sizeof vb, vb};
      if (int rc = mdb_put(t, dbi, &k, &v, 0); rc != 0) {
        mdb_txn_abort(t);
        return lmdb_fail(metric, "mdb_put (fill)", rc);
      }
    }
    if (int rc = mdb_txn_commit(t); rc != 0) return lmdb_fail(metric, "mdb_txn_commit (fill)", rc);
  }
  if (int rc = mdb_env_sync(env, 1); rc != 0) return lmdb_fail(metric, "mdb_env_sync", rc);

  const std::size_t mask = items.size() - 1;
  std::uint64_t gets = 0;
  const auto start = clock_type::now();
  for (;;) {
    for (int j = 0; j < 256; ++j, ++gets) {
      const std::int64_t i = items[gets & mask];
      unsigned char kb[8];
      kv::put_be64(kb, static_cast<std::uint64_t>(i));
      MDB_val k{sizeof kb, kb}, v{0, nullptr};
      MDB_txn* t = nullptr;
      if (int rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &t); rc != 0)
        return lmdb_fail(metric, "mdb_txn_begin (read)", rc);
      int rc = mdb_get(t, dbi, &k, &v);
      // Copy the value out before the txn ends, as ark's get does.
      std::int64_t got = -1;
      bool shape_ok = rc == 0 && v.mv_size == 9;
      if (shape_ok)
        got = static_cast<std::int64_t>(
            kv::get_be64(static_cast<const unsigned char*>(v.mv_data) + 1));
      mdb_txn_abort(t);
      if (rc != 0) return lmdb_fail(metric, "mdb_get", rc);
      if (!shape_ok || got != value_of(i)) {
        std::fprintf(stderr, "ark-bench: %s: wrong value for key %lld (skipping the metric)\n",
                     metric, static_cast<long long>(i));
        return;
      }
    }
    if (seconds_since(start) >= duration) break;
  }
  ctx.add(metric, static_cast<double>(gets) / seconds_since(start), "1/s");
}

}  // namespace

void run_kv(context& ctx) {
  const std::int64_t n = ctx.pick<std::int64_t>(200000, 1000000);
  const auto items = random_items(n);
  run_ark_side(ctx, n, items);
  run_raw_side(ctx, n, items);
}

}  // namespace ark::bench
