// The web dashboard of a cluster in headless Chromium: two ark-hosts on a
// private PostgreSQL server, `ark-dash serve --host` against one of them;
// the hosts panel lists both, an actor's view names its owner and epoch.

#include <doctest/doctest.h>

#include <filesystem>

#include "host/cluster_support.hpp"
#include "web/browser.hpp"

using namespace ark::test::web;

TEST_CASE("the web dashboard shows a cluster's hosts and an actor's owner in headless Chromium") {
  REQUIRE_MESSAGE(std::filesystem::exists(chromedriver),
                  "chromedriver is missing: run scripts/setup.sh (packages chromium, "
                  "chromium-driver)");
  auto& server = ark::test::shared_pg_server();
  cluster_test::cluster cl(server, 2, 2s, 500ms, {"--admin-port", "0"});
  std::this_thread::sleep_for(2 * cl.renew);
  {
    cluster_test::client c(cl.ports[0]);
    REQUIRE(c.add("seen", 3));
  }
  auto out = cl.hosts[1]->output();
  auto admin = out.substr(out.find("admin=") + 6);
  admin = admin.substr(0, admin.find(' '));
  int dash_port = free_port();
  child dash({ARK_DASH_PATH, "serve", "--host", "http://" + admin, "--port",
              std::to_string(dash_port)});
  REQUIRE_MESSAGE(dash.wait_for("ark-dash serve: http://", 10s), dash.output());
  int driver_port = free_port();
  child driver({chromedriver, "--port=" + std::to_string(driver_port)});
  REQUIRE_MESSAGE(driver.wait_for("started successfully", 20s), driver.output());

  browser b(driver_port);
  b.go("http://127.0.0.1:" + std::to_string(dash_port) + "/");
  REQUIRE_MESSAGE(b.until("return document.body.dataset.ready === '1';"),
                  "the page did not load: " << b.text("#error"));
  // The hosts panel: both members, live, this one marked.
  REQUIRE_MESSAGE(b.until("return document.querySelectorAll('.host-row').length === 2;"),
                  "hosts shown: " << b.text("#hosts") << " error: " << b.text("#error"));
  CHECK(b.text("#hosts-title") == "Cluster test hosts");
  CHECK(b.run("return [...document.querySelectorAll('.host-row')].map(e => e.dataset.state);") ==
        json::array({"live", "live"}));
  CHECK(b.text(".host-row[data-host='h1']").find("(this)") != std::string::npos);
  // A second refresh has a rate for each host.
  CHECK(b.until("return [...document.querySelectorAll('.host-row td:last-child')]"
                ".every(td => td.textContent !== '-');",
                10s));
  // The counter's view names its owner and epoch.
  auto holder = cl.psql_text("SELECT holder FROM " + cl.schema + ".epochs WHERE " +
                             cluster_test::cluster::owner_is("seen"));
  b.click(".type-item[data-type='counter']");
  REQUIRE(b.until(
      "return document.querySelector(\".actor-row[data-key='[\\\"seen\\\"]']\") !== null;"));
  b.click(".actor-row[data-key='[\"seen\"]']");
  REQUIRE_MESSAGE(b.until("return document.querySelector('#state-meta').textContent.includes('owner');"),
                  "state meta: " << b.text("#state-meta") << " error: " << b.text("#error"));
  CHECK(b.text("#state-meta").find("owner " + holder + " (127.0.0.1:") != std::string::npos);
  CHECK(b.text("#state-meta").find("epoch 1") != std::string::npos);
  CHECK(b.text("#state").find("3") != std::string::npos);
}
