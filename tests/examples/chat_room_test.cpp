#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <ark/client.hpp>

#include "chat_room/chat_room.hpp"
#include "support/host_process.hpp"
#include "support/remote_client.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

namespace {

const std::string chat_room_module = std::string(ARK_MODULE_DIR) + "/libark_chat_room.so";

using lines = std::vector<std::string>;

struct chat_remote : ark::test::remote_client {
  using remote_client::remote_client;
  chat_room::chat_room_if room(const std::string& name) {
    return handle<chat_room::chat_room_if>("chat_room", name);
  }
  ark::expected<std::int64_t> post(const chat_room::chat_room_if& h, const std::string& user,
                                   const std::string& text) {
    return ark::call<std::int64_t>(sys, h, 10s, chat_room::post_atom::value, user, text);
  }
  ark::expected<lines> history(const chat_room::chat_room_if& h, std::int64_t limit) {
    return ark::call<lines>(sys, h, 10s, chat_room::history_atom::value, limit);
  }
  ark::expected<std::int64_t> count(const chat_room::chat_room_if& h) {
    return ark::call<std::int64_t>(sys, h, 10s, chat_room::count_atom::value);
  }
};

}  // namespace

TEST_CASE("chat_room: history is newest first and honours the limit") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {chat_room_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  chat_remote r(host.port());
  auto lobby = r.room("lobby");
  const std::vector<std::string> users{"ann", "bob", "cid", "dee", "eve"};
  for (std::size_t i = 0; i < users.size(); ++i) {
    auto seq = r.post(lobby, users[i], "message " + std::to_string(i + 1));
    REQUIRE_MESSAGE(seq, (seq ? "" : seq.error().message()));
    CHECK(*seq == static_cast<std::int64_t>(i + 1));
  }
  CHECK(*r.history(lobby, 3) == lines{"5 eve: message 5", "4 dee: message 4", "3 cid: message 3"});
  CHECK(*r.history(lobby, 1) == lines{"5 eve: message 5"});
  CHECK(*r.history(lobby, 100) == lines{"5 eve: message 5", "4 dee: message 4", "3 cid: message 3",
                                        "2 bob: message 2", "1 ann: message 1"});
  CHECK(*r.count(lobby) == 5);
  // Another room is another actor with its own messages and seqs.
  auto dev = r.room("dev");
  CHECK(r.history(dev, 10)->empty());
  CHECK(*r.post(dev, "ann", "hello dev") == 1);
  CHECK(*r.history(dev, 10) == lines{"1 ann: hello dev"});
  CHECK(*r.count(lobby) == 5);
  CHECK(host.stop() == 0);
}

TEST_CASE("chat_room: messages survive a host restart and a SIGKILL after acknowledged posts") {
  ark::test::temp_dir dir;
  {
    ark::test::host_process host(dir.sub("data"), {chat_room_module});
    REQUIRE_MESSAGE(host.start(), host.output());
    chat_remote r(host.port());
    auto lobby = r.room("lobby");
    REQUIRE(r.post(lobby, "ann", "first"));
    REQUIRE(r.post(lobby, "bob", "second"));
    REQUIRE(r.post(lobby, "ann", "third"));
    CHECK(host.stop() == 0);
  }
  {
    ark::test::host_process host(dir.sub("data"), {chat_room_module});
    REQUIRE_MESSAGE(host.start(), host.output());
    chat_remote r(host.port());
    auto lobby = r.room("lobby");
    CHECK(*r.history(lobby, 10) == lines{"3 ann: third", "2 bob: second", "1 ann: first"});
    CHECK(*r.count(lobby) == 3);
    CHECK(*r.post(lobby, "cid", "fourth") == 4);
    CHECK(*r.post(lobby, "bob", "fifth") == 5);
    host.kill();  // both posts were acknowledged before the kill: they must survive it
  }
  ark::test::host_process host(dir.sub("data"), {chat_room_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  chat_remote r(host.port());
  auto lobby = r.room("lobby");
  CHECK(*r.history(lobby, 10) ==
        lines{"5 bob: fifth", "4 cid: fourth", "3 ann: third", "2 bob: second", "1 ann: first"});
  CHECK(*r.count(lobby) == 5);
  CHECK(*r.post(lobby, "ann", "sixth") == 6);  // the seq continues
  CHECK(host.stop() == 0);
}

TEST_CASE("chat_room: invalid input is refused with invalid_argument and changes nothing") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {chat_room_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  chat_remote r(host.port());
  auto lobby = r.room("lobby");
  REQUIRE(*r.post(lobby, "ann", "hi") == 1);
  auto refused = [](const auto& x) { return !x && x.error() == ark::errc::invalid_argument; };
  CHECK(refused(r.post(lobby, "", "no user")));
  CHECK(refused(r.post(lobby, "bob", "")));
  CHECK(refused(r.post(lobby, "bob", std::string(chat_room::max_text_size + 1, 'x'))));
  CHECK(refused(r.history(lobby, 0)));
  CHECK(refused(r.history(lobby, -1)));
  CHECK(refused(r.history(lobby, chat_room::max_history + 1)));
  CHECK(*r.count(lobby) == 1);
  CHECK(*r.history(lobby, 10) == lines{"1 ann: hi"});
  // The refused posts used no seq; the longest allowed text is accepted.
  std::string longest(chat_room::max_text_size, 'x');
  CHECK(*r.post(lobby, "bob", longest) == 2);
  CHECK(*r.history(lobby, 10) == lines{"2 bob: " + longest, "1 ann: hi"});
  CHECK(host.stop() == 0);
}

TEST_CASE("chat-client posts and prints the history") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {chat_room_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  std::string client =
      std::string(ARK_BIN_DIR) + "/chat-client --port " + std::to_string(host.port());
  auto [rc, out] = ark::test::run_command(client + " post lobby ann 'hello world'");
  CHECK(rc == 0);
  CHECK(out == "lobby #1\n");
  std::tie(rc, out) = ark::test::run_command(client + " post lobby bob 'hi ann'");
  CHECK(rc == 0);
  CHECK(out == "lobby #2\n");
  std::tie(rc, out) = ark::test::run_command(client + " history lobby");
  CHECK(rc == 0);
  CHECK(out == "2 bob: hi ann\n1 ann: hello world\n");
  std::tie(rc, out) = ark::test::run_command(client + " history lobby --limit 1");
  CHECK(rc == 0);
  CHECK(out == "2 bob: hi ann\n");
  std::tie(rc, out) = ark::test::run_command(client + " post lobby ann ''");
  CHECK(rc == 1);
  CHECK(out.find("invalid_argument") != std::string::npos);
  std::tie(rc, out) = ark::test::run_command(client + " history lobby");
  CHECK(out == "2 bob: hi ann\n1 ann: hello world\n");
  CHECK(host.stop() == 0);
}
