// The reminder test actor (reminder.hpp): types "reminder" and, memory-only,
// "reminder_mem".

#include "reminder.hpp"

#include <ark/actor.hpp>
#include <ark/registry.hpp>

namespace reminder {

struct reminder_state {
  std::vector<std::string> fired;
  MSGPACK_DEFINE_MAP(fired)
};

struct note {
  std::string note;
  MSGPACK_DEFINE_MAP(note)
};

class reminder : public ark::actor<reminder_if, reminder_state> {
 public:
  using actor::actor;

  handlers_type make_handlers() override {
    return handlers(
        [this](sched_atom, const std::string& name, std::int64_t delay_ms,
               const std::string& text) -> ark::expected<bool> {
          auto delay = std::chrono::milliseconds(delay_ms);
          if (text.empty())
            ARK_TRY(schedule_after(name, delay));
          else
            ARK_TRY(schedule_after(name, delay, note{text}));
          return true;
        },
        [this](cancel_atom, const std::string& name) { return cancel_alarm(name); },
        [this](fired_atom) { return state().fired; });
  }

  ark::expected<void> on_alarm(const ark::alarm& a) override {
    state().fired.push_back(a.name);
    return {};
  }
};

// The same, memory-only: its alarms live in the host's memory.
class memory_reminder : public reminder {
 public:
  using reminder::reminder;
  static constexpr ark::storage_location location = ark::storage_location::memory;
};

}  // namespace reminder

ARK_ACTOR("reminder", reminder::reminder);
ARK_ACTOR("reminder_mem", reminder::memory_reminder);
