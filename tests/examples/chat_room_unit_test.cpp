// The chat_room example's actor class in an ark::testing::world: its KV
// entries and its state across restarts and injected crashes.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <ark/inspect.hpp>
#include <ark/testing.hpp>

#include "chat_room/chat_room.hpp"

using ark::testing::crash_point;
using ark::testing::value_of;
using chat_room::chat_room_if;

namespace {

using lines = std::vector<std::string>;

struct chat_world : ark::testing::world {
  chat_room_if room(const std::string& name) {
    return value_of(get_or_create<chat_room_if>("chat_room", name));
  }
  ark::expected<std::int64_t> post(const chat_room_if& h, const std::string& user,
                                   const std::string& text) {
    return call<std::int64_t>(h, chat_room::post_atom::value, user, text);
  }
  lines history(const chat_room_if& h, std::int64_t limit = 100) {
    return value_of(call<lines>(h, chat_room::history_atom::value, limit));
  }
  std::int64_t count(const chat_room_if& h) {
    return value_of(call<std::int64_t>(h, chat_room::count_atom::value));
  }
  // The durable ("msg", ...) entries of room `name`, read from storage as
  // ark-dash lists them.
  std::size_t stored_messages(const std::string& name) {
    auto r = value_of(ark::inspect::reader::open(storage()));
    ark::inspect::kv_query q;
    q.prefix = ark::key{"msg"};
    q.limit = ark::inspect::max_page;
    return value_of(r.kv("chat_room", name, q)).at("entries").size();
  }
};

}  // namespace

TEST_CASE("chat_room: posts get seqs 1, 2, ... and history lists them newest first") {
  chat_world w;
  auto lobby = w.room("lobby");
  CHECK(value_of(w.post(lobby, "ann", "hello")) == 1);
  CHECK(value_of(w.post(lobby, "bob", "hi ann")) == 2);
  CHECK(value_of(w.post(lobby, "ann", "how are you")) == 3);
  CHECK(w.history(lobby) == lines{"3 ann: how are you", "2 bob: hi ann", "1 ann: hello"});
  CHECK(w.history(lobby, 2) == lines{"3 ann: how are you", "2 bob: hi ann"});
  CHECK(w.count(lobby) == 3);
  auto refused = w.post(lobby, "bob", "");
  REQUIRE_FALSE(refused);
  CHECK(refused.error() == ark::errc::invalid_argument);
  CHECK(w.count(lobby) == 3);  // a refused post writes nothing and uses no seq
  CHECK(value_of(w.post(lobby, "cid", "late")) == 4);
  // Every message is its own KV entry; the state holds only the counters.
  CHECK(w.stored_messages("lobby") == 4);
  auto state = value_of(w.stored_state_json("chat_room", "lobby")).at("state");
  CHECK(state.at("count") == 4);
  CHECK(state.at("next_seq") == 5);
  CHECK(w.history(w.room("dev")).empty());  // another room, another actor
}

TEST_CASE("chat_room: the history survives restart_actor and a world restart") {
  chat_world w;
  auto lobby = w.room("lobby");
  REQUIRE(w.post(lobby, "ann", "first"));
  REQUIRE(w.post(lobby, "bob", "second"));
  REQUIRE(w.restart_actor("chat_room", "lobby"));
  CHECK(w.history(lobby) == lines{"2 bob: second", "1 ann: first"});
  CHECK(value_of(w.post(lobby, "ann", "third")) == 3);  // next_seq came back from the snapshot
  w.restart();
  lobby = w.room("lobby");
  CHECK(w.history(lobby) == lines{"3 ann: third", "2 bob: second", "1 ann: first"});
  CHECK(w.count(lobby) == 3);
  CHECK(value_of(w.post(lobby, "bob", "fourth")) == 4);
}

TEST_CASE("chat_room: a post durable before a crash survives it, with its counters") {
  chat_world w;
  auto lobby = w.room("lobby");
  REQUIRE(w.post(lobby, "ann", "first"));
  w.crash_at_commit(crash_point::after_commit);
  CHECK_FALSE(w.post(lobby, "bob", "unacknowledged"));  // the reply never left
  w.restart();
  lobby = w.room("lobby");
  // The message entry and the counters were one atomic commit: both are back.
  CHECK(w.history(lobby) == lines{"2 bob: unacknowledged", "1 ann: first"});
  CHECK(w.count(lobby) == 2);
  CHECK(value_of(w.post(lobby, "ann", "third")) == 3);
  CHECK(w.stored_messages("lobby") == 3);
}

TEST_CASE("chat_room: a post lost in a crash leaves neither its entry nor its seq") {
  chat_world w;
  auto lobby = w.room("lobby");
  REQUIRE(w.post(lobby, "ann", "first"));
  w.crash_at_commit(crash_point::before_commit);
  CHECK_FALSE(w.post(lobby, "bob", "lost"));
  w.restart();
  lobby = w.room("lobby");
  CHECK(w.history(lobby) == lines{"1 ann: first"});
  CHECK(w.count(lobby) == 1);
  CHECK(w.stored_messages("lobby") == 1);
  CHECK(value_of(w.post(lobby, "bob", "again")) == 2);  // the lost post's seq is reused
  CHECK(w.history(lobby) == lines{"2 bob: again", "1 ann: first"});
}
