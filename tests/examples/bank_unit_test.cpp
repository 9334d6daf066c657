// The bank example's account actors in an ark::testing::world: transfers
// conserve the total, also when the host crashes at any commit of one.

#include <doctest/doctest.h>

#include <chrono>
#include <limits>
#include <string>

#include <ark/inspect.hpp>
#include <ark/testing.hpp>

#include "bank/bank.hpp"

using namespace std::chrono_literals;
using ark::testing::crash_point;
using ark::testing::value_of;
using bank::account_if;

namespace {

struct bank_world : ark::testing::world {
  account_if account(const std::string& name) {
    return value_of(get_or_create<account_if>("account", name));
  }
  ark::expected<std::int64_t> deposit(const account_if& h, std::int64_t amount) {
    return call<std::int64_t>(h, bank::deposit_atom::value, amount);
  }
  ark::expected<std::int64_t> transfer(const account_if& from, const std::string& to,
                                       std::int64_t amount) {
    return call<std::int64_t>(from, bank::transfer_atom::value, to, amount);
  }
  std::int64_t balance(const std::string& name) {
    return value_of(call<std::int64_t>(account(name), bank::balance_atom::value));
  }
  // The durable KV entries of account `name` under `prefix`: ("out") its
  // outbox of unacknowledged transfers, ("in") its dedupe markers.
  std::size_t stored_entries(const std::string& name, const char* prefix) {
    auto r = value_of(ark::inspect::reader::open(storage()));
    ark::inspect::kv_query q;
    q.prefix = ark::key{prefix};
    q.limit = ark::inspect::max_page;
    return value_of(r.kv("account", name, q)).at("entries").size();
  }
  // True when account `name` has no transfer waiting for its
  // acknowledgement once the actors settled (the credit is a message between
  // two actors, which may still be on its way when a call returns).
  bool outbox_drains(const std::string& name) {
    REQUIRE(wait_until_idle());
    return stored_entries(name, "out") == 0;
  }
};

// alice 100, bob 50.
void open_accounts(bank_world& w) {
  REQUIRE(value_of(w.deposit(w.account("alice"), 100)) == 100);
  REQUIRE(value_of(w.deposit(w.account("bob"), 50)) == 50);
}

}  // namespace

TEST_CASE("bank: a transfer debits, credits once and leaves no outbox entry") {
  bank_world w;
  open_accounts(w);
  auto before = w.commits();
  CHECK(value_of(w.transfer(w.account("alice"), "bob", 30)) == 70);
  // Debit + outbox entry, credit + dedupe marker, outbox delete: one commit
  // each, all durable before the reply (the crash test below hits each).
  CHECK(w.commits() - before == 3);
  CHECK(w.balance("alice") == 70);
  CHECK(w.balance("bob") == 80);
  CHECK(w.stored_entries("alice", "out") == 0);
  CHECK(w.stored_entries("bob", "in") == 1);
  CHECK(value_of(w.stored_state_json("account", "alice")).at("state").at("balance") == 70);
}

TEST_CASE("bank: refused operations change no balance") {
  bank_world w;
  open_accounts(w);
  auto alice = w.account("alice");
  auto refused = [](const ark::expected<std::int64_t>& r) {
    return !r && r.error() == ark::errc::invalid_argument;
  };
  CHECK(refused(w.transfer(alice, "bob", 101)));  // insufficient funds
  CHECK(refused(w.transfer(alice, "bob", 0)));
  CHECK(refused(w.transfer(alice, "alice", 10)));
  CHECK(refused(w.call<std::int64_t>(alice, bank::withdraw_atom::value, std::int64_t{101})));
  CHECK(refused(w.deposit(alice, -5)));
  CHECK(w.balance("alice") == 100);
  CHECK(w.balance("bob") == 50);
  CHECK(w.stored_entries("alice", "out") == 0);
}

TEST_CASE(
    "bank: a crash at any commit of a transfer conserves the total, and restart completes it") {
  // Every commit of the transfer (see above), the host dying before and after
  // it reaches the disk. Only a crash before the first commit (the debit)
  // undoes the transfer; from the debit on, the restarted sender's next
  // activation re-sends the credit, and the receiver applies it once.
  for (auto point : {crash_point::before_commit, crash_point::after_commit}) {
    for (std::size_t nth = 1; nth <= 3; ++nth) {
      std::string at = point == crash_point::before_commit ? "before" : "after";
      CAPTURE(at);
      CAPTURE(nth);
      bank_world w;
      open_accounts(w);
      w.crash_at_commit(point, nth);
      CHECK_FALSE(w.transfer(w.account("alice"), "bob", 30));  // never acknowledged
      CHECK(w.crashed());
      w.restart();
      // Money in flight may be missing for a moment, never doubled.
      CHECK(w.balance("alice") + w.balance("bob") <= 150);
      bool drained = w.outbox_drains("alice");
      CHECK(drained);
      if (!drained) continue;
      bool debited = !(point == crash_point::before_commit && nth == 1);
      CHECK(w.balance("alice") == (debited ? 70 : 100));
      CHECK(w.balance("bob") == (debited ? 80 : 50));
      CHECK(w.stored_entries("bob", "in") == (debited ? 1 : 0));
      // Completed means completed: another restart credits nothing again.
      w.restart();
      CHECK(w.balance("alice") + w.balance("bob") == 150);
      CHECK(w.balance("bob") == (debited ? 80 : 50));
    }
  }
}

TEST_CASE("bank: a transfer survives restart_actor of both accounts right after it") {
  bank_world w;
  open_accounts(w);
  REQUIRE(value_of(w.transfer(w.account("alice"), "bob", 30)) == 70);
  REQUIRE(w.restart_actor("account", "alice"));
  REQUIRE(w.restart_actor("account", "bob"));
  CHECK(w.balance("alice") == 70);
  CHECK(w.balance("bob") == 80);
  // The next transfer uses the next id: the receiver does not take it for a
  // retry of the first (its dedupe marker is per (sender, id)).
  CHECK(value_of(w.transfer(w.account("alice"), "bob", 20)) == 50);
  CHECK(w.balance("bob") == 100);
  CHECK(w.stored_entries("bob", "in") == 2);
}

TEST_CASE("bank: a credit that failed is re-sent when the sender reloads after restart_actor") {
  bank_world w;
  auto alice = w.account("alice");
  auto bob = w.account("bob");
  REQUIRE(value_of(w.deposit(alice, 100)) == 100);
  const auto near_max = std::numeric_limits<std::int64_t>::max() - 10;
  REQUIRE(value_of(w.deposit(bob, near_max)) == near_max);
  // bob refuses the credit (it would overflow his balance): alice's debit
  // stays, with its outbox entry, for a retry.
  auto refused = w.transfer(alice, "bob", 30);
  REQUIRE_FALSE(refused);
  CHECK(refused.error() == ark::errc::unreachable);
  CHECK(w.stored_entries("alice", "out") == 1);
  REQUIRE(value_of(w.call<std::int64_t>(bob, bank::withdraw_atom::value, near_max)) == 0);
  // The test holds alice's handle: restart_actor drops her state, her next
  // message reloads it, and on_activate re-sends the credit.
  REQUIRE(w.restart_actor("account", "alice"));
  CHECK(w.balance("alice") == 70);
  CHECK(w.outbox_drains("alice"));
  CHECK(w.balance("bob") == 30);
  CHECK(w.stored_entries("bob", "in") == 1);
}

TEST_CASE("bank: a transfer whose debit fails to commit says that nothing was debited") {
  bank_world w;
  open_accounts(w);
  auto alice = w.account("alice");
  w.crash_at_commit(crash_point::before_commit, 1);
  auto r = w.transfer(alice, "bob", 30);
  REQUIRE_FALSE(r);
  CHECK_MESSAGE(r.error() == ark::errc::commit_failed, r.error().message());
  CHECK_MESSAGE(r.error().context().find("nothing was debited") != std::string::npos,
                r.error().message());
  w.restart();
  CHECK(w.balance("alice") == 100);
  CHECK(w.balance("bob") == 50);
}
