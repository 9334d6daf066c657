#pragma once

// Durable alarms (doc/alarms.md): an actor schedules named alarms; each is
// stored in the same transaction as the message that scheduled it, and
// delivered to the actor's on_alarm() as a message at its time, even after
// a host restart (one whose time passed while the host was down fires at
// start). Delivery is at least once: a handler that fails is retried with
// exponential backoff, up to max_attempts.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <msgpack.hpp>

#include "ark/expected.hpp"
#include "ark/kv/value.hpp"
#include "ark/stored_format.hpp"

namespace ark {

/// How an alarm is retried when on_alarm fails (returns an error or throws).
struct alarm_options {
  /// Deliveries before the alarm is dropped (and the drop logged). >= 1.
  std::uint32_t max_attempts = 6;
  /// The wait before the first retry; it doubles with every failure.
  std::chrono::milliseconds first_backoff{std::chrono::seconds(1)};
  /// The longest wait between two attempts.
  std::chrono::milliseconds max_backoff{std::chrono::minutes(10)};
};

/// A pending alarm, as on_alarm() and alarms() see it.
struct alarm {
  std::string name;
  std::chrono::system_clock::time_point due;
  /// Deliveries of this alarm that failed so far (0 on the first delivery).
  std::uint32_t attempt = 0;
  alarm_options options;
  /// The payload's msgpack bytes (empty: none).
  std::string payload;

  /// The payload unpacked as T; not_found when there is none, type_mismatch
  /// when it is another type.
  template <class T>
  expected<T> payload_as() const {
    if (payload.empty()) return error{errc::not_found, "alarm '" + name + "' has no payload"};
    return kv::value::from_msgpack(payload).as<T>();
  }
};

/// Longest alarm name, in bytes.
inline constexpr std::size_t max_alarm_name = 200;

/// Largest alarm payload (msgpack bytes): alarms are reminders, not storage;
/// keep bulk data in kv() and put its key in the payload.
inline constexpr std::size_t max_alarm_payload = 64 * 1024;

namespace detail {

// The alarm rows and their spaces are stored formats (ark/stored_format.hpp).
using stored_alarm = stored::alarm_row;
using stored::alarm_due_space;
using stored::alarm_space;

alarm to_alarm(std::string name, const stored_alarm& s);

/// The wait before attempt `failed + 1` (exponential, capped).
std::int64_t alarm_backoff_ms(const stored_alarm& s, std::uint32_t failed);

}  // namespace detail

}  // namespace ark
