// leaderboard-client: calls a leaderboard actor on a running ark-host.
//   leaderboard-client [--host H] [--port P] [--token-file F] [--tls-*] submit BOARD PLAYER POINTS | top BOARD [--n N]
//                                            | score BOARD PLAYER | standing BOARD PLAYER

#include <iostream>

#include <CLI/CLI.hpp>
#include <ark/client.hpp>
#include <ark/client_cli.hpp>

#include "leaderboard.hpp"

int main(int argc, char** argv) {
  CLI::App app{"leaderboard-client: submit scores to and read a leaderboard actor on an ark-host"};
  ark::connect_flags conn;
  std::string board;
  std::string player;
  std::int64_t points = 0;
  std::int64_t n = 10;
  conn.add_to(app);
  app.require_subcommand(1);
  auto* submit = app.add_subcommand(
      "submit", "submit POINTS for PLAYER on BOARD; prints the player's best points");
  submit->add_option("board", board, "leaderboard name")->required();
  submit->add_option("player", player, "player name")->required();
  submit->add_option("points", points, "points scored (>= 0)")->required();
  auto* top = app.add_subcommand("top", "print BOARD's best N players, best first");
  top->add_option("board", board, "leaderboard name")->required();
  top->add_option("-n,--n", n, "how many players")->capture_default_str();
  auto* score = app.add_subcommand("score", "print PLAYER's best points on BOARD");
  score->add_option("board", board, "leaderboard name")->required();
  score->add_option("player", player, "player name")->required();
  auto* standing = app.add_subcommand("standing", "print PLAYER's rank and points on BOARD");
  standing->add_option("board", board, "leaderboard name")->required();
  standing->add_option("player", player, "player name")->required();
  CLI11_PARSE(app, argc, argv);

  auto copts = conn.resolve();
  if (!copts) {
    std::cerr << "leaderboard-client: " << copts.error().message() << '\n';
    return 2;
  }
  ark::client_config cfg(copts->tls);
  caf::actor_system sys{cfg};
  auto c = ark::connect(sys, *copts);
  if (!c) {
    std::cerr << "leaderboard-client: " << c.error().message() << '\n';
    return 1;
  }
  // Only submit creates a board: top, score and standing on a mistyped name
  // create nothing.
  auto h = *submit ? c->get_or_create<leaderboard::leaderboard_if>("leaderboard", board)
                   : c->get<leaderboard::leaderboard_if>("leaderboard", board);
  if (!h && h.error() == ark::errc::not_found) {
    std::cerr << "leaderboard-client: "
              << ark::error{ark::errc::not_found, "no leaderboard '" + board + "'",
                            "check the name, or start it with: leaderboard-client submit " + board +
                                " PLAYER POINTS"}
                     .message()
              << '\n';
    return 1;
  }
  if (!h) {
    std::cerr << "leaderboard-client: " << h.error().message() << '\n';
    return 1;
  }
  auto timeout = std::chrono::seconds(10);
  if (*top) {
    auto r = ark::call<std::vector<std::string>>(sys, *h, timeout, leaderboard::top_atom::value, n);
    if (!r) {
      std::cerr << "leaderboard-client: " << r.error().message() << '\n';
      return 1;
    }
    for (const auto& line : *r) std::cout << line << '\n';
    return 0;
  }
  if (*standing) {
    // A struct in the reply: leaderboard.hpp registers it (ARK_MESSAGE_TYPE).
    auto r = ark::call<leaderboard::standing>(sys, *h, timeout, leaderboard::standing_atom::value,
                                              player);
    if (!r) {
      std::cerr << "leaderboard-client: " << r.error().message() << '\n';
      return 1;
    }
    std::cout << r->player << ": rank " << r->rank << " of " << r->players << ", " << r->points
              << " points\n";
    return 0;
  }
  ark::expected<std::int64_t> r =
      *submit ? ark::call<std::int64_t>(sys, *h, timeout, leaderboard::submit_atom::value, player,
                                        points)
              : ark::call<std::int64_t>(sys, *h, timeout, leaderboard::score_atom::value, player);
  if (!r) {
    std::cerr << "leaderboard-client: " << r.error().message() << '\n';
    return 1;
  }
  std::cout << player << " = " << *r << '\n';
  return 0;
}
