#pragma once

// The bank example's test kit: a client, a transfer load and the
// conservation check, shared by tests/examples/bank_test.cpp (one host) and
// tests/host/cluster_bank_test.cpp (a cluster).

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
#include "support/remote_client.hpp"

namespace bank_test {

using namespace std::chrono_literals;


inline const std::string bank_module = std::string(ARK_MODULE_DIR) + "/libark_bank.so";

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

inline std::string to_text(const std::vector<std::int64_t>& xs) {
  std::ostringstream out;
  out << '[';
  for (std::size_t i = 0; i < xs.size(); ++i) out << (i ? ", " : "") << xs[i];
  out << ']';
  return out.str();
}

inline std::int64_t sum(const std::vector<std::int64_t>& xs) {
  std::int64_t s = 0;
  for (auto x : xs) s += x;
  return s;
}

inline bool is_insufficient_funds(const ark::error& e) {
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

inline const std::vector<std::string> names{"acc0", "acc1", "acc2", "acc3", "acc4"};
constexpr std::int64_t initial_balance = 1000;

// Opens every account of `names` with initial_balance.
inline void fund_accounts(remote& r) {
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
inline std::vector<std::int64_t> expected_balances(const std::vector<attempt>& attempts) {
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
inline std::vector<std::int64_t> settle(remote& r, std::int64_t total) {
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
inline void check_consistent(const std::vector<attempt>& attempts,
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

}  // namespace bank_test
