#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ark/alarm.hpp"
#include "ark/detail/host.hpp"
#include "ark/expected.hpp"
#include "ark/kv/backend.hpp"

namespace ark::detail {

/// The durable alarms of one activation (doc/alarms.md): the rows as
/// submitted (durable, or in a unit in flight) and the changes the current
/// message made, which become the unit's writes. Used from the actor's
/// thread only.
class alarm_book {
 public:
  /// Reads the actor's rows from `storage` (the alarm table). Errors:
  /// corrupt_value naming the actor, the damaged entry and the command that
  /// removes it, or the backend's error.
  expected<void> load(std::shared_ptr<kv::backend> storage, const identity& id);
  /// True once load() succeeded (until clear()). An activation loads its
  /// alarms when it first uses them, so an actor that never does reads
  /// nothing for them (doc/alarms.md).
  bool loaded() const { return loaded_; }

  /// Schedules (or replaces) alarm `name` as a change of the current
  /// message. Errors: invalid_argument (empty or over-long name,
  /// max_attempts 0), value_too_large (payload), key_too_large (the name
  /// does not fit a key with the identity).
  expected<void> schedule(const identity& id, std::string name,
                          std::chrono::system_clock::time_point due, std::string payload,
                          const alarm_options& opts);
  /// Cancels alarm `name` as a change of the current message; false when
  /// none is pending.
  bool cancel(const std::string& name);
  /// The pending alarm `name`, the current message's changes included.
  std::optional<alarm> find(const std::string& name) const;
  /// Every pending alarm, soonest first, the current message's changes
  /// included.
  std::vector<alarm> list() const;

  /// The row of `name` as submitted (ignoring the current message), or null.
  const stored_alarm* submitted(const std::string& name) const;
  /// Records a change of the current message: a new row, or nullopt (gone).
  void change(const std::string& name, std::optional<stored_alarm> row) {
    changes_[name] = std::move(row);
  }
  /// The current message's changes: a new row, or nullopt (gone).
  const std::map<std::string, std::optional<stored_alarm>>& changes() const { return changes_; }
  /// True when the current message changed an alarm.
  bool changed() const { return !changes_.empty(); }
  /// Drops the current message's changes (it failed).
  void discard_changes() { changes_.clear(); }
  /// Forgets everything (the state left memory, or storage is the truth
  /// again): the next use loads the rows anew.
  void clear() {
    rows_.clear();
    changes_.clear();
    loaded_ = false;
  }
  /// Moves the current message's changes into `unit` as writes of the alarm
  /// table and its due index; they count as submitted from now on.
  void take_writes(const identity& id, commit_unit& unit);

 private:
  std::map<std::string, stored_alarm> rows_;                     // as submitted
  std::map<std::string, std::optional<stored_alarm>> changes_;  // of the current message
  bool loaded_ = false;
};

}  // namespace ark::detail
