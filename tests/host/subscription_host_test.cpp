// Subscriptions of remote clients to actors of a real ark-host process: every
// durable change in order, published events, and cleanup when a client's
// connection drops (doc/subscriptions.md).

#include <doctest/doctest.h>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <ark/client.hpp>

#include "chat_room/chat_room.hpp"
#include "counter/counter.hpp"
#include "host/admin_http.hpp"
#include "support/host_process.hpp"
#include "support/remote_client.hpp"
#include "support/spawn.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

using ark::test::admin_port;

namespace {

const std::string counter_module = std::string(ARK_MODULE_DIR) + "/libark_counter.so";
const std::string chat_module = std::string(ARK_MODULE_DIR) + "/libark_chat_room.so";

// The counter's state as a client declares it to decode notifications (the
// same fields, names and types as the module's).
struct counter_view {
  std::int64_t value = 0;
  MSGPACK_DEFINE_MAP(value)
};


// The host's subscription count, from its admin API's stats.
std::int64_t subscriptions(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(10);
  auto r = c.Get("/api/v1/stats");
  REQUIRE_MESSAGE(r, "no answer from the admin API");
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  REQUIRE_MESSAGE(j.contains("subscriptions"), r->body);
  return j["subscriptions"].get<std::int64_t>();
}

template <class F>
bool eventually(F f, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!f()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// A client program running as a child process, its output collected.
class child {
 public:
  explicit child(std::vector<std::string> args) { pid_ = ark::test::spawn_with_output(args, fd_); }
  ~child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) ::close(fd_);
  }
  child(const child&) = delete;
  child& operator=(const child&) = delete;

  /// Reads until the output contains `text` (true) or `timeout` passes.
  bool wait_for(const std::string& text, std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out_.find(text) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd pfd{fd_, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return false;
      char buf[1024];
      auto n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) return false;
      out_.append(buf, static_cast<std::size_t>(n));
    }
    return true;
  }
  /// SIGKILL: the process ends without unsubscribing; its connection drops.
  void kill() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  const std::string& output() const { return out_; }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string out_;
};

}  // namespace

TEST_CASE("a remote client's subscription gets every durable change of a counter in order") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {counter_module}, {"--admin-port", "0"});
  REQUIRE_MESSAGE(host.start(), host.output());
  auto admin = admin_port(host);
  ark::test::remote_client watcher(host.port());
  ark::test::remote_client writer(host.port());
  auto h = writer.handle<counter::counter_if>("counter", "a");
  REQUIRE(*ark::call<std::int64_t>(writer.sys, h, 5s, counter::add_atom::value, std::int64_t{3}) ==
          3);

  std::mutex mtx;
  std::condition_variable cv;
  std::vector<std::pair<std::int64_t, std::uint64_t>> got;  // value, seq
  ark::subscription_callbacks cbs;
  cbs.on_state = [&](const ark::state_changed& c) {
    auto s = ark::decode_state<counter_view>(c);
    CHECK_MESSAGE(s, (s ? "" : s.error().message()));
    std::lock_guard<std::mutex> guard{mtx};
    got.emplace_back(s ? s->value : -1, c.seq);
    cv.notify_all();
  };
  auto wh = watcher.handle<counter::counter_if>("counter", "a");
  auto sub = watcher.c.subscribe(wh, ark::subscription_mode::state, cbs);
  REQUIRE_MESSAGE(sub, (sub ? "" : sub.error().message()));
  CHECK(subscriptions(admin) == 1);

  // Two writers at once: the notifications follow the actor's commit order.
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i)
        CHECK(
            ark::call<std::int64_t>(writer.sys, h, 5s, counter::add_atom::value, std::int64_t{1}));
    });
  for (auto& t : threads) t.join();
  {
    std::unique_lock<std::mutex> lock{mtx};
    cv.wait_for(lock, 10s, [&] { return got.size() >= 21; });
    REQUIRE(got.size() == 21);
    for (std::size_t i = 0; i < got.size(); ++i) {
      CAPTURE(i);
      CHECK(got[i].first == 3 + static_cast<std::int64_t>(i));  // the current state first
      CHECK(got[i].second == got[0].second + i);
    }
  }
  // Destroying the subscription unsubscribes at the host.
  *sub = ark::subscription{};
  CHECK(eventually([&] { return subscriptions(admin) == 0; }));

  // A host that dies ends the subscriptions of its clients with unreachable.
  std::promise<ark::error> ended;
  ark::subscription_callbacks on_end_only;
  on_end_only.on_end = [&](const ark::error& e) { ended.set_value(e); };
  auto second = watcher.c.subscribe(wh, ark::subscription_mode::events, on_end_only);
  REQUIRE_MESSAGE(second, (second ? "" : second.error().message()));
  host.kill();
  auto end = ended.get_future();
  REQUIRE(end.wait_for(10s) == std::future_status::ready);
  CHECK(end.get().code() == ark::errc::unreachable);
}

TEST_CASE("a watching client gets each post once durable, and its subscription ends with it") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {chat_module}, {"--admin-port", "0"});
  REQUIRE_MESSAGE(host.start(), host.output());
  auto admin = admin_port(host);
  child watch({std::string(ARK_BIN_DIR) + "/chat-client", "--port", std::to_string(host.port()),
               "watch", "lobby"});
  REQUIRE_MESSAGE(watch.wait_for("watching lobby\n"), watch.output());
  CHECK(subscriptions(admin) == 1);

  ark::test::remote_client r(host.port());
  auto room = r.handle<chat_room::chat_room_if>("chat_room", "lobby");
  for (const char* text : {"one", "two", "three"})
    REQUIRE(ark::call<std::int64_t>(r.sys, room, 5s, chat_room::post_atom::value,
                                    std::string("ann"), std::string(text)));
  REQUIRE_MESSAGE(watch.wait_for("3 ann: three\n"), watch.output());
  CHECK(watch.output() == "watching lobby\n1 ann: one\n2 ann: two\n3 ann: three\n");

  // The client dies without unsubscribing: the host notices the dropped
  // connection and removes the subscriber.
  watch.kill();
  CHECK(eventually([&] { return subscriptions(admin) == 0; }));
  CHECK(*ark::call<std::int64_t>(r.sys, room, 5s, chat_room::post_atom::value, std::string("bob"),
                                 std::string("still here")) == 4);
  CHECK(host.stop() == 0);
}

TEST_CASE("ark-host --max-subscribers refuses a subscriber beyond the limit with a clear error") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {counter_module}, {"--max-subscribers", "1"});
  REQUIRE_MESSAGE(host.start(), host.output());
  ark::test::remote_client r(host.port());
  auto h = r.handle<counter::counter_if>("counter", "a");
  auto first = r.c.subscribe(h, ark::subscription_mode::view, {});
  REQUIRE_MESSAGE(first, (first ? "" : first.error().message()));
  auto second = r.c.subscribe(h, ark::subscription_mode::view, {});
  REQUIRE_FALSE(second);
  CHECK(second.error().code() == ark::errc::invalid_argument);
  CHECK(second.error().context().find("--max-subscribers") != std::string::npos);
  CHECK(host.stop() == 0);
}
