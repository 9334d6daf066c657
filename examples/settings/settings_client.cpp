// settings-client: reads, changes or watches a user's settings on a running ark-host.
//   settings-client [connection flags] set USER NAME VALUE | get USER NAME | theme USER light|dark
//                                      | snooze USER MINUTES | history USER | status USER
//                                      | watch USER [--changes N]

#include <iostream>
#include <mutex>
#include <condition_variable>

#include <CLI/CLI.hpp>
#include <ark/client.hpp>
#include <ark/client_cli.hpp>
#include <ark/subscription.hpp>

#include "settings.hpp"

namespace {

template <class T>
int print(const ark::expected<T>& r) {
  if (!r) {
    std::cerr << "settings-client: " << r.error().message() << '\n';
    return 1;
  }
  if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    for (const auto& line : *r) std::cout << line << '\n';
  } else {
    std::cout << *r << '\n';
  }
  return 0;
}

std::string describe(const settings::preferences& p) {
  std::string out = "version " + std::to_string(p.version) + ": theme=" + p.theme +
                    " dnd=" + (p.do_not_disturb ? "on" : "off");
  for (const auto& [k, v] : p.values) out += " " + k + "=" + v;
  return out;
}

// Prints the current settings, then every durable change, until `changes`
// changes were seen (0: until interrupted or the host goes away).
int watch(caf::actor_system& sys, const settings::settings_if& h, std::size_t changes) {
  std::mutex mtx;
  std::condition_variable cv;
  std::size_t seen = 0;
  bool ended = false;
  ark::subscription_callbacks cbs;
  cbs.on_state = [&](const ark::state_changed& c) {
    auto p = ark::decode_state<settings::preferences>(c);
    std::lock_guard<std::mutex> guard{mtx};
    if (p)
      std::cout << describe(*p) << std::endl;
    else
      std::cout << "(undecodable state: " << p.error().message() << ")" << std::endl;
    ++seen;
    cv.notify_all();
  };
  cbs.on_event = [&](const ark::event& e) {
    auto ch = ark::decode_event<settings::change>(e);
    std::lock_guard<std::mutex> guard{mtx};
    if (ch) std::cout << "  event " << e.name << ": " << ch->name << "=" << ch->value << std::endl;
  };
  cbs.on_end = [&](const ark::error& e) {
    std::lock_guard<std::mutex> guard{mtx};
    std::cerr << "settings-client: the subscription ended: " << e.message() << '\n';
    ended = true;
    cv.notify_all();
  };
  auto sub = ark::subscribe(sys, h, ark::subscription_mode::state, cbs);
  if (!sub) {
    std::cerr << "settings-client: " << sub.error().message() << '\n';
    return 1;
  }
  std::unique_lock<std::mutex> lock{mtx};
  // The first notification is the current state; then `changes` more.
  cv.wait(lock, [&] { return ended || (changes > 0 && seen >= changes + 1); });
  return ended ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"settings-client: read, change or watch a user's settings on an ark-host"};
  ark::connect_flags conn;
  std::string user, name, value;
  std::int64_t minutes = 0;
  std::size_t changes = 0;
  conn.add_to(app);
  app.require_subcommand(1);
  auto* set = app.add_subcommand("set", "set NAME to VALUE; prints the new version");
  set->add_option("user", user)->required();
  set->add_option("name", name)->required();
  set->add_option("value", value)->required();
  auto* get = app.add_subcommand("get", "print setting NAME");
  get->add_option("user", user)->required();
  get->add_option("name", name)->required();
  auto* theme = app.add_subcommand("theme", "set the theme (light or dark)");
  theme->add_option("user", user)->required();
  theme->add_option("theme", value)->required();
  auto* snooze = app.add_subcommand("snooze", "do not disturb for MINUTES (0 ends it)");
  snooze->add_option("user", user)->required();
  snooze->add_option("minutes", minutes)->required();
  auto* history = app.add_subcommand("history", "print the last changes, oldest first");
  history->add_option("user", user)->required();
  auto* status = app.add_subcommand("status", "print theme, do-not-disturb, digests, version");
  status->add_option("user", user)->required();
  auto* watch_cmd = app.add_subcommand("watch", "print the settings, then every durable change");
  watch_cmd->add_option("user", user)->required();
  watch_cmd->add_option("--changes", changes, "stop after N changes (default: run until the host goes away)");
  CLI11_PARSE(app, argc, argv);

  auto copts = conn.resolve();
  if (!copts) {
    std::cerr << "settings-client: " << copts.error().message() << '\n';
    return 2;
  }
  ark::client_config cfg(copts->tls);
  caf::actor_system sys{cfg};
  auto c = ark::connect(sys, *copts);
  if (!c) {
    std::cerr << "settings-client: " << c.error().message() << '\n';
    return 1;
  }
  // get, history and status read an existing user's settings only: a
  // mistyped user creates nothing (nor schedules its digest alarm).
  bool reads = *get || *history || *status;
  auto h = reads ? c->get<settings::settings_if>("settings", user)
                 : c->get_or_create<settings::settings_if>("settings", user);
  if (!h && h.error() == ark::errc::not_found) {
    std::cerr << "settings-client: "
              << ark::error{ark::errc::not_found, "no settings for user '" + user + "'",
                            "check the user; a user's settings start with the first set, theme "
                            "or snooze (or watch)"}
                     .message()
              << '\n';
    return 1;
  }
  if (!h) {
    std::cerr << "settings-client: " << h.error().message() << '\n';
    return 1;
  }
  auto t = std::chrono::seconds(10);
  using namespace settings;
  if (*set) return print(ark::call<std::uint64_t>(sys, *h, t, set_atom::value, name, value));
  if (*get) return print(ark::call<std::string>(sys, *h, t, get_atom::value, name));
  if (*theme) return print(ark::call<std::uint64_t>(sys, *h, t, theme_atom::value, value));
  if (*snooze) return print(ark::call<std::int64_t>(sys, *h, t, snooze_atom::value, minutes));
  if (*history) return print(ark::call<std::vector<std::string>>(sys, *h, t, history_atom::value));
  if (*status) return print(ark::call<std::string>(sys, *h, t, status_atom::value));
  return watch(sys, *h, changes);
}
