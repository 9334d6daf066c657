// Durable alarms and the ark::testing kit: virtual time, restarts, crash
// injection, memory-only actor types.

#include <doctest/doctest.h>

#include <ark/actor.hpp>
#include <ark/registry.hpp>
#include <ark/testing.hpp>

#include "actors/host_env.hpp"
#include "support/damage.hpp"

namespace alarms {

using sched_atom = caf::atom_constant<caf::atom("sched")>;
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;
using fired_atom = caf::atom_constant<caf::atom("fired")>;
using pending_atom = caf::atom_constant<caf::atom("pending")>;
using bump_atom = caf::atom_constant<caf::atom("bump")>;
using sched_fail_atom = caf::atom_constant<caf::atom("schedfail")>;

// sched: (name, delay ms, failures before success, reschedule every ms or 0)
using alarm_if = caf::typed_actor<
    caf::replies_to<sched_atom, std::string, std::int64_t, std::int64_t, std::int64_t>::with<bool>,
    caf::replies_to<sched_fail_atom, std::string, std::int64_t>::with<bool>,
    caf::replies_to<cancel_atom, std::string>::with<bool>,
    caf::replies_to<fired_atom>::with<std::vector<std::string>>,
    caf::replies_to<pending_atom>::with<std::vector<std::string>>,
    caf::replies_to<bump_atom>::with<std::int64_t>>;

struct alarm_state {
  std::vector<std::string> fired;  // "name@attempt"
  std::int64_t bumps = 0;
  MSGPACK_DEFINE_MAP(fired, bumps)
};

struct alarm_plan {
  std::int64_t fail_times = 0;
  std::int64_t every_ms = 0;
  MSGPACK_DEFINE_MAP(fail_times, every_ms)
};

template <class Base>
class alarm_actor_t : public Base {
 public:
  using Base::Base;
  using handlers_type = typename Base::handlers_type;

  handlers_type make_handlers() override {
    return this->handlers(
        [this](sched_atom, const std::string& name, std::int64_t delay_ms, std::int64_t fail_times,
               std::int64_t every_ms) -> ark::expected<bool> {
          ark::alarm_options o;
          o.max_attempts = 3;
          o.first_backoff = std::chrono::seconds(2);
          ARK_TRY(this->schedule_after(name, std::chrono::milliseconds(delay_ms),
                                       alarm_plan{fail_times, every_ms}, o));
          return true;
        },
        [this](sched_fail_atom, const std::string& name, std::int64_t delay_ms) -> ark::expected<bool> {
          // Scheduled, then the handler fails: nothing may be stored.
          ARK_TRY(this->schedule_after(name, std::chrono::milliseconds(delay_ms)));
          return ark::error{ark::errc::handler_failed, "failing on purpose"};
        },
        [this](cancel_atom, const std::string& name) { return this->cancel_alarm(name); },
        [this](fired_atom) { return this->state().fired; },
        [this](pending_atom) {
          std::vector<std::string> out;
          for (const auto& a : this->alarms()) out.push_back(a.name);
          return out;
        },
        [this](bump_atom) { return ++this->state().bumps; });
  }

  ark::expected<void> on_alarm(const ark::alarm& a) override {
    this->state().fired.push_back(a.name + "@" + std::to_string(a.attempt));
    auto plan = a.payload_as<alarm_plan>();
    if (plan && a.attempt < static_cast<std::uint32_t>(plan->fail_times))
      return ark::error{ark::errc::handler_failed, "not yet"};
    if (plan && plan->every_ms > 0) {
      ark::alarm_options o;
      ARK_TRY(this->schedule_after(a.name, std::chrono::milliseconds(plan->every_ms), *plan, o));
    }
    return {};
  }
};

using alarm_actor = alarm_actor_t<ark::actor<alarm_if, alarm_state>>;
ARK_ACTOR("alarm_probe", alarm_actor);

// The same actor, memory-only.
class memory_alarm_actor : public alarm_actor_t<ark::actor<alarm_if, alarm_state>> {
 public:
  using alarm_actor_t::alarm_actor_t;
  static constexpr ark::storage_location location = ark::storage_location::memory;
};
ARK_ACTOR("memory_probe", memory_alarm_actor);

}  // namespace alarms

using namespace alarms;
using namespace std::chrono_literals;
using ark::testing::world;

namespace {

alarm_if get(world& w, const std::string& key, const char* type = "alarm_probe") {
  auto h = w.get_or_create<alarm_if>(type, key);
  REQUIRE_MESSAGE(h, (h ? "" : h.error().message()));
  return *h;
}

std::vector<std::string> fired(world& w, const alarm_if& h) {
  auto f = w.call<std::vector<std::string>>(h, fired_atom::value);
  REQUIRE_MESSAGE(f, (f ? "" : f.error().message()));
  return *f;
}

bool sched(world& w, const alarm_if& h, const std::string& name, std::int64_t delay_ms,
           std::int64_t fail_times = 0, std::int64_t every_ms = 0) {
  auto r = w.call<bool>(h, sched_atom::value, name, delay_ms, fail_times, every_ms);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
  return *r;
}

using strings = std::vector<std::string>;

// An actor that passivated has left the directory; it is gone from the
// runtime's count once it finished terminating, a moment later.
bool active_count_becomes(world& w, std::uint64_t n) {
  for (int i = 0; i < 500; ++i) {
    if (w.runtime().stats().active_actors == n) return true;
    std::this_thread::sleep_for(2ms);
  }
  return false;
}

}  // namespace

TEST_CASE("an alarm fires exactly when virtual time reaches it, and is then gone") {
  world w;
  auto a = get(w, "a");
  sched(w, a, "remind", 60'000);
  auto stored = w.stored_alarms("alarm_probe", "a");
  REQUIRE(stored);
  REQUIRE(stored->size() == 1);
  CHECK(stored->front().name == "remind");
  CHECK(stored->front().due == w.clock().now() + 60s);
  REQUIRE(w.advance(59s));
  CHECK(fired(w, a).empty());
  REQUIRE(w.advance(1s));
  CHECK(fired(w, a) == strings{"remind@0"});
  CHECK(w.stored_alarms("alarm_probe", "a")->empty());
  REQUIRE(w.advance(1h));
  CHECK(fired(w, a) == strings{"remind@0"});  // once
}

TEST_CASE("alarms fire in time order, any number per actor, and a rescheduling alarm repeats") {
  world w;
  auto a = get(w, "a");
  sched(w, a, "late", 30'000);
  sched(w, a, "early", 10'000);
  sched(w, a, "tick", 20'000, 0, 20'000);  // every 20 s from 20 s on
  auto pending = w.call<strings>(a, pending_atom::value);
  REQUIRE(pending);
  CHECK(*pending == strings{"early", "tick", "late"});
  REQUIRE(w.advance(70s));
  CHECK(fired(w, a) == strings{"early@0", "tick@0", "late@0", "tick@0", "tick@0"});
  CHECK(*w.call<strings>(a, pending_atom::value) == strings{"tick"});
}

TEST_CASE("scheduling again replaces the alarm and cancel removes it durably") {
  world w;
  auto a = get(w, "a");
  sched(w, a, "x", 10'000);
  sched(w, a, "x", 50'000);
  REQUIRE(w.stored_alarms("alarm_probe", "a")->size() == 1);
  REQUIRE(w.advance(20s));
  CHECK(fired(w, a).empty());
  auto c = w.call<bool>(a, cancel_atom::value, std::string("x"));
  REQUIRE(c);
  CHECK(*c);
  CHECK(w.stored_alarms("alarm_probe", "a")->empty());
  CHECK_FALSE(*w.call<bool>(a, cancel_atom::value, std::string("x")));
  REQUIRE(w.advance(1h));
  CHECK(fired(w, a).empty());
}

TEST_CASE("an alarm scheduled by a failing handler is never stored") {
  world w;
  auto a = get(w, "a");
  auto r = w.call<bool>(a, sched_fail_atom::value, std::string("ghost"), std::int64_t{1000});
  CHECK_FALSE(r);
  CHECK(w.stored_alarms("alarm_probe", "a")->empty());
  CHECK(w.call<strings>(a, pending_atom::value)->empty());
  REQUIRE(w.advance(1h));
  CHECK(fired(w, a).empty());
}

TEST_CASE("a failing alarm is retried with exponential backoff, its failed attempts rolled back") {
  world w;
  auto a = get(w, "a");
  sched(w, a, "flaky", 1000, 2);  // fails twice, then succeeds; backoff 2 s, 4 s
  REQUIRE(w.advance(1s));
  // The failed attempt's state change was rolled back.
  CHECK(fired(w, a).empty());
  auto stored = w.stored_alarms("alarm_probe", "a");
  REQUIRE(stored->size() == 1);
  CHECK(stored->front().attempt == 1);
  CHECK(stored->front().due == w.clock().now() + 2s);
  REQUIRE(w.advance(2s));
  CHECK(w.stored_alarms("alarm_probe", "a")->front().attempt == 2);
  CHECK(w.stored_alarms("alarm_probe", "a")->front().due == w.clock().now() + 4s);
  REQUIRE(w.advance(3999ms));
  CHECK(fired(w, a).empty());
  REQUIRE(w.advance(1ms));
  CHECK(fired(w, a) == strings{"flaky@2"});
  CHECK(w.stored_alarms("alarm_probe", "a")->empty());
}

TEST_CASE("an alarm that keeps failing is dropped after max_attempts and the drop is logged") {
  world w;
  auto a = get(w, "a");
  sched(w, a, "doomed", 0, 100);  // max_attempts is 3
  REQUIRE(w.advance(1h));
  CHECK(fired(w, a).empty());
  CHECK(w.stored_alarms("alarm_probe", "a")->empty());
  bool logged = false;
  for (const auto& line : w.log())
    logged = logged || (line.find("alarm 'doomed' dropped after 3 failed deliveries") !=
                        std::string::npos);
  CHECK(logged);
}

TEST_CASE("alarms survive a host restart and one that came due while it was down fires at start") {
  world w;
  {
    auto a = get(w, "a");
    sched(w, a, "soon", 5000);
    sched(w, a, "later", 3'600'000);
  }
  w.runtime().shutdown();  // the host is down ...
  w.clock().advance(10s);  // ... while "soon" comes due
  w.restart();
  auto a = get(w, "a");
  CHECK(fired(w, a) == strings{"soon@0"});
  CHECK(*w.call<strings>(a, pending_atom::value) == strings{"later"});
}

TEST_CASE("an alarm wakes a passivated actor") {
  ark::testing::world_options o;
  o.idle_timeout = 1min;
  world w{o};
  sched(w, get(w, "sleepy"), "wake", 600'000);
  REQUIRE(w.advance(2min));
  CHECK(active_count_becomes(w, 0));
  REQUIRE(w.advance(10min));
  CHECK(fired(w, get(w, "sleepy")) == strings{"wake@0"});
}

TEST_CASE("invalid alarms are refused with a clear error") {
  world w;
  auto a = get(w, "a");
  auto r = w.call<bool>(a, sched_atom::value, std::string(), std::int64_t{0}, std::int64_t{0},
                        std::int64_t{0});
  REQUIRE_FALSE(r);
  CHECK(r.error().message().find("alarm name") != std::string::npos);
  r = w.call<bool>(a, sched_atom::value, std::string(300, 'n'), std::int64_t{0}, std::int64_t{0},
                   std::int64_t{0});
  REQUIRE_FALSE(r);
  CHECK(w.stored_alarms("alarm_probe", "a")->empty());
}

TEST_CASE("world: restart_actor reloads the durable snapshot and idle actors passivate in virtual time") {
  ark::testing::world_options o;
  o.idle_timeout = 5min;
  world w{o};
  auto a = get(w, "a");
  REQUIRE(*w.call<std::int64_t>(a, bump_atom::value) == 1);
  REQUIRE(w.restart_actor("alarm_probe", "a"));
  CHECK(*w.call<std::int64_t>(a, bump_atom::value) == 2);
  CHECK(w.stored_state_json("alarm_probe", "a")->at("state").at("bumps") == 2);
  CHECK_FALSE(w.restart_actor("alarm_probe", "nobody"));
  REQUIRE(w.advance(4min));
  CHECK(w.runtime().stats().active_actors == 1);
  a = alarm_if{};  // the test lets go of its handle
  REQUIRE(w.advance(2min));
  CHECK(active_count_becomes(w, 0));
  CHECK(*w.call<std::int64_t>(get(w, "a"), bump_atom::value) == 3);
}

TEST_CASE("world: a crash before a commit loses its writes and the caller sees an error") {
  world w;
  auto a = get(w, "a");
  REQUIRE(*w.call<std::int64_t>(a, bump_atom::value) == 1);
  w.crash_at_commit(ark::testing::crash_point::before_commit);
  CHECK_FALSE(w.call<std::int64_t>(a, bump_atom::value));
  CHECK(w.crashed());
  w.restart();
  CHECK_FALSE(w.crashed());
  a = get(w, "a");
  CHECK(*w.call<std::int64_t>(a, bump_atom::value) == 2);  // the lost bump is gone
}

TEST_CASE("world: a crash after a commit keeps its writes though the caller saw an error") {
  world w;
  auto a = get(w, "a");
  REQUIRE(*w.call<std::int64_t>(a, bump_atom::value) == 1);
  auto before = w.commits();
  w.crash_at_commit(ark::testing::crash_point::after_commit);
  CHECK_FALSE(w.call<std::int64_t>(a, bump_atom::value));
  CHECK(w.commits() == before + 1);
  w.restart();
  a = get(w, "a");
  CHECK(*w.call<std::int64_t>(a, bump_atom::value) == 3);  // the unacknowledged bump survived
}

TEST_CASE("world: a crash at the nth commit leaves the earlier ones durable") {
  world w;
  auto a = get(w, "a");
  fired(w, a);  // the actor's creation is committed: it does not count below
  w.crash_at_commit(ark::testing::crash_point::before_commit, 3);
  CHECK(w.call<std::int64_t>(a, bump_atom::value));
  CHECK(w.call<std::int64_t>(a, bump_atom::value));
  CHECK_FALSE(w.call<std::int64_t>(a, bump_atom::value));
  w.restart();
  CHECK(*w.call<std::int64_t>(get(w, "a"), bump_atom::value) == 3);
}

TEST_CASE("memory-only actor types keep state across passivation but never reach storage") {
  world w;
  auto m = get(w, "m", "memory_probe");
  REQUIRE(*w.call<std::int64_t>(m, bump_atom::value) == 1);
  REQUIRE(*w.call<std::int64_t>(m, bump_atom::value) == 2);
  sched(w, m, "mem-alarm", 1000);
  m = alarm_if{};
  REQUIRE(w.restart_actor("memory_probe", "m"));
  m = get(w, "m", "memory_probe");
  CHECK(*w.call<std::int64_t>(m, bump_atom::value) == 3);
  REQUIRE(w.advance(2s));  // its alarm lives in memory too, and fires
  CHECK(fired(w, m) == strings{"mem-alarm@0"});
  // Nothing of it in storage: no snapshot, no KV space, no alarm.
  CHECK(w.stored_state_json("memory_probe", "m").error() == ark::errc::not_found);
  CHECK(w.stored_alarms("memory_probe", "m")->empty());
  auto spaces = w.storage()->spaces("", 100);
  REQUIRE(spaces);
  for (const auto& s : *spaces) CHECK(s.find("memory_probe") == std::string::npos);
  w.restart();  // memory is gone with the host
  CHECK(*w.call<std::int64_t>(get(w, "m", "memory_probe"), bump_atom::value) == 1);
}

TEST_CASE("alarms on a real LMDB host with the system clock fire, also after a restart") {
  ark::test::host_env env;
  auto h = env.rt->get_or_create<alarm_if>("alarm_probe", "real");
  REQUIRE(h);
  auto r = ark::call<bool>(*env.sys, *h, 10s, sched_atom::value, std::string("now"),
                           std::int64_t{50}, std::int64_t{0}, std::int64_t{0});
  REQUIRE(r);
  auto r2 = ark::call<bool>(*env.sys, *h, 10s, sched_atom::value, std::string("after-restart"),
                            std::int64_t{1500}, std::int64_t{0}, std::int64_t{0});
  REQUIRE(r2);
  auto fired_now = [&](const alarm_if& x) {
    auto f = ark::call<strings>(*env.sys, x, 10s, fired_atom::value);
    REQUIRE(f);
    return *f;
  };
  for (int i = 0; i < 200 && fired_now(*h).empty(); ++i) std::this_thread::sleep_for(20ms);
  CHECK(fired_now(*h) == strings{"now@0"});
  *h = alarm_if{};
  env.stop();
  std::this_thread::sleep_for(1600ms);  // "after-restart" comes due while the host is down
  env.start();
  auto h2 = env.rt->get_or_create<alarm_if>("alarm_probe", "real");
  REQUIRE(h2);
  strings got;
  for (int i = 0; i < 250; ++i) {
    got = fired_now(*h2);
    if (got.size() == 2) break;
    std::this_thread::sleep_for(20ms);
  }
  CHECK(got == strings{"now@0", "after-restart@0"});
}

TEST_CASE("an alarm row whose bytes changed on disk fails that actor's alarm calls, naming it") {
  for (const auto& e : ark::test::embedded_engines) {
    INFO(e.name);
    ark::test::host_env env;
    env.use_backend(e.kind, e.name);
    auto victim = env.rt->get_or_create<alarm_if>("alarm_probe", "victim");
    auto bystander = env.rt->get_or_create<alarm_if>("alarm_probe", "bystander");
    REQUIRE(victim);
    REQUIRE(bystander);
    // Due in an hour; its plan holds a distinctive number (987654321: msgpack
    // ce 3a de 68 b1) that only the victim's alarm row stores.
    REQUIRE(ark::call<bool>(*env.sys, *victim, 10s, sched_atom::value, std::string("later"),
                            std::int64_t{3'600'000}, std::int64_t{0}, std::int64_t{987654321}));
    REQUIRE(ark::call<bool>(*env.sys, *bystander, 10s, sched_atom::value, std::string("later"),
                            std::int64_t{3'600'000}, std::int64_t{0}, std::int64_t{0}));
    *victim = alarm_if{};
    *bystander = alarm_if{};
    env.stop();
    REQUIRE(ark::test::flip_in_file(env.opts.data_dir + "/" + e.file, "\xce\x3a\xde\x68\xb1", 2) >=
            1);
    env.start();
    auto v = env.rt->get_or_create<alarm_if>("alarm_probe", "victim");
    REQUIRE(v);
    auto r = ark::call<strings>(*env.sys, *v, 10s, pending_atom::value);
    REQUIRE_FALSE(r);
    const auto m = r.error().message();
    INFO(m);
    CHECK(r.error().code() == ark::errc::corrupt_value);
    CHECK(m.find("actor alarm_probe [\"victim\"]: its alarms: ") != std::string::npos);
    CHECK(m.find("fails its checksum") != std::string::npos);
    // Every retry, and every other alarm call, gets the same error...
    auto c = ark::call<bool>(*env.sys, *v, 10s, cancel_atom::value, std::string("later"));
    REQUIRE_FALSE(c);
    CHECK(c.error().code() == ark::errc::corrupt_value);
    auto s = ark::call<bool>(*env.sys, *v, 10s, sched_atom::value, std::string("other"),
                             std::int64_t{3'600'000}, std::int64_t{0}, std::int64_t{0});
    REQUIRE_FALSE(s);
    CHECK(s.error().code() == ark::errc::corrupt_value);
    // ...while its handlers that do not use alarms still work: the actor
    // reads its alarm rows only when it first uses them.
    CHECK(*ark::call<std::int64_t>(*env.sys, *v, 10s, bump_atom::value) == 1);
    auto b = env.rt->get_or_create<alarm_if>("alarm_probe", "bystander");
    REQUIRE(b);
    CHECK(*ark::call<strings>(*env.sys, *b, 10s, pending_atom::value) == strings{"later"});
  }
}
