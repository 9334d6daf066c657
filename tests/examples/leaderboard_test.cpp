#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include <ark/client.hpp>

#include "leaderboard/leaderboard.hpp"
#include "support/host_process.hpp"
#include "support/remote_client.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

namespace {

const std::string leaderboard_module = std::string(ARK_MODULE_DIR) + "/libark_leaderboard.so";

using lines = std::vector<std::string>;

struct board_remote : ark::test::remote_client {
  using remote_client::remote_client;
  leaderboard::leaderboard_if board(const std::string& name) {
    return handle<leaderboard::leaderboard_if>("leaderboard", name);
  }
  ark::expected<std::int64_t> submit(const leaderboard::leaderboard_if& h,
                                     const std::string& player, std::int64_t points) {
    return ark::call<std::int64_t>(sys, h, 10s, leaderboard::submit_atom::value, player, points);
  }
  ark::expected<lines> top(const leaderboard::leaderboard_if& h, std::int64_t n) {
    return ark::call<lines>(sys, h, 10s, leaderboard::top_atom::value, n);
  }
  ark::expected<std::int64_t> score(const leaderboard::leaderboard_if& h,
                                    const std::string& player) {
    return ark::call<std::int64_t>(sys, h, 10s, leaderboard::score_atom::value, player);
  }
};

// The player of each "rank. player points" line.
std::vector<std::string> players_of(const lines& top) {
  std::vector<std::string> out;
  for (const auto& line : top) {
    auto a = line.find(' ');
    auto b = line.rfind(' ');
    out.push_back(line.substr(a + 1, b - a - 1));
  }
  return out;
}

}  // namespace

TEST_CASE("leaderboard: top N lists the best first and tied players share a rank") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {leaderboard_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  board_remote r(host.port());
  auto b = r.board("weekly");
  CHECK(*r.submit(b, "carol", 50) == 50);
  CHECK(*r.submit(b, "bob", 70) == 70);
  CHECK(*r.submit(b, "alice", 50) == 50);
  CHECK(*r.submit(b, "dave", 10) == 10);
  CHECK(*r.submit(b, "erin", 90) == 90);
  CHECK(*r.submit(b, "frank", 0) == 0);
  CHECK(*r.top(b, 3) == lines{"1. erin 90", "2. bob 70", "3. alice 50"});
  CHECK(*r.top(b, 100) ==
        lines{"1. erin 90", "2. bob 70", "3. alice 50", "3. carol 50", "5. dave 10", "6. frank 0"});
  CHECK(*r.score(b, "carol") == 50);
  auto unknown = r.score(b, "zed");
  REQUIRE(!unknown);
  CHECK(unknown.error() == ark::errc::not_found);
  CHECK(unknown.error().context().find("zed") != std::string::npos);
  // Another board is another actor.
  auto other = r.board("daily");
  CHECK(r.top(other, 10)->empty());
  CHECK(host.stop() == 0);
}

TEST_CASE("leaderboard: a lower resubmission keeps the best, a higher one moves the player") {
  ark::test::temp_dir dir;
  {
    ark::test::host_process host(dir.sub("data"), {leaderboard_module});
    REQUIRE_MESSAGE(host.start(), host.output());
    board_remote r(host.port());
    auto b = r.board("weekly");
    REQUIRE(r.submit(b, "alice", 50));
    REQUIRE(r.submit(b, "bob", 70));
    CHECK(*r.submit(b, "alice", 30) == 50);  // lower: the best stays
    CHECK(*r.submit(b, "alice", 50) == 50);  // equal: nothing changes
    CHECK(*r.score(b, "alice") == 50);
    CHECK(*r.top(b, 10) == lines{"1. bob 70", "2. alice 50"});
    CHECK(*r.submit(b, "alice", 100) == 100);  // higher: alice moves up
    CHECK(*r.score(b, "alice") == 100);
    CHECK(*r.top(b, 10) == lines{"1. alice 100", "2. bob 70"});
    // Many improvements leave one entry per player.
    const std::vector<std::string> players{"p0", "p1", "p2", "p3"};
    for (std::int64_t i = 0; i < 40; ++i) {
      auto& p = players[static_cast<std::size_t>(i) % players.size()];
      CHECK(*r.submit(b, p, i * 10) == i * 10);
    }
    auto top = *r.top(b, 100);
    CHECK(top ==
          lines{"1. p3 390", "2. p2 380", "3. p1 370", "4. p0 360", "5. alice 100", "6. bob 70"});
    auto names = players_of(top);
    CHECK(std::set<std::string>(names.begin(), names.end()).size() == names.size());
    CHECK(host.stop() == 0);
  }
  // The moves (new entry in, stale entry out) are durable.
  ark::test::host_process host(dir.sub("data"), {leaderboard_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  board_remote r(host.port());
  auto b = r.board("weekly");
  CHECK(*r.top(b, 100) ==
        lines{"1. p3 390", "2. p2 380", "3. p1 370", "4. p0 360", "5. alice 100", "6. bob 70"});
  CHECK(*r.submit(b, "bob", 400) == 400);
  host.kill();  // acknowledged before the kill: must survive it
  ark::test::host_process again(dir.sub("data"), {leaderboard_module});
  REQUIRE_MESSAGE(again.start(), again.output());
  board_remote r2(again.port());
  auto b2 = r2.board("weekly");
  CHECK(*r2.top(b2, 3) == lines{"1. bob 400", "2. p3 390", "3. p2 380"});
  CHECK(players_of(*r2.top(b2, 100)).size() == 6);
  CHECK(again.stop() == 0);
}

TEST_CASE("leaderboard: invalid input is refused with invalid_argument and changes nothing") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {leaderboard_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  board_remote r(host.port());
  auto b = r.board("weekly");
  REQUIRE(*r.submit(b, "alice", 50) == 50);
  auto refused = [](const auto& x) { return !x && x.error() == ark::errc::invalid_argument; };
  CHECK(refused(r.submit(b, "", 10)));
  CHECK(refused(r.submit(b, "bob", -1)));
  CHECK(refused(r.submit(b, "alice", -5)));
  CHECK(refused(r.submit(b, std::string(leaderboard::max_player_size + 1, 'x'), 10)));
  CHECK(refused(r.top(b, 0)));
  CHECK(refused(r.top(b, leaderboard::max_top + 1)));
  CHECK(*r.top(b, 10) == lines{"1. alice 50"});
  CHECK(*r.score(b, "alice") == 50);
  CHECK(!r.score(b, "bob"));
  CHECK(host.stop() == 0);
}

TEST_CASE("leaderboard-client submits and prints scores and the top N") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {leaderboard_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  std::string client =
      std::string(ARK_BIN_DIR) + "/leaderboard-client --port " + std::to_string(host.port());
  auto [rc, out] = ark::test::run_command(client + " submit weekly alice 50");
  CHECK(rc == 0);
  CHECK(out == "alice = 50\n");
  std::tie(rc, out) = ark::test::run_command(client + " submit weekly alice 20");
  CHECK(rc == 0);
  CHECK(out == "alice = 50\n");  // the best, not the lower resubmission
  std::tie(rc, out) = ark::test::run_command(client + " submit weekly bob 80");
  CHECK(out == "bob = 80\n");
  std::tie(rc, out) = ark::test::run_command(client + " top weekly");
  CHECK(rc == 0);
  CHECK(out == "1. bob 80\n2. alice 50\n");
  std::tie(rc, out) = ark::test::run_command(client + " top weekly --n 1");
  CHECK(rc == 0);
  CHECK(out == "1. bob 80\n");
  std::tie(rc, out) = ark::test::run_command(client + " score weekly alice");
  CHECK(rc == 0);
  CHECK(out == "alice = 50\n");
  std::tie(rc, out) = ark::test::run_command(client + " score weekly zed");
  CHECK(rc == 1);
  CHECK(out.find("not_found") != std::string::npos);
  CHECK(host.stop() == 0);
}

TEST_CASE("leaderboard: standing() sends a struct registered with ARK_MESSAGE_TYPE") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {leaderboard_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  board_remote r(host.port());
  auto b = r.board("weekly");
  REQUIRE(r.submit(b, "alice", 50));
  REQUIRE(r.submit(b, "bob", 80));
  REQUIRE(r.submit(b, "carol", 50));
  auto s = ark::call<leaderboard::standing>(r.sys, b, 10s, leaderboard::standing_atom::value,
                                            std::string("carol"));
  REQUIRE_MESSAGE(s, s.error().message());
  CHECK(*s == leaderboard::standing{"carol", 50, 2, 3});  // tied with alice, behind bob
  auto none = ark::call<leaderboard::standing>(r.sys, b, 10s, leaderboard::standing_atom::value,
                                               std::string("zed"));
  REQUIRE_FALSE(none);
  CHECK(none.error() == ark::errc::not_found);

  std::string client =
      std::string(ARK_BIN_DIR) + "/leaderboard-client --port " + std::to_string(host.port());
  auto [rc, out] = ark::test::run_command(client + " standing weekly bob");
  CHECK(rc == 0);
  CHECK(out == "bob: rank 1 of 3, 80 points\n");
  // A query on a board never created says so and creates nothing.
  std::tie(rc, out) = ark::test::run_command(client + " top monthly");
  CHECK(rc == 1);
  CHECK(out ==
        "leaderboard-client: not_found: no leaderboard 'monthly' (remedy: check the name, or "
        "start it with: leaderboard-client submit monthly PLAYER POINTS)\n");
  CHECK(r.c.get<leaderboard::leaderboard_if>("leaderboard", "monthly").error() ==
        ark::errc::not_found);
  CHECK(host.stop() == 0);
}
