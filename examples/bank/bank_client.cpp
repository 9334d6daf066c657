// bank-client: calls account actors on a running ark-host.
//   bank-client [--host H] [--port P] [--token-file F] [--tls-*] deposit ACC N | withdraw ACC N | balance ACC
//             | transfer FROM TO N | total ACC...

#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <ark/client.hpp>
#include <ark/client_cli.hpp>

#include "bank.hpp"

int main(int argc, char** argv) {
  CLI::App app{"bank-client: deposit, withdraw, transfer and read account actors on an ark-host"};
  ark::connect_flags conn;
  std::string account;
  std::string to;
  std::int64_t amount = 0;
  std::vector<std::string> accounts;
  conn.add_to(app);
  app.require_subcommand(1);
  auto* deposit = app.add_subcommand("deposit", "deposit N into ACC; prints the new balance");
  deposit->add_option("account", account, "account name")->required();
  deposit->add_option("n", amount, "amount (> 0)")->required();
  auto* withdraw = app.add_subcommand("withdraw", "withdraw N from ACC; prints the new balance");
  withdraw->add_option("account", account, "account name")->required();
  withdraw->add_option("n", amount, "amount (> 0)")->required();
  auto* balance = app.add_subcommand("balance", "print the balance of ACC");
  balance->add_option("account", account, "account name")->required();
  auto* transfer = app.add_subcommand(
      "transfer", "move N from FROM to TO; prints FROM's balance once TO is credited");
  transfer->add_option("from", account, "sending account")->required();
  transfer->add_option("to", to, "receiving account")->required();
  transfer->add_option("n", amount, "amount (> 0)")->required();
  auto* total = app.add_subcommand("total", "print the sum of the balances of ACC...");
  total->add_option("accounts", accounts, "account names")->required();
  CLI11_PARSE(app, argc, argv);

  auto copts = conn.resolve();
  if (!copts) {
    std::cerr << "bank-client: " << copts.error().message() << '\n';
    return 2;
  }
  ark::client_config cfg(copts->tls);
  caf::actor_system sys{cfg};
  auto c = ark::connect(sys, *copts);
  if (!c) {
    std::cerr << "bank-client: " << c.error().message() << '\n';
    return 1;
  }
  auto timeout = std::chrono::seconds(30);
  // A deposit opens the account; every other command needs an existing one
  // (get: a balance query on a mistyped name creates nothing).
  bool opens = static_cast<bool>(*deposit);
  auto call = [&](const std::string& name, auto... args) -> ark::expected<std::int64_t> {
    auto h = opens ? c->get_or_create<bank::account_if>("account", name)
                   : c->get<bank::account_if>("account", name);
    if (!h && h.error() == ark::errc::not_found)
      return ark::error{
          ark::errc::not_found, "no account '" + name + "'",
          "check the name, or open the account with: bank-client deposit " + name + " N"};
    if (!h) return h.error();
    return ark::call<std::int64_t>(sys, *h, timeout, args...);
  };
  auto fail = [](const ark::error& e) {
    std::cerr << "bank-client: " << e.message() << '\n';
    return 1;
  };

  if (*total) {
    std::int64_t sum = 0;
    for (const auto& name : accounts) {
      auto r = call(name, bank::balance_atom::value);
      if (!r) return fail(r.error());
      sum += *r;
    }
    std::cout << "total = " << sum << '\n';
    return 0;
  }
  ark::expected<std::int64_t> r = ark::error{ark::errc::invalid_argument, "no command"};
  if (*deposit)
    r = call(account, bank::deposit_atom::value, amount);
  else if (*withdraw)
    r = call(account, bank::withdraw_atom::value, amount);
  else if (*balance)
    r = call(account, bank::balance_atom::value);
  else
    r = call(account, bank::transfer_atom::value, to, amount);
  if (!r) return fail(r.error());
  std::cout << account << " = " << *r << '\n';
  return 0;
}
