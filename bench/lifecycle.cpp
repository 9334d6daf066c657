// Lifecycle costs of persistent actors: activation from a snapshot, the time
// a restarted ark-host needs to answer its first request, and the memory of a
// process that touches many actors once (with idle passivation on).
//
//   activation_us           median over actors of (get_or_create + first get) - (second get)
//   restart_first_reply_ms  spawn of ark-host over M persisted counters -> first reply
//   peak_rss_mb_1m_actors   VmHWM of a child that touched N actors once each
//   peak_rss_mb_baseline    VmHWM of the same child after touching 1,000 actors

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include "child_process.hpp"

#include <ark/actor.hpp>
#include <ark/client.hpp>
#include <ark/kv/backend.hpp>
#include <ark/kv/lmdb_backend.hpp>
#include <ark/kv/value.hpp>
#include <ark/registry.hpp>
#include <ark/runtime.hpp>
#include <ark/stored_format.hpp>

#include "bench.hpp"
#include "counter/counter.hpp"

extern char** environ;

namespace ark::bench {
namespace {

// -- the bench actor ---------------------------------------------------------------

using bench_counter_if =
    caf::typed_actor<caf::replies_to<counter::add_atom, std::int64_t>::with<std::int64_t>,
                     caf::replies_to<counter::get_atom>::with<std::int64_t>>;

/// 64 bytes of payload: an int64 and a 56-character string.
struct bench_counter_state {
  std::int64_t value = 0;
  std::string pad = std::string(56, '.');
  MSGPACK_DEFINE_MAP(value, pad)
};

class bench_counter : public ark::actor<bench_counter_if, bench_counter_state> {
 public:
  using actor::actor;

  handlers_type make_handlers() override {
    return handlers([this](counter::add_atom, std::int64_t n) { return state().value += n; },
                    [this](counter::get_atom) { return state().value; });
  }
};

constexpr const char* bench_type = "bench_counter";

}  // namespace
}  // namespace ark::bench

ARK_ACTOR("bench_counter", ark::bench::bench_counter);

namespace ark::bench {
namespace {

using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

double us_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::micro>(clock_type::now() - t0).count();
}

std::string actor_key(std::size_t i) {
  return "a" + std::to_string(i);
}

void report_error(const std::string& metric, const std::string& what) {
  std::fprintf(stderr, "lifecycle: %s skipped: %s\n", metric.c_str(), what.c_str());
  std::fflush(stderr);
}

// -- an in-process host (actor system + runtime) -------------------------------------

struct host_env {
  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::shared_ptr<runtime> rt;

  host_env() = default;
  host_env(const host_env&) = delete;
  host_env& operator=(const host_env&) = delete;
  ~host_env() { stop(); }

  bool start(const runtime_options& opts, std::string& err) {
    cfg = std::make_unique<caf::actor_system_config>();
    actor_registry::global().configure(*cfg);
    ark::configure_host_scheduler(*cfg);  // as ark-host does
    sys = std::make_unique<caf::actor_system>(*cfg);
    auto r = runtime::open(*sys, opts);
    if (!r) {
      err = "cannot open " + opts.data_dir + ": " + r.error().message();
      return false;
    }
    rt = *r;
    return true;
  }

  // The runtime stops before the actor system goes away.
  void stop() {
    if (rt) rt->shutdown();
    rt.reset();
    sys.reset();
    cfg.reset();
  }
};

// -- touching many actors with a bounded number of requests in flight ----------------

/// One driver's share: actors [next, end), at most `window` adds in flight.
struct touch_job {
  std::shared_ptr<runtime> rt;
  std::size_t next = 0;
  std::size_t end = 0;
  std::size_t window = 0;
  std::size_t in_flight = 0;
  std::size_t failures = 0;
  std::string first_error;
  std::shared_ptr<std::atomic<std::size_t>> progress;  // shared: outlives a timed-out wait
  bool finished = false;
  std::promise<void> done;

  void fail(std::string what) {
    if (failures++ == 0) first_error = std::move(what);
  }
};

// Runs inside the driver actor: tops the window up, quits when all replied.
void drive(caf::event_based_actor* self, const std::shared_ptr<touch_job>& job) {
  while (job->in_flight < job->window && job->next < job->end) {
    auto i = job->next++;
    auto h = job->rt->get_or_create<bench_counter_if>(bench_type, actor_key(i));
    if (!h) {
      job->fail(h.error().message());
      job->progress->fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    ++job->in_flight;
    // No per-request timeout: with a 60 s timeout per request, this process
    // grew by ~170 bytes of heap per touch (the timeout events piled up in
    // CAF 0.17's actor clock, replies or not); without, the heap stays flat.
    // touch_actors has an overall deadline instead.
    self->request(*h, caf::infinite, counter::add_atom::value, std::int64_t{1})
        .then(
            [self, job](std::int64_t) {
              --job->in_flight;
              job->progress->fetch_add(1, std::memory_order_relaxed);
              drive(self, job);
            },
            [self, job](caf::error& e) {
              --job->in_flight;
              job->fail(caf::to_string(e));
              job->progress->fetch_add(1, std::memory_order_relaxed);
              drive(self, job);
            });
    // The handle goes out of scope here: only the runtime's directory keeps
    // the actor, so idle passivation may retire it once it replied.
  }
  if (!job->finished && job->in_flight == 0 && job->next >= job->end) {
    job->finished = true;
    job->done.set_value();
    self->quit();
  }
}

struct touch_result {
  std::size_t failures = 0;
  std::string first_error;
};

/// get_or_create + one add on actors 0..n-1, from `drivers` event-based
/// drivers with `window` requests in flight each; `tick` runs every 250 ms
/// while they work. Gives up (a failure) after `limit`; shutting the runtime
/// down then ends the drivers.
touch_result touch_actors(caf::actor_system& sys, const std::shared_ptr<runtime>& rt, std::size_t n,
                          std::size_t drivers, std::size_t window,
                          const std::shared_ptr<std::atomic<std::size_t>>& progress,
                          std::chrono::seconds limit, const std::function<void()>& tick = nullptr) {
  std::vector<std::shared_ptr<touch_job>> jobs;
  std::vector<std::future<void>> waits;
  for (std::size_t d = 0; d < drivers; ++d) {
    auto job = std::make_shared<touch_job>();
    job->rt = rt;
    job->next = n * d / drivers;
    job->end = n * (d + 1) / drivers;
    job->window = window;
    job->progress = progress;
    waits.push_back(job->done.get_future());
    jobs.push_back(job);
  }
  // The job is a spawn argument, not a capture: spawned without arguments,
  // CAF 0.17 binds a reference to a null tuple (undefined behaviour).
  for (auto& job : jobs)
    sys.spawn([](caf::event_based_actor* self, std::shared_ptr<touch_job> j) { drive(self, j); },
              job);
  auto deadline = clock_type::now() + limit;
  touch_result out;
  for (auto& w : waits) {
    while (w.wait_for(250ms) != std::future_status::ready) {
      if (tick) tick();
      if (clock_type::now() >= deadline) {
        out.failures = 1;
        out.first_error = "timed out after " + std::to_string(limit.count()) + " s with " +
                          std::to_string(progress->load()) + " of " + std::to_string(n) + " done";
        return out;
      }
    }
  }
  for (auto& job : jobs) {
    if (job->failures > 0 && out.failures == 0) out.first_error = job->first_error;
    out.failures += job->failures;
  }
  return out;
}

// -- /proc/self/status ---------------------------------------------------------------

/// VmHWM, VmRSS, RssAnon, RssFile, RssShmem in kB.
std::map<std::string, long> memory_status_kb() {
  std::map<std::string, long> out;
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto name = line.substr(0, colon);
    if (name == "VmHWM" || name == "VmRSS" || name == "RssAnon" || name == "RssFile" ||
        name == "RssShmem")
      out[name] = std::strtol(line.c_str() + colon + 1, nullptr, 10);
  }
  return out;
}

// -- activation_us -------------------------------------------------------------------

std::optional<std::int64_t> get_value(caf::scoped_actor& self, const bench_counter_if& h,
                                      std::string& err) {
  std::optional<std::int64_t> out;
  self->request(h, 10s, counter::get_atom::value)
      .receive([&](std::int64_t v) { out = v; }, [&](caf::error& e) { err = caf::to_string(e); });
  return out;
}

// activation_us: the cost of bringing an actor back from its snapshot.
// K actors of bench_counter (64 bytes of state) are created and persisted;
// the runtime is restarted on the same directory (new actor system, nothing
// active); then, for every actor in random order,
//   t1 = get_or_create + the first `get` (spawn, snapshot read from LMDB,
//        decode, on_activate, and one request/reply round trip),
//   t2 = a second `get` on the same handle (the round trip alone).
// activation_us = median over the actors of (t1 - t2): what activation adds
// to a request. Paired per actor, so a burst of noise on the shared machine
// hits both terms (the difference of the two medians swung 9-25 us between
// runs; the paired median is steadier).
void measure_activation(context& ctx) {
  const char* metric = "activation_us";
  auto k = ctx.pick<std::size_t>(2000, 20000);
  auto dir = ctx.fresh_dir("lifecycle_activation");
  runtime_options opts;
  opts.data_dir = dir;
  opts.handler_stats = handler_stats_on();
  std::string err;
  {
    // Populating is not measured: no fsync, many creations per commit.
    opts.storage.mode = kv::durability::none;
    host_env env;
    if (!env.start(opts, err)) return report_error(metric, err);
    auto progress = std::make_shared<std::atomic<std::size_t>>(0);
    auto r = touch_actors(*env.sys, env.rt, k, 2, 128, progress, 120s);
    if (r.failures > 0)
      return report_error(
          metric, std::to_string(r.failures) + " actors failed to persist: " + r.first_error);
  }
  opts.storage.mode = kv::durability::sync;
  host_env env;
  if (!env.start(opts, err)) return report_error(metric, err);
  std::vector<std::size_t> order(k);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::shuffle(order.begin(), order.end(), std::mt19937_64{42});
  std::vector<double> first, second, added;
  first.reserve(k);
  second.reserve(k);
  added.reserve(k);
  {
    caf::scoped_actor self{*env.sys};
    for (auto i : order) {
      auto t0 = clock_type::now();
      auto h = env.rt->get_or_create<bench_counter_if>(bench_type, actor_key(i));
      if (!h) return report_error(metric, h.error().message());
      auto v1 = get_value(self, *h, err);
      auto t1 = us_since(t0);
      auto t2_start = clock_type::now();
      auto v2 = get_value(self, *h, err);
      auto t2 = us_since(t2_start);
      if (!v1 || !v2) return report_error(metric, "get failed: " + err);
      if (*v1 != 1 || *v2 != 1)
        return report_error(metric, "actor " + actor_key(i) + " came back with value " +
                                        std::to_string(*v1) + " instead of 1");
      first.push_back(t1);
      second.push_back(t2);
      added.push_back(t1 - t2);
    }
  }
  if (env.rt->stats().active_actors < k)
    std::fprintf(stderr, "lifecycle: note: only %llu of %zu actors active after the run\n",
                 static_cast<unsigned long long>(env.rt->stats().active_actors), k);
  env.stop();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  auto t1 = median(first);
  auto t2 = median(second);
  ctx.add(metric, median(added), "us");
  std::printf(
      "    (%zu actors: get_or_create + first get p50 %.1f us, p99 %.1f us; second get "
      "p50 %.1f us)\n",
      k, t1, percentile(first, 99), t2);
  std::fflush(stdout);
}

// -- restart_first_reply_ms ----------------------------------------------------------

/// The example counter's state layout (examples/counter/counter.cpp): the
/// runtime packs the state with msgpack::pack, so this packs to the same bytes.
struct counter_state_layout {
  std::int64_t value = 0;
  MSGPACK_DEFINE_MAP(value)
};

// Writes M "counter" actors ("a0".."a<M-1>", value = index) straight into the
// snapshot space: key = make_identity("counter", key).encoded, value =
// make_snapshot(1, msgpack of the state) in the space state_space(). That is
// exactly the put the runtime's writer makes when a counter is created or
// changes (doc/state_format.md; schema 1 is the default `schema`),
// so ark-host sees M ordinary persisted counters, at a fraction of the time
// that creating them through actors would take.
bool write_counter_snapshots(const std::string& dir, std::size_t m, std::string& err) {
  kv::lmdb_options lo;
  lo.mode = kv::durability::none;
  auto db = kv::lmdb_backend::open(dir, lo);
  if (!db) {
    err = "cannot open " + dir + ": " + db.error().message();
    return false;
  }
  constexpr std::size_t chunk = 10000;
  const auto& space = stored::state_space();
  std::string state;
  for (std::size_t base = 0; base < m; base += chunk) {
    kv::backend_batch batch;
    auto& group = batch.for_space(space);
    auto end = std::min(m, base + chunk);
    group.ops.reserve(end - base);
    for (auto i = base; i < end; ++i) {
      auto id = stored::make_identity("counter", actor_key(i));
      if (!id) {
        err = id.error().message();
        return false;
      }
      state.clear();
      kv::msgpack_writer w{&state};
      msgpack::pack(w, counter_state_layout{static_cast<std::int64_t>(i)});
      group.ops.push_back(kv::write_op{kv::write_op::kind::put, std::move(id->encoded),
                                       stored::make_snapshot(1, state)});
    }
    if (auto r = (*db)->apply(batch); !r) {
      err = "writing snapshots: " + r.error().message();
      return false;
    }
  }
  // Flush now, so no writeback of the new file runs during the measurement.
  if (auto r = (*db)->sync(); !r) {
    err = r.error().message();
    return false;
  }
  return true;
}

/// One restart: ms from spawning ark-host to the first reply of counter `idx`.
std::optional<double> first_reply_ms(caf::actor_system& csys, const std::string& host_exe,
                                     const std::string& module, const std::string& dir,
                                     std::size_t idx, std::string& err) {
  child_process host;
  auto t0 = clock_type::now();
  if (!host.spawn({host_exe, "--data", dir, "--port", "0", "--bind", "127.0.0.1", "--module",
                   module, "--log-level", "warn"},
                  err))
    return std::nullopt;
  std::string line;
  int port = -1;
  auto deadline = t0 + 60s;
  while (port < 0) {
    if (!host.read_line(line, deadline)) {
      err = "ark-host exited or printed no ready line within 60 s";
      return std::nullopt;
    }
    if (line.rfind("ark-host ready:", 0) != 0) continue;
    auto at = line.find(" port=");
    if (at == std::string::npos) {
      err = "no port in the ready line: " + line;
      return std::nullopt;
    }
    port = std::atoi(line.c_str() + at + 6);
  }
  auto c = connect(csys, "127.0.0.1", static_cast<std::uint16_t>(port));
  if (!c) {
    err = c.error().message();
    return std::nullopt;
  }
  auto h = c->get_or_create<counter::counter_if>("counter", actor_key(idx));
  if (!h) {
    err = h.error().message();
    return std::nullopt;
  }
  auto v = call<std::int64_t>(csys, *h, 10s, counter::get_atom::value);
  auto ms = us_since(t0) / 1000.0;
  if (!v) {
    err = v.error().message();
    return std::nullopt;
  }
  if (*v != static_cast<std::int64_t>(idx)) {
    err = "counter " + actor_key(idx) + " answered " + std::to_string(*v) + ", expected " +
          std::to_string(idx);
    return std::nullopt;
  }
  if (host.stop(30s) != 0) std::fprintf(stderr, "lifecycle: ark-host did not stop cleanly\n");
  return ms;
}

// restart_first_reply_ms: a data directory holding M persisted counters; the
// real ark-host binary is spawned on it and a remote client connects and asks
// one of them for its value. The time from the spawn to that reply covers
// process start, module loading, opening LMDB, starting CAF and the
// middleman, connecting, and activating the actor; a host that scanned its
// actors at startup would show here as growth with M. Median of 3 (the data
// sits in the page cache: a warm restart).
void measure_restart(context& ctx) {
  const char* metric = "restart_first_reply_ms";
  auto bin_dir = std::filesystem::path(ctx.self_exe).parent_path();
  auto host_exe = (bin_dir / "ark-host").string();
  auto module = (bin_dir / ".." / "modules" / "libark_counter.so").lexically_normal().string();
  std::error_code ec;
#ifdef ARK_BENCH_INSTALLED_MODULE_DIR
  // An installed ark-bench: the example modules sit in LIBDIR/ark/modules.
  if (!std::filesystem::exists(module, ec))
    module = (bin_dir / ARK_BENCH_INSTALLED_MODULE_DIR / "libark_counter.so").lexically_normal();
#endif
  if (!std::filesystem::exists(host_exe, ec))
    return report_error(metric, host_exe + " not found (build ark-host)");
  if (!std::filesystem::exists(module, ec))
    return report_error(metric, module + " not found (build ark_counter)");
  auto m = ctx.pick<std::size_t>(100000, 1000000);
  auto dir = ctx.fresh_dir("lifecycle_restart");
  std::string err;
  if (!write_counter_snapshots(dir, m, err)) return report_error(metric, err);
  std::vector<double> times;
  {
    client_config ccfg;
    caf::actor_system csys{ccfg};
    for (std::size_t rep = 0; rep < 3; ++rep) {
      auto idx = m / 2 + rep * 7919 % (m / 2);
      auto ms = first_reply_ms(csys, host_exe, module, dir, idx, err);
      if (!ms) return report_error(metric, err);
      times.push_back(*ms);
    }
  }
  std::filesystem::remove_all(dir, ec);
  ctx.add(metric, median(times), "ms");
}

// -- peak_rss_mb_1m_actors -----------------------------------------------------------

/// Runs `ark-bench --child touch DIR n` and returns its key/value lines.
std::optional<std::map<std::string, double>> run_touch_child(const context& ctx,
                                                             const std::string& dir, std::size_t n,
                                                             std::chrono::seconds limit,
                                                             std::string& err) {
  child_process child;
  if (!child.spawn({ctx.self_exe, "--child", "touch", dir, std::to_string(n)}, err))
    return std::nullopt;
  std::map<std::string, double> out;
  std::string line;
  auto deadline = clock_type::now() + limit;
  while (child.read_line(line, deadline)) {
    auto sp = line.find(' ');
    if (sp == std::string::npos || line.rfind("sample", 0) == 0) continue;
    out[line.substr(0, sp)] = std::strtod(line.c_str() + sp + 1, nullptr);
  }
  auto status = child.wait(clock_type::now() < deadline ? 60s : 1s);
  if (status != 0 || !out.count("vmhwm_kb")) {
    err = "the child (" + std::to_string(n) + " actors) failed with status " +
          std::to_string(status) + (clock_type::now() >= deadline ? " (timed out)" : "");
    return std::nullopt;
  }
  return out;
}

// peak_rss_mb_1m_actors: a child process (fresh address space, so the other
// scenarios do not inflate it) opens a runtime with idle passivation after
// 100 ms and touches N actors once each (get_or_create + one add, handle
// dropped at once, 512 requests in flight); its peak RSS (VmHWM) is the
// figure. peak_rss_mb_baseline is the same child touching 1,000 actors: the
// difference is what the N actors cost. With passivation working, only the
// actors of the last ~100 ms stay active, so the peak should not grow with N.
void measure_memory(context& ctx) {
  const char* metric = "peak_rss_mb_1m_actors";
  auto n = ctx.pick<std::size_t>(100000, 1000000);
  std::string err;
  auto dir = ctx.fresh_dir("lifecycle_memory_base");
  auto base = run_touch_child(ctx, dir, 1000, 60s, err);
  if (!base) report_error("peak_rss_mb_baseline", err);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  dir = ctx.fresh_dir("lifecycle_memory");
  auto big = run_touch_child(ctx, dir, n, ctx.quick ? 60s : 240s, err);
  std::filesystem::remove_all(dir, ec);
  if (!big) return report_error(metric, err);
  ctx.add(metric, (*big)["vmhwm_kb"] / 1024.0, "MB");
  if (base) ctx.add("peak_rss_mb_baseline", (*base)["vmhwm_kb"] / 1024.0, "MB");
  // VmHWM includes the pages of LMDB's memory map this process touched
  // (file-backed, RssFile), which grow with the data file; the heap is RssAnon.
  std::printf(
      "    (%zu actors in %.1f s; at the end: RSS %.0f MB = anon %.0f + file %.0f MB, "
      "%.0f active; sampled peak anon %.0f MB)\n",
      n, (*big)["seconds"], (*big)["rss_kb"] / 1024.0, (*big)["rss_anon_kb"] / 1024.0,
      (*big)["rss_file_kb"] / 1024.0, (*big)["active_actors"], (*big)["peak_anon_kb"] / 1024.0);
  std::fflush(stdout);
}

/// `--child touch DIR N`: touches N actors, prints its memory figures.
int touch_child(const std::string& dir, std::size_t n) {
  caf::actor_system_config cfg;
  actor_registry::global().configure(cfg);
  caf::actor_system sys{cfg};
  runtime_options opts;
  opts.data_dir = dir;
  opts.idle_timeout = 60s;  // long: the activation cap, not idleness, bounds memory
  opts.max_active = 10000;
  auto opened = runtime::open(sys, opts);
  if (!opened) {
    std::fprintf(stderr, "lifecycle child: cannot open %s: %s\n", dir.c_str(),
                 opened.error().message().c_str());
    return 1;
  }
  auto rt = *opened;
  auto progress = std::make_shared<std::atomic<std::size_t>>(0);
  auto t0 = clock_type::now();
  // Progress samples (ignored by the parent; useful when run by hand).
  long peak_anon = 0;  // the kernel keeps no high-water mark of RssAnon: sampled
  auto sample = [&] {
    auto st = memory_status_kb();
    peak_anon = std::max(peak_anon, st["RssAnon"]);
    std::printf("sample %zu rss_kb=%ld anon_kb=%ld file_kb=%ld active=%llu\n", progress->load(),
                st["VmRSS"], st["RssAnon"], st["RssFile"],
                static_cast<unsigned long long>(rt->stats().active_actors));
    std::fflush(stdout);
  };
  auto r = touch_actors(sys, rt, n, 2, 256, progress, std::chrono::seconds(600), sample);
  auto secs = us_since(t0) / 1e6;
  auto st = memory_status_kb();
  peak_anon = std::max(peak_anon, st["RssAnon"]);
  std::printf("vmhwm_kb %ld\nrss_kb %ld\nrss_anon_kb %ld\nrss_file_kb %ld\npeak_anon_kb %ld\n",
              st["VmHWM"], st["VmRSS"], st["RssAnon"], st["RssFile"], peak_anon);
  std::printf("active_actors %llu\nseconds %.3f\nfailures %zu\n",
              static_cast<unsigned long long>(rt->stats().active_actors), secs, r.failures);
  std::fflush(stdout);
  if (r.failures > 0)
    std::fprintf(stderr, "lifecycle child: %zu of %zu touches failed, first: %s\n", r.failures, n,
                 r.first_error.c_str());
  rt->shutdown();
  rt.reset();
  return r.failures > 0 ? 2 : 0;
}

template <class F>
void guarded(const char* what, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    report_error(what, std::string("exception: ") + e.what());
  } catch (...) {
    report_error(what, "unknown exception");
  }
}

}  // namespace

void run_lifecycle(context& ctx) {
  // For profiling one part (bench/RESULTS.md): ARK_BENCH_CASE=activation.
  const char* only_case = std::getenv("ARK_BENCH_CASE");
  guarded("activation_us", [&] { measure_activation(ctx); });
  if (only_case && std::string_view(only_case) == "activation") return;
  guarded("restart_first_reply_ms", [&] { measure_restart(ctx); });
  guarded("peak_rss_mb_1m_actors", [&] { measure_memory(ctx); });
}

int lifecycle_child(const std::vector<std::string>& args) {
  try {
    if (args.size() == 3 && args[0] == "touch") {
      char* end = nullptr;
      auto n = std::strtoull(args[2].c_str(), &end, 10);
      if (end && *end == '\0' && n > 0) return touch_child(args[1], static_cast<std::size_t>(n));
    }
    std::fprintf(stderr, "usage: ark-bench --child touch DIR N\n");
    return 64;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lifecycle child: exception: %s\n", e.what());
    return 1;
  }
}

}  // namespace ark::bench
