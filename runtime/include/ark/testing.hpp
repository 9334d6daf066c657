#pragma once

// ark::testing: unit-test actor classes without a host process or a disk
// (doc/testing.md).
//
//   ark::testing::world w;                       // memory storage, virtual clock
//   auto c = w.get_or_create<counter_if>("counter", "a");
//   CHECK(w.call<std::int64_t>(*c, add_atom::value, std::int64_t{5}).value() == 5);
//   w.restart_actor("counter", "a");             // passivate: reload from its snapshot
//   w.advance(std::chrono::minutes(10));         // alarms due by then fire, idle actors passivate
//   w.crash_at_commit(ark::testing::crash_point::before_commit);
//   ...; w.restart();                            // the host comes back over what was durable
//
// A world is the real runtime (the same activation, group commit, output
// gate and alarm code a host runs) over an in-memory backend that plays the
// disk, with a clock that moves only when the test says. Every call waits for
// its reply; advance() returns once the alarms and passivations it caused
// have settled. So a test reads top to bottom, with no sleeps.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <nlohmann/json.hpp>

#include "ark/alarm.hpp"
#include "ark/client.hpp"
#include "ark/clock.hpp"
#include "ark/expected.hpp"
#include "ark/kv/backend.hpp"
#include "ark/kv/key.hpp"
#include "ark/runtime.hpp"

namespace ark::testing {

/// Where an injected crash hits a commit.
enum class crash_point {
  /// The host dies before the commit reaches the disk: its writes are lost
  /// and its replies never leave (callers see an error).
  before_commit,
  /// The host dies right after the commit is durable, before any reply
  /// leaves: the writes survive a restart, the callers still see an error.
  after_commit,
};

struct world_options {
  /// Idle time after which an actor passivates (in virtual time).
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(5)};
  /// Activation cap (0: none), as runtime_options::max_active.
  std::size_t max_active = 0;
  /// How long call() waits for a reply (real time).
  std::chrono::milliseconds call_timeout{std::chrono::seconds(10)};
  /// Where the virtual clock starts (default 2030-01-01T00:00:00Z).
  std::chrono::system_clock::time_point start{std::chrono::seconds(1893456000)};
};

/// An in-process host for tests: the runtime over memory storage and a
/// virtual clock, plus restart and crash helpers. Not thread-safe: drive it
/// from the test's thread.
class world {
 public:
  explicit world(world_options opts = {});
  ~world();
  world(const world&) = delete;
  world& operator=(const world&) = delete;

  caf::actor_system& system();
  ark::runtime& runtime();
  ark::virtual_clock& clock();
  /// The storage that plays the disk: it survives restart() and crashes.
  std::shared_ptr<kv::backend> storage();

  /// The handle of actor (type, key), activating it and creating it when it
  /// does not exist (runtime::get_or_create).
  template <class Interface, class... Ts>
  expected<Interface> get_or_create(std::string_view type, const ark::key& k, Ts&&... init) {
    return runtime().get_or_create<Interface>(type, k, std::forward<Ts>(init)...);
  }

  /// The handle of actor (type, key) if it exists (runtime::get); not_found,
  /// with nothing activated or written, when it was never created.
  template <class Interface>
  expected<Interface> get(std::string_view type, const ark::key& k) {
    return runtime().get<Interface>(type, k);
  }

  /// Creates actor (type, key) (runtime::create); already_exists when it
  /// exists.
  template <class Interface, class... Ts>
  expected<Interface> create(std::string_view type, const ark::key& k, Ts&&... init) {
    return runtime().create<Interface>(type, k, std::forward<Ts>(init)...);
  }

  /// Sends xs... to `h` and waits for the reply (ark::call).
  template <class R, class Handle, class... Ts>
  expected<R> call(const Handle& h, Ts&&... xs) {
    return ark::call<R>(system(), h, opts_.call_timeout, std::forward<Ts>(xs)...);
  }

  /// Moves time forward by `d`, in steps to each alarm due by then: each
  /// due alarm is delivered (an alarm a handler schedules within the span
  /// fires too, in time order), then every actor idle for longer than the
  /// idle timeout passivates. Returns once those deliveries are answered.
  /// Errors: unreachable when an alarm delivery did not settle in
  /// call_timeout.
  expected<void> advance(std::chrono::milliseconds d);

  /// Passivates actor (type, key) now, as if it had been idle: its state
  /// leaves memory and its next message reloads it from its durable
  /// snapshot (handles stay valid). Errors: not_found when it is not active.
  expected<void> restart_actor(std::string_view type, const ark::key& k);

  /// The host restarts: every activation ends (handles taken before are
  /// dead: get them again), memory-only data is gone, storage stays, the
  /// clock keeps its time, and alarms whose time has passed fire.
  /// Also ends an injected crash.
  void restart();

  /// The `nth` commit from now crashes the host at `p`; every later commit
  /// fails as well (the host is dead) until restart().
  void crash_at_commit(crash_point p, std::size_t nth = 1);
  /// True once an injected crash happened.
  bool crashed() const;
  /// Commits applied to storage since the world began.
  std::uint64_t commits() const;

  /// The durable state of actor (type, key) as the dashboard shows it
  /// (ark::inspect), read from storage. Errors: not_found.
  expected<nlohmann::json> stored_state(std::string_view type, const ark::key& k);
  /// The durable alarms of actor (type, key), soonest first.
  expected<std::vector<alarm>> stored_alarms(std::string_view type, const ark::key& k);

  /// What the runtime logged (dropped alarms, failed commits, ...).
  std::vector<std::string> log() const;

  struct impl;

 private:
  world_options opts_;
  std::unique_ptr<impl> impl_;
};

}  // namespace ark::testing
