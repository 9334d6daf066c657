#pragma once

// Driving Debian's headless Chromium through chromedriver's WebDriver
// protocol (JSON over HTTP, spoken with cpp-httplib), for the web page tests.

#include <doctest/doctest.h>

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <openssl/evp.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "support/child_process.hpp"

namespace ark::test::web {

using namespace std::chrono_literals;
using json = nlohmann::json;

inline const char* const chromedriver = "/usr/bin/chromedriver";
inline const char* const chromium = "/usr/bin/chromium";


inline int free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

// A WebDriver session against chromedriver.
class browser {
 public:
  explicit browser(int port) : http_("127.0.0.1", port) {
    http_.set_read_timeout(60);
    json caps{{"capabilities",
               {{"alwaysMatch",
                 {{"browserName", "chrome"},
                  {"goog:chromeOptions",
                   {{"binary", chromium},
                    {"args",
                     {"--headless=new", "--no-sandbox", "--disable-gpu",
                      "--disable-dev-shm-usage", "--window-size=1400,900"}}}}}}}}};
    auto r = post("/session", caps);
    id_ = r["value"]["sessionId"].get<std::string>();
  }
  ~browser() {
    if (!id_.empty()) http_.Delete("/session/" + id_);
  }

  json post(const std::string& path, const json& body) {
    auto r = http_.Post(path.c_str(), body.dump(), "application/json");
    REQUIRE_MESSAGE(r, "no answer from chromedriver for " << path);
    auto j = json::parse(r->body, nullptr, false);
    REQUIRE_MESSAGE(r->status == 200, "chromedriver " << path << ": " << r->body);
    return j;
  }
  json get(const std::string& path) {
    auto r = http_.Get(path.c_str());
    REQUIRE(r);
    REQUIRE_MESSAGE(r->status == 200, "chromedriver " << path << ": " << r->body);
    return json::parse(r->body);
  }
  std::string session() const { return "/session/" + id_; }

  void go(const std::string& url) { post(session() + "/url", {{"url", url}}); }
  json run(const std::string& script) {
    return post(session() + "/execute/sync", {{"script", script}, {"args", json::array()}})["value"];
  }
  /// Waits until `script` returns true.
  bool until(const std::string& script, std::chrono::milliseconds timeout = 15s) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (run(script) == true) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
  void click(const std::string& css) {
    auto e = post(session() + "/element", {{"using", "css selector"}, {"value", css}});
    auto id = e["value"].begin().value().get<std::string>();
    post(session() + "/element/" + id + "/click", json::object());
  }
  std::string text(const std::string& css) {
    return run("const e = document.querySelector(" + json(css).dump() +
               "); return e ? e.textContent : null;")
        .get<std::string>();
  }
  /// The page as PNG bytes.
  std::string screenshot() {
    auto b64 = get(session() + "/screenshot")["value"].get<std::string>();
    std::string png(b64.size(), '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(png.data()),
                            reinterpret_cast<const unsigned char*>(b64.data()),
                            static_cast<int>(b64.size()));
    REQUIRE(n > 0);
    auto pad = b64.size() >= 2 && b64[b64.size() - 1] == '=' ? (b64[b64.size() - 2] == '=' ? 2 : 1) : 0;
    png.resize(static_cast<std::size_t>(n) - static_cast<std::size_t>(pad));
    return png;
  }

 private:
  httplib::Client http_;
  std::string id_;
};

/// `ark-dash serve SERVE_ARGS` (--host URL, or --data DIR) on a free port,
/// chromedriver, and a browser on the page once it is ready; the test fails
/// when any of them does not start. Stops them in reverse order.
class dashboard {
 public:
  explicit dashboard(std::vector<std::string> serve_args) {
    REQUIRE_MESSAGE(std::filesystem::exists(chromedriver),
                    "chromedriver is missing: run scripts/setup.sh (packages chromium, "
                    "chromium-driver)");
    int dash_port = free_port();
    std::vector<std::string> args{ARK_DASH_PATH, "serve"};
    args.insert(args.end(), serve_args.begin(), serve_args.end());
    args.insert(args.end(), {"--port", std::to_string(dash_port)});
    serve_ = std::make_unique<child>(std::move(args));
    REQUIRE_MESSAGE(serve_->wait_for("ark-dash serve: http://", 10s), serve_->output());
    int driver_port = free_port();
    driver_ = std::make_unique<child>(
        std::vector<std::string>{chromedriver, "--port=" + std::to_string(driver_port)});
    REQUIRE_MESSAGE(driver_->wait_for("started successfully", 20s), driver_->output());
    page_ = std::make_unique<browser>(driver_port);
    page_->go("http://127.0.0.1:" + std::to_string(dash_port) + "/");
    REQUIRE_MESSAGE(page_->until("return document.body.dataset.ready === '1';"),
                    "the page did not load: " << page_->text("#error"));
  }
  browser& page() { return *page_; }

 private:
  std::unique_ptr<child> serve_, driver_;
  std::unique_ptr<browser> page_;  // destroyed first
};

}  // namespace ark::test::web
