// The bank example's conservation across three cluster hosts, one of them
// killed with SIGKILL under a transfer load (doc/cluster.md).

#include <doctest/doctest.h>

#include "examples/bank_support.hpp"
#include "host/cluster_support.hpp"

using namespace cluster_test;
using namespace bank_test;

TEST_CASE("cluster: the bank conserves money across three hosts when one is killed under load") {
  auto& server = ark::test::shared_pg_server();
  cluster cl(server, 3);
  std::this_thread::sleep_for(2 * cl.renew);  // each host has seen the others
  std::vector<attempt> attempts;
  {
    remote r(cl.ports[0]);
    fund_accounts(r);
    // The accounts live on several hosts; host 2 owns at least one.
    auto on_2 = cl.psql_int("SELECT count(*) FROM " + cl.schema + ".epochs WHERE holder = 'h2'");
    auto on_other = cl.psql_int("SELECT count(*) FROM " + cl.schema +
                                ".epochs WHERE holder IN ('h0', 'h1')");
    INFO("accounts on host 2: " << on_2 << ", elsewhere: " << on_other);
    REQUIRE(on_2 > 0);
    REQUIRE(on_other > 0);
    transfer_load load(r, 6, 400, 3s);
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (load.acknowledged() < 60 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    REQUIRE(load.acknowledged() >= 60);
    cl.hosts[2]->kill();
    load.join();
    attempts = load.attempts();
  }
  // After host 2's lease, its accounts answer from the others; every debit
  // is credited exactly once (the senders re-send pending credits every
  // second), so the total is conserved and the balances are explained by
  // the acknowledged transfers plus a subset of those in doubt.
  std::this_thread::sleep_for(cl.ttl + 1s);
  remote r(cl.ports[1]);
  auto b = settle(r, initial_balance * static_cast<std::int64_t>(names.size()));
  check_consistent(attempts, b);
  std::this_thread::sleep_for(1500ms);
  CHECK(r.balances(names) == b);  // settled means settled
  // One identity per account: lookups forwarded between hosts (by clients
  // and by the accounts themselves) named the same actors.
  CHECK(cl.psql_int("SELECT count(*) FROM " + cl.schema + ".epochs") ==
        static_cast<int>(names.size()));
}
