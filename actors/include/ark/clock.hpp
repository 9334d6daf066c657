#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

namespace ark {

/// The runtime's one seam to time (as LevelDB's Env is to files): idle
/// passivation reads monotonic(), alarms read now(). The system clock serves
/// a host; ark::testing's virtual clock lets a test move time by hand, so
/// alarms and passivation happen exactly when the test says.
class clock {
 public:
  virtual ~clock() = default;

  /// Wall-clock time, for alarms (schedule_at takes a wall-clock time).
  virtual std::chrono::system_clock::time_point now() const = 0;

  /// Monotonic time, for idle timeouts. Read on every message: keep it cheap.
  virtual std::chrono::nanoseconds monotonic() const = 0;

  /// True when time moves only when told (a virtual clock): the runtime then
  /// runs no timer of its own; whoever moves the clock runs the due work
  /// (ark::testing::world::advance).
  virtual bool is_virtual() const { return false; }
};

/// The real clocks: system_clock, and CLOCK_MONOTONIC_COARSE (a few
/// milliseconds of resolution, a fraction of the cost of steady_clock).
std::shared_ptr<clock> system_clock();

/// A clock that moves only when advance() or set() is called. Thread-safe.
class virtual_clock final : public clock {
 public:
  /// Starts at `start` (default: 2030-01-01T00:00:00Z, so tests never depend
  /// on today's date).
  explicit virtual_clock(
      std::chrono::system_clock::time_point start = std::chrono::system_clock::time_point{
          std::chrono::seconds(1893456000)});

  std::chrono::system_clock::time_point now() const override;
  std::chrono::nanoseconds monotonic() const override;
  bool is_virtual() const override { return true; }

  /// Moves time forward by `d` (REQUIRES: d >= 0).
  void advance(std::chrono::nanoseconds d);

 private:
  std::int64_t start_ns_;
  std::atomic<std::int64_t> offset_ns_{0};
};

/// Milliseconds since the Unix epoch of `t` (how alarms store times).
inline std::int64_t to_unix_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
inline std::chrono::system_clock::time_point from_unix_ms(std::int64_t ms) {
  return std::chrono::system_clock::time_point{std::chrono::milliseconds(ms)};
}

}  // namespace ark
