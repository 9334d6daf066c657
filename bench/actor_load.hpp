#pragma once

// ark-bench: the counter actor and the client load of the throughput
// scenarios (throughput.cpp defines them), shared by every backend's scenario
// so that they all measure the same thing.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <msgpack.hpp>

#include <ark/runtime.hpp>

#include "bench.hpp"

namespace ark::bench {

using add_atom = caf::atom_constant<caf::atom("add")>;
using tp_if = caf::typed_actor<caf::replies_to<add_atom, std::int64_t>::with<std::int64_t>>;

/// The state of the benchmark actor ("bench_tp"): 64 bytes of msgpack, an
/// int64 counter and a 50-character tag.
struct tp_state {
  std::int64_t value = 0;
  std::string tag = std::string(50, 't');
  MSGPACK_DEFINE_MAP(value, tag)
};

/// Keeps `inflight` requests (add 1) outstanding over `targets`, each reply
/// sending the next request to a pseudo-random target, and returns the
/// replies per second over `window` after `warmup`; then stops and drains the
/// load. With `ctx`, `rt` (an ark runtime) and `name`, also reports the
/// writer's mean batch (NAME_mean_batch, units per commit) and mean commit
/// time (NAME_mean_commit_us) over the window. `mark`, when set, is called
/// with false right when the window starts and with true right when it ends
/// (after the runtime statistics are read), e.g. to read a backend's
/// counters over the same window.
double measure(caf::actor_system& sys, std::vector<tp_if> targets, int inflight,
               std::chrono::milliseconds warmup, std::chrono::milliseconds window,
               context* ctx = nullptr, ark::runtime* rt = nullptr, const char* name = nullptr,
               const std::function<void(bool end)>& mark = {});

/// An actor system configured as ark-host configures it and an ark runtime
/// over it; `rt` is null (after a message on stderr) when the runtime did not
/// open. The destructor shuts the runtime down.
struct ark_env {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::shared_ptr<ark::runtime> rt;

  /// A runtime over `opts` (any backend).
  /// opts.handler_stats follows $ARK_BENCH_HANDLER_STATS (0: off), for the
  /// paired A/B of the per-handler statistics' cost.
  explicit ark_env(ark::runtime_options opts);
  /// A runtime over the data directory `dir` (LMDB) with durability `mode`.
  ark_env(const std::string& dir, kv::durability mode);
  ~ark_env();
  ark_env(const ark_env&) = delete;
  ark_env& operator=(const ark_env&) = delete;

  /// Handles of actors bench_tp ["a", 0] .. ["a", n-1].
  std::vector<tp_if> actors(int n);
};

/// One client sending sequential requests to `target`: the latency of each
/// of `n` requests in microseconds, after `warmup` unrecorded requests.
/// Stops early (fewer entries) at the first failed request.
std::vector<double> sequential_latency_us(caf::actor_system& sys, const tp_if& target, int n,
                                          int warmup = 50);

}  // namespace ark::bench
