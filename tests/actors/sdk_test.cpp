// SDK semantics on a real runtime over a real LMDB data directory.

#include <doctest/doctest.h>

#include <future>
#include <mutex>
#include <thread>

#include "actors/host_env.hpp"

ARK_ACTOR("probe", probe::probe_actor);
ARK_ACTOR("viewed", probe::viewed_probe);

using namespace std::chrono_literals;
using probe::probe_if;

using ark::test::host_env;
using ark::test::value_of;

TEST_CASE("on_initialize runs once in an actor's life, not on restart") {
  host_env env;
  int before = probe::initialize_runs;
  auto h = env.probe("a", 41);
  CHECK(*env.call<std::int64_t>(h, probe::add_atom::value, std::int64_t{1}) == 42);
  CHECK(probe::initialize_runs == before + 1);
  env.restart();
  // Other init arguments are ignored: the actor exists.
  auto again = env.probe("a", 7);
  CHECK(value_of(env, again) == 42);
  CHECK(*env.call<std::int64_t>(again, probe::init_atom::value) == 41);
  CHECK(probe::initialize_runs == before + 1);
}

TEST_CASE("on_initialize's result is persisted even when no message changes the state") {
  host_env env;
  auto h = env.probe("fresh", 5);
  CHECK(value_of(env, h) == 5);  // read-only message
  env.restart();
  int before = probe::initialize_runs;
  CHECK(value_of(env, env.probe("fresh", 99)) == 5);
  CHECK(probe::initialize_runs == before);
}

TEST_CASE("a message that changes nothing writes nothing") {
  host_env env;
  auto h = env.probe("a");
  CHECK(*env.call<std::int64_t>(h, probe::add_atom::value, std::int64_t{3}) == 3);
  auto units = env.rt->stats().units;
  for (int i = 0; i < 5; ++i) CHECK(value_of(env, h) == 3);
  CHECK(*env.call<std::int64_t>(h, probe::add_atom::value, std::int64_t{0}) == 3);  // same bytes
  CHECK(env.rt->stats().units == units);
  CHECK(*env.call<std::int64_t>(h, probe::add_atom::value, std::int64_t{1}) == 4);
  CHECK(env.rt->stats().units == units + 1);
}

TEST_CASE("a failing handler commits nothing and the actor stays alive") {
  host_env env;
  auto h = env.probe("a");
  REQUIRE(env.call<std::int64_t>(h, probe::add_atom::value, std::int64_t{10}));
  auto units = env.rt->stats().units;

  SUBCASE("returned error") {
    auto r = env.call<std::int64_t>(h, probe::fail_atom::value, std::int64_t{5}, std::string("x"));
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == ark::errc::invalid_argument);
    CHECK(r.error().context() == "refused on purpose");
    // Its KV write was discarded too.
    auto kv = env.call<std::string>(h, probe::get_kv_atom::value, std::string("x"));
    REQUIRE_FALSE(kv);
    CHECK(kv.error().code() == ark::errc::not_found);
  }
  SUBCASE("thrown exception") {
    auto r = env.call<std::int64_t>(h, probe::throw_atom::value, std::int64_t{5});
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == ark::errc::handler_failed);
    CHECK(r.error().context().find("thrown on purpose") != std::string::npos);
  }
  CHECK(value_of(env, h) == 10);
  CHECK(env.rt->stats().units == units);
  env.restart();
  CHECK(value_of(env, env.probe("a")) == 10);
}

TEST_CASE("save_state commits mid-handler: a later failure rolls back only to it") {
  host_env env;
  auto h = env.probe("a");
  auto r = env.call<std::int64_t>(h, probe::save_throw_atom::value, std::int64_t{7});
  REQUIRE_FALSE(r);
  CHECK(value_of(env, h) == 7);  // not 1007, not 0
  env.restart();
  CHECK(value_of(env, env.probe("a")) == 7);
}

TEST_CASE("kv reads see the message's own writes and earlier uncommitted ones") {
  host_env env;
  auto h = env.probe("a");
  CHECK(*env.call<bool>(h, probe::put_kv_atom::value, std::string("b"), std::string("2")));
  ark::testing::pause_commits(*env.rt);
  // Not durable yet: the actor still reads its own earlier writes.
  auto put_a = std::async(std::launch::async, [&] {
    return env.call<bool>(h, probe::put_kv_atom::value, std::string("a"), std::string("1"));
  });
  auto del_b = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(50ms);
    return env.call<bool>(h, probe::del_kv_atom::value, std::string("b"));
  });
  auto listed = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(100ms);
    return env.call<std::vector<std::string>>(h, probe::list_kv_atom::value);
  });
  CHECK(listed.wait_for(300ms) == std::future_status::timeout);  // gated
  ark::testing::resume_commits(*env.rt);
  CHECK(*put_a.get());
  CHECK(*del_b.get());
  CHECK(*listed.get() == std::vector<std::string>{"a"});
  env.restart();
  auto again = env.probe("a");
  CHECK(*env.call<std::vector<std::string>>(again, probe::list_kv_atom::value) ==
        std::vector<std::string>{"a"});
}

TEST_CASE("each actor's kv and state are its own") {
  host_env env;
  auto a = env.probe("a");
  auto b = env.probe("b");
  CHECK(*env.call<bool>(a, probe::put_kv_atom::value, std::string("k"), std::string("from-a")));
  auto from_b = env.call<std::string>(b, probe::get_kv_atom::value, std::string("k"));
  REQUIRE_FALSE(from_b);
  CHECK(from_b.error().code() == ark::errc::not_found);
  CHECK(*env.call<std::int64_t>(a, probe::add_atom::value, std::int64_t{1}) == 1);
  CHECK(value_of(env, b) == 0);
}

TEST_CASE("output gate: no reply before the commit is durable, then in order") {
  host_env env;
  auto h = env.probe("a");
  REQUIRE(value_of(env, h) == 0);
  ark::testing::pause_commits(*env.rt);
  auto first = std::async(std::launch::async, [&] {
    return env.call<std::int64_t>(h, probe::add_atom::value, std::int64_t{1});
  });
  CHECK(first.wait_for(300ms) == std::future_status::timeout);
  // A read-only message after it must not reveal the uncommitted value.
  auto read = std::async(std::launch::async,
                         [&] { return env.call<std::int64_t>(h, probe::get_atom::value); });
  CHECK(read.wait_for(200ms) == std::future_status::timeout);
  ark::testing::resume_commits(*env.rt);
  CHECK(*first.get() == 1);
  CHECK(*read.get() == 1);
}

TEST_CASE("output gate: a send leaves only after the sender's change is durable") {
  host_env env;
  auto a = env.probe("a");
  auto b = env.probe("b");
  REQUIRE(value_of(env, a) == 0);
  REQUIRE(value_of(env, b) == 0);
  ark::testing::pause_commits(*env.rt);
  auto fwd = std::async(std::launch::async, [&] {
    return env.call<std::int64_t>(a, probe::forward_atom::value, std::string("b"), std::int64_t{5});
  });
  std::this_thread::sleep_for(300ms);
  // b has nothing pending, so it answers at once: it has not seen the add.
  CHECK(value_of(env, b) == 0);
  ark::testing::resume_commits(*env.rt);
  CHECK(*fwd.get() == 1);
  for (int i = 0; i < 100 && value_of(env, b) != 5; ++i) std::this_thread::sleep_for(10ms);
  CHECK(value_of(env, b) == 5);
}

TEST_CASE("request/response chains between actors, and their callbacks are persisted") {
  host_env env;
  auto a = env.probe("a");
  auto b = env.probe("b", 100);
  CHECK(*env.call<std::int64_t>(a, probe::relay_atom::value, std::string("b"), std::int64_t{5}) ==
        105);
  CHECK(value_of(env, a) == 1);
  env.restart();
  CHECK(value_of(env, env.probe("a")) == 1);
  CHECK(value_of(env, env.probe("b")) == 105);
}

TEST_CASE("snapshots of one actor coalesce inside a group commit") {
  host_env env;
  auto h = env.probe("a");
  REQUIRE(value_of(env, h) == 0);
  auto before = env.rt->stats();
  ark::testing::pause_commits(*env.rt);
  std::vector<std::future<ark::expected<std::int64_t>>> replies;
  for (int i = 0; i < 50; ++i)
    replies.push_back(std::async(std::launch::async, [&] {
      return env.call<std::int64_t>(h, probe::add_atom::value, std::int64_t{1});
    }));
  // Let all 50 units queue up behind the paused writer.
  std::this_thread::sleep_for(500ms);
  ark::testing::resume_commits(*env.rt);
  std::vector<std::int64_t> got;
  for (auto& r : replies) got.push_back(*r.get());
  std::sort(got.begin(), got.end());
  CHECK(got.front() == 1);
  CHECK(got.back() == 50);
  auto after = env.rt->stats();
  CHECK(after.units - before.units >= 50);
  // 50 units of one actor in (almost) one batch: far fewer snapshot writes.
  CHECK(after.snapshots_written - before.snapshots_written < 10);
  CHECK(after.commits - before.commits < 10);
}

TEST_CASE("concurrent first calls activate one actor") {
  host_env env;
  std::vector<std::future<probe_if>> handles;
  for (int i = 0; i < 8; ++i)
    handles.push_back(std::async(std::launch::async, [&] { return env.probe("same"); }));
  std::set<caf::actor_addr> addrs;
  for (auto& h : handles) addrs.insert(h.get().address());
  CHECK(addrs.size() == 1);
}

TEST_CASE("unknown types, wrong interfaces and bad keys are clear errors") {
  host_env env;
  auto unknown = env.rt->get_or_create<probe_if>("no-such-type", "a");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().code() == ark::errc::unknown_actor_type);
  CHECK(unknown.error().message().find("probe") != std::string::npos);  // lists what exists
  auto wrong = env.rt->get_or_create<probe::other_if>("probe", "a");
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().code() == ark::errc::wrong_interface);
  auto big = env.rt->get_or_create<probe_if>("probe", std::string(600, 'x'));
  REQUIRE_FALSE(big);
  CHECK(big.error().code() == ark::errc::key_too_large);
  auto bad_args = env.rt->get_or_create<probe_if>("probe", "args", std::string("not an int"));
  REQUIRE(bad_args);  // activation is lazy: the first message reports it
  auto r = env.call<std::int64_t>(*bad_args, probe::get_atom::value);
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == ark::errc::bad_init_args);
  // Nothing was persisted; a correct call creates it.
  CHECK(value_of(env, env.probe("args", 3)) == 3);
}

TEST_CASE("a message outside the interface gets wrong_interface, the actor lives on") {
  host_env env;
  auto h = env.probe("a");
  auto untyped = caf::actor_cast<caf::actor>(h);
  caf::scoped_actor self{*env.sys};
  ark::error got;
  self->request(untyped, 10s, std::string("garbage"), 42)
      .receive([](const caf::message&) {}, [&](caf::error& e) { got = ark::from_caf(e); });
  CHECK(got.code() == ark::errc::wrong_interface);
  CHECK(value_of(env, h) == 0);
}

namespace {
std::string inspect(host_env& env, const probe_if& h) {
  caf::scoped_actor self{*env.sys};
  std::string json;
  self->request(caf::actor_cast<caf::actor>(h), 10s, ark::inspect_atom::value)
      .receive([&](const std::string& s) { json = s; }, [](caf::error&) {});
  // The reply is {"state": <inspect_state()>, "last_commit_ms": ...}.
  auto doc = nlohmann::json::parse(json, nullptr, false);
  REQUIRE_MESSAGE(doc.is_object(), json);
  CHECK((doc["last_commit_ms"].is_null() || doc["last_commit_ms"].get<std::int64_t>() > 0));
  return doc["state"].dump();
}
}  // namespace

TEST_CASE("inspect_state shows the state as JSON with field names, or a custom view") {
  host_env env;
  CHECK(inspect(env, env.probe("a", 2)) == R"({"forwarded":0,"init_arg":2,"value":2})");
  auto v = env.rt->get_or_create<probe_if>("viewed", "a", std::int64_t{4});
  REQUIRE(v);
  CHECK(inspect(env, *v) == R"({"shown":40})");
}

TEST_CASE("idle actors are passivated and reactivate from their snapshot") {
  host_env env(50ms);
  {
    auto h = env.probe("sleepy");
    CHECK(*env.call<std::int64_t>(h, probe::add_atom::value, std::int64_t{9}) == 9);
  }  // the only handle outside the host is gone
  for (int i = 0; i < 200 && env.rt->stats().active_actors > 0; ++i)
    std::this_thread::sleep_for(10ms);
  CHECK(env.rt->stats().active_actors == 0);
  int before = probe::initialize_runs;
  auto h = env.probe("sleepy");
  CHECK(value_of(env, h) == 9);
  CHECK(probe::initialize_runs == before);
  // A held handle keeps the actor addressable; its state is reloaded.
  std::this_thread::sleep_for(200ms);
  CHECK(*env.call<std::int64_t>(h, probe::add_atom::value, std::int64_t{1}) == 10);
}

TEST_CASE("a second runtime on the same data directory is refused") {
  host_env env;
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto second = ark::runtime::open(sys, env.opts);
  REQUIRE_FALSE(second);
  CHECK(second.error().code() == ark::errc::locked);
  // The first is unharmed.
  CHECK(*env.call<std::int64_t>(env.probe("a"), probe::add_atom::value, std::int64_t{1}) == 1);
}

TEST_CASE("durability modes relaxed and none persist across a clean restart") {
  for (auto mode : {ark::kv::durability::relaxed, ark::kv::durability::none}) {
    host_env env;
    env.opts.storage.mode = mode;
    env.restart();
    CHECK(*env.call<std::int64_t>(env.probe("a"), probe::add_atom::value, std::int64_t{2}) == 2);
    env.restart();
    CHECK(value_of(env, env.probe("a")) == 2);
  }
}

TEST_CASE("a handler that fails after make_promise answers with the error at once") {
  host_env env;
  auto h = env.probe("a");
  auto t0 = std::chrono::steady_clock::now();
  auto r = env.call<std::int64_t>(h, probe::promise_throw_atom::value);
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == ark::errc::handler_failed);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);  // not the 10 s call timeout
  CHECK(value_of(env, h) == 0);
}

TEST_CASE("a request callback that throws is rolled back and its error handler runs") {
  host_env env;
  auto a = env.probe("a");
  auto r = env.call<std::int64_t>(a, probe::relay_throw_atom::value, std::string("b"));
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == ark::errc::handler_failed);
  CHECK(r.error().context().find("thrown in a request callback") != std::string::npos);
  CHECK(value_of(env, a) == 0);
  CHECK(value_of(env, env.probe("b")) == 1);  // b's add happened
}

TEST_CASE("shutdown waits for replies that depend on requests in flight") {
  host_env env;
  auto a = env.probe("a");
  REQUIRE(value_of(env, env.probe("b", 7)) == 7);
  auto reply = std::async(std::launch::async, [&] {
    return env.call<std::int64_t>(a, probe::relay_slow_atom::value, std::string("b"),
                                  std::int64_t{500});
  });
  std::this_thread::sleep_for(100ms);
  auto t0 = std::chrono::steady_clock::now();
  CHECK(env.rt->shutdown());  // everyone settled in time
  auto r = reply.get();
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
  CHECK(*r == 7);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
}

TEST_CASE("a shutdown that times out names the actors still busy, and teardown stays safe") {
  std::vector<std::string> lines;
  std::mutex lines_mtx;
  host_env env;
  env.opts.log = [&](const std::string& line) {
    std::lock_guard<std::mutex> guard{lines_mtx};
    lines.push_back(line);
  };
  env.restart();  // with the capturing log
  auto a = env.probe("a");
  REQUIRE(value_of(env, env.probe("b", 7)) == 7);
  auto reply = std::async(std::launch::async, [&] {
    return env.call<std::int64_t>(a, probe::relay_slow_atom::value, std::string("b"),
                                  std::int64_t{1500});
  });
  std::this_thread::sleep_for(100ms);
  CHECK_FALSE(env.rt->shutdown(200ms));  // b sleeps 1.5 s in a handler: a waits for it
  {
    std::lock_guard<std::mutex> guard{lines_mtx};
    std::string all;
    for (const auto& l : lines) all += l + "\n";
    INFO(all);
    CHECK(all.find("did not stop within 200 ms") != std::string::npos);
    CHECK(all.find("probe [\"a\"]") != std::string::npos);
  }
  // The late reply finds the runtime stopped: the caller gets an answer or an
  // error, and destroying the actor system afterwards must not crash.
  (void)reply.get();
  env.stop();
}

TEST_CASE("the activation cap passivates the oldest activations") {
  host_env env;
  env.opts.max_active = 10;
  env.restart();
  for (int i = 0; i < 100; ++i) {
    auto h = env.probe("capped-" + std::to_string(i));
    REQUIRE(*env.call<std::int64_t>(h, probe::add_atom::value, std::int64_t{i}) == i);
  }
  for (int i = 0; i < 300 && env.rt->stats().active_actors > 12; ++i)
    std::this_thread::sleep_for(10ms);
  CHECK(env.rt->stats().active_actors <= 12);
  // Passivated actors come back with their state.
  CHECK(value_of(env, env.probe("capped-3")) == 3);
  CHECK(value_of(env, env.probe("capped-97")) == 97);
}
