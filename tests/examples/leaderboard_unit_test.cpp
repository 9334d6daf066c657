// The leaderboard example's actor class in an ark::testing::world: ranking,
// restarts, and idle passivation driven by the virtual clock.

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <ark/testing.hpp>

#include "leaderboard/leaderboard.hpp"

using namespace std::chrono_literals;
using ark::testing::value_of;
using leaderboard::leaderboard_if;

namespace {

using lines = std::vector<std::string>;

struct board_world : ark::testing::world {
  using world::world;
  leaderboard_if board(const std::string& name) {
    return value_of(get_or_create<leaderboard_if>("leaderboard", name));
  }
  ark::expected<std::int64_t> submit(const leaderboard_if& h, const std::string& player,
                                     std::int64_t points) {
    return call<std::int64_t>(h, leaderboard::submit_atom::value, player, points);
  }
  lines top(const leaderboard_if& h, std::int64_t n) {
    return value_of(call<lines>(h, leaderboard::top_atom::value, n));
  }
  ark::expected<std::int64_t> score(const leaderboard_if& h, const std::string& player) {
    return call<std::int64_t>(h, leaderboard::score_atom::value, player);
  }
  std::int64_t stored_players(const std::string& name) {
    return value_of(stored_state_json("leaderboard", name))
        .at("state")
        .at("players")
        .get<std::int64_t>();
  }
  // A passivated actor is gone from the runtime's count once it finished
  // terminating, a moment (of real time) after advance() returned.
  bool active_actors_become(std::uint64_t n) {
    for (int i = 0; i < 500; ++i) {
      if (runtime().stats().active_actors == n) return true;
      std::this_thread::sleep_for(2ms);
    }
    return false;
  }
};

// Four players, two of them tied.
void fill(board_world& w, const leaderboard_if& b) {
  REQUIRE(value_of(w.submit(b, "alice", 120)) == 120);
  REQUIRE(value_of(w.submit(b, "bob", 90)) == 90);
  REQUIRE(value_of(w.submit(b, "carol", 120)) == 120);
  REQUIRE(value_of(w.submit(b, "dave", 50)) == 50);
}

const lines filled_top = {"1. alice 120", "1. carol 120", "3. bob 90", "4. dave 50"};

}  // namespace

TEST_CASE("leaderboard: top lists the best first, ties share a rank, a player appears once") {
  board_world w;
  auto b = w.board("weekly");
  fill(w, b);
  CHECK(w.top(b, 10) == filled_top);
  CHECK(w.top(b, 2) == lines{"1. alice 120", "1. carol 120"});
  CHECK(value_of(w.submit(b, "alice", 100)) == 120);  // no improvement: the best stays
  CHECK(value_of(w.submit(b, "bob", 130)) == 130);    // moves bob up, out of his old place
  CHECK(w.top(b, 10) == lines{"1. bob 130", "2. alice 120", "2. carol 120", "4. dave 50"});
  CHECK(value_of(w.score(b, "bob")) == 130);
  auto unknown = w.score(b, "erin");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error() == ark::errc::not_found);
  auto negative = w.submit(b, "erin", -1);
  REQUIRE_FALSE(negative);
  CHECK(negative.error() == ark::errc::invalid_argument);
  CHECK(w.stored_players("weekly") == 4);
}

TEST_CASE("leaderboard: the ranking survives restart_actor and a world restart") {
  board_world w;
  auto b = w.board("weekly");
  fill(w, b);
  REQUIRE(w.restart_actor("leaderboard", "weekly"));
  CHECK(w.top(b, 10) == filled_top);
  CHECK(value_of(w.submit(b, "dave", 200)) == 200);
  w.restart();
  b = w.board("weekly");
  CHECK(w.top(b, 10) == lines{"1. dave 200", "2. alice 120", "2. carol 120", "4. bob 90"});
  CHECK(value_of(w.score(b, "dave")) == 200);
  CHECK(w.stored_players("weekly") == 4);
}

TEST_CASE("leaderboard: an idle board passivates in virtual time and comes back with its data") {
  ark::testing::world_options o;
  o.idle_timeout = 10min;
  board_world w{o};
  // The test lets go of its handles: an actor someone holds a handle to
  // stays, and only drops its state from memory.
  auto activation = [&] { return w.board("weekly").id(); };
  auto first = activation();
  fill(w, w.board("weekly"));
  REQUIRE(w.advance(9min));
  CHECK(activation() == first);  // not idle for long enough yet: the same activation
  REQUIRE(w.advance(2min));
  CHECK(w.active_actors_become(0));
  auto second = activation();  // a new activation, from storage
  CHECK(second != first);
  {
    auto b = w.board("weekly");
    CHECK(w.top(b, 10) == filled_top);
    CHECK(value_of(w.submit(b, "erin", 10)) == 10);
  }
  CHECK(w.stored_players("weekly") == 5);  // the players counter came back from the snapshot
  REQUIRE(w.advance(9min));
  CHECK(value_of(w.score(w.board("weekly"), "erin")) == 10);  // a message restarts the idle time
  REQUIRE(w.advance(9min));
  CHECK(activation() == second);
  REQUIRE(w.advance(2min));
  CHECK(w.active_actors_become(0));
}

TEST_CASE("standing ranks a player among the board's players, tied players sharing a rank") {
  board_world w;
  auto b = w.board("weekly");
  REQUIRE(w.submit(b, "alice", 50));
  REQUIRE(w.submit(b, "bob", 80));
  REQUIRE(w.submit(b, "carol", 50));
  REQUIRE(w.submit(b, "dan", 10));
  auto standing_of = [&](const std::string& p) {
    return w.call<leaderboard::standing>(b, leaderboard::standing_atom::value, p);
  };
  CHECK(value_of(standing_of("bob")) == leaderboard::standing{"bob", 80, 1, 4});
  CHECK(value_of(standing_of("alice")) == leaderboard::standing{"alice", 50, 2, 4});
  CHECK(value_of(standing_of("carol")) == leaderboard::standing{"carol", 50, 2, 4});
  CHECK(value_of(standing_of("dan")) == leaderboard::standing{"dan", 10, 4, 4});
  CHECK(standing_of("zed").error() == ark::errc::not_found);
}
