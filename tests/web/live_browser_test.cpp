// The dashboard's live views in headless Chromium, against a real ark-host:
// the per-handler table under load, the live tail of one actor (a change
// within a second of its commit, never a rolled-back one), calling a handler
// from the page (and its refusal without the admin token), and the offline
// page's honesty. A screenshot is saved as ARK_ARTIFACT_DIR/dashboard-live.png.

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include <ark/client.hpp>

#include "bank/bank.hpp"
#include "counter/counter.hpp"
#include "host/admin_http.hpp"
#include "support/host_process.hpp"
#include "support/remote_client.hpp"
#include "test_util.hpp"
#include "web/browser.hpp"

using namespace std::chrono_literals;
using json = nlohmann::json;
using namespace ark::test::web;

namespace {

const std::string counter_module = std::string(ARK_MODULE_DIR) + "/libark_counter.so";
const std::string bank_module = std::string(ARK_MODULE_DIR) + "/libark_bank.so";


// Clicks type `type`, then its actor `key` (JSON text), and waits for its state.
void open_actor(browser& b, const std::string& type, const std::string& key) {
  b.click(".type-item[data-type='" + type + "']");
  auto row = ".actor-row[data-key='" + key + "']";
  REQUIRE_MESSAGE(b.until("return document.querySelector(" + json(row).dump() + ") !== null;"),
                  "no row " << row << "; error: " << b.text("#error"));
  b.click(row);
  auto forms = "#calls[data-actor='" + type + " " + key + "'] .call-form";
  REQUIRE_MESSAGE(b.until("return document.querySelector(" + json(forms).dump() + ") !== null;"),
                  "no call forms; error: " << b.text("#error") << " note: " << b.text("#call-note"));
}

// Sets the input of parameter `i` of the call form of `handler` and clicks call.
void call_from_page(browser& b, const std::string& handler, const std::string& value) {
  auto form = ".call-form[data-handler='" + handler + "']";
  b.run("document.querySelector(" + json(form + " input[data-param='0']").dump() + ").value = " +
        json(value).dump() + ";");
  b.click(form + " .call-button");
}

}  // namespace

TEST_CASE("the page's handler table fills under load, its tail follows one actor, and it calls add") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {counter_module, bank_module},
                               {"--admin-port", "0"});
  REQUIRE_MESSAGE(host.start(), host.output());
  ark::test::remote_client r(host.port());
  auto a = r.c.get_or_create<counter::counter_if>("counter", "a");
  REQUIRE(a);
  REQUIRE(ark::call<std::int64_t>(r.sys, *a, 5s, counter::add_atom::value, std::int64_t{42}));
  auto alice = r.c.get_or_create<bank::account_if>("account", "alice");
  REQUIRE(alice);
  REQUIRE(ark::call<std::int64_t>(r.sys, *alice, 5s, bank::deposit_atom::value, std::int64_t{10}));

  dashboard dash({"--host", ark::test::admin_url(host)});
  auto& b = dash.page();

  // Load on the counters: the handler table shows add with a rate.
  std::atomic<bool> stop{false};
  std::thread load([&] {
    ark::test::remote_client lr(host.port());
    auto c = lr.c.get_or_create<counter::counter_if>("counter", "load");
    REQUIRE(c);
    while (!stop) (void)ark::call<std::int64_t>(lr.sys, *c, 5s, counter::add_atom::value, std::int64_t{1});
  });
  auto row = std::string(".handler-row[data-type='counter'][data-handler='add(int64) -> int64']");
  // The table refreshes itself: it shows the load's calls (not just the one
  // made before the page opened) and a rate.
  bool filled = b.until("const r = document.querySelector(" + json(row).dump() + ");"
                        "return r !== null && parseFloat(r.children[2].textContent) > 0 &&"
                        "  parseInt(r.children[8].textContent) >= 50;",
                        20s);
  stop = true;
  load.join();
  REQUIRE_MESSAGE(filled, "handler table: " << b.text("#handlers-table") << " error: "
                                            << b.text("#error"));
  CHECK(b.text("#handlers-note").find("Active actors: ") != std::string::npos);
  CHECK(b.text("#handlers-window").find("rates over the last") != std::string::npos);

  // The live tail of account alice: a refused withdrawal shows nothing, a
  // deposit shows within a second of its reply.
  open_actor(b, "account", "[\"alice\"]");
  CHECK(std::regex_search(b.text("#state-meta"),
                          std::regex(R"(last commit \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
  b.click("#tail-toggle");
  REQUIRE_MESSAGE(b.until("return document.querySelector('#tail-status').textContent"
                          ".startsWith('Following');"),
                  "tail status: " << b.text("#tail-status"));
  REQUIRE_FALSE(
      ark::call<std::int64_t>(r.sys, *alice, 5s, bank::withdraw_atom::value, std::int64_t{1000}));
  REQUIRE(ark::call<std::int64_t>(r.sys, *alice, 5s, bank::deposit_atom::value, std::int64_t{5}));
  auto replied = std::chrono::steady_clock::now();
  REQUIRE_MESSAGE(b.until("return document.querySelectorAll('.change').length >= 1;", 5s),
                  "tail: " << b.text("#tail") << " status: " << b.text("#tail-status"));
  CHECK(std::chrono::steady_clock::now() - replied < 1s);
  std::this_thread::sleep_for(300ms);
  CHECK(b.run("return document.querySelectorAll('.change').length;") == 1);
  auto change = b.text(".change");
  CHECK(change.find("deposit(int64) -> int64") != std::string::npos);
  CHECK(change.find("state replace /balance = 15") != std::string::npos);
  CHECK(change.find("withdraw") == std::string::npos);

  // Calling deposit from the page: the reply shows, the tail and the state follow.
  call_from_page(b, "deposit(int64) -> int64", "7");
  REQUIRE_MESSAGE(b.until("return document.querySelector('.call-reply') !== null;"),
                  "call: " << b.text("#calls"));
  CHECK(b.text(".call-reply").find("reply 22") != std::string::npos);
  REQUIRE(b.until("return document.querySelectorAll('.change').length === 2;"));
  REQUIRE(b.until("return document.querySelector('#state').textContent.includes('22');"));
  CHECK(*ark::call<std::int64_t>(r.sys, *alice, 5s, bank::balance_atom::value) == 22);

  // The counter: add from the page changes it; a bad argument is refused.
  open_actor(b, "counter", "[\"a\"]");
  call_from_page(b, "add(int64) -> int64", "5");
  REQUIRE_MESSAGE(b.until("return document.querySelector('.call-reply') !== null;"),
                  "call: " << b.text("#calls"));
  CHECK(b.text(".call-reply").find("reply 47") != std::string::npos);
  CHECK(*ark::call<std::int64_t>(r.sys, *a, 5s, counter::get_atom::value) == 47);
  call_from_page(b, "add(int64) -> int64", "\"five\"");
  REQUIRE(b.until("return document.querySelector('.call-error') !== null;"));
  CHECK(b.text(".call-error").find("argument 1: expected int64") != std::string::npos);
  CHECK(host.output().find("admin API: 127.0.0.1:") != std::string::npos);

  std::filesystem::create_directories(ARK_ARTIFACT_DIR);
  open_actor(b, "account", "[\"alice\"]");
  b.click("#tail-toggle");
  REQUIRE(b.until("return document.querySelector('#tail-status').textContent.startsWith('Following');"));
  REQUIRE(ark::call<std::int64_t>(r.sys, *alice, 5s, bank::withdraw_atom::value, std::int64_t{2}));
  REQUIRE(b.until("return document.querySelectorAll('.change').length === 1;"));
  // The table keeps refreshing while tails stream: the withdrawals (one
  // refused) and the deposits made since the load show.
  auto withdraw = std::string(".handler-row[data-type='account'][data-handler='withdraw(int64) -> int64']");
  REQUIRE_MESSAGE(b.until("const r = document.querySelector(" + json(withdraw).dump() + ");"
                          "return r !== null && parseInt(r.children[8].textContent) === 2 &&"
                          "  r.children[3].textContent.includes('invalid_argument');",
                          15s),
                  "handler table: " << b.text("#handlers-table"));
  auto png = b.screenshot();
  CHECK(png.substr(1, 3) == "PNG");
  std::ofstream(std::string(ARK_ARTIFACT_DIR) + "/dashboard-live.png", std::ios::binary) << png;
  CHECK(host.stop() == 0);
}

TEST_CASE("the page's handler call is refused without the admin token when the host has one") {
  ark::test::temp_dir dir;
  auto token_path = ark::test::write_admin_token(dir);
  ark::test::host_process host(dir.sub("data"), {counter_module},
                               {"--admin-port", "0", "--admin-token-file", token_path});
  REQUIRE_MESSAGE(host.start(), host.output());
  {
    ark::test::remote_client r(host.port());
    auto a = r.c.get_or_create<counter::counter_if>("counter", "a");
    REQUIRE(a);
    REQUIRE(ark::call<std::int64_t>(r.sys, *a, 5s, counter::add_atom::value, std::int64_t{1}));
  }
  // ark-dash serve reads the views with the token; a call carries only the
  // token typed into the page.
  dashboard dash({"--host", ark::test::admin_url(host), "--token-file", token_path});
  auto& b = dash.page();
  open_actor(b, "counter", "[\"a\"]");
  call_from_page(b, "add(int64) -> int64", "5");
  REQUIRE_MESSAGE(b.until("return document.querySelector('.call-error') !== null;"),
                  "call: " << b.text("#calls"));
  CHECK(b.text(".call-error").find("unauthorized") != std::string::npos);
  b.run("document.querySelector('#call-token').value = '0123456789abcdef0123';");
  call_from_page(b, "add(int64) -> int64", "5");
  REQUIRE_MESSAGE(b.until("return document.querySelector('.call-reply') !== null;"),
                  "call: " << b.text("#calls"));
  CHECK(b.text(".call-reply").find("reply 6") != std::string::npos);
  CHECK(host.stop() == 0);
}

TEST_CASE("offline, the page says that live figures need a running host") {
  ark::test::temp_dir dir;
  {
    ark::test::host_process host(dir.sub("data"), {counter_module}, {});
    REQUIRE_MESSAGE(host.start(), host.output());
    ark::test::remote_client r(host.port());
    auto a = r.c.get_or_create<counter::counter_if>("counter", "a");
    REQUIRE(a);
    REQUIRE(ark::call<std::int64_t>(r.sys, *a, 5s, counter::add_atom::value, std::int64_t{3}));
    CHECK(host.stop() == 0);
  }
  dashboard dash({"--data", dir.sub("data")});
  auto& b = dash.page();
  CHECK(b.run("return document.querySelector('#offline-note').hidden;") == false);
  CHECK(b.text("#offline-note").find("need a running host") != std::string::npos);
  CHECK(b.run("return document.querySelector('#live-figures').hidden;") == true);
  CHECK(b.run("return document.querySelector('#handlers-panel').hidden;") == true);
  b.click(".type-item[data-type='counter']");
  REQUIRE(b.until("return document.querySelector(\".actor-row[data-key='[\\\"a\\\"]']\") !== null;"));
  b.click(".actor-row[data-key='[\"a\"]']");
  REQUIRE(b.until("return document.querySelector('#state').textContent.includes('3');"));
  CHECK(b.run("return document.querySelector('#live-actor').hidden;") == true);
}
