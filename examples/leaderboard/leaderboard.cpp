// A leaderboard: the best score of every player, ranked by one range scan.
//
// Each player has two KV entries: ("player", player) -> points, to find the
// current best, and ("score", -points, player) -> points, to rank. Structured
// keys order their integer elements numerically, so listing the prefix
// ("score") visits -points ascending: the best players first, tied players by
// name. top(n) reads just the first n entries, however many players there are.

#include "leaderboard.hpp"

#include <ark/actor.hpp>
#include <ark/registry.hpp>

namespace leaderboard {

struct leaderboard_state {
  std::int64_t players = 0;  // players with a score
  MSGPACK_DEFINE_MAP(players)
};

class leaderboard : public ark::actor<leaderboard_if, leaderboard_state> {
 public:
  using actor::actor;

  // get_or_create("leaderboard", board) starts an empty board.
  void on_initialize() {}

  handlers_type make_handlers() override {
    return handlers([this](submit_atom, const std::string& player,
                           std::int64_t points) { return submit(player, points); },
                    [this](top_atom, std::int64_t n) { return top(n); },
                    [this](score_atom, const std::string& player) { return score(player); },
                    [this](standing_atom, const std::string& player) { return place(player); });
  }

 private:
  ark::expected<std::int64_t> submit(const std::string& player, std::int64_t points) {
    if (player.empty())
      return ark::error{ark::errc::invalid_argument, "submit: the player name is empty"};
    if (player.size() > max_player_size)
      return ark::error{ark::errc::invalid_argument,
                        "submit: the player name is " + std::to_string(player.size()) +
                            " bytes, limit " + std::to_string(max_player_size)};
    if (points < 0)
      return ark::error{ark::errc::invalid_argument,
                        "submit: points must be >= 0, not " + std::to_string(points)};
    auto best = kv().get<std::int64_t>(ark::key{"player", player});
    if (best) {
      if (points <= *best) return *best;  // no improvement: nothing to write
      // Move the player: drop the old ranking entry, or top() lists them twice.
      ARK_TRY(kv().del(ark::key{"score", -*best, player}));
    } else if (best.error() == ark::errc::not_found) {
      state().players += 1;
    } else {
      return best.error();
    }
    ARK_TRY(kv().put(ark::key{"score", -points, player}, points));
    ARK_TRY(kv().put(ark::key{"player", player}, points));
    return points;
  }

  ark::expected<std::vector<std::string>> top(std::int64_t n) {
    if (n < 1 || n > max_top)
      return ark::error{
          ark::errc::invalid_argument,
          "top: n must be 1.." + std::to_string(max_top) + ", not " + std::to_string(n)};
    ark::kv::list_options opts;
    opts.prefix = ark::key{"score"};
    opts.limit = static_cast<std::size_t>(n);
    std::vector<std::string> lines;
    std::int64_t rank = 0;
    std::int64_t previous = 0;
    auto c = kv().list(opts);
    for (; c.valid(); c.next()) {
      auto points = c.value().as<std::int64_t>();
      if (!points) return points.error();
      auto position = static_cast<std::int64_t>(lines.size()) + 1;
      if (lines.empty() || *points != previous) rank = position;  // ties share a rank
      previous = *points;
      lines.push_back(std::to_string(rank) + ". " + c.key()[2].as_string() + " " +
                      std::to_string(*points));
    }
    if (c.status()) return c.status();
    return lines;
  }

  // The player's rank: 1 + the players with more points, counted over the
  // ranking entries before the player's first possible one.
  ark::expected<standing> place(const std::string& player) {
    auto points = score(player);
    if (!points) return points.error();
    ark::kv::list_options better;
    better.prefix = ark::key{"score"};
    better.end = ark::key{"score", -*points};
    auto ahead = kv().count(better);
    if (!ahead) return ahead.error();
    return standing{player, *points, static_cast<std::int64_t>(*ahead) + 1, state().players};
  }

  ark::expected<std::int64_t> score(const std::string& player) {
    auto best = kv().get<std::int64_t>(ark::key{"player", player});
    if (!best && best.error() == ark::errc::not_found)
      return ark::error{ark::errc::not_found, "score: no score for player " + player};
    return best;
  }
};

}  // namespace leaderboard

ARK_ACTOR("leaderboard", leaderboard::leaderboard);
