// What only a running host shows: per-handler figures (/api/v1/stats,
// /metrics, ark-dash stats --by-handler), the live tail of one actor
// (/api/v1/tail, Server-Sent Events; ark-dash tail) and calling a handler
// (POST /api/v1/call; ark-dash handlers and call), against a real ark-host.

#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <ark/client.hpp>

#include "bank/bank.hpp"
#include "counter/counter.hpp"
#include "host/admin_http.hpp"
#include "leaderboard/leaderboard.hpp"
#include "support/child_process.hpp"
#include "support/host_process.hpp"
#include "support/remote_client.hpp"
#include "test_util.hpp"
#include "tools/dash_runner.hpp"

using namespace std::chrono_literals;
using json = nlohmann::json;
using ark::test::admin_port;
using ark::test::get;
using ark::test::post;

namespace {

const std::string counter_module = std::string(ARK_MODULE_DIR) + "/libark_counter.so";
const std::string bank_module = std::string(ARK_MODULE_DIR) + "/libark_bank.so";
const std::string leaderboard_module = std::string(ARK_MODULE_DIR) + "/libark_leaderboard.so";

// The events of a Server-Sent Events stream (GET /api/v1/tail), read on a
// thread of its own until the test ends.
class sse_reader {
 public:
  struct event {
    std::string name;
    json data;
    std::chrono::steady_clock::time_point at;
  };

  sse_reader(int port, httplib::Params params, std::string token = {})
      : client_("127.0.0.1", port), thread_([this, params = std::move(params), token] {
          client_.set_read_timeout(60);
          client_.Get("/api/v1/tail", params, ark::test::bearer(token),
                [this](const httplib::Response& r) {
                  status_ = r.status;
                  return true;
                },
                [this](const char* d, std::size_t n) {
                  feed(std::string(d, n));
                  return !stop_;
                });
          std::lock_guard<std::mutex> guard{mtx_};
          ended_ = true;
          cv_.notify_all();
        }) {}
  ~sse_reader() {
    stop_ = true;
    client_.stop();  // ends the request now (the host would only notice at its keep-alive)
    thread_.join();
  }

  /// Waits until `n` events arrived (at most `timeout`); the events so far.
  std::vector<event> wait_for(std::size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock<std::mutex> lock{mtx_};
    cv_.wait_for(lock, timeout, [&] { return events_.size() >= n || ended_; });
    return events_;
  }
  int status() const { return status_; }

 private:
  void feed(const std::string& chunk) {
    std::lock_guard<std::mutex> guard{mtx_};
    buffer_ += chunk;
    std::size_t end;
    while ((end = buffer_.find("\n\n")) != std::string::npos) {
      auto frame = buffer_.substr(0, end);
      buffer_.erase(0, end + 2);
      event e;
      e.at = std::chrono::steady_clock::now();
      std::size_t pos = 0;
      while (pos < frame.size()) {
        auto nl = frame.find('\n', pos);
        auto line = frame.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        if (line.rfind("event: ", 0) == 0) e.name = line.substr(7);
        if (line.rfind("data: ", 0) == 0) e.data = json::parse(line.substr(6), nullptr, false);
        if (nl == std::string::npos) break;
        pos = nl + 1;
      }
      if (!e.name.empty()) events_.push_back(std::move(e));
    }
    cv_.notify_all();
  }

  std::mutex mtx_;
  std::condition_variable cv_;
  std::string buffer_;
  std::vector<event> events_;
  bool ended_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<int> status_{0};
  httplib::Client client_;
  std::thread thread_;  // last: it uses the members above
};

}  // namespace

TEST_CASE("the admin API lists each type's handlers and calls one as an admin action") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {counter_module, leaderboard_module},
                               {"--admin-port", "0"});
  REQUIRE_MESSAGE(host.start(), host.output());
  int port = admin_port(host);

  auto hs = get(port, "/api/v1/handlers", {{"type", "counter"}});
  REQUIRE_MESSAGE(hs.status == 200, hs.text);
  REQUIRE(hs.body["types"].size() == 1);
  const auto& counter_handlers = hs.body["types"][0]["handlers"];
  REQUIRE(counter_handlers.size() == 3);
  CHECK(counter_handlers[0]["name"] == "add(int64) -> int64");
  CHECK(counter_handlers[0]["params"] == json::array({"int64"}));
  CHECK(counter_handlers[0]["callable"] == true);
  // A reply type without field names cannot be shown as JSON: not callable,
  // and the page is told why.
  auto lb = get(port, "/api/v1/handlers", {{"type", "leaderboard"}});
  REQUIRE(lb.status == 200);
  bool seen = false;
  for (const auto& h : lb.body["types"][0]["handlers"]) {
    if (h["name"] != "standing(string) -> leaderboard::standing") continue;
    seen = true;
    CHECK(h["callable"] == false);
    CHECK(h["not_callable"].get<std::string>().find("MSGPACK_DEFINE_MAP") != std::string::npos);
  }
  CHECK(seen);
  CHECK(get(port, "/api/v1/handlers", {{"type", "nope"}}).status == 404);

  // A call creates the actor only when asked to.
  auto missing = post(port, "/api/v1/call",
                      {{"type", "counter"}, {"key", {"c"}}, {"handler", "add"}, {"args", {5}}});
  CHECK(missing.status == 404);
  auto added = post(port, "/api/v1/call",
                    {{"type", "counter"},
                     {"key", {"c"}},
                     {"handler", "add"},
                     {"args", {5}},
                     {"create", true}});
  REQUIRE_MESSAGE(added.status == 200, added.text);
  CHECK(added.body["reply"] == 5);
  CHECK(added.body["handler"] == "add(int64) -> int64");
  // The full signature names it too; the reply is durable like any client's.
  auto again = post(port, "/api/v1/call",
                    {{"type", "counter"}, {"key", {"c"}}, {"handler", "add(int64) -> int64"},
                     {"args", {2}}});
  REQUIRE_MESSAGE(again.status == 200, again.text);
  CHECK(again.body["reply"] == 7);
  {
    ark::test::remote_client r(host.port());
    auto c = r.c.get<counter::counter_if>("counter", "c");
    REQUIRE(c);
    CHECK(*ark::call<std::int64_t>(r.sys, *c, 5s, counter::get_atom::value) == 7);
  }
  // Bad arguments are refused before anything is sent, naming the argument.
  auto bad = post(port, "/api/v1/call",
                  {{"type", "counter"}, {"key", {"c"}}, {"handler", "add"}, {"args", {"x"}}});
  CHECK(bad.status == 400);
  CHECK(bad.body["error"]["context"].get<std::string>().find("argument 1: expected int64") !=
        std::string::npos);
  auto count = post(port, "/api/v1/call",
                    {{"type", "counter"}, {"key", {"c"}}, {"handler", "add"}, {"args", {1, 2}}});
  CHECK(count.status == 400);
  auto unknown = post(port, "/api/v1/call",
                      {{"type", "counter"}, {"key", {"c"}}, {"handler", "mul"}, {"args", {1}}});
  CHECK(unknown.status == 400);
  CHECK(unknown.body["error"]["context"].get<std::string>().find("add(int64) -> int64") !=
        std::string::npos);
  auto not_callable = post(port, "/api/v1/call",
                           {{"type", "leaderboard"}, {"key", {"x"}}, {"handler", "standing"},
                            {"args", {"ann"}}, {"create", true}});
  CHECK(not_callable.status == 400);
  CHECK(post(port, "/api/v1/call", json("not an object")).status == 400);
  auto typed = post(port, "/api/v1/call",
                    {{"type", "counter"}, {"key", {"c"}}, {"handler", "add"}, {"args", {1}},
                     {"create", "yes"}});
  CHECK(typed.status == 400);
  CHECK(typed.body["error"]["code"] == "invalid_argument");
  // The handler's own error comes back as the error document.
  auto lb_bad = post(port, "/api/v1/call",
                     {{"type", "leaderboard"}, {"key", {"x"}}, {"handler", "submit"},
                      {"args", {"", 5}}, {"create", true}});
  CHECK(lb_bad.status == 400);
  CHECK(lb_bad.body["error"]["code"] == "invalid_argument");

  // Every call is logged with the caller's address.
  for (int i = 0; i < 50 && host.output().find("with [5]") == std::string::npos; ++i)
    std::this_thread::sleep_for(100ms);
  CHECK(host.output().find("calls add(int64) -> int64 on actor counter [\"c\"] with [5]") !=
        std::string::npos);
  CHECK(host.output().find("admin API: 127.0.0.1:") != std::string::npos);

  // The same from ark-dash.
  auto url = ark::test::admin_url(host);
  auto listed = ark::test::run_dash({"handlers", "--host", url, "--type", "counter"});
  CHECK_MESSAGE(listed.status == 0, listed.err);
  CHECK(listed.out.find("add(int64) -> int64") != std::string::npos);
  auto called = ark::test::run_dash({"call", "counter", "c", "add", "[3]", "--host", url});
  CHECK_MESSAGE(called.status == 0, called.err);
  CHECK(called.out == "10\n");
  auto refused = ark::test::run_dash({"call", "counter", "c", "add", "[\"x\"]", "--host", url});
  CHECK(refused.status == 2);  // ark-dash's status for bad arguments
  CHECK(refused.err.find("argument 1") != std::string::npos);
  CHECK(host.stop() == 0);
}

TEST_CASE("handler calls are refused without the admin token, and by a read-only admin API") {
  ark::test::temp_dir dir;
  auto token_path = ark::test::write_admin_token(dir);
  ark::test::host_process host(dir.sub("data"), {counter_module},
                               {"--admin-port", "0", "--admin-token-file", token_path});
  REQUIRE_MESSAGE(host.start(), host.output());
  int port = admin_port(host);
  json body{{"type", "counter"}, {"key", {"t"}}, {"handler", "add"}, {"args", {1}},
            {"create", true}};
  auto denied = post(port, "/api/v1/call", body);
  CHECK(denied.status == 401);
  CHECK(denied.body["error"]["code"] == "unauthorized");
  CHECK(get(port, "/api/v1/tail", {{"type", "counter"}, {"key", "[\"t\"]"}}).status == 401);
  auto ok = post(port, "/api/v1/call", body, ark::test::admin_token);
  CHECK_MESSAGE(ok.status == 200, ok.text);
  CHECK(host.stop() == 0);

  ark::test::host_process ro(dir.sub("data2"), {counter_module},
                             {"--admin-port", "0", "--admin-read-only"});
  REQUIRE_MESSAGE(ro.start(), ro.output());
  CHECK(ro.output().find("(read-only)") != std::string::npos);
  int ro_port = admin_port(ro);
  auto refused = post(ro_port, "/api/v1/call", body);
  CHECK(refused.status == 403);
  CHECK(refused.body["error"]["code"] == "read_only");
  CHECK(refused.body["error"]["message"].get<std::string>().find("--admin-read-only") !=
        std::string::npos);
  CHECK(get(ro_port, "/api/v1/handlers").body["read_only"] == true);
  // Views stay available.
  CHECK(get(ro_port, "/api/v1/types").status == 200);
  CHECK(ro.stop() == 0);
}

TEST_CASE("the live tail streams each durable change within a second and never a rolled-back one") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {bank_module}, {"--admin-port", "0"});
  REQUIRE_MESSAGE(host.start(), host.output());
  int port = admin_port(host);
  ark::test::remote_client r(host.port());
  auto acct = r.c.get_or_create<bank::account_if>("account", "alice");
  REQUIRE(acct);
  REQUIRE(ark::call<std::int64_t>(r.sys, *acct, 5s, bank::deposit_atom::value, std::int64_t{10}));

  // An actor that does not exist cannot be tailed (nothing is created).
  CHECK(get(port, "/api/v1/tail", {{"type", "account"}, {"key", "[\"nobody\"]"}}).status == 404);

  sse_reader tail(port, {{"type", "account"}, {"key", "[\"alice\"]"}});
  auto first = tail.wait_for(1);
  REQUIRE_MESSAGE(first.size() == 1, "no event; HTTP status " << tail.status());
  CHECK(first[0].name == "current");
  CHECK(first[0].data["state"]["balance"] == 10);

  // A withdrawal beyond the balance fails: it changes nothing, so no record.
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(ark::call<std::int64_t>(r.sys, *acct, 5s, bank::deposit_atom::value, std::int64_t{5}));
  auto replied = std::chrono::steady_clock::now();
  REQUIRE_FALSE(
      ark::call<std::int64_t>(r.sys, *acct, 5s, bank::withdraw_atom::value, std::int64_t{1000}));
  REQUIRE(ark::call<std::int64_t>(r.sys, *acct, 5s, bank::withdraw_atom::value, std::int64_t{3}));
  auto events = tail.wait_for(3);
  std::this_thread::sleep_for(200ms);  // a record of the failed withdrawal would be here by now
  events = tail.wait_for(3);
  REQUIRE(events.size() == 3);
  const auto& dep = events[1];
  CHECK(dep.name == "change");
  CHECK(dep.data["handler"] == "deposit(int64) -> int64");
  CHECK(dep.at - replied < 1s);
  CHECK(dep.at - t0 < 1s);
  CHECK(dep.data["state"]["before"]["balance"] == 10);
  CHECK(dep.data["state"]["after"]["balance"] == 15);
  // The patch (RFC 6902) says what changed.
  bool replaced = false;
  for (const auto& op : dep.data["state"]["patch"])
    if (op["op"] == "replace" && op["path"] == "/balance" && op["value"] == 15) replaced = true;
  CHECK(replaced);
  auto time = dep.data["time"].get<std::string>();
  CHECK(time.size() == 24);  // 2026-12-07T03:40:00.123Z
  CHECK(time.back() == 'Z');
  const auto& wd = events[2];
  CHECK(wd.name == "change");
  CHECK(wd.data["handler"] == "withdraw(int64) -> int64");
  CHECK(wd.data["state"]["after"]["balance"] == 12);
  CHECK(wd.data["seq"].get<std::uint64_t>() == dep.data["seq"].get<std::uint64_t>() + 1);

  // ark-dash tail prints the same from the command line.
  ark::test::child dash({ARK_DASH_PATH, "tail", "account", "alice", "--host", ark::test::admin_url(host)});
  REQUIRE_MESSAGE(dash.wait_for("its state now", 10s), dash.output());
  REQUIRE(ark::call<std::int64_t>(r.sys, *acct, 5s, bank::deposit_atom::value, std::int64_t{1}));
  CHECK_MESSAGE(dash.wait_for("deposit(int64) -> int64", 5s), dash.output());
  CHECK_MESSAGE(dash.wait_for("state replace /balance = 13", 5s), dash.output());
  CHECK(host.stop() == 0);
}

TEST_CASE("a tail slower than its actor says how many changes it dropped") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {counter_module}, {"--admin-port", "0"});
  REQUIRE_MESSAGE(host.start(), host.output());
  int port = admin_port(host);
  ark::test::remote_client r(host.port());
  auto c = r.c.get_or_create<counter::counter_if>("counter", "busy");
  REQUIRE(c);
  REQUIRE(ark::call<std::int64_t>(r.sys, *c, 5s, counter::add_atom::value, std::int64_t{1}));
  sse_reader tail(port, {{"type", "counter"}, {"key", "[\"busy\"]"}, {"rate", "1"}});
  REQUIRE(tail.wait_for(1).size() == 1);
  for (int i = 0; i < 20; ++i)
    REQUIRE(ark::call<std::int64_t>(r.sys, *c, 5s, counter::add_atom::value, std::int64_t{1}));
  std::vector<sse_reader::event> events;
  bool dropped = false;
  for (int i = 0; i < 50 && !dropped; ++i) {
    events = tail.wait_for(events.size() + 1, 200ms);
    for (const auto& e : events)
      if (e.name == "dropped" && e.data["dropped"].get<int>() > 0) dropped = true;
  }
  CHECK(dropped);
  CHECK(get(port, "/api/v1/tail", {{"type", "counter"}, {"key", "[\"busy\"]"}, {"rate", "0"}})
            .status == 400);
  CHECK(host.stop() == 0);
}

TEST_CASE("stats, metrics and ark-dash stats --by-handler show each handler's figures") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {bank_module}, {"--admin-port", "0"});
  REQUIRE_MESSAGE(host.start(), host.output());
  int port = admin_port(host);
  {
    ark::test::remote_client r(host.port());
    for (int i = 0; i < 20; ++i) {
      auto a = r.c.get_or_create<bank::account_if>("account", "acct" + std::to_string(i % 4));
      REQUIRE(a);
      REQUIRE(ark::call<std::int64_t>(r.sys, *a, 5s, bank::deposit_atom::value, std::int64_t{5}));
    }
    auto a = r.c.get_or_create<bank::account_if>("account", "acct0");
    for (int i = 0; i < 3; ++i)
      REQUIRE_FALSE(
          ark::call<std::int64_t>(r.sys, *a, 5s, bank::withdraw_atom::value, std::int64_t{10000}));
  }
  auto stats = get(port, "/api/v1/stats");
  REQUIRE(stats.status == 200);
  CHECK(stats.body["active_by_type"]["account"] == 4);
  json deposit, withdraw;
  for (const auto& h : stats.body["handlers"]) {
    if (h["handler"] == "deposit(int64) -> int64") deposit = h;
    if (h["handler"] == "withdraw(int64) -> int64") withdraw = h;
  }
  REQUIRE(deposit.is_object());
  CHECK(deposit["type"] == "account");
  CHECK(deposit["calls"] == 20);
  CHECK(deposit["calls_per_s"].get<double>() > 0);
  CHECK(deposit["handler_us"]["p50"].get<double>() > 0);
  CHECK(deposit["commit_wait_us"]["p99"].get<double>() > 0);
  // Busiest first.
  CHECK(stats.body["handlers"][0]["handler"] == "deposit(int64) -> int64");
  REQUIRE(withdraw.is_object());
  CHECK(withdraw["errors"] == 3);
  CHECK(withdraw["errors_by_code"].size() == 1);

  auto metrics = httplib::Client("127.0.0.1", port).Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->body.find(
            "ark_handler_calls_total{type=\"account\",handler=\"deposit(int64) -> int64\"} 20") !=
        std::string::npos);
  CHECK(metrics->body.find("ark_handler_errors_total{type=\"account\",handler=\"withdraw(int64) "
                           "-> int64\",code=") != std::string::npos);
  CHECK(metrics->body.find("ark_handler_seconds_bucket{type=\"account\"") != std::string::npos);
  CHECK(metrics->body.find("ark_handler_commit_wait_seconds_count{type=\"account\",handler="
                           "\"deposit(int64) -> int64\"} ") != std::string::npos);
  CHECK(metrics->body.find("ark_type_active_actors{type=\"account\"} 4") != std::string::npos);

  auto table = ark::test::run_dash({"stats", "--by-handler", "--host", ark::test::admin_url(host)});
  CHECK_MESSAGE(table.status == 0, table.err);
  CHECK(table.out.find("HANDLER") != std::string::npos);
  CHECK(table.out.find("deposit(int64) -> int64") != std::string::npos);
  auto offline = ark::test::run_dash({"stats", "--by-handler", "--data", dir.sub("data")});
  CHECK(offline.status == 2);
  CHECK(offline.err.find("running host") != std::string::npos);
  CHECK(host.stop() == 0);
}
