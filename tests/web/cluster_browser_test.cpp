// The web dashboard of a cluster in headless Chromium: two ark-hosts on a
// private PostgreSQL server, `ark-dash serve --host` against one of them;
// the hosts panel lists both, an actor's view names its owner and epoch.

#include <doctest/doctest.h>

#include <filesystem>

#include "host/cluster_support.hpp"
#include "web/browser.hpp"

using namespace ark::test::web;

TEST_CASE("the web dashboard shows a cluster's hosts and an actor's owner in headless Chromium") {
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
  dashboard dash({"--host", "http://" + admin});
  auto& b = dash.page();
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
