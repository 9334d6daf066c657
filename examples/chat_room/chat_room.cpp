// A chat room whose messages survive restarts. Each message is its own KV
// entry under the structured key ("msg", timestamp_ms, seq), so the history is
// one reverse range scan and the state stays two counters. Each post is also
// published to the room's subscribers as a `posted` event.

#include "chat_room.hpp"

#include <algorithm>
#include <chrono>

#include <ark/actor.hpp>
#include <ark/registry.hpp>

namespace chat_room {

struct chat_room_state {
  std::int64_t next_seq = 1;  // the seq of the next post
  std::int64_t count = 0;     // messages posted
  MSGPACK_DEFINE_MAP(next_seq, count)
};

// The stored value of one message (its time and seq are in the key).
struct stored_message {
  std::string user;
  std::string text;
  MSGPACK_DEFINE_MAP(user, text)
};

class chat_room : public ark::actor<chat_room_if, chat_room_state> {
 public:
  using actor::actor;

  // get_or_create("chat_room", room) starts an empty room.
  void on_initialize() {}

  handlers_type make_handlers() override {
    return handlers([this](post_atom, const std::string& user,
                           const std::string& text) { return post_message(user, text); },
                    [this](history_atom, std::int64_t limit) { return read_history(limit); },
                    [this](count_atom) { return state().count; });
  }

 private:
  ark::expected<std::int64_t> post_message(const std::string& user, const std::string& text) {
    if (user.empty()) return ark::error{ark::errc::invalid_argument, "post: the user is empty"};
    if (text.empty()) return ark::error{ark::errc::invalid_argument, "post: the text is empty"};
    if (text.size() > max_text_size)
      return ark::error{ark::errc::invalid_argument,
                        "post: the text is " + std::to_string(text.size()) + " bytes, limit " +
                            std::to_string(max_text_size)};
    // Wall-clock time, but never before the newest message: keys stay in post
    // order even when the clock steps back.
    auto ts = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
    auto newest = newest_timestamp();
    if (!newest) return newest.error();
    ts = std::max<std::int64_t>(ts, *newest);
    auto seq = state().next_seq;
    ARK_TRY(kv().put(ark::key{"msg", ts, seq}, stored_message{user, text}));
    state().next_seq += 1;
    state().count += 1;
    // Subscribers (chat-client watch) get it once the post is durable.
    publish("posted", posted{seq, user, text, ts});
    return seq;
  }

  ark::expected<std::vector<std::string>> read_history(std::int64_t limit) {
    if (limit < 1 || limit > max_history)
      return ark::error{ark::errc::invalid_argument, "history: the limit must be 1.." +
                                                         std::to_string(max_history) + ", not " +
                                                         std::to_string(limit)};
    ark::kv::list_options opts;
    opts.prefix = ark::key{"msg"};
    opts.reverse = true;  // newest first
    opts.limit = static_cast<std::size_t>(limit);
    std::vector<std::string> lines;
    auto c = kv().list(opts);
    for (; c.valid(); c.next()) {
      auto m = c.value().as<stored_message>();
      if (!m) return m.error();
      lines.push_back(std::to_string(c.key()[2].as_int()) + " " + m->user + ": " + m->text);
    }
    if (c.status()) return c.status();
    return lines;
  }

  // The timestamp of the newest stored message, or 0 in an empty room.
  ark::expected<std::int64_t> newest_timestamp() {
    ark::kv::list_options opts;
    opts.prefix = ark::key{"msg"};
    opts.reverse = true;
    opts.limit = 1;
    auto c = kv().list(opts);
    if (c.valid()) return c.key()[1].as_int();
    if (c.status()) return c.status();
    return std::int64_t{0};
  }
};

}  // namespace chat_room

ARK_ACTOR("chat_room", chat_room::chat_room);
