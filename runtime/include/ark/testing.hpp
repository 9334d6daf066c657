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
// have settled; wait_until_idle() waits for the work actors started on
// their own. So a test reads top to bottom, with no sleeps.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
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
#include "ark/kv/value.hpp"
#include "ark/runtime.hpp"

namespace ark::testing {

/// Test hooks on a runtime a test opened itself with runtime::open (the
/// world uses them too). Not for production code.
///
/// pause_commits: the writer commits nothing until resume_commits (units
/// queue up, so a test can observe messages whose commits are in flight).
void pause_commits(ark::runtime& rt);
void resume_commits(ark::runtime& rt);
/// The runtime's next shutdown() leaves its state journal un-checkpointed,
/// as a crash would (the next open replays it).
void skip_checkpoint_at_stop(ark::runtime& rt);
/// What value_of throws for an expected without a value.
class no_value : public std::runtime_error {
 public:
  explicit no_value(const ark::error& e)
      : std::runtime_error("expected a value, got " + e.message()), error_(e) {}
  const ark::error& error() const { return error_; }

 private:
  ark::error error_;
};

/// The value of `x`; throws no_value (naming x's error) when it holds an
/// error. A test framework reports the exception as the test case's
/// failure (doctest, Catch2 and GoogleTest do), so
/// `CHECK(value_of(w.call<std::int64_t>(h, get)) == 5)` fails with the
/// reason instead of dereferencing an error.
template <class T>
T value_of(expected<T> x) {
  if (!x) throw no_value(x.error());
  return std::move(*x);
}
inline void value_of(expected<void> x) {
  if (!x) throw no_value(x.error());
}

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
  /// does not exist (runtime::get_or_create). Returns once the activation
  /// settled: a new actor's creation (on_initialize's state) is durable, or
  /// failed (its calls then fail with commit_failed), so a crash_at_commit
  /// armed next hits a message's commit, never the creation's. Errors: those
  /// of runtime::get_or_create; unreachable when the actor did not settle
  /// within call_timeout.
  template <class Interface, class... Ts>
  expected<Interface> get_or_create(std::string_view type, const ark::key& k, Ts&&... init) {
    auto h = runtime().get_or_create<Interface>(type, k, std::forward<Ts>(init)...);
    if (!h) return h;
    ARK_TRY(settle_actor(caf::actor_cast<caf::actor>(*h)));
    return h;
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
    auto h = runtime().create<Interface>(type, k, std::forward<Ts>(init)...);
    if (!h) return h;
    ARK_TRY(settle_actor(caf::actor_cast<caf::actor>(*h)));
    return h;
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

  /// Waits until the world is quiet: no actor has a message to handle or a
  /// commit in flight, no output (reply, send, request, response) is on its
  /// way, and no alarm delivery is in flight. Use it after work that actors
  /// do on their own (a send with no reply awaited, a retry from
  /// on_activate) instead of polling with sleeps. Virtual time does not
  /// move, and a request's timeout (real time) is not waited for. Errors:
  /// unreachable when the world is not quiet within call_timeout (actors
  /// that keep messaging each other).
  expected<void> wait_until_idle();

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

  /// The durable state of actor (type, key), decoded into T (its state
  /// type, or any msgpack-compatible one) from the snapshot in storage, as
  /// it was written (a snapshot of an older schema is not migrated).
  /// Errors: not_found (no snapshot: the actor does not exist, or is of a
  /// memory-only type), type_mismatch (it does not convert into T),
  /// corrupt_snapshot.
  template <class T>
  expected<T> stored_state(std::string_view type, const ark::key& k) {
    auto packed = stored_state_msgpack(type, k);
    if (!packed) return packed.error();
    return kv::value::from_msgpack(*packed).as<T>();
  }
  /// The durable state document of actor (type, key) as the dashboard shows
  /// it (ark::inspect: {"type", "key", "schema", "state": JSON, "alarms",
  /// ...}), read from storage. Errors: not_found.
  expected<nlohmann::json> stored_state_json(std::string_view type, const ark::key& k);
  /// The msgpack bytes of the state in actor (type, key)'s durable snapshot.
  /// Errors: as stored_state.
  expected<std::string> stored_state_msgpack(std::string_view type, const ark::key& k);
  /// The durable alarms of actor (type, key), soonest first.
  expected<std::vector<alarm>> stored_alarms(std::string_view type, const ark::key& k);

  /// What the runtime logged (dropped alarms, failed commits, ...).
  std::vector<std::string> log() const;

  struct impl;

 private:
  // Waits until `h` handled what was queued before and everything it
  // submitted is durable or failed. Errors: unreachable (no answer within
  // call_timeout).
  expected<void> settle_actor(const caf::actor& h);

  world_options opts_;
  std::unique_ptr<impl> impl_;
};

}  // namespace ark::testing
