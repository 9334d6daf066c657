#pragma once

// The leaderboard example's interface: shared by the actor module and clients.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include <ark/registry.hpp>

namespace leaderboard {

using submit_atom = caf::atom_constant<caf::atom("submit")>;
using top_atom = caf::atom_constant<caf::atom("top")>;
using score_atom = caf::atom_constant<caf::atom("score")>;
using standing_atom = caf::atom_constant<caf::atom("standing")>;

/// A player's place on a board: a message type of our own, sent across
/// processes in standing()'s reply. Sending a struct takes three things, all
/// in this header so that the module and every client get them: the struct,
/// a CAF inspect() overload (its fields, in order), and ARK_MESSAGE_TYPE
/// below, which registers it under a wire name with every actor system built
/// from ark::client_config (ark-host's included). A client compiled without
/// the registration gets unregistered_type naming leaderboard::standing.
struct standing {
  std::string player;
  std::int64_t points = 0;
  std::int64_t rank = 0;     ///< 1 for the best; tied players share a rank
  std::int64_t players = 0;  ///< players on the board
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, standing& x) {
  return f(caf::meta::type_name("leaderboard::standing"), x.player, x.points, x.rank, x.players);
}

inline bool operator==(const standing& a, const standing& b) {
  return a.player == b.player && a.points == b.points && a.rank == b.rank && a.players == b.players;
}

/// Longest player name submit() accepts, in bytes (player names are part of
/// KV keys, which are limited to ark::kv::max_key_size bytes).
constexpr std::size_t max_player_size = 256;
/// Most lines one top() call returns.
constexpr std::int64_t max_top = 1000;

/// submit(player, points) -> the player's best points so far; top(n) -> up to
/// `n` lines "rank. player points", best first (tied players share a rank);
/// score(player) -> the player's best points, or not_found; standing(player)
/// -> the player's standing, or not_found.
using leaderboard_if =
    caf::typed_actor<caf::replies_to<submit_atom, std::string, std::int64_t>::with<std::int64_t>,
                     caf::replies_to<top_atom, std::int64_t>::with<std::vector<std::string>>,
                     caf::replies_to<score_atom, std::string>::with<std::int64_t>,
                     caf::replies_to<standing_atom, std::string>::with<standing>>;

}  // namespace leaderboard

// The wire name: the same in every program, never changed once clients use it.
ARK_MESSAGE_TYPE(leaderboard::standing, "leaderboard::standing");
