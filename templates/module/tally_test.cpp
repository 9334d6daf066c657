// The tally actor class in an ark::testing::world: the real runtime over
// memory storage, in process, no host and no disk.

#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <ark/testing.hpp>

#include "tally.hpp"

using tally::tally_if;

namespace {

// value_of(x): x's value; a test case fails with x's error when there is none.
using ark::testing::value_of;

struct tally_world : ark::testing::world {
  tally_if tally(const std::string& key) { return value_of(get_or_create<tally_if>("tally", key)); }
  ark::expected<std::int64_t> add(const tally_if& h, const std::string& item, std::int64_t n) {
    return call<std::int64_t>(h, tally::add_atom::value, item, n);
  }
  ark::expected<std::int64_t> count(const tally_if& h, const std::string& item) {
    return call<std::int64_t>(h, tally::count_atom::value, item);
  }
  ark::expected<std::int64_t> total(const tally_if& h) {
    return call<std::int64_t>(h, tally::total_atom::value);
  }
};

}  // namespace

TEST_CASE("tally: counts votes per item and in total") {
  tally_world w;
  auto lunch = w.tally("lunch");
  CHECK(value_of(w.add(lunch, "pizza", 2)) == 2);
  CHECK(value_of(w.add(lunch, "soup", 1)) == 1);
  CHECK(value_of(w.add(lunch, "pizza", 3)) == 5);
  CHECK(value_of(w.count(lunch, "pizza")) == 5);
  CHECK(value_of(w.count(lunch, "salad")) == 0);  // never voted for
  CHECK(value_of(w.total(lunch)) == 6);
  CHECK(value_of(w.total(w.tally("dinner"))) == 0);  // one actor per key
}

TEST_CASE("tally: a refused add changes nothing") {
  tally_world w;
  auto t = w.tally("t");
  REQUIRE(value_of(w.add(t, "a", 1)) == 1);
  auto r = w.add(t, "a", 0);
  REQUIRE_FALSE(r);
  CHECK(r.error() == ark::errc::invalid_argument);
  CHECK(value_of(w.count(t, "a")) == 1);
  CHECK(value_of(w.total(t)) == 1);
}

TEST_CASE("tally: counts and total survive passivation and a host restart") {
  tally_world w;
  auto t = w.tally("t");
  REQUIRE(value_of(w.add(t, "a", 4)) == 4);
  REQUIRE(w.restart_actor("tally", "t"));  // reloaded from its snapshot and KV
  CHECK(value_of(w.count(t, "a")) == 4);
  w.restart();  // the host comes back over what was durable
  t = w.tally("t");
  CHECK(value_of(w.add(t, "a", 1)) == 5);
  CHECK(value_of(w.total(t)) == 5);
  // The durable snapshot, typed (stored_state_json: as ark-dash shows it).
  CHECK(value_of(w.stored_state<tally::tally_state>("tally", "t")).total == 5);
}
