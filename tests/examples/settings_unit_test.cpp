// The settings example in an ark::testing world: its migration from schema 1,
// its alarms on virtual time, and its subscribers.

#include <doctest/doctest.h>

#include <condition_variable>
#include <mutex>

#include <ark/inspect.hpp>
#include <ark/stored_format.hpp>
#include <ark/subscription.hpp>
#include <ark/testing.hpp>

#include "settings/settings.hpp"

using namespace std::chrono_literals;
using namespace settings;
using ark::testing::value_of;

namespace {

settings_if user(ark::testing::world& w, const std::string& name) {
  return value_of(w.get_or_create<settings_if>("settings", name));
}

std::string status(ark::testing::world& w, const settings_if& h) {
  return value_of(w.call<std::string>(h, status_atom::value));
}

// Stores a snapshot as the first release (schema 1) wrote it.
void plant_v1(ark::testing::world& w, const std::string& name, const preferences_v1& old) {
  auto packed = ark::kv::pack_msgpack(old);
  auto id = value_of(ark::inspect::encode_identity("settings", name));
  ark::kv::backend_batch b;
  b.put(ark::stored::state_space(), id, ark::stored::make_snapshot(1, packed));
  REQUIRE(w.storage()->apply(b));
}

}  // namespace

TEST_CASE("settings: a schema 1 snapshot migrates at activation, its history moving into kv") {
  ark::testing::world w;
  preferences_v1 old;
  old.values = {{"lang", "de"}};
  old.dark_mode = true;
  old.history = {"lang=en", "lang=de"};
  old.version = 2;
  plant_v1(w, "ada", old);
  auto h = user(w, "ada");
  CHECK(status(w, h) == "theme=dark dnd=off digests=0 version=2");
  CHECK(value_of(w.call<std::string>(h, get_atom::value, std::string("lang"))) == "de");
  CHECK(value_of(w.call<std::vector<std::string>>(h, history_atom::value)) ==
        std::vector<std::string>{"lang=en", "lang=de"});
  auto stored = value_of(w.stored_state_json("settings", "ada"));
  CHECK(stored.at("schema") == 2);
  CHECK(stored.at("state").at("theme") == "dark");
  CHECK_FALSE(stored.at("state").contains("history"));
  // A new change continues the moved history.
  CHECK(value_of(w.call<std::uint64_t>(h, set_atom::value, std::string("lang"), std::string("fr"))) == 3);
  w.restart();
  h = user(w, "ada");
  CHECK(value_of(w.call<std::vector<std::string>>(h, history_atom::value)).back() == "lang=fr");
}

TEST_CASE("settings: do-not-disturb ends on time, also across a host restart, and the digest is daily") {
  ark::testing::world w;
  auto h = user(w, "bob");
  auto until = value_of(w.call<std::int64_t>(h, snooze_atom::value, std::int64_t{30}));
  CHECK(until == ark::to_unix_ms(w.clock().now() + 30min));
  CHECK(status(w, h) == "theme=light dnd=on digests=0 version=0");
  REQUIRE(w.advance(29min));
  CHECK(status(w, h) == "theme=light dnd=on digests=0 version=0");
  w.restart();  // the host goes down with the alarm pending
  h = user(w, "bob");
  REQUIRE(w.advance(1min));
  CHECK(status(w, h) == "theme=light dnd=off digests=0 version=0");
  REQUIRE(w.advance(48h));
  CHECK(status(w, h) == "theme=light dnd=off digests=2 version=0");
  auto pending = value_of(w.stored_alarms("settings", "bob"));
  REQUIRE(pending.size() == 1);
  CHECK(pending.front().name == "digest");
}

TEST_CASE("settings: snooze 0 cancels the alarm and bad input changes nothing") {
  ark::testing::world w;
  auto h = user(w, "cy");
  value_of(w.call<std::int64_t>(h, snooze_atom::value, std::int64_t{10}));
  CHECK(value_of(w.stored_alarms("settings", "cy")).size() == 2);  // digest + dnd_end
  value_of(w.call<std::int64_t>(h, snooze_atom::value, std::int64_t{0}));
  CHECK(value_of(w.stored_alarms("settings", "cy")).size() == 1);
  CHECK_FALSE(w.call<std::int64_t>(h, snooze_atom::value, std::int64_t{-1}));
  CHECK_FALSE(w.call<std::uint64_t>(h, theme_atom::value, std::string("neon")));
  CHECK_FALSE(w.call<std::uint64_t>(h, set_atom::value, std::string(), std::string("x")));
  CHECK(status(w, h) == "theme=light dnd=off digests=0 version=0");
}

TEST_CASE("settings: a subscriber sees the current settings, then each durable change and event") {
  ark::testing::world w;
  auto h = user(w, "dee");
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<std::string> seen;
  ark::subscription_callbacks cbs;
  cbs.on_state = [&](const ark::state_changed& c) {
    auto p = ark::decode_state<preferences>(c);
    std::lock_guard<std::mutex> guard{mtx};
    seen.push_back(p ? "v" + std::to_string(p->version) + " " + p->theme : p.error().message());
    cv.notify_all();
  };
  cbs.on_event = [&](const ark::event& e) {
    auto ch = ark::decode_event<change>(e);
    std::lock_guard<std::mutex> guard{mtx};
    seen.push_back(ch ? e.name + " " + ch->name + "=" + ch->value : ch.error().message());
    cv.notify_all();
  };
  auto sub = value_of(ark::subscribe(w.system(), h, ark::subscription_mode::state, cbs));
  value_of(w.call<std::uint64_t>(h, set_atom::value, std::string("lang"), std::string("en")));
  value_of(w.call<std::uint64_t>(h, theme_atom::value, std::string("dark")));
  CHECK_FALSE(w.call<std::uint64_t>(h, theme_atom::value, std::string("neon")));  // no notification
  std::unique_lock<std::mutex> lock{mtx};
  REQUIRE(cv.wait_for(lock, 10s, [&] { return seen.size() >= 4; }));
  CHECK(seen == std::vector<std::string>{"v0 light", "v1 light", "changed lang=en", "v2 dark"});
}
