#pragma once

// The chat_room example's interface: shared by the actor module and clients.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <msgpack.hpp>

namespace chat_room {

using post_atom = caf::atom_constant<caf::atom("post")>;
using history_atom = caf::atom_constant<caf::atom("history")>;
using count_atom = caf::atom_constant<caf::atom("count")>;

/// Longest message text post() accepts, in bytes.
constexpr std::size_t max_text_size = 4096;
/// Most lines one history() call returns.
constexpr std::int64_t max_history = 1000;

/// The event a room publishes to its subscribers for each post, once the post
/// is durable (chat-client watch ROOM prints them).
struct posted {
  std::int64_t seq = 0;
  std::string user;
  std::string text;
  std::int64_t ts = 0;  ///< ms since the epoch
  MSGPACK_DEFINE_MAP(seq, user, text, ts)
};

/// post(user, text) -> the message's seq (1, 2, ...); history(limit) -> up to
/// `limit` lines "seq user: text", newest first; count -> messages posted.
using chat_room_if =
    caf::typed_actor<caf::replies_to<post_atom, std::string, std::string>::with<std::int64_t>,
                     caf::replies_to<history_atom, std::int64_t>::with<std::vector<std::string>>,
                     caf::replies_to<count_atom>::with<std::int64_t>>;

}  // namespace chat_room
