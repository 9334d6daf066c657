// ark::inspect's view of pending alarms (the dashboard's "alarms" document and
// the alarms of the state document), over the real runtime in an
// ark::testing::world: virtual time makes every due time exact.

#include <doctest/doctest.h>

#include <ctime>
#include <random>

#include <ark/actor.hpp>
#include <ark/inspect.hpp>
#include <ark/kv/json.hpp>
#include <ark/kv/store.hpp>
#include <ark/registry.hpp>
#include <ark/testing.hpp>

namespace alarm_view {

using sched_atom = caf::atom_constant<caf::atom("vsched")>;
using cancel_atom = caf::atom_constant<caf::atom("vcancel")>;
using fired_atom = caf::atom_constant<caf::atom("vfired")>;

// sched(name, delay ms, note, failures before on_alarm succeeds)
using view_if = caf::typed_actor<
    caf::replies_to<sched_atom, std::string, std::int64_t, std::string, std::int64_t>::with<bool>,
    caf::replies_to<cancel_atom, std::string>::with<bool>,
    caf::replies_to<fired_atom>::with<std::vector<std::string>>>;

struct view_state {
  std::vector<std::string> fired;
  MSGPACK_DEFINE_MAP(fired)
};

struct plan {
  std::string note;
  std::int64_t fail_times = 0;
  MSGPACK_DEFINE_MAP(note, fail_times)
};

class view_actor : public ark::actor<view_if, view_state> {
 public:
  using actor::actor;

  handlers_type make_handlers() override {
    return handlers(
        [this](sched_atom, const std::string& name, std::int64_t delay_ms, const std::string& note,
               std::int64_t fail_times) -> ark::expected<bool> {
          ark::alarm_options o;
          o.max_attempts = 4;
          o.first_backoff = std::chrono::seconds(10);
          auto delay = std::chrono::milliseconds(delay_ms);
          if (note.empty() && fail_times == 0)
            ARK_TRY(schedule_after(name, delay, o));
          else
            ARK_TRY(schedule_after(name, delay, plan{note, fail_times}, o));
          return true;
        },
        [this](cancel_atom, const std::string& name) { return cancel_alarm(name); },
        [this](fired_atom) { return state().fired; });
  }

  ark::expected<void> on_alarm(const ark::alarm& a) override {
    state().fired.push_back(a.name);
    auto p = a.payload_as<plan>();
    if (p && a.attempt < static_cast<std::uint32_t>(p->fail_times))
      return ark::error{ark::errc::handler_failed, "not yet"};
    return {};
  }
};
ARK_ACTOR("alarm_view", view_actor);

class memory_view_actor : public view_actor {
 public:
  using view_actor::view_actor;
  static constexpr ark::storage_location location = ark::storage_location::memory;
};
ARK_ACTOR("alarm_view_mem", memory_view_actor);

}  // namespace alarm_view

using namespace alarm_view;
using namespace std::chrono_literals;
using json = nlohmann::json;
using ark::testing::world;

namespace {

void sched(world& w, const char* type, const char* key, const std::string& name,
           std::int64_t delay_ms, const std::string& note = "", std::int64_t fail_times = 0) {
  auto h = w.get_or_create<view_if>(type, key);
  REQUIRE_MESSAGE(h, (h ? "" : h.error().message()));
  auto r = w.call<bool>(*h, sched_atom::value, name, delay_ms, note, fail_times);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
}

json list(world& w, ark::inspect::alarm_query q = {}) {
  auto r = w.runtime().inspector().alarms(q);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
  return *r;
}

// The names of a document's alarms, in order.
std::vector<std::string> names(const json& doc) {
  std::vector<std::string> out;
  for (const auto& a : doc["alarms"]) out.push_back(a["name"].get<std::string>());
  return out;
}

using strings = std::vector<std::string>;

std::int64_t start_ms(world& w) {
  return ark::to_unix_ms(w.clock().now());
}

}  // namespace

TEST_CASE("iso8601_utc writes UTC times with milliseconds, before 1970 and on leap days too") {
  CHECK(ark::inspect::iso8601_utc(0) == "1970-01-01T00:00:00.000Z");
  CHECK(ark::inspect::iso8601_utc(-1) == "1969-12-31T23:59:59.999Z");
  CHECK(ark::inspect::iso8601_utc(951'782'400'000) == "2000-02-29T00:00:00.000Z");
  CHECK(ark::inspect::iso8601_utc(1'893'456'000'042) == "2030-01-01T00:00:00.042Z");
  // Agrees with the C library's gmtime over a wide random range.
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::int64_t> ms(-62'000'000'000'000, 253'000'000'000'000);
  for (int i = 0; i < 2000; ++i) {
    auto t = ms(rng);
    auto secs = static_cast<std::time_t>(t >= 0 ? t / 1000 : (t - 999) / 1000);
    std::tm tm{};
    REQUIRE(::gmtime_r(&secs, &tm));
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(t - static_cast<std::int64_t>(secs) * 1000));
    REQUIRE_MESSAGE(ark::inspect::iso8601_utc(t) == buf, "at " << t);
  }
}

TEST_CASE("inspect lists pending alarms soonest first, with due times, attempts and payloads") {
  world w;
  auto t0 = start_ms(w);
  sched(w, "alarm_view", "a", "second", 120'000, "tea");
  sched(w, "alarm_view", "b", "first", 60'000);
  sched(w, "alarm_view", "a", "third", 180'000);
  auto doc = list(w);
  REQUIRE(names(doc) == strings{"first", "second", "third"});
  CHECK(doc["next"].is_null());
  const auto& first = doc["alarms"][0];
  CHECK(first["type"] == "alarm_view");
  CHECK(first["key"] == json::array({"b"}));
  CHECK(first["due_ms"] == t0 + 60'000);
  CHECK(first["due"] == "2030-01-01T00:01:00.000Z");
  CHECK(first["attempt"] == 0);
  CHECK(first["max_attempts"] == 4);
  CHECK(first["payload"].is_null());
  CHECK_FALSE(first.contains("memory"));
  CHECK_FALSE(first.contains("error"));
  CHECK(doc["alarms"][1]["payload"] == json{{"note", "tea"}, {"fail_times", 0}});
  // answer() takes the same query from URL parameters.
  auto via = ark::inspect::answer(w.runtime().inspector(), "alarms", {{"limit", "3"}});
  REQUIRE(via);
  CHECK(*via == doc);
  auto count = w.runtime().inspector().pending_alarms();
  REQUIRE(count);
  CHECK(*count == 3);
}

TEST_CASE("inspect pages alarms with a cursor and filters them by type and by actor") {
  world w;
  sched(w, "alarm_view", "a", "a2", 20'000);
  sched(w, "alarm_view", "b", "b1", 10'000);
  sched(w, "alarm_view", "a", "a3", 30'000);
  sched(w, "alarm_view", "a", "a1", 5'000);
  sched(w, "alarm_view_mem", "m", "m1", 15'000);
  sched(w, "alarm_view", "c", "c1", 30'000);  // the same time as a3: ordered by key

  SUBCASE("pages of two, each after the previous page's next") {
    ark::inspect::alarm_query q;
    q.limit = 2;
    strings all;
    std::size_t pages = 0;
    while (true) {
      auto doc = list(w, q);
      ++pages;
      for (auto& n : names(doc)) all.push_back(n);
      if (doc["next"].is_null()) break;
      CHECK(doc["alarms"].size() == 2);
      // next is the last entry's due-index key [due_ms, type, key, name].
      auto last = doc["alarms"].back();
      CHECK(doc["next"] == json::array({last["due_ms"], last["type"], last["key"], last["name"]}));
      auto k = ark::kv::key_from_json(doc["next"]);
      REQUIRE(k);
      q.after = *k;
    }
    CHECK(all == strings{"a1", "b1", "m1", "a2", "a3", "c1"});
    CHECK(pages == 3);
  }
  SUBCASE("one type") {
    ark::inspect::alarm_query q;
    q.type = "alarm_view";
    q.limit = 3;
    auto p1 = list(w, q);
    CHECK(names(p1) == strings{"a1", "b1", "a2"});
    q.after = *ark::kv::key_from_json(p1["next"]);
    auto p2 = list(w, q);
    CHECK(names(p2) == strings{"a3", "c1"});
    CHECK(p2["next"].is_null());
    q.type = "alarm_view_mem";
    q.after.reset();
    auto mem = list(w, q);
    REQUIRE(names(mem) == strings{"m1"});
    CHECK(mem["alarms"][0]["memory"] == true);
    q.type = "nobody";
    CHECK(list(w, q)["alarms"].empty());
  }
  SUBCASE("one actor, paged") {
    ark::inspect::alarm_query q;
    q.type = "alarm_view";
    q.key = ark::key{"a"};
    q.limit = 2;
    auto p1 = list(w, q);
    CHECK(names(p1) == strings{"a1", "a2"});
    REQUIRE_FALSE(p1["next"].is_null());
    q.after = *ark::kv::key_from_json(p1["next"]);
    auto p2 = list(w, q);
    CHECK(names(p2) == strings{"a3"});
    CHECK(p2["next"].is_null());
    q.key = ark::key{"nobody"};
    q.after.reset();
    CHECK(list(w, q)["alarms"].empty());
  }
  SUBCASE("bad queries are refused, naming the parameter") {
    ark::inspect::alarm_query q;
    q.key = ark::key{"a"};
    auto no_type = w.runtime().inspector().alarms(q);
    REQUIRE_FALSE(no_type);
    CHECK(no_type.error() == ark::errc::invalid_argument);
    CHECK(no_type.error().context().find("needs parameter type") != std::string::npos);
    auto zero = ark::inspect::answer(w.runtime().inspector(), "alarms", {{"limit", "0"}});
    REQUIRE_FALSE(zero);
    CHECK(zero.error() == ark::errc::invalid_argument);
    auto bad_after = ark::inspect::answer(w.runtime().inspector(), "alarms", {{"after", "[1,"}});
    REQUIRE_FALSE(bad_after);
    CHECK(bad_after.error().context().find("parameter after") != std::string::npos);
  }
}

TEST_CASE("a delivered alarm leaves the list, and a failed one shows its attempt and new time") {
  world w;
  auto t0 = start_ms(w);
  sched(w, "alarm_view", "a", "once", 1'000);
  sched(w, "alarm_view", "a", "flaky", 2'000, "", 1);  // fails its first delivery
  sched(w, "alarm_view", "a", "later", 60'000);
  REQUIRE(w.advance(1s));
  CHECK(names(list(w)) == strings{"flaky", "later"});
  REQUIRE(w.advance(1s));
  auto doc = list(w);
  // Retried after the first backoff (10 s), with one failed attempt.
  REQUIRE(names(doc) == strings{"flaky", "later"});
  CHECK(doc["alarms"][0]["attempt"] == 1);
  CHECK(doc["alarms"][0]["due_ms"] == t0 + 2'000 + 10'000);
  REQUIRE(w.advance(10s));
  CHECK(names(list(w)) == strings{"later"});
  auto h = w.get_or_create<view_if>("alarm_view", "a");
  REQUIRE(h);
  REQUIRE(w.call<bool>(*h, cancel_atom::value, std::string("later")));
  CHECK(list(w)["alarms"].empty());
  CHECK(*w.runtime().inspector().pending_alarms() == 0);
}

TEST_CASE("the state document lists the actor's pending alarms") {
  world w;
  sched(w, "alarm_view", "a", "late", 90'000);
  sched(w, "alarm_view", "a", "early", 30'000, "hi");
  sched(w, "alarm_view", "b", "other", 10'000);
  auto st = w.stored_state_json("alarm_view", "a");
  REQUIRE_MESSAGE(st, (st ? "" : st.error().message()));
  REQUIRE(names(*st) == strings{"early", "late"});
  CHECK((*st)["alarms"][0]["payload"]["note"] == "hi");
  CHECK((*st)["alarms_next"].is_null());
  auto none = w.stored_state_json("alarm_view", "b");
  REQUIRE(none);
  CHECK(names(*none) == strings{"other"});
}

TEST_CASE("alarms of memory-only types are not in the storage, only in the host's reader") {
  world w;
  sched(w, "alarm_view_mem", "m", "volatile", 10'000);
  sched(w, "alarm_view", "d", "durable", 20'000);
  CHECK(names(list(w)) == strings{"volatile", "durable"});
  auto offline = ark::inspect::reader::open(w.storage());
  REQUIRE(offline);
  auto doc = offline->alarms({});
  REQUIRE(doc);
  CHECK(names(*doc) == strings{"durable"});
  CHECK(*offline->pending_alarms() == 1);
}

TEST_CASE("a damaged alarm entry is listed with what is wrong instead of failing the list") {
  world w;
  sched(w, "alarm_view", "a", "fine", 20'000);
  // Plant a row that is not a stored alarm, with its due-index entry (far
  // off, so nothing tries to deliver it).
  auto due_ms = start_ms(w) + 3'600'000;
  auto rows = ark::kv::store::open(w.storage(), ark::key{nullptr, "alarms"});
  auto index = ark::kv::store::open(w.storage(), ark::key{nullptr, "alarm_due"});
  REQUIRE(rows);
  REQUIRE(index);
  REQUIRE(rows->put(ark::key{"alarm_view", ark::key{"a"}, "broken"}, std::string("not an alarm")));
  REQUIRE(index->put_raw(ark::key{due_ms, "alarm_view", ark::key{"a"}, "broken"}, ""));
  auto doc = list(w);
  REQUIRE(names(doc) == strings{"fine", "broken"});
  CHECK_FALSE(doc["alarms"][0].contains("error"));
  const auto& bad = doc["alarms"][1];
  CHECK(bad["due_ms"] == due_ms);
  CHECK(bad["attempt"].is_null());
  REQUIRE(bad.contains("error"));
  CHECK(bad["error"].get<std::string>().find("ark-dash verify") != std::string::npos);
  // The actor's own list shows it too (first, as it has no readable time),
  // and its state stays readable.
  auto st = w.stored_state_json("alarm_view", "a");
  REQUIRE(st);
  REQUIRE((*st)["alarms"].size() == 2);
  CHECK((*st)["alarms"][0]["name"] == "broken");
  CHECK((*st)["alarms"][0]["due_ms"].is_null());
  CHECK((*st)["alarms"][1]["name"] == "fine");
}
