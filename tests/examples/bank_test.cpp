#include <doctest/doctest.h>

#include <atomic>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <ark/client.hpp>

#include "bank/bank.hpp"
#include "examples/bank_support.hpp"
#include "support/host_process.hpp"
#include "support/remote_client.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

using namespace bank_test;

namespace {

// Runs a transfer load, ends the host (SIGKILL, or SIGTERM: a clean stop) once
// some transfers were acknowledged, restarts it and checks conservation.
void end_host_during_load(bool sigkill) {
  ark::test::temp_dir dir;
  std::vector<attempt> attempts;
  {
    ark::test::host_process host(dir.sub("data"), {bank_module});
    REQUIRE_MESSAGE(host.start(), host.output());
    remote r(host.port());
    fund_accounts(r);
    // A reply the host died before sending is waited for until the timeout
    // (the client is not told the connection broke), so keep it short; a
    // transfer that times out before the kill only adds one in doubt.
    transfer_load load(r, 6, 400, 3s);
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (load.acknowledged() < 60 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    REQUIRE(load.acknowledged() >= 60);
    if (sigkill)
      host.kill();
    else
      CHECK(host.stop() == 0);
    load.join();
    attempts = load.attempts();
  }
  ark::test::host_process host(dir.sub("data"), {bank_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  remote r(host.port());
  auto b = settle(r, initial_balance * static_cast<std::int64_t>(names.size()));
  check_consistent(attempts, b);
  // Settled means settled: nothing moves any more.
  std::this_thread::sleep_for(200ms);
  CHECK(r.balances(names) == b);
  CHECK(host.stop() == 0);
}

}  // namespace

TEST_CASE("bank: deposit, withdraw and insufficient funds") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {bank_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  remote r(host.port());
  CHECK(*r.balance("alice") == 0);  // a new account is empty
  CHECK(*r.deposit("alice", 100) == 100);
  CHECK(*r.deposit("alice", 50) == 150);
  CHECK(*r.withdraw("alice", 30) == 120);

  auto w = r.withdraw("alice", 121);
  REQUIRE_FALSE(w);
  CHECK(w.error().code() == ark::errc::invalid_argument);
  CHECK(w.error().context().find("insufficient funds") != std::string::npos);
  CHECK(*r.balance("alice") == 120);  // unchanged

  for (std::int64_t bad : {0, -5}) {
    CHECK(r.deposit("alice", bad).error().code() == ark::errc::invalid_argument);
    CHECK(r.withdraw("alice", bad).error().code() == ark::errc::invalid_argument);
  }
  CHECK(*r.withdraw("alice", 120) == 0);
  CHECK(*r.balance("alice") == 0);
  CHECK(host.stop() == 0);
}

TEST_CASE("bank: a transfer moves money and refuses what it cannot do") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {bank_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  remote r(host.port());
  REQUIRE(*r.deposit("alice", 100) == 100);
  CHECK(*r.transfer("alice", "bob", 30) == 70);  // the sender's balance after the debit
  CHECK(*r.balance("alice") == 70);
  CHECK(*r.balance("bob") == 30);  // bob was created by the transfer
  CHECK(*r.transfer("bob", "alice", 5) == 25);
  CHECK(*r.balance("alice") == 75);
  CHECK(*r.balance("bob") == 25);

  auto t = r.transfer("alice", "bob", 76);
  REQUIRE_FALSE(t);
  CHECK(is_insufficient_funds(t.error()));
  CHECK(r.transfer("alice", "alice", 1).error().code() == ark::errc::invalid_argument);
  CHECK(r.transfer("alice", "bob", 0).error().code() == ark::errc::invalid_argument);
  CHECK(r.transfer("alice", "bob", -1).error().code() == ark::errc::invalid_argument);
  CHECK(*r.balance("alice") == 75);
  CHECK(*r.balance("bob") == 25);
  CHECK(host.stop() == 0);
}

TEST_CASE("bank: a credit is applied once per transfer id") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {bank_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  remote r(host.port());
  auto bob = r.account("bob");
  auto credit = [&](const std::string& from, std::uint64_t id, std::int64_t n) {
    return ark::call<bool>(r.sys, bob, 10s, bank::credit_atom::value, from, id, n);
  };
  CHECK(*credit("alice", 7, 10));
  CHECK(*credit("alice", 7, 10));  // a retry: acknowledged, not applied again
  CHECK(*r.balance("bob") == 10);
  CHECK(*credit("alice", 8, 10));  // another transfer
  CHECK(*credit("carol", 7, 10));  // the same id from another account
  CHECK(*r.balance("bob") == 30);
  CHECK(host.stop() == 0);
}

TEST_CASE("bank: a debited transfer whose credit failed completes at the next activation") {
  // The receiver refuses the credit (its balance would overflow), so the
  // sender is debited and keeps the transfer in its outbox; the retry at its
  // next activation (after a restart) delivers it once the receiver has room.
  ark::test::temp_dir dir;
  const std::int64_t big = std::numeric_limits<std::int64_t>::max() - 5;
  {
    ark::test::host_process host(dir.sub("data"), {bank_module});
    REQUIRE_MESSAGE(host.start(), host.output());
    remote r(host.port());
    REQUIRE(*r.deposit("alice", 100) == 100);
    REQUIRE(*r.deposit("whale", big) == big);
    auto t = r.transfer("alice", "whale", 10);
    REQUIRE_FALSE(t);
    // In doubt for the client (debited, credit pending), never the
    // receiver's own error code: that would claim nothing happened.
    CHECK(t.error().code() == ark::errc::unreachable);
    CHECK(t.error().context().find("debited from account alice") != std::string::npos);
    CHECK(t.error().context().find("overflow") != std::string::npos);
    CHECK(*r.balance("alice") == 90);  // debited: the 10 are in alice's outbox
    CHECK(*r.balance("whale") == big);
    CHECK(*r.withdraw("whale", 1000) == big - 1000);
    CHECK(host.stop() == 0);
  }
  ark::test::host_process host(dir.sub("data"), {bank_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  remote r(host.port());
  CHECK(*r.balance("alice") == 90);  // activates alice: on_activate re-sends the credit
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (*r.balance("whale") != big - 990 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  CHECK(*r.balance("whale") == big - 990);
  CHECK(*r.balance("alice") == 90);
  CHECK(host.stop() == 0);
  // Delivered once: another activation re-sends nothing.
  ark::test::host_process again(dir.sub("data"), {bank_module});
  REQUIRE_MESSAGE(again.start(), again.output());
  remote r2(again.port());
  CHECK(*r2.balance("alice") == 90);
  std::this_thread::sleep_for(200ms);
  CHECK(*r2.balance("whale") == big - 990);
  CHECK(again.stop() == 0);
}

TEST_CASE("bank: concurrent transfers conserve money across a restart") {
  ark::test::temp_dir dir;
  std::vector<std::int64_t> before;
  {
    ark::test::host_process host(dir.sub("data"), {bank_module});
    REQUIRE_MESSAGE(host.start(), host.output());
    remote r(host.port());
    fund_accounts(r);
    transfer_load load(r, 6, 40);
    load.join();
    auto attempts = load.attempts();
    std::size_t acked = 0;
    for (const auto& a : attempts) {
      CHECK_MESSAGE(a.result != attempt::in_doubt, a.error);
      if (a.result == attempt::acknowledged) ++acked;
    }
    CHECK(attempts.size() == 6 * 40);
    CHECK(acked > 100);
    before = r.balances(names);
    CHECK(before == expected_balances(attempts));
    CHECK(sum(before) == initial_balance * static_cast<std::int64_t>(names.size()));
    CHECK(host.stop() == 0);
  }
  ark::test::host_process host(dir.sub("data"), {bank_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  remote r(host.port());
  CHECK(r.balances(names) == before);
  CHECK(host.stop() == 0);
}

TEST_CASE("bank: no money is lost or created when the host is SIGKILLed during transfers") {
  end_host_during_load(true);
}

TEST_CASE("bank: no money is lost or created when the host stops during transfers") {
  end_host_during_load(false);
}

TEST_CASE("bank-client: deposit, transfer, balance, total and errors") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {bank_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  std::string client =
      std::string(ARK_BIN_DIR) + "/bank-client --port " + std::to_string(host.port());
  auto [rc, out] = ark::test::run_command(client + " deposit alice 100");
  CHECK(rc == 0);
  CHECK(out == "alice = 100\n");
  std::tie(rc, out) = ark::test::run_command(client + " transfer alice bob 40");
  CHECK(rc == 0);
  CHECK(out == "alice = 60\n");
  std::tie(rc, out) = ark::test::run_command(client + " withdraw bob 15");
  CHECK(out == "bob = 25\n");
  std::tie(rc, out) = ark::test::run_command(client + " balance bob");
  CHECK(out == "bob = 25\n");
  std::tie(rc, out) = ark::test::run_command(client + " total alice bob");
  CHECK(rc == 0);
  CHECK(out == "total = 85\n");
  std::tie(rc, out) = ark::test::run_command(client + " transfer bob alice 26");
  CHECK(rc == 1);
  CHECK(out.find("insufficient funds") != std::string::npos);
  host.stop();
  std::tie(rc, out) = ark::test::run_command(client + " balance bob");
  CHECK(rc == 1);
  CHECK(out.find("unreachable") != std::string::npos);
}

TEST_CASE("bank-client: reading an account never opened says not found and opens nothing") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {bank_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  std::string client =
      std::string(ARK_BIN_DIR) + "/bank-client --port " + std::to_string(host.port());
  const std::string not_found =
      "bank-client: not_found: no account 'carol' (remedy: check the name, or open the account "
      "with: bank-client deposit carol N)\n";
  auto [rc, out] = ark::test::run_command(client + " balance carol");
  CHECK(rc == 1);
  CHECK(out == not_found);
  std::tie(rc, out) = ark::test::run_command(client + " withdraw carol 5");
  CHECK(rc == 1);
  CHECK(out == not_found);
  std::tie(rc, out) = ark::test::run_command(client + " deposit alice 10");
  REQUIRE(rc == 0);
  std::tie(rc, out) = ark::test::run_command(client + " total alice carol");
  CHECK(rc == 1);
  CHECK(out == not_found);
  // None of them created carol: a remote get still finds nothing.
  {
    ark::test::remote_client r(host.port());
    CHECK(r.c.get<bank::account_if>("account", "carol").error() == ark::errc::not_found);
  }
  std::tie(rc, out) = ark::test::run_command(client + " deposit carol 7");
  CHECK(out == "carol = 7\n");
  std::tie(rc, out) = ark::test::run_command(client + " balance carol");
  CHECK(out == "carol = 7\n");
  CHECK(host.stop() == 0);
}
