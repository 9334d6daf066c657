// Actor throughput and latency: ark (sync / none) against plain CAF stateful
// actors under the same client load, and against a naive commit-per-message
// loop. The actor and the load (actor_load.hpp) are shared with the
// PostgreSQL scenario (postgres.cpp).

#include <atomic>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <thread>

#include <ark/actor.hpp>
#include <ark/client.hpp>
#include <ark/kv/lmdb_backend.hpp>
#include <ark/registry.hpp>
#include <ark/runtime.hpp>

#include "actor_load.hpp"
#include "bench.hpp"

namespace ark::bench {

namespace {

class tp_actor : public ark::actor<tp_if, tp_state> {
 public:
  using actor::actor;
  handlers_type make_handlers() override {
    return handlers([this](add_atom, std::int64_t n) { return state().value += n; });
  }
};

/// The same work in plain CAF: a stateful typed actor, nothing persisted.
struct plain_state {
  tp_state s;
};
tp_if::behavior_type plain_actor(tp_if::stateful_pointer<plain_state> self) {
  return {[self](add_atom, std::int64_t n) { return self->state.s.value += n; }};
}

/// Keeps `inflight` requests outstanding over `targets` and counts replies.
struct load {
  std::atomic<std::int64_t> replies{0};
  std::atomic<std::int64_t> errors{0};
  std::atomic<std::int64_t> outstanding{0};
  std::atomic<bool> stop{false};
};

caf::actor drive(caf::actor_system& sys, std::vector<tp_if> targets, int inflight,
                 std::shared_ptr<load> l) {
  // Inputs as spawn arguments, not captures: spawned without arguments, CAF
  // 0.17 binds a reference to a null tuple (undefined behaviour).
  auto body = [](caf::event_based_actor* self, std::vector<tp_if> targets, int inflight,
                 std::shared_ptr<load> l) {
    auto next = std::make_shared<std::function<void(std::size_t)>>();
    auto targets_ptr = std::make_shared<std::vector<tp_if>>(targets);
    *next = [self, next, targets_ptr, l](std::size_t i) {
      if (l->stop) return;
      ++l->outstanding;
      const auto& ts = *targets_ptr;
      // No per-request timeout: CAF 0.17 keeps every timeout in its clock
      // until it fires, which at 10^5 requests/s halves throughput (for
      // plain CAF and ark alike) and grows memory.
      self->request(ts[i % ts.size()], caf::infinite, add_atom::value, std::int64_t{1})
          .then(
              [next, l, i](std::int64_t) {
                ++l->replies;
                --l->outstanding;
                (*next)(i * 2654435761u + 1);
              },
              [l](caf::error&) {
                ++l->errors;
                --l->outstanding;
              });
    };
    // `next` holds itself: the cycle (and with it every target, so the
    // runtime and its backend) goes when the driver does.
    self->attach_functor([next] { *next = nullptr; });
    for (int i = 0; i < inflight; ++i) (*next)(static_cast<std::size_t>(i) * 7919);
    return caf::behavior{[](int) {}};
  };
  return sys.spawn(body, std::move(targets), inflight, std::move(l));
}

}  // namespace

double measure(caf::actor_system& sys, std::vector<tp_if> targets, int inflight,
               std::chrono::milliseconds warmup, std::chrono::milliseconds window, context* ctx,
               ark::runtime* rt, const char* name, const std::function<void(bool end)>& mark) {
  auto l = std::make_shared<load>();
  auto driver = drive(sys, std::move(targets), inflight, l);
  std::this_thread::sleep_for(warmup);
  auto r0 = l->replies.load();
  auto s0 = rt ? rt->stats() : runtime_stats{};
  if (mark) mark(false);
  auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(window);
  auto r1 = l->replies.load();
  auto s1 = rt ? rt->stats() : runtime_stats{};
  if (mark) mark(true);
  double rate = static_cast<double>(r1 - r0) / seconds_since(t0);
  if (ctx && rt && name && s1.commits > s0.commits) {
    auto commits = static_cast<double>(s1.commits - s0.commits);
    ctx->add(std::string(name) + "_mean_batch", static_cast<double>(s1.units - s0.units) / commits,
             "units");
    ctx->add(std::string(name) + "_mean_commit_us",
             static_cast<double>(s1.commit_us - s0.commit_us) / commits, "us");
  }
  l->stop = true;
  for (int i = 0; i < 3000 && l->outstanding > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  // The driver would live on until its pending request timeouts fire.
  caf::anon_send_exit(driver, caf::exit_reason::kill);
  if (l->errors > 0)
    std::fprintf(stderr, "ark-bench: %lld request errors\n",
                 static_cast<long long>(l->errors.load()));
  return rate;
}

bool handler_stats_on() {
  static const bool on = [] {
    const char* v = std::getenv("ARK_BENCH_HANDLER_STATS");
    return !(v && std::string(v) == "0");
  }();
  return on;
}

ark_env::ark_env(ark::runtime_options opts) {
  opts.handler_stats = handler_stats_on();
  ark::actor_registry::global().configure(cfg);
  ark::configure_host_scheduler(cfg);  // as ark-host does
  sys = std::make_unique<caf::actor_system>(cfg);
  auto r = ark::runtime::open(*sys, std::move(opts));
  if (!r) {
    std::fprintf(stderr, "ark-bench: %s\n", r.error().message().c_str());
    return;
  }
  rt = *r;
}

namespace {
ark::runtime_options directory_options(const std::string& dir, kv::durability mode) {
  ark::runtime_options opts;
  opts.data_dir = dir;
  opts.storage.mode = mode;
  return opts;
}
}  // namespace

ark_env::ark_env(const std::string& dir, kv::durability mode)
    : ark_env(directory_options(dir, mode)) {}

ark_env::~ark_env() {
  if (rt) rt->shutdown();
  rt.reset();
  sys.reset();
}

std::vector<tp_if> ark_env::actors(int n) {
  std::vector<tp_if> out;
  for (int i = 0; i < n; ++i) {
    auto h = rt->get_or_create<tp_if>("bench_tp", ark::key{"a", i});
    if (h) out.push_back(*h);
  }
  return out;
}

std::vector<double> sequential_latency_us(caf::actor_system& sys, const tp_if& target, int n,
                                          int warmup) {
  caf::scoped_actor self{sys};
  std::vector<double> us;
  for (int i = 0; i < n + warmup; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    bool ok = false;
    self->request(target, std::chrono::seconds(10), add_atom::value, std::int64_t{1})
        .receive([&](std::int64_t) { ok = true; }, [](caf::error&) {});
    if (!ok) break;
    if (i >= warmup) us.push_back(seconds_since(t0) * 1e6);
  }
  return us;
}

}  // namespace ark::bench

ARK_ACTOR("bench_tp", ark::bench::tp_actor);

namespace ark::bench {

void run_actor_throughput(context& ctx) {
  using std::chrono::milliseconds;
  // For profiling one case (bench/RESULTS.md): ARK_BENCH_CASE=naive|plain|
  // sync10k|hot100|none10k|single runs only that one.
  const char* only_case = std::getenv("ARK_BENCH_CASE");
  auto run_case = [&](const char* name) { return !only_case || std::string(only_case) == name; };
  const auto warmup = milliseconds(ctx.pick(500, 2000));
  const auto window = milliseconds(ctx.pick(2000, 10000));
  const int inflight = 1024;

  // The naive design: one sync LMDB commit per message (snapshot + reply).
  if (run_case("naive")) {
    kv::lmdb_options lo;
    auto db = kv::lmdb_backend::open(ctx.fresh_dir("naive"), lo);
    if (db) {
      tp_state st;
      std::int64_t n = 0;
      auto t0 = std::chrono::steady_clock::now();
      while (seconds_since(t0) < std::chrono::duration<double>(window).count() / 2) {
        st.value += 1;
        kv::backend_batch b;
        b.put(std::string("naive"), std::to_string(n % 10000), kv::value::pack(st).stored());
        if (!(*db)->apply(b)) break;
        ++n;
      }
      ctx.add("naive_durable_msg_per_s", static_cast<double>(n) / seconds_since(t0), "1/s");
    }
  }
  // Plain CAF: the same actors, messages and client load, nothing persisted.
  if (run_case("plain")) {
    caf::actor_system_config cfg;
    caf::actor_system sys{cfg};
    std::vector<tp_if> targets;
    for (int i = 0; i < 10000; ++i) targets.push_back(sys.spawn(plain_actor));
    ctx.add("plain_caf_msg_per_s", measure(sys, targets, inflight, warmup, window), "1/s");
    for (auto& t : targets) caf::anon_send_exit(t, caf::exit_reason::user_shutdown);
  }
  if (run_case("sync10k")) {
    ark_env env(ctx.fresh_dir("sync10k"), kv::durability::sync);
    if (env.rt)
      ctx.add("durable_msg_per_s_10k_actors",
              measure(*env.sys, env.actors(10000), inflight, warmup, window, &ctx,
                      env.rt.get(), "sync10k"),
              "1/s");
  }
  if (run_case("hot100")) {
    ark_env env(ctx.fresh_dir("hot100"), kv::durability::sync);
    if (env.rt)
      ctx.add("durable_msg_per_s_100_hot_actors",
              measure(*env.sys, env.actors(100), inflight, warmup, window, &ctx,
                      env.rt.get(), "hot100"),
              "1/s");
  }
  if (run_case("none10k")) {
    ark_env env(ctx.fresh_dir("none10k"), kv::durability::none);
    if (env.rt)
      ctx.add("none_msg_per_s",
              measure(*env.sys, env.actors(10000), inflight, warmup, window, &ctx, env.rt.get(),
                      "none10k"),
              "1/s");
  }
  // What the per-handler statistics add to one message, in the same run:
  // counting the call and deciding whether to time it (a sample: at most one
  // call per handler and thread per coarse clock reading), and for the calls
  // timed, the clock reads of the handler and of its reply's release. The
  // coarse clock read is counted too (ark reads it for every message anyway,
  // so the figure is an upper bound). Over the time of one message at
  // durable_msg_per_s_10k_actors.
  if (run_case("sync10k")) {
    ark::detail::type_stats stats("bench", {"add(int64) -> int64"});
    const int n = 5'000'000;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
      timespec ts{};
      clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
      if (stats.record_call(0, ts.tv_sec * 1'000'000'000LL + ts.tv_nsec)) {
        auto started = ark::detail::stats_clock_ns();
        auto ready = ark::detail::stats_clock_ns();
        stats.record_time(0, static_cast<std::uint64_t>(ready - started));
        stats.record_wait(0, static_cast<std::uint64_t>(ark::detail::stats_clock_ns() - ready));
      }
    }
    double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0)
                    .count() / n;
    ctx.add("handler_stats_ns", ns, "ns");
    if (auto rate = ctx.get("durable_msg_per_s_10k_actors"); rate > 0)
      ctx.add("handler_stats_share", ns / (1e9 / rate), "ratio");
  }
  // One client, sequential requests to one actor, sync.
  if (run_case("single")) {
    ark_env env(ctx.fresh_dir("single"), kv::durability::sync);
    if (env.rt) {
      auto h = env.actors(1);
      auto us = sequential_latency_us(*env.sys, h[0], ctx.pick(500, 3000));
      auto p99 = us;
      ctx.add("single_actor_p50_us", median(us), "us");
      ctx.add("single_actor_p99_us", percentile(p99, 99), "us");
    }
  }
}

}  // namespace ark::bench
