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
#include "support/host_process.hpp"
#include "support/remote_client.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

namespace {

const std::string bank_module = std::string(ARK_MODULE_DIR) + "/libark_bank.so";

struct remote : ark::test::remote_client {
  using remote_client::remote_client;
  bank::account_if account(const std::string& name) {
    return handle<bank::account_if>("account", name);
  }
  ark::expected<std::int64_t> deposit(const std::string& acc, std::int64_t n) {
    return ark::call<std::int64_t>(sys, account(acc), 10s, bank::deposit_atom::value, n);
  }
  ark::expected<std::int64_t> withdraw(const std::string& acc, std::int64_t n) {
    return ark::call<std::int64_t>(sys, account(acc), 10s, bank::withdraw_atom::value, n);
  }
  ark::expected<std::int64_t> balance(const std::string& acc) {
    return ark::call<std::int64_t>(sys, account(acc), 10s, bank::balance_atom::value);
  }
  ark::expected<std::int64_t> transfer(const std::string& from, const std::string& to,
                                       std::int64_t n) {
    return ark::call<std::int64_t>(sys, account(from), 10s, bank::transfer_atom::value, to, n);
  }
  // The balance of every account in `names`; REQUIREs that each call succeeds.
  std::vector<std::int64_t> balances(const std::vector<std::string>& names) {
    std::vector<std::int64_t> out;
    for (const auto& n : names) {
      auto b = balance(n);
      REQUIRE_MESSAGE(b, (b ? "" : b.error().message()));
      out.push_back(*b);
    }
    return out;
  }
};

std::string to_text(const std::vector<std::int64_t>& xs) {
  std::ostringstream out;
  out << '[';
  for (std::size_t i = 0; i < xs.size(); ++i) out << (i ? ", " : "") << xs[i];
  out << ']';
  return out.str();
}

std::int64_t sum(const std::vector<std::int64_t>& xs) {
  std::int64_t s = 0;
  for (auto x : xs) s += x;
  return s;
}

bool is_insufficient_funds(const ark::error& e) {
  return e.code() == ark::errc::invalid_argument &&
         e.context().find("insufficient funds") != std::string::npos;
}

// One transfer a load thread attempted, and what its client saw.
struct attempt {
  enum outcome { acknowledged, refused, in_doubt };
  std::size_t from = 0;
  std::size_t to = 0;
  std::int64_t amount = 0;
  outcome result = in_doubt;
  std::string error;  // for in_doubt
};

const std::vector<std::string> names{"acc0", "acc1", "acc2", "acc3", "acc4"};
constexpr std::int64_t initial_balance = 1000;

// Opens every account of `names` with initial_balance.
void fund_accounts(remote& r) {
  for (const auto& n : names) {
    auto b = r.deposit(n, initial_balance);
    REQUIRE_MESSAGE(b, (b ? "" : b.error().message()));
    REQUIRE(*b == initial_balance);
  }
}

// Transfers between random pairs of `names` from `threads` threads, each
// doing up to `per_thread` transfers one after the other. A thread stops at
// its first in-doubt outcome (an error other than insufficient funds: the
// host went away), so each thread leaves at most one transfer in doubt.
class transfer_load {
 public:
  transfer_load(remote& r, std::size_t threads, std::size_t per_thread,
                std::chrono::milliseconds timeout = 20s)
      : results_(threads) {
    std::vector<bank::account_if> handles;
    for (const auto& n : names) handles.push_back(r.account(n));
    for (std::size_t t = 0; t < threads; ++t) {
      workers_.emplace_back([this, &r, handles, t, per_thread, timeout] {
        std::mt19937 rng(static_cast<std::mt19937::result_type>(1234 + t));
        std::uniform_int_distribution<std::size_t> pick(0, names.size() - 1);
        std::uniform_int_distribution<std::int64_t> amount(1, 200);
        for (std::size_t i = 0; i < per_thread; ++i) {
          attempt a;
          a.from = pick(rng);
          do a.to = pick(rng);
          while (a.to == a.from);
          a.amount = amount(rng);
          auto res = ark::call<std::int64_t>(r.sys, handles[a.from], timeout,
                                             bank::transfer_atom::value, names[a.to], a.amount);
          if (res) {
            a.result = attempt::acknowledged;
            ++acknowledged_;
          } else if (is_insufficient_funds(res.error())) {
            a.result = attempt::refused;
          } else {
            a.result = attempt::in_doubt;
            a.error = res.error().message();
          }
          results_[t].push_back(a);
          if (a.result == attempt::in_doubt) break;
        }
      });
    }
  }
  ~transfer_load() { join(); }

  void join() {
    for (auto& w : workers_)
      if (w.joinable()) w.join();
  }
  std::size_t acknowledged() const { return acknowledged_.load(); }

  /// All attempts (call after join()).
  std::vector<attempt> attempts() const {
    std::vector<attempt> all;
    for (const auto& r : results_) all.insert(all.end(), r.begin(), r.end());
    return all;
  }

 private:
  std::vector<std::vector<attempt>> results_;
  std::vector<std::thread> workers_;
  std::atomic<std::size_t> acknowledged_{0};
};

// The balances implied by the acknowledged transfers of `attempts`.
std::vector<std::int64_t> expected_balances(const std::vector<attempt>& attempts) {
  std::vector<std::int64_t> b(names.size(), initial_balance);
  for (const auto& a : attempts) {
    if (a.result != attempt::acknowledged) continue;
    b[a.from] -= a.amount;
    b[a.to] += a.amount;
  }
  return b;
}

// Polls the balances of all accounts (which activates each, so its
// on_activate re-sends the credits of its pending outbox entries) until their
// total is `total`, for up to 10 s; returns the last balances read.
std::vector<std::int64_t> settle(remote& r, std::int64_t total) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  auto b = r.balances(names);
  while (sum(b) != total && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    b = r.balances(names);
  }
  return b;
}

// Checks `final_balances` against the attempts of a load the host died
// during: the total is conserved exactly, and the balances are those of the
// acknowledged transfers plus some subset of the in-doubt ones (each of which
// happened entirely or not at all; refused ones not at all).
void check_consistent(const std::vector<attempt>& attempts,
                      const std::vector<std::int64_t>& final_balances) {
  const std::int64_t total = initial_balance * static_cast<std::int64_t>(names.size());
  CHECK(sum(final_balances) == total);

  auto base = expected_balances(attempts);
  std::vector<attempt> doubt;
  for (const auto& a : attempts)
    if (a.result == attempt::in_doubt) doubt.push_back(a);
  INFO("acknowledged-only balances: " << to_text(base));
  INFO("final balances: " << to_text(final_balances));
  INFO(doubt.size() << " transfer(s) in doubt");

  // Bounds: an account lost at most its in-doubt outgoing amounts and gained
  // at most its in-doubt incoming amounts beyond the acknowledged effects.
  for (std::size_t i = 0; i < names.size(); ++i) {
    std::int64_t doubt_out = 0, doubt_in = 0;
    for (const auto& a : doubt) {
      if (a.from == i) doubt_out += a.amount;
      if (a.to == i) doubt_in += a.amount;
    }
    CHECK(final_balances[i] >= base[i] - doubt_out);
    CHECK(final_balances[i] <= base[i] + doubt_in);
  }

  // Exactly: some subset of the in-doubt transfers explains every balance.
  REQUIRE(doubt.size() < 16);
  bool explained = false;
  for (std::size_t mask = 0; mask < (std::size_t{1} << doubt.size()) && !explained; ++mask) {
    auto b = base;
    for (std::size_t j = 0; j < doubt.size(); ++j) {
      if (!(mask & (std::size_t{1} << j))) continue;
      b[doubt[j].from] -= doubt[j].amount;
      b[doubt[j].to] += doubt[j].amount;
    }
    explained = b == final_balances;
  }
  CHECK_MESSAGE(explained,
                "the balances are not the acknowledged transfers plus a subset of the "
                "in-doubt ones: a transfer was lost, duplicated or half-applied");
}

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
