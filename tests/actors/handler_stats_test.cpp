// Per-handler statistics and change records on a real runtime over a real
// LMDB data directory: calls, errors by code, handler time and commit wait of
// every handler (runtime_stats::handlers), activations per type, and the
// change feed (subscription_mode::changes) the dashboard's live tail reads.

#include <doctest/doctest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include <ark/subscription.hpp>

#include "actors/host_env.hpp"

using namespace std::chrono_literals;
using ark::test::host_env;
using json = nlohmann::json;

namespace tally {

using add_atom = caf::atom_constant<caf::atom("add")>;
using refuse_atom = caf::atom_constant<caf::atom("refuse")>;
using throw_atom = caf::atom_constant<caf::atom("throw")>;
using slow_atom = caf::atom_constant<caf::atom("slow")>;
using put_atom = caf::atom_constant<caf::atom("put")>;
using note_atom = caf::atom_constant<caf::atom("note")>;
using remind_atom = caf::atom_constant<caf::atom("remind")>;
using peek_atom = caf::atom_constant<caf::atom("peek")>;

using tally_if = caf::typed_actor<caf::replies_to<add_atom, std::int64_t>::with<std::int64_t>,
                                  caf::replies_to<refuse_atom, std::int64_t>::with<std::int64_t>,
                                  caf::replies_to<throw_atom>::with<std::int64_t>,
                                  caf::replies_to<slow_atom>::with<std::int64_t>,
                                  caf::replies_to<put_atom, std::string, std::int64_t>::with<bool>,
                                  caf::replies_to<note_atom, std::string>::with<std::int64_t>,
                                  caf::replies_to<remind_atom, std::string>::with<bool>,
                                  caf::replies_to<peek_atom>::with<std::int64_t>>;

struct tally_state {
  std::int64_t value = 0;
  std::int64_t notes = 0;
  MSGPACK_DEFINE_MAP(value, notes)
};

class tally : public ark::actor<tally_if, tally_state> {
 public:
  using actor::actor;
  handlers_type make_handlers() override {
    return handlers(
        [this](add_atom, std::int64_t n) { return state().value += n; },
        [this](refuse_atom, std::int64_t n) -> ark::expected<std::int64_t> {
          state().value += n;  // rolled back
          return ark::error{ark::errc::invalid_argument, "refused on purpose"};
        },
        [this](throw_atom) -> std::int64_t {
          state().value += 1000;  // rolled back
          throw std::runtime_error("thrown on purpose");
        },
        [this](slow_atom) {
          std::this_thread::sleep_for(3ms);
          return state().value;
        },
        [this](put_atom, const std::string& k, std::int64_t v) {
          return static_cast<bool>(kv().put(ark::key{k}, v));
        },
        [this](note_atom, const std::string& text) {
          publish("note", text);
          return ++state().notes;
        },
        [this](remind_atom, const std::string& name) {
          return static_cast<bool>(schedule_after(name, std::chrono::hours(1)));
        },
        [this](peek_atom) { return state().value; });
  }
};

}  // namespace tally

ARK_ACTOR("tally", tally::tally);

namespace {

template <class R, class... Ts>
ark::expected<R> call(host_env& env, const tally::tally_if& h, Ts&&... xs) {
  return ark::call<R>(*env.sys, h, 10s, std::forward<Ts>(xs)...);
}

tally::tally_if tally_actor(host_env& env, const std::string& key) {
  auto h = env.rt->get_or_create<tally::tally_if>("tally", key);
  REQUIRE_MESSAGE(h, (h ? "" : h.error().message()));
  return *h;
}

// The figures of handler `name` of type tally in `s`.
ark::handler_figures figures(const ark::runtime_stats& s, const std::string& name) {
  for (const auto& h : s.handlers)
    if (h.type == "tally" && h.handler == name) return h;
  FAIL("no figures for tally's handler " << name);
  return {};
}

std::uint64_t total(const std::array<std::uint64_t, ark::detail::latency_buckets>& hist) {
  std::uint64_t n = 0;
  for (auto x : hist) n += x;
  return n;
}

}  // namespace

TEST_CASE("the host counts each handler's calls, errors by code, handler time and commit wait") {
  host_env env;
  auto a = tally_actor(env, "a");
  auto b = tally_actor(env, "b");
  for (int i = 0; i < 5; ++i) REQUIRE(call<std::int64_t>(env, a, tally::add_atom::value, std::int64_t{1}));
  REQUIRE(call<std::int64_t>(env, b, tally::add_atom::value, std::int64_t{2}));
  for (int i = 0; i < 2; ++i) {
    auto r = call<std::int64_t>(env, a, tally::refuse_atom::value, std::int64_t{1});
    REQUIRE_FALSE(r);
    CHECK(r.error() == ark::errc::invalid_argument);
  }
  auto thrown = call<std::int64_t>(env, a, tally::throw_atom::value);
  REQUIRE_FALSE(thrown);
  CHECK(thrown.error() == ark::errc::handler_failed);
  for (int i = 0; i < 3; ++i) REQUIRE(call<std::int64_t>(env, a, tally::slow_atom::value));
  CHECK(*call<std::int64_t>(env, a, tally::peek_atom::value) == 5);  // nothing rolled back stayed

  auto s = env.rt->stats();
  // Every handler of the interface is listed, in its order, named by signature.
  std::vector<std::string> names;
  for (const auto& h : s.handlers)
    if (h.type == "tally") names.push_back(h.handler);
  CHECK(names == std::vector<std::string>{"add(int64) -> int64", "refuse(int64) -> int64",
                                          "throw() -> int64", "slow() -> int64",
                                          "put(string, int64) -> bool", "note(string) -> int64",
                                          "remind(string) -> bool", "peek() -> int64"});
  auto add = figures(s, "add(int64) -> int64");
  CHECK(add.calls == 6);
  CHECK(add.errors == 0);
  // A sample of the calls is timed: the first on each thread, then at most
  // one per coarse clock reading.
  CHECK(add.timed >= 1);
  CHECK(add.timed <= 6);
  CHECK(total(add.handler_ns) == add.timed);
  // Each add changed the state: a timed call's reply waited for a durable
  // commit.
  CHECK(total(add.commit_wait_ns) == add.timed);
  CHECK(ark::detail::histogram_quantile_us(add.commit_wait_ns, 0.5) > 1.0);

  auto refuse = figures(s, "refuse(int64) -> int64");
  CHECK(refuse.calls == 2);
  CHECK(refuse.errors == 2);
  CHECK(refuse.errors_by_code == std::map<std::string, std::uint64_t>{{"invalid_argument", 2}});
  auto thr = figures(s, "throw() -> int64");
  CHECK(thr.errors_by_code == std::map<std::string, std::uint64_t>{{"handler_failed", 1}});

  // The slow handler sleeps 3 ms: its time says so; a plain add is far below.
  auto slow = figures(s, "slow() -> int64");
  CHECK(slow.calls == 3);
  CHECK(slow.timed >= 1);
  CHECK(ark::detail::histogram_quantile_us(slow.handler_ns, 0.5) >= 2048.0);
  CHECK(ark::detail::histogram_quantile_us(add.handler_ns, 0.5) < 2048.0);
  CHECK(figures(s, "peek() -> int64").calls == 1);
  CHECK(figures(s, "peek() -> int64").timed == 1);  // a rare handler's calls are all timed
  CHECK(figures(s, "put(string, int64) -> bool").calls == 0);

  CHECK(s.active_by_type["tally"] == 2);
}

TEST_CASE("activations per type go down as actors passivate") {
  host_env env;
  {
    auto a = tally_actor(env, "a");
    REQUIRE(call<std::int64_t>(env, a, tally::add_atom::value, std::int64_t{1}));
    CHECK(env.rt->stats().active_by_type["tally"] == 1);
  }
  auto id = ark::inspect::encode_identity("tally", ark::key{"a"});
  REQUIRE(id);
  // A passivation request finds the actor referenced from outside the host
  // while CAF still holds the last call's references for a moment (it then
  // only drops its state): ask again until it leaves.
  for (int i = 0; i < 500 && env.rt->stats().active_by_type["tally"] != 0; ++i) {
    env.rt->passivate(*id);
    std::this_thread::sleep_for(10ms);
  }
  CHECK(env.rt->stats().active_by_type["tally"] == 0);
}


namespace {

// Change records received by a subscription, for the test thread to wait on.
struct records {
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<json> items;
  json current;

  std::vector<json> wait_for(std::size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock<std::mutex> lock{mtx};
    cv.wait_for(lock, timeout, [&] { return items.size() >= n; });
    return items;
  }
};

ark::subscription watch_changes(host_env& env, const tally::tally_if& h, records& out) {
  ark::subscription_callbacks cbs;
  bool first = true;
  cbs.on_state = [&out, first](const ark::state_changed& c) mutable {
    REQUIRE(c.format == ark::subscription_mode::changes);
    auto j = ark::decode_view(c);
    REQUIRE(j);
    std::lock_guard<std::mutex> guard{out.mtx};
    if (first) {
      first = false;
      out.current = *j;
    } else {
      out.items.push_back(*j);
    }
    out.cv.notify_all();
  };
  auto sub = ark::subscribe(*env.sys, h, ark::subscription_mode::changes, std::move(cbs));
  REQUIRE_MESSAGE(sub, (sub ? "" : sub.error().message()));
  return std::move(*sub);
}

}  // namespace

TEST_CASE("a changes subscriber gets one record per durable unit, and none for a rolled-back one") {
  host_env env;
  auto a = tally_actor(env, "a");
  REQUIRE(call<std::int64_t>(env, a, tally::add_atom::value, std::int64_t{2}));
  records got;
  auto sub = watch_changes(env, a, got);
  CHECK(got.current["state"] == json{{"value", 2}, {"notes", 0}});

  REQUIRE(call<std::int64_t>(env, a, tally::add_atom::value, std::int64_t{3}));
  REQUIRE_FALSE(call<std::int64_t>(env, a, tally::refuse_atom::value, std::int64_t{100}));
  REQUIRE_FALSE(call<std::int64_t>(env, a, tally::throw_atom::value));
  REQUIRE(call<bool>(env, a, tally::put_atom::value, std::string("k"), std::int64_t{7}));
  REQUIRE(call<std::int64_t>(env, a, tally::note_atom::value, std::string("hello")));
  REQUIRE(call<bool>(env, a, tally::remind_atom::value, std::string("later")));
  REQUIRE(call<std::int64_t>(env, a, tally::peek_atom::value));  // changes nothing: no record

  auto items = got.wait_for(4);
  std::this_thread::sleep_for(100ms);  // a record for the failed or idle messages would be late
  items = got.wait_for(4);
  REQUIRE(items.size() == 4);

  // The add: its handler, its duration, the state before and after.
  const auto& add = items[0];
  CHECK(add["type"] == "tally");
  CHECK(add["key"] == json::array({"a"}));
  CHECK(add["handler"] == "add(int64) -> int64");
  CHECK(add["duration_us"].is_number());
  CHECK(add["state"]["before"] == json{{"value", 2}, {"notes", 0}});
  CHECK(add["state"]["after"] == json{{"value", 5}, {"notes", 0}});
  CHECK(add["kv"].empty());
  // The refused and the thrown message left no record: the next is the put.
  const auto& put = items[1];
  CHECK(put["handler"] == "put(string, int64) -> bool");
  CHECK(put["state"].is_null());
  REQUIRE(put["kv"].size() == 1);
  CHECK(put["kv"][0]["op"] == "put");
  CHECK(put["kv"][0]["key"] == json::array({"k"}));
  CHECK(put["seq"].get<std::uint64_t>() == add["seq"].get<std::uint64_t>() + 1);
  CHECK(put["events"].empty());
  // The note: the event it published rides in its record.
  const auto& note = items[2];
  CHECK(note["handler"] == "note(string) -> int64");
  CHECK(note["events"] == json::array({"note"}));
  CHECK(note["state"]["after"]["notes"] == 1);
  // The reminder scheduled an alarm: a unit with it.
  const auto& remind = items[3];
  CHECK(remind["handler"] == "remind(string) -> bool");
  REQUIRE(remind["alarms"].size() == 1);
  CHECK(remind["alarms"][0]["op"] == "set");
  CHECK(remind["alarms"][0]["name"] == "later");
  CHECK(remind["alarms"][0]["due"].get<std::string>().back() == 'Z');
  CHECK(remind["state"].is_null());
}

TEST_CASE("a host with handler_stats off keeps no per-handler figures, and still names handlers") {
  host_env env;
  env.opts.handler_stats = false;
  env.restart();
  auto a = tally_actor(env, "a");
  REQUIRE(call<std::int64_t>(env, a, tally::add_atom::value, std::int64_t{1}));
  auto s = env.rt->stats();
  CHECK(s.handlers.empty());
  CHECK(s.active_by_type.empty());
  records got;
  auto sub = watch_changes(env, a, got);
  REQUIRE(call<std::int64_t>(env, a, tally::add_atom::value, std::int64_t{1}));
  auto items = got.wait_for(1);
  REQUIRE(items.size() == 1);
  CHECK(items[0]["handler"] == "add(int64) -> int64");
  CHECK(items[0]["duration_us"].is_null());
}
