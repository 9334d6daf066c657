// The activation lifecycle: on_activate on every load of the state, request
// callbacks after a rolled-back message, promises of an actor whose creation
// failed to commit (ark::testing::world).

#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include <ark/testing.hpp>

#include "actors/lifecycle_actor.hpp"

ARK_ACTOR("life", life::life_actor);

namespace {

using namespace std::chrono_literals;
using ark::testing::crash_point;
using ark::testing::world;
using life::life_if;

template <class T>
T must(ark::expected<T> x) {
  REQUIRE_MESSAGE(x.has_value(), (x ? std::string() : x.error().message()));
  return std::move(*x);
}

std::int64_t activations(world& w, const life_if& h) {
  return must(w.call<std::int64_t>(h, life::activations_atom::value));
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The request callbacks actor `key` ran, once the world settled (a callback
// is a message of the actor, after the reply the test waited for).
std::vector<life::callback_seen> callbacks_once_idle(world& w, const std::string& key) {
  REQUIRE(w.wait_until_idle());
  return life::callbacks_of(key);
}

}  // namespace

TEST_CASE("on_activate runs again when an actor reloads its state for a handle that stayed alive") {
  world w;
  auto h = must(w.get_or_create<life_if>("life", "a"));
  CHECK(activations(w, h) == 1);
  // The test holds `h`: the actor stays addressable, its state leaves memory
  // and the next message reloads it.
  REQUIRE(w.restart_actor("life", "a"));
  CHECK(activations(w, h) == 2);
  REQUIRE(w.restart_actor("life", "a"));
  CHECK(must(w.call<std::int64_t>(h, life::add_atom::value, std::int64_t{4})) == 4);
  CHECK(activations(w, h) == 3);
}

TEST_CASE("on_activate's changes after a reload commit on their own, before the first reply") {
  world w;
  auto h = must(w.get_or_create<life_if>("life", "a"));
  CHECK(activations(w, h) == 1);
  REQUIRE(w.restart_actor("life", "a"));
  auto before = w.commits();
  // A read-only message: the only commit is on_activate's, and the reply
  // left once it was durable.
  CHECK(must(w.call<std::int64_t>(h, life::value_atom::value)) == 0);
  CHECK(w.commits() - before == 1);
  CHECK(must(w.stored_state_json("life", "a")).at("state").at("activations") == 2);
}

TEST_CASE("the first reply after a reload waits for on_activate's commit: a crash there fails it") {
  world w;
  auto h = must(w.get_or_create<life_if>("life", "a"));
  CHECK(must(w.call<std::int64_t>(h, life::add_atom::value, std::int64_t{7})) == 7);
  REQUIRE(w.restart_actor("life", "a"));
  w.crash_at_commit(crash_point::before_commit, 1);
  auto r = w.call<std::int64_t>(h, life::value_atom::value);
  CHECK_FALSE(r);
  CHECK(w.crashed());
  w.restart();
  h = must(w.get_or_create<life_if>("life", "a"));
  // The reload's on_activate was lost with the crash; this activation's counts.
  CHECK(activations(w, h) == 2);
  CHECK(must(w.call<std::int64_t>(h, life::value_atom::value)) == 7);
}

TEST_CASE("a request whose message's commit failed never leaves: its error callback gets rolled_back") {
  world w;
  auto a = must(w.get_or_create<life_if>("life", "a"));
  auto b = must(w.get_or_create<life_if>("life", "b"));
  CHECK(must(w.call<std::int64_t>(a, life::add_atom::value, std::int64_t{5})) == 5);
  CHECK(must(w.call<std::int64_t>(b, life::value_atom::value)) == 0);
  w.crash_at_commit(crash_point::before_commit, 1);
  CHECK_FALSE(w.call<std::int64_t>(a, life::ask_atom::value, std::string("b"), std::int64_t{10}));
  auto seen = callbacks_once_idle(w, "a");
  REQUIRE(seen.size() == 1);
  CHECK_FALSE(seen[0].ok);
  CHECK(ark::to_string(seen[0].error.code()) == "rolled_back");
  CHECK_MESSAGE(contains(seen[0].error.context(),
                         "the request was not sent: the message that made it was rolled back "
                         "(its commit failed: "),
                seen[0].error.message());
  // The callback ran with state() back at the last durable snapshot.
  CHECK(seen[0].state_value == 5);
  // b never got the request (a read needs no commit).
  CHECK(must(w.call<std::int64_t>(b, life::value_atom::value)) == 0);
}

TEST_CASE("a request whose handler failed never leaves: its error callback gets rolled_back") {
  world w;
  auto a = must(w.get_or_create<life_if>("life", "c"));
  auto b = must(w.get_or_create<life_if>("life", "d"));
  CHECK(must(w.call<std::int64_t>(a, life::add_atom::value, std::int64_t{5})) == 5);
  auto r = w.call<std::int64_t>(a, life::ask_throw_atom::value, std::string("d"), std::int64_t{10});
  REQUIRE_FALSE(r);
  CHECK(r.error() == ark::errc::handler_failed);
  auto seen = callbacks_once_idle(w, "c");
  REQUIRE(seen.size() == 1);
  CHECK_FALSE(seen[0].ok);
  CHECK(ark::to_string(seen[0].error.code()) == "rolled_back");
  CHECK_MESSAGE(contains(seen[0].error.context(), "(handler_failed: "), seen[0].error.message());
  CHECK_MESSAGE(contains(seen[0].error.context(), "thrown after the request"),
                seen[0].error.message());
  CHECK(seen[0].state_value == 5);
  CHECK(must(w.call<std::int64_t>(b, life::value_atom::value)) == 0);
  CHECK(must(w.call<std::int64_t>(a, life::value_atom::value)) == 5);
}

TEST_CASE("a promise of a fresh actor whose creation commit fails is answered with the error") {
  // The handler returns a promise that its request's callback would deliver;
  // the creation commit fails around it. Racy by nature (does the handler
  // run before the actor learns of the failure?): repeated.
  ark::testing::world_options o;
  o.call_timeout = 3s;
  world w(o);
  auto peer = must(w.get_or_create<life_if>("life", "peer"));
  CHECK(must(w.call<std::int64_t>(peer, life::value_atom::value)) == 0);
  for (int i = 0; i < 12; ++i) {
    CAPTURE(i);
    w.crash_at_commit(crash_point::before_commit, 1);
    // Straight from the runtime: no wait for the creation to be durable.
    auto h = w.runtime().get_or_create<life_if>("life", "fresh" + std::to_string(i));
    REQUIRE(h);
    auto t0 = std::chrono::steady_clock::now();
    auto r = w.call<std::int64_t>(*h, life::relay_atom::value, std::string("peer"));
    auto took = std::chrono::steady_clock::now() - t0;
    REQUIRE_FALSE(r);
    REQUIRE_MESSAGE(r.error() == ark::errc::commit_failed, r.error().message());
    CHECK(took < 2s);
    w.restart();
  }
}

TEST_CASE("world get returns once a new actor's creation is durable") {
  world w;
  for (int i = 0; i < 10; ++i) {
    CAPTURE(i);
    auto key = "new" + std::to_string(i);
    auto h = must(w.get_or_create<life_if>("life", key));
    CHECK(w.stored_state_json("life", key));  // durable already
    // So a crash armed now hits the message's commit, not the creation's.
    w.crash_at_commit(crash_point::before_commit, 1);
    CHECK_FALSE(w.call<std::int64_t>(h, life::add_atom::value, std::int64_t{5}));
    w.restart();
    h = must(w.get_or_create<life_if>("life", key));
    CHECK(must(w.call<std::int64_t>(h, life::value_atom::value)) == 0);
    CHECK(activations(w, h) == 2);  // the creation's activation, this one
  }
}

TEST_CASE("world stored_state decodes the durable snapshot into the state type") {
  world w;
  auto h = must(w.get_or_create<life_if>("life", "typed"));
  CHECK(must(w.call<std::int64_t>(h, life::add_atom::value, std::int64_t{9})) == 9);
  auto st = must(w.stored_state<life::life_state>("life", "typed"));
  CHECK(st.value == 9);
  CHECK(st.activations == 1);
  // The dashboard's document stays available.
  CHECK(must(w.stored_state_json("life", "typed")).at("state").at("value") == 9);
  CHECK(w.stored_state<life::life_state>("life", "nobody").error() == ark::errc::not_found);
  // A type the state does not convert into.
  CHECK_FALSE(w.stored_state<std::string>("life", "typed"));
}

TEST_CASE("world wait_until_idle returns once the actors finished their own work") {
  world w;
  auto a = must(w.get_or_create<life_if>("life", "idle-a"));
  must(w.get_or_create<life_if>("life", "idle-b"));
  // ask replies at once; the request to idle-b and its callback follow on
  // their own.
  for (int i = 0; i < 5; ++i)
    CHECK(must(w.call<std::int64_t>(a, life::ask_atom::value, std::string("idle-b"),
                                    std::int64_t{1})) == i + 1);
  REQUIRE(w.wait_until_idle());
  auto seen = life::callbacks_of("idle-a");
  CHECK(seen.size() == 5);
  CHECK(must(w.stored_state<life::life_state>("life", "idle-b")).value == 5);
}

TEST_CASE("value_of returns the value or throws no_value naming the error") {
  CHECK(ark::testing::value_of(ark::expected<int>(7)) == 7);
  CHECK_THROWS_WITH_AS(
      ark::testing::value_of(ark::expected<int>(ark::error{ark::errc::not_found, "nothing here"})),
      doctest::Contains("not_found: nothing here"), ark::testing::no_value);
  CHECK_NOTHROW(ark::testing::value_of(ark::expected<void>()));
}
