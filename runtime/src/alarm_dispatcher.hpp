#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "ark/clock.hpp"
#include "ark/expected.hpp"
#include "ark/kv/backend.hpp"
#include "ark/kv/key.hpp"

namespace ark::detail {

/// Delivers due alarms (doc/alarms.md). It reads the due index
/// [null, "alarm_due"] of each alarm table in time order and sends every
/// alarm whose time has come to its actor (activating it) as
/// {alarm_atom, name, due_ms}, at most one delivery per alarm in flight. The
/// actor answers once the delivery's effects (the alarm's removal, or its
/// rescheduling after a failure) are durable; an answer that never comes
/// (the host died, the actor hung) makes the alarm due again after
/// `ack_timeout`: delivery is at least once.
///
/// With a real clock a thread sleeps until the earliest due time (or until
/// scheduled() reports an earlier one). With a virtual clock there is no
/// thread: whoever moves the clock calls run_due().
class alarm_dispatcher {
 public:
  struct options {
    caf::actor_system* system = nullptr;
    /// Backends holding alarm tables (the durable one, the memory one).
    std::vector<std::shared_ptr<kv::backend>> tables;
    /// The handle of actor (type, key), activating it.
    std::function<expected<caf::actor>(const std::string& type, const ark::key& key)> activate;
    std::shared_ptr<ark::clock> clock;
    std::function<void(const std::string&)> log;
    std::chrono::milliseconds ack_timeout{std::chrono::minutes(1)};
    /// After a failed activation, the alarm waits this long before trying again.
    std::chrono::milliseconds activation_retry{std::chrono::seconds(30)};
  };

  explicit alarm_dispatcher(options opts);
  ~alarm_dispatcher();
  alarm_dispatcher(const alarm_dispatcher&) = delete;
  alarm_dispatcher& operator=(const alarm_dispatcher&) = delete;

  /// Starts the thread (real clocks only).
  void start();
  /// Stops delivering; waits for the thread. Idempotent.
  void stop();
  /// A commit scheduled an alarm due at `due_ms`.
  void scheduled(std::int64_t due_ms);
  /// Sends every due alarm that is not in flight; returns how many it sent.
  std::size_t run_due();
  /// The earliest due time of any stored alarm (in flight or not).
  std::optional<std::int64_t> earliest_due() const;
  /// Deliveries sent and not yet answered.
  std::size_t in_flight() const;
  /// Deliveries answered so far (ok, stale or failed), for tests and stats.
  std::uint64_t answered() const;

  struct state;

 private:
  std::shared_ptr<state> st_;
};

}  // namespace ark::detail
