#pragma once

// The leaderboard example's interface: shared by the actor module and clients.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/all.hpp>

namespace leaderboard {

using submit_atom = caf::atom_constant<caf::atom("submit")>;
using top_atom = caf::atom_constant<caf::atom("top")>;
using score_atom = caf::atom_constant<caf::atom("score")>;

/// Longest player name submit() accepts, in bytes (player names are part of
/// KV keys, which are limited to ark::kv::max_key_size bytes).
constexpr std::size_t max_player_size = 256;
/// Most lines one top() call returns.
constexpr std::int64_t max_top = 1000;

/// submit(player, points) -> the player's best points so far; top(n) -> up to
/// `n` lines "rank. player points", best first (tied players share a rank);
/// score(player) -> the player's best points, or not_found.
using leaderboard_if =
    caf::typed_actor<caf::replies_to<submit_atom, std::string, std::int64_t>::with<std::int64_t>,
                     caf::replies_to<top_atom, std::int64_t>::with<std::vector<std::string>>,
                     caf::replies_to<score_atom, std::string>::with<std::int64_t>>;

}  // namespace leaderboard
