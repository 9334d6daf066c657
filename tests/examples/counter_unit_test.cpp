// The counter example's actor class in an ark::testing::world: memory
// storage, restarts and injected crashes, no host process.

#include <doctest/doctest.h>

#include <ark/testing.hpp>

#include "counter/counter.hpp"

using ark::testing::crash_point;
using ark::testing::value_of;
using counter::counter_if;

namespace {

// A world with the counter's messages as functions.
struct counter_world : ark::testing::world {
  counter_if counter(const std::string& key) {
    return value_of(get_or_create<counter_if>("counter", key));
  }
  ark::expected<std::int64_t> add(const counter_if& h, std::int64_t n) {
    return call<std::int64_t>(h, counter::add_atom::value, n);
  }
  ark::expected<std::int64_t> value(const counter_if& h) {
    return call<std::int64_t>(h, counter::get_atom::value);
  }
  // The value in the durable snapshot, as ark-dash shows it.
  std::int64_t stored_value(const std::string& key) {
    return value_of(stored_state_json("counter", key)).at("state").at("value").get<std::int64_t>();
  }
};

}  // namespace

TEST_CASE("counter: add, get and reset, one actor per key") {
  counter_world w;
  auto a = w.counter("a");
  CHECK(value_of(w.add(a, 5)) == 5);
  CHECK(value_of(w.add(a, -2)) == 3);
  CHECK(value_of(w.value(a)) == 3);
  auto b = w.counter("b");
  CHECK(value_of(w.add(b, 1)) == 1);
  CHECK(value_of(w.call<std::int64_t>(a, counter::reset_atom::value)) == 0);
  CHECK(value_of(w.value(a)) == 0);
  CHECK(value_of(w.value(b)) == 1);
  CHECK(w.stored_value("a") == 0);
  CHECK(w.stored_value("b") == 1);
}

TEST_CASE("counter: takes no initial value: a creation with one is refused and creates nothing") {
  counter_world w;
  // The activation runs on_initialize; its error answers the first message.
  auto h = value_of(w.get_or_create<counter_if>("counter", "a", std::int64_t{7}));
  auto r = w.value(h);
  REQUIRE_FALSE(r);
  CHECK(r.error() == ark::errc::bad_init_args);
  CHECK(w.stored_state_json("counter", "a").error() == ark::errc::not_found);
  CHECK(value_of(w.value(w.counter("a"))) == 0);  // the next get_or_create starts afresh
}

TEST_CASE("counter: get reads only a counter that exists, create makes only a new one") {
  counter_world w;
  CHECK(w.get<counter_if>("counter", "a").error() == ark::errc::not_found);
  CHECK(w.stored_state_json("counter", "a").error() == ark::errc::not_found);  // nothing created
  auto a = value_of(w.create<counter_if>("counter", "a"));
  CHECK(value_of(w.add(a, 2)) == 2);
  CHECK(w.create<counter_if>("counter", "a").error() == ark::errc::already_exists);
  w.restart();
  CHECK(value_of(w.value(value_of(w.get<counter_if>("counter", "a")))) == 2);
}

TEST_CASE("counter: the value survives restart_actor and a world restart") {
  counter_world w;
  auto a = w.counter("a");
  REQUIRE(value_of(w.add(a, 4)) == 4);
  REQUIRE(w.restart_actor("counter", "a"));  // state leaves memory: reloaded from the snapshot
  CHECK(value_of(w.value(a)) == 4);          // the handle stays valid
  CHECK(value_of(w.add(a, 1)) == 5);
  w.restart();  // the host comes back over what was durable
  a = w.counter("a");
  CHECK(value_of(w.value(a)) == 5);
  CHECK(value_of(w.add(a, 10)) == 15);
  CHECK(w.stored_value("a") == 15);
}

TEST_CASE("counter: a crash before a commit loses exactly the unacknowledged add") {
  counter_world w;
  auto a = w.counter("a");
  REQUIRE(value_of(w.add(a, 1)) == 1);  // the actor's creation is durable: not counted below
  w.crash_at_commit(crash_point::before_commit, 3);
  CHECK(value_of(w.add(a, 10)) == 11);
  CHECK(value_of(w.add(a, 100)) == 111);
  auto lost = w.add(a, 1000);  // the third commit: the host dies before it is durable
  REQUIRE_FALSE(lost);
  CHECK(w.crashed());
  CHECK_FALSE(w.add(a, 5));  // a dead host acknowledges nothing
  w.restart();
  CHECK_FALSE(w.crashed());
  a = w.counter("a");
  CHECK(value_of(w.value(a)) == 111);  // both acknowledged adds, not the lost one
  CHECK(value_of(w.add(a, 1)) == 112);
}

TEST_CASE("counter: a crash after a commit keeps the add though its caller saw an error") {
  counter_world w;
  auto a = w.counter("a");
  REQUIRE(value_of(w.add(a, 1)) == 1);
  auto before = w.commits();
  w.crash_at_commit(crash_point::after_commit);
  CHECK_FALSE(w.add(a, 10));  // durable, but the reply never left
  CHECK(w.crashed());
  CHECK(w.commits() == before + 1);
  w.restart();
  a = w.counter("a");
  CHECK(value_of(w.value(a)) == 11);  // at-least-once: a retrying caller would add it twice
}
