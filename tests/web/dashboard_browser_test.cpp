// The web dashboard in a real browser: Debian's headless Chromium, driven
// through chromedriver's WebDriver protocol (JSON over HTTP, spoken here with
// cpp-httplib), loads `ark-dash serve` against a real ark-host with the
// example actors, clicks into actors and checks the state and KV it shows.
// A screenshot is saved as a test artifact (ARK_ARTIFACT_DIR/dashboard.png).

#include <doctest/doctest.h>

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <openssl/evp.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <ark/client.hpp>

#include "chat_room/chat_room.hpp"
#include "counter/counter.hpp"
#include "support/damage.hpp"
#include "support/host_process.hpp"
#include "support/reminder/reminder.hpp"
#include "support/remote_client.hpp"
#include "support/spawn.hpp"
#include "test_util.hpp"
#include "web/browser.hpp"

using namespace std::chrono_literals;
using json = nlohmann::json;
using namespace ark::test::web;

namespace {

const std::string counter_module = std::string(ARK_MODULE_DIR) + "/libark_counter.so";
const std::string chat_module = std::string(ARK_MODULE_DIR) + "/libark_chat_room.so";
const std::string reminder_module = std::string(ARK_MODULE_DIR) + "/libark_test_reminder.so";

}  // namespace

TEST_CASE("the web dashboard shows a live host's actors, state and KV in headless Chromium") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {counter_module, chat_module, reminder_module},
                               {"--admin-port", "0"});
  REQUIRE_MESSAGE(host.start(), host.output());
  {
    ark::test::remote_client r(host.port());
    auto a = r.c.get_or_create<counter::counter_if>("counter", "a");
    REQUIRE(a);
    REQUIRE(ark::call<std::int64_t>(r.sys, *a, 5s, counter::add_atom::value, std::int64_t{42}));
    auto room = r.c.get_or_create<chat_room::chat_room_if>("chat_room", "lobby");
    REQUIRE(room);
    for (const char* text : {"hello from ark", "second", "third"})
      REQUIRE(ark::call<std::int64_t>(r.sys, *room, 5s, chat_room::post_atom::value,
                                      std::string("ann"), std::string(text)));
    // Two pending alarms: the later one scheduled first.
    auto rem = r.handle<reminder::reminder_if>("reminder", ark::key{"r1"});
    REQUIRE(ark::call<bool>(r.sys, rem, 5s, reminder::sched_atom::value, std::string("tea time"),
                            std::int64_t{3'600'000}, std::string("green")));
    REQUIRE(ark::call<bool>(r.sys, rem, 5s, reminder::sched_atom::value, std::string("stand up"),
                            std::int64_t{1'800'000}, std::string()));
  }
  auto out = host.output();
  auto admin = out.substr(out.find("admin=") + 6);
  admin = admin.substr(0, admin.find(' '));

  dashboard dash({"--host", "http://" + admin});
  auto& b = dash.page();
  CHECK(b.text("#source").find("live host") != std::string::npos);

  // The counter: click its type, then actor ["a"]; the state tree shows 42.
  b.click(".type-item[data-type='counter']");
  REQUIRE(b.until("return document.querySelector(\".actor-row[data-key='[\\\"a\\\"]']\") !== null;"));
  b.click(".actor-row[data-key='[\"a\"]']");
  REQUIRE_MESSAGE(b.until("return document.querySelector('#state').textContent.includes('42');"),
                  "state shown: " << b.text("#state") << " error: " << b.text("#error"));
  CHECK(b.text("#state").find("\"value\"") != std::string::npos);
  CHECK(b.text("#state-meta").find("active") != std::string::npos);

  // The chat room's KV: three messages, in order; reverse flips them.
  b.click(".type-item[data-type='chat_room']");
  REQUIRE(b.until(
      "return document.querySelector(\".actor-row[data-key='[\\\"lobby\\\"]']\") !== null;"));
  b.click(".actor-row[data-key='[\"lobby\"]']");
  REQUIRE(b.until("return document.querySelectorAll('.kv-row').length === 3;"));
  CHECK(b.text(".kv-row").find("hello from ark") != std::string::npos);
  b.click("#kv-reverse");
  b.click("#kv-go");
  REQUIRE(b.until("return document.querySelector('.kv-row') !== null && "
                  "document.querySelector('.kv-row').textContent.includes('third');"));
  // The pending alarms panel: soonest first, with the time left; a click
  // opens the actor, whose state view lists its alarms.
  REQUIRE_MESSAGE(b.until("return document.querySelectorAll('.alarm-item').length === 2;"),
                  "alarms shown: " << b.text("#alarms") << " error: " << b.text("#error"));
  CHECK(b.run("return [...document.querySelectorAll('.alarm-item')].map(e => e.dataset.name);") ==
        json::array({"stand up", "tea time"}));
  CHECK(b.text(".alarm-item[data-name='tea time'] .when") == "in 59m");
  CHECK(b.text(".alarm-item[data-name='tea time'] .who") == "reminder [\"r1\"]");
  b.click(".alarm-item[data-name='tea time']");
  REQUIRE_MESSAGE(b.until("return document.querySelectorAll('.actor-alarm-row').length === 2;"),
                  "actor alarms: " << b.text("#actor-alarms") << " error: " << b.text("#error"));
  CHECK(b.text("#actor-title").find("reminder [\"r1\"]") != std::string::npos);
  CHECK(b.text("#actor-alarms").find("{\"note\":\"green\"}") != std::string::npos);
  // A new alarm shows after a refresh.
  {
    ark::test::remote_client r(host.port());
    auto rem = r.handle<reminder::reminder_if>("reminder", ark::key{"r2"});
    REQUIRE(ark::call<bool>(r.sys, rem, 5s, reminder::sched_atom::value, std::string("first"),
                            std::int64_t{600'000}, std::string()));
  }
  b.click("#alarms-refresh");
  REQUIRE(
      b.until("const e = document.querySelector('.alarm-item'); "
              "return e !== null && e.dataset.name === 'first';"));
  CHECK(b.text("#alarms-count") == "3 shown");

  // The live stats refresh themselves and count the messages sent above.
  REQUIRE(b.until("return document.querySelector('#stats').textContent.includes('active');"));
  CHECK(b.text("#error").empty());

  std::filesystem::create_directories(ARK_ARTIFACT_DIR);
  auto png = b.screenshot();
  CHECK(png.substr(1, 3) == "PNG");
  std::ofstream(std::string(ARK_ARTIFACT_DIR) + "/dashboard.png", std::ios::binary) << png;
  CHECK(host.stop() == 0);
}

TEST_CASE("the web dashboard marks an actor whose snapshot fails its checksum as corrupt") {
  ark::test::temp_dir dir;
  const auto data = dir.sub("data");
  {
    ark::test::host_process host(data, {counter_module});
    REQUIRE_MESSAGE(host.start(), host.output());
    ark::test::remote_client r(host.port());
    for (auto [key, n] : {std::pair<const char*, std::int64_t>{"good", 1}, {"broken", 918273645}}) {
      auto h = r.handle<counter::counter_if>("counter", ark::key{key});
      REQUIRE(ark::call<std::int64_t>(r.sys, h, 5s, counter::add_atom::value, n));
    }
    CHECK(host.stop() == 0);  // checkpoints: the snapshots are in data.mdb
  }
  // One bit of "broken"'s stored snapshot (its last byte: the counter's
  // value) flipped on disk.
  std::string snapshot;
  {
    ark::kv::open_options o;
    o.read_only = true;
    auto db = ark::kv::open_detected(data, o);
    REQUIRE(db);
    auto id = ark::encode_key(ark::key{"counter", ark::key{"broken"}});
    REQUIRE(id);
    auto v = (*db)->get(std::string("\x00\x02state\x00", 8), *id);
    REQUIRE_MESSAGE(v, (v ? "" : v.error().message()));
    snapshot = *v;
  }
  REQUIRE(ark::test::flip_in_file(data + "/data.mdb", snapshot, snapshot.size() - 1) >= 1);

  dashboard dash({"--data", data});
  auto& b = dash.page();
  b.click(".type-item[data-type='counter']");
  REQUIRE_MESSAGE(
      b.until("return document.querySelectorAll('.actor-row').length === 2;"),
      "actors shown: " << b.text("#actors") << " error: " << b.text("#error"));
  CHECK(b.text(".actor-row[data-key='[\"broken\"]'] .badge.corrupt") == "corrupt");
  CHECK(b.run("return document.querySelector(\".actor-row[data-key='[\\\"good\\\"]'] "
              ".badge.corrupt\") === null;") == json(true));
  // Opening it says why, naming the checksum; the good one still opens.
  b.click(".actor-row[data-key='[\"broken\"]']");
  REQUIRE_MESSAGE(b.until("return document.querySelector('#state .state-error') !== null && "
                          "document.querySelector('#state').textContent.includes("
                          "'fails its checksum');"),
                  "state shown: " << b.text("#state") << " error: " << b.text("#error"));
  CHECK(b.text("#state-meta") == "corrupt");
  CHECK(b.text("#state").find("restore the data directory from a backup") != std::string::npos);
  b.click(".actor-row[data-key='[\"good\"]']");
  REQUIRE_MESSAGE(b.until("return document.querySelector('#state').textContent.includes('1');"),
                  "state shown: " << b.text("#state") << " error: " << b.text("#error"));
}
