// The settings example end to end: a real ark-host on a SQLite data
// directory, a remote subscriber, the settings-client binary, a restart.

#include <doctest/doctest.h>

#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>

#include <ark/client.hpp>
#include <ark/subscription.hpp>

#include "settings/settings.hpp"
#include "support/host_process.hpp"
#include "support/remote_client.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

namespace {

const std::string settings_module = std::string(ARK_MODULE_DIR) + "/libark_settings.so";


}  // namespace

TEST_CASE("settings: changes, a remote subscriber and a restart on a SQLite host") {
  ark::test::temp_dir dir;
  std::vector<std::string> seen;
  std::mutex mtx;
  std::condition_variable cv;
  {
    ark::test::host_process host(dir.sub("data"), {settings_module}, {"--backend", "sqlite"});
    REQUIRE_MESSAGE(host.start(), host.output());
    CHECK(host.output().find("backend=sqlite") != std::string::npos);
    ark::test::remote_client r(host.port());
    auto h = r.handle<settings::settings_if>("settings", "eve");
    ark::subscription_callbacks cbs;
    cbs.on_state = [&](const ark::state_changed& c) {
      auto p = ark::decode_state<settings::preferences>(c);
      std::lock_guard<std::mutex> guard{mtx};
      seen.push_back(p ? p->theme + "/" + std::to_string(p->version) : p.error().message());
      cv.notify_all();
    };
    auto sub = ark::subscribe(r.sys, h, ark::subscription_mode::state, cbs);
    REQUIRE_MESSAGE(sub, (sub ? "" : sub.error().message()));
    CHECK(ark::test::run_client("settings-client", host.port(), "set eve lang de") == "1\n");
    CHECK(ark::test::run_client("settings-client", host.port(), "theme eve dark") == "2\n");
    CHECK(ark::test::run_client("settings-client", host.port(), "theme eve neon").find("not one of light, dark") != std::string::npos);
    {
      std::unique_lock<std::mutex> lock{mtx};
      REQUIRE(cv.wait_for(lock, 10s, [&] { return seen.size() >= 3; }));
      CHECK(seen == std::vector<std::string>{"light/0", "light/1", "dark/2"});
    }
    CHECK(ark::test::run_client("settings-client", host.port(), "snooze eve 60").find_first_not_of("0123456789\n") == std::string::npos);
    sub->cancel();
    CHECK(host.stop() == 0);
  }
  CHECK(std::filesystem::exists(dir.sub("data") + "/ark.sqlite"));
  // The host comes back on the same directory: it keeps its engine without --backend.
  ark::test::host_process host(dir.sub("data"), {settings_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  CHECK(ark::test::run_client("settings-client", host.port(), "status eve") == "theme=dark dnd=on digests=0 version=2\n");
  CHECK(ark::test::run_client("settings-client", host.port(), "history eve") == "lang=de\ntheme=dark\n");
  CHECK(host.stop() == 0);
}
