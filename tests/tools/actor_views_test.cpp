// ark-dash's actor views over --host: the real binary against a stand-in
// admin API on the loopback interface that serves fixed documents
// (doc/admin_api.md), so the text rendering is checked byte for byte.

#include <doctest/doctest.h>
#include <httplib.h>

#include <chrono>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "ark/inspect.hpp"
#include "tools/dash_runner.hpp"

namespace {

using json = nlohmann::json;

// An admin API on 127.0.0.1 (a free port) answering GET /api/v1/state with
// `state_doc`; stops when destroyed.
class fake_admin_api {
 public:
  explicit fake_admin_api(json state_doc) : doc_(std::move(state_doc)) {
    server_.Get("/api/v1/state", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(doc_.dump(), "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // The socket listens already; wait for the accept loop so stop() ends it.
    for (int i = 0; i < 5000 && !server_.is_running(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~fake_admin_api() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  json doc_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace

TEST_CASE("ark-dash state prints the last commit of a live actor as ISO 8601 UTC") {
  const std::int64_t last_commit_ms = 1796564946886;
  fake_admin_api api(json{{"type", "counter"},
                          {"key", json::array({"a"})},
                          {"schema", 1},
                          {"snapshot_bytes", 12},
                          {"active", true},
                          {"last_commit_ms", last_commit_ms},
                          {"state", {{"value", 5}}},
                          {"truncated", false},
                          {"alarms", json::array()},
                          {"alarms_next", nullptr}});
  auto r = ark::test::run_dash({"state", "counter", "a", "--host", api.url()});
  INFO("stderr: " << r.err);
  REQUIRE(r.status == 0);
  // The alarm views' format (inspect::iso8601_utc), pinned.
  CHECK(ark::inspect::iso8601_utc(last_commit_ms) == "2026-12-06T13:49:06.886Z");
  CHECK(r.out.find("actor counter [\"a\"], schema 1, snapshot 12 bytes, active, last commit "
                   "2026-12-06T13:49:06.886Z\n") == 0);
  CHECK(r.out.find("since the epoch") == std::string::npos);
}
