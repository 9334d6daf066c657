// KV at scale (`--only kvscale`, not in the default run: it builds a
// 10-million-key keyspace). One actor holds N keys in its own KV, written
// through its kv() in batches of one message each; the same operations at
// 10 M keys are compared with those at 10 k keys, in the same run, on the
// same runtime:
//
//   kvscale_build_s               time to write the 10 M keys (50,000 a message)
//   kvscale_get_us_10k / _10m     one random kv().get<int64>, inside a handler
//   kvscale_put_us_10k / _10m     one random overwrite: a message of 1,000
//                                 kv().put of random existing keys and its
//                                 commit, per put (client round trip / 1,000)
//   kvscale_list100_us_10k / _10m one kv().list of 100 entries from a random
//                                 key, inside a handler
//   kvscale_get_ratio, _put_ratio, _list100_ratio   10 M over 10 k (target <= 2)
//
// Durability none for the whole scenario: the question is what the B-tree
// depth and the working set cost, not the disk's fsync (a sync commit per
// 1,000 puts would add the same flush to both sizes). --quick builds 1 M keys
// (the metrics keep their _10m names; the output says how many keys).
//
// Baseline, same run: raw LMDB at the same two sizes with the same operations
// (kvscale_raw_*_ratio), for what the B-tree itself costs at scale.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>

#include <lmdb.h>

#include <ark/client.hpp>
#include <ark/kv/big_endian.hpp>
#include <ark/registry.hpp>
#include <ark/runtime.hpp>

#include "bench.hpp"

namespace ark::bench {

using fill_atom = caf::atom_constant<caf::atom("fill")>;
using gets_atom = caf::atom_constant<caf::atom("gets")>;
using puts_atom = caf::atom_constant<caf::atom("puts")>;
using lists_atom = caf::atom_constant<caf::atom("lists")>;

/// fill(from, count): puts ["k", i] = i for i in [from, from + count), one
/// commit. gets/lists(n, count, seed): `count` random gets (lists of 100
/// from a random key) over [0, n), answers the nanoseconds they took.
/// puts(n, count, seed): `count` random overwrites, committed with the message.
using kvs_if =
    caf::typed_actor<caf::replies_to<fill_atom, std::int64_t, std::int64_t>::with<std::int64_t>,
                     caf::replies_to<gets_atom, std::int64_t, std::int64_t, std::int64_t>::with<std::int64_t>,
                     caf::replies_to<puts_atom, std::int64_t, std::int64_t, std::int64_t>::with<std::int64_t>,
                     caf::replies_to<lists_atom, std::int64_t, std::int64_t, std::int64_t>::with<std::int64_t>>;

struct kvs_state {
  std::int64_t fills = 0;
  MSGPACK_DEFINE_MAP(fills)
};

class kvs_actor : public ark::actor<kvs_if, kvs_state> {
 public:
  using actor::actor;
  handlers_type make_handlers() override {
    return handlers(
        [this](fill_atom, std::int64_t from, std::int64_t count) -> ark::expected<std::int64_t> {
          for (std::int64_t i = from; i < from + count; ++i)
            if (auto r = kv().put(ark::key{"k", i}, i); !r) return r.error();
          return ++state().fills;
        },
        [this](gets_atom, std::int64_t n, std::int64_t count,
               std::int64_t seed) -> ark::expected<std::int64_t> {
          return timed(seed, n - 1, count, [this](std::int64_t i) -> ark::expected<void> {
            auto v = kv().get<std::int64_t>(ark::key{"k", i});
            if (!v) return v.error();
            if (*v != i && *v != -i) return ark::error{ark::errc::corrupt_value, "wrong value"};
            return {};
          });
        },
        [this](puts_atom, std::int64_t n, std::int64_t count,
               std::int64_t seed) -> ark::expected<std::int64_t> {
          return timed(seed, n - 1, count, [this, seed](std::int64_t i) -> ark::expected<void> {
            return kv().put(ark::key{"k", i}, (seed & 1) ? -i : i);
          });
        },
        [this](lists_atom, std::int64_t n, std::int64_t count,
               std::int64_t seed) -> ark::expected<std::int64_t> {
          return timed(seed, n - 101, count, [this](std::int64_t i) -> ark::expected<void> {
            kv::list_options o;
            o.start = ark::key{"k", i};
            o.limit = 100;
            std::int64_t seen = 0;
            auto c = kv().list(o);
            for (; c.valid(); c.next()) ++seen;
            if (c.status()) return ark::error{c.status()};
            if (seen != 100) return ark::error{ark::errc::corrupt_value, "short list"};
            return {};
          });
        });
  }

 private:
  // Runs op(i) for `count` random i in [0, hi] (seeded), answers the
  // nanoseconds they took, or the first error.
  template <class Op>
  static ark::expected<std::int64_t> timed(std::int64_t seed, std::int64_t hi, std::int64_t count,
                                           Op op) {
    std::mt19937_64 rng(static_cast<std::uint64_t>(seed));
    std::uniform_int_distribution<std::int64_t> d(0, hi);
    auto t0 = std::chrono::steady_clock::now();
    for (std::int64_t j = 0; j < count; ++j)
      if (auto r = op(d(rng)); !r) return r.error();
    return elapsed_ns(t0);
  }

  static std::int64_t elapsed_ns(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                                t0)
        .count();
  }
};

}  // namespace ark::bench

ARK_ACTOR("bench_kvs", ark::bench::kvs_actor);

namespace ark::bench {

namespace {

template <class... Ts>
expected<std::int64_t> ask(caf::actor_system& sys, const kvs_if& h, Ts... xs) {
  return ark::call<std::int64_t>(sys, h, std::chrono::minutes(5), xs...);
}

struct sizes {
  double get_us = 0, put_us = 0, list_us = 0;
  // Adds half of `x` (the mean of two alternated measurements).
  void add_half(const sizes& x) {
    get_us += x.get_us / 2;
    put_us += x.put_us / 2;
    list_us += x.list_us / 2;
  }
};

// Measures the three operations on actor `h` holding `n` keys.
bool measure(caf::actor_system& sys, const kvs_if& h, std::int64_t n, sizes& out, int rounds) {
  std::int64_t get_ns = 0, list_ns = 0;
  // Warm up: the tree's pages mapped into the process and in the caches as
  // far as they fit (a first touch of an mmap'd page is a page fault).
  if (!ask(sys, h, gets_atom::value, n, std::min<std::int64_t>(n, 200000), std::int64_t{99}))
    return false;
  std::int64_t gets = 0, lists = 0, puts = 0;
  double put_s = 0;
  for (int r = 0; r < rounds; ++r) {
    auto g = ask(sys, h, gets_atom::value, n, std::int64_t{20000}, std::int64_t{r + 1});
    auto l = ask(sys, h, lists_atom::value, n, std::int64_t{2000}, std::int64_t{r + 7});
    auto t0 = std::chrono::steady_clock::now();
    auto p = ask(sys, h, puts_atom::value, n, std::int64_t{1000}, std::int64_t{r + 13});
    put_s += seconds_since(t0);
    if (!g || !l || !p) {
      std::fprintf(stderr, "ark-bench: kvscale: %s\n",
                   (!g ? g : !l ? l : p).error().message().c_str());
      return false;
    }
    get_ns += *g;
    list_ns += *l;
    gets += 20000;
    lists += 2000;
    puts += 1000;
  }
  out.get_us = static_cast<double>(get_ns) / 1e3 / static_cast<double>(gets);
  out.list_us = static_cast<double>(list_ns) / 1e3 / static_cast<double>(lists);
  out.put_us = put_s * 1e6 / static_cast<double>(puts);
  return true;
}

bool fill(caf::actor_system& sys, const kvs_if& h, std::int64_t n) {
  const std::int64_t chunk = 50000;
  for (std::int64_t from = 0; from < n; from += chunk) {
    auto r = ask(sys, h, fill_atom::value, from, std::min(chunk, n - from));
    if (!r) {
      std::fprintf(stderr, "ark-bench: kvscale: fill: %s\n", r.error().message().c_str());
      return false;
    }
  }
  return true;
}

// -- raw LMDB at the same sizes --------------------------------------------------------

// An LMDB environment of `n` keys (8-byte big-endian i -> 9 bytes), filled in
// transactions of 50,000, with the same three operations as the actor's:
// random gets (a read txn each, as ark's get), a txn of 1,000 random
// overwrites, lists of 100 from a random key.
struct raw_tree {
  MDB_env* env = nullptr;
  MDB_dbi dbi = 0;
  std::int64_t n = 0;
  ~raw_tree() {
    if (env) mdb_env_close(env);
  }
  static void key_of(std::int64_t i, unsigned char* kb) { kv::put_be64(kb, static_cast<std::uint64_t>(i)); }

  bool open(const std::string& dir, std::int64_t keys) {
    n = keys;
    MDB_txn* t = nullptr;
    if (mdb_env_create(&env) != 0 || mdb_env_set_mapsize(env, std::size_t{16} << 30) != 0 ||
        mdb_env_open(env, dir.c_str(), MDB_NOTLS | MDB_NOSYNC, 0644) != 0 ||
        mdb_txn_begin(env, nullptr, 0, &t) != 0 || mdb_dbi_open(t, nullptr, 0, &dbi) != 0 ||
        mdb_txn_commit(t) != 0)
      return false;
    for (std::int64_t lo = 0; lo < n; lo += 50000) {
      if (mdb_txn_begin(env, nullptr, 0, &t) != 0) return false;
      for (std::int64_t i = lo; i < std::min(n, lo + 50000); ++i)
        if (!put(t, i)) return false;
      if (mdb_txn_commit(t) != 0) return false;
    }
    return true;
  }
  bool put(MDB_txn* t, std::int64_t i) {
    unsigned char kb[8], vb[9] = {0x01};
    key_of(i, kb);
    kv::put_be64(vb + 1, static_cast<std::uint64_t>(i));
    MDB_val k{sizeof kb, kb}, v{sizeof vb, vb};
    return mdb_put(t, dbi, &k, &v, 0) == 0;
  }
  bool measure(sizes& out, int rounds) {
    std::mt19937_64 rng(5);
    std::uniform_int_distribution<std::int64_t> d(0, n - 101);
    auto one_get = [&] {
      unsigned char kb[8];
      key_of(d(rng), kb);
      MDB_val k{sizeof kb, kb}, v{0, nullptr};
      MDB_txn* t = nullptr;
      if (mdb_txn_begin(env, nullptr, MDB_RDONLY, &t) != 0) return false;
      int rc = mdb_get(t, dbi, &k, &v);
      mdb_txn_abort(t);
      return rc == 0 && v.mv_size == 9;
    };
    for (std::int64_t j = 0; j < std::min<std::int64_t>(n, 200000); ++j)  // warm up, as above
      if (!one_get()) return false;
    double get_s = 0, put_s = 0, list_s = 0;
    for (int r = 0; r < rounds; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      for (int j = 0; j < 20000; ++j)
        if (!one_get()) return false;
      get_s += seconds_since(t0);
      t0 = std::chrono::steady_clock::now();
      for (int j = 0; j < 2000; ++j) {
        MDB_txn* t = nullptr;
        MDB_cursor* c = nullptr;
        if (mdb_txn_begin(env, nullptr, MDB_RDONLY, &t) != 0) return false;
        mdb_cursor_open(t, dbi, &c);
        unsigned char kb[8];
        key_of(d(rng), kb);
        MDB_val k{sizeof kb, kb}, v{0, nullptr};
        int seen = 0;
        for (int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && seen < 100;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
          ++seen;
        mdb_cursor_close(c);
        mdb_txn_abort(t);
        if (seen != 100) return false;
      }
      list_s += seconds_since(t0);
      t0 = std::chrono::steady_clock::now();
      MDB_txn* t = nullptr;
      if (mdb_txn_begin(env, nullptr, 0, &t) != 0) return false;
      for (int j = 0; j < 1000; ++j)
        if (!put(t, d(rng))) return false;
      if (mdb_txn_commit(t) != 0) return false;
      put_s += seconds_since(t0);
    }
    out.get_us = get_s * 1e6 / (20000.0 * rounds);
    out.list_us = list_s * 1e6 / (2000.0 * rounds);
    out.put_us = put_s * 1e6 / (1000.0 * rounds);
    return true;
  }
};

void run_raw(context& ctx, std::int64_t small, std::int64_t big, int rounds) {
  raw_tree s, b;
  if (!s.open(ctx.fresh_dir("kvscale-raw-10k"), small) ||
      !b.open(ctx.fresh_dir("kvscale-raw-10m"), big)) {
    std::fprintf(stderr, "ark-bench: kvscale: raw LMDB baseline failed\n");
    return;
  }
  sizes at_small, at_big, x;
  for (int i = 0; i < 2; ++i) {
    if (!s.measure(x, rounds)) return;
    at_small.add_half(x);
    if (!b.measure(x, rounds)) return;
    at_big.add_half(x);
  }
  ctx.add("kvscale_raw_get_ratio", at_big.get_us / at_small.get_us, "ratio");
  ctx.add("kvscale_raw_put_ratio", at_big.put_us / at_small.put_us, "ratio");
  ctx.add("kvscale_raw_list100_ratio", at_big.list_us / at_small.list_us, "ratio");
  ctx.add("kvscale_raw_put_us_10k", at_small.put_us, "us");
  ctx.add("kvscale_raw_put_us_10m", at_big.put_us, "us");
}

}  // namespace

void run_kv_scale(context& ctx) {
  const std::int64_t small = 10000;
  const std::int64_t big = ctx.pick<std::int64_t>(1'000'000, 10'000'000);
  caf::actor_system_config cfg;
  actor_registry::global().configure(cfg);
  caf::actor_system sys{cfg};
  // Two data directories: the 10 k keys in a tree of their own.
  auto open = [&](const char* name) {
    runtime_options opts;
    opts.data_dir = ctx.fresh_dir(name);
    opts.storage.mode = kv::durability::none;
    auto rt = runtime::open(sys, opts);
    if (!rt) std::fprintf(stderr, "ark-bench: kvscale: %s\n", rt.error().message().c_str());
    return rt ? *rt : nullptr;
  };
  auto small_rt = open("kvscale-10k");
  auto big_rt = open("kvscale-10m");
  if (!small_rt || !big_rt) return;
  auto s = small_rt->get_or_create<kvs_if>("bench_kvs", ark::key{"small"});
  auto b = big_rt->get_or_create<kvs_if>("bench_kvs", ark::key{"big"});
  if (!s || !b) return;
  if (!fill(sys, *s, small)) return;
  auto t0 = std::chrono::steady_clock::now();
  if (!fill(sys, *b, big)) return;
  double build_s = seconds_since(t0);
  if (auto r = big_rt->storage()->sync(); !r)
    std::fprintf(stderr, "ark-bench: kvscale: sync: %s\n", r.error().message().c_str());
  std::printf("  (%lld keys built in %.1f s through the actor's kv(), 50,000 a message)\n",
              static_cast<long long>(big), build_s);
  ctx.add("kvscale_build_s", build_s, "s");
  // Alternate the two sizes, so a noisy second hits both.
  sizes at_small, at_big, x;
  const int rounds = ctx.pick(3, 10);
  for (int i = 0; i < 2; ++i) {
    if (!measure(sys, *s, small, x, rounds)) return;
    at_small.add_half(x);
    if (!measure(sys, *b, big, x, rounds)) return;
    at_big.add_half(x);
  }
  ctx.add("kvscale_get_us_10k", at_small.get_us, "us");
  ctx.add("kvscale_get_us_10m", at_big.get_us, "us");
  ctx.add("kvscale_put_us_10k", at_small.put_us, "us");
  ctx.add("kvscale_put_us_10m", at_big.put_us, "us");
  ctx.add("kvscale_list100_us_10k", at_small.list_us, "us");
  ctx.add("kvscale_list100_us_10m", at_big.list_us, "us");
  ctx.add("kvscale_get_ratio", at_big.get_us / at_small.get_us, "ratio");
  ctx.add("kvscale_put_ratio", at_big.put_us / at_small.put_us, "ratio");
  ctx.add("kvscale_list100_ratio", at_big.list_us / at_small.list_us, "ratio");
  small_rt->shutdown();
  big_rt->shutdown();
  // The same sizes and operations on raw LMDB, for what the tree itself costs.
  run_raw(ctx, small, big, rounds);
}

}  // namespace ark::bench
