// The settings actor (module libark_settings.so): one per user.

#include "settings.hpp"

#include <chrono>

#include <ark/actor.hpp>
#include <ark/registry.hpp>

namespace settings {

namespace {

const ark::alarm_options retry{};  // defaults: 6 attempts, 1 s backoff doubling

class settings_actor : public ark::actor<settings_if, preferences> {
 public:
  using actor::actor;

  static constexpr std::uint32_t schema = 2;

  /// 1 -> 2: dark_mode becomes a theme name, and the history list moves out
  /// of the snapshot into kv(), in the same commit as the migrated state.
  static void migrations(ark::migration_chain<settings_actor>& m) {
    m.step<1, preferences_v1, preferences>(
        [](preferences_v1&& old, ark::migration_context& ctx) -> ark::expected<preferences> {
          preferences now;
          now.values = std::move(old.values);
          now.theme = old.dark_mode ? "dark" : "light";
          now.version = old.version;
          for (auto& line : old.history) {
            ARK_TRY(ctx.kv().put(ark::key{"history", now.history_next}, line));
            ++now.history_next;
          }
          return now;
        });
  }

  void on_activate() override {
    // The daily digest: scheduled once, then it reschedules itself.
    if (!find_alarm("digest")) (void) schedule_after("digest", std::chrono::hours(24), retry);
  }

  handlers_type make_handlers() override {
    return handlers(
        [this](set_atom, const std::string& name, const std::string& value)
            -> ark::expected<std::uint64_t> {
          if (name.empty()) return ark::error{ark::errc::invalid_argument, "an empty setting name"};
          state().values[name] = value;
          ARK_TRY(record(name + "=" + value));
          publish("changed", change{name, value});
          return ++state().version;
        },
        [this](get_atom, const std::string& name) {
          auto it = state().values.find(name);
          return it == state().values.end() ? std::string() : it->second;
        },
        [this](theme_atom, const std::string& theme) -> ark::expected<std::uint64_t> {
          if (theme != "light" && theme != "dark")
            return ark::error{ark::errc::invalid_argument,
                              "theme '" + theme + "' is not one of light, dark"};
          state().theme = theme;
          ARK_TRY(record("theme=" + theme));
          return ++state().version;
        },
        [this](snooze_atom, std::int64_t minutes) -> ark::expected<std::int64_t> {
          if (minutes < 0 || minutes > 7 * 24 * 60)
            return ark::error{ark::errc::invalid_argument,
                              "snooze takes 0 to 10080 minutes (a week)"};
          if (minutes == 0) {
            cancel_alarm("dnd_end");
            end_dnd();
            return std::int64_t{0};
          }
          auto until = time().now() + std::chrono::minutes(minutes);
          ARK_TRY(schedule_at("dnd_end", until, retry));
          state().do_not_disturb = true;
          state().dnd_until_ms = ark::to_unix_ms(until);
          return state().dnd_until_ms;
        },
        [this](history_atom) -> ark::expected<std::vector<std::string>> {
          std::vector<std::string> out;
          auto c = kv().list({ark::key{"history"}, {}, {}, false, 0});
          for (; c.valid(); c.next()) {
            auto line = c.value().as<std::string>();
            if (!line) return line.error();
            out.push_back(std::move(*line));
          }
          if (c.status()) return c.status();
          return out;
        },
        [this](status_atom) {
          return "theme=" + state().theme + " dnd=" + (state().do_not_disturb ? "on" : "off") +
                 " digests=" + std::to_string(state().digests) +
                 " version=" + std::to_string(state().version);
        });
  }

  ark::expected<void> on_alarm(const ark::alarm& a) override {
    if (a.name == "dnd_end") {
      end_dnd();
    } else if (a.name == "digest") {
      ++state().digests;
      ARK_TRY(schedule_after("digest", std::chrono::hours(24), retry));
    }
    return {};
  }

 private:
  void end_dnd() {
    state().do_not_disturb = false;
    state().dnd_until_ms = 0;
  }

  // Appends a history line in kv(), dropping the oldest beyond the limit.
  ark::expected<void> record(const std::string& line) {
    auto n = state().history_next++;
    ARK_TRY(kv().put(ark::key{"history", n}, line));
    if (n >= history_limit) {
      auto gone = kv().del(ark::key{"history", n - history_limit});
      if (!gone) return gone.error();
    }
    return {};
  }
};

}  // namespace

ARK_ACTOR("settings", settings_actor);

}  // namespace settings
