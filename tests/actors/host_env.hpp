#pragma once

// A real runtime over a temporary LMDB data directory, for actor tests.

#include <doctest/doctest.h>

#include <memory>

#include <ark/client.hpp>
#include <ark/runtime.hpp>
#include <ark/testing.hpp>

#include "actors/probe_actor.hpp"
#include "test_util.hpp"

namespace ark::test {

using namespace std::chrono_literals;
using probe::probe_if;

/// One actor system + runtime over a temp data directory; restart() stops
/// both and opens the same directory again (a clean host restart).
struct host_env {
  ark::test::temp_dir dir;
  ark::runtime_options opts;
  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::shared_ptr<ark::runtime> rt;
  /// false: stop() leaves the state journal un-checkpointed, as a crash would.
  bool checkpoint_at_stop = true;

  explicit host_env(std::chrono::milliseconds idle = std::chrono::minutes(5)) {
    opts.data_dir = dir.sub("data");
    opts.idle_timeout = idle;
    start();
  }
  ~host_env() { stop(); }

  void start() {
    cfg = std::make_unique<caf::actor_system_config>();
    ark::actor_registry::global().configure(*cfg);
    sys = std::make_unique<caf::actor_system>(*cfg);
    auto r = ark::runtime::open(*sys, opts);
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
    rt = *r;
  }
  void stop() {
    if (rt && !checkpoint_at_stop) ark::testing::skip_checkpoint_at_stop(*rt);
    if (rt) rt->shutdown();
    rt.reset();
    sys.reset();
    cfg.reset();
  }
  void restart() {
    stop();
    start();
  }
  /// Restarts on a new data directory `data-<name>` of backend `kind`.
  void use_backend(ark::kv::backend_kind kind, const std::string& name) {
    stop();
    opts.data_dir = dir.sub("data-" + name);
    opts.storage.kind = kind;
    start();
  }

  probe_if probe(const std::string& key, std::int64_t start = 0) {
    auto h = rt->get_or_create<probe_if>("probe", key, start);
    REQUIRE_MESSAGE(h, (h ? "" : h.error().message()));
    return *h;
  }

  template <class R, class... Ts>
  ark::expected<R> call(const probe_if& h, Ts&&... xs) {
    return ark::call<R>(*sys, h, 10s, std::forward<Ts>(xs)...);
  }
};

inline std::int64_t value_of(host_env& env, const probe_if& h) {
  auto v = env.call<std::int64_t>(h, probe::get_atom::value);
  REQUIRE_MESSAGE(v, (v ? "" : v.error().message()));
  return *v;
}


}  // namespace ark::test
