// counter-client: calls a counter actor on a running ark-host.
//   counter-client [--host H] [--port P] [--token-file F] [--tls-*] add KEY N | get KEY | reset KEY
//                  | add-all N KEY... (one message for every key: ark::call_many)

#include <iostream>

#include <CLI/CLI.hpp>
#include <ark/call_many.hpp>
#include <ark/client.hpp>
#include <ark/client_cli.hpp>

#include "counter.hpp"

int main(int argc, char** argv) {
  CLI::App app{"counter-client: add to, read or reset a counter actor on an ark-host"};
  ark::connect_flags conn;
  std::string key;
  std::int64_t n = 1;
  conn.add_to(app);
  app.require_subcommand(1);
  auto* add = app.add_subcommand("add", "add N to counter KEY; prints the new value");
  add->add_option("key", key, "counter key")->required();
  add->add_option("n", n, "amount (default 1)");
  auto* get = app.add_subcommand("get", "print counter KEY");
  get->add_option("key", key, "counter key")->required();
  auto* reset = app.add_subcommand("reset", "set counter KEY to 0");
  reset->add_option("key", key, "counter key")->required();
  std::vector<std::string> keys;
  auto* add_all = app.add_subcommand(
      "add-all", "add N to every counter KEY..., all in one message (ark::call_many)");
  add_all->add_option("n", n, "amount")->required();
  add_all->add_option("keys", keys, "counter keys")->required();
  CLI11_PARSE(app, argc, argv);

  auto copts = conn.resolve();
  if (!copts) {
    std::cerr << "counter-client: " << copts.error().message() << '\n';
    return 2;
  }
  ark::client_config cfg(copts->tls);
  caf::actor_system sys{cfg};
  auto c = ark::connect(sys, *copts);
  if (!c) {
    std::cerr << "counter-client: " << c.error().message() << '\n';
    return 1;
  }
  if (*add_all) {
    // The handles are looked up one by one; the adds go together.
    ark::call_batch batch;
    std::vector<ark::call_ticket<std::int64_t>> tickets;
    for (const auto& k : keys) {
      auto h = c->get_or_create<counter::counter_if>("counter", k);
      if (!h) {
        std::cerr << "counter-client: " << h.error().message() << '\n';
        return 1;
      }
      tickets.push_back(batch.add(*h, counter::add_atom::value, n));
    }
    auto replies = ark::call_many(sys, *c, batch);
    if (!replies) {
      std::cerr << "counter-client: " << replies.error().message() << '\n';
      return 1;
    }
    int rc = 0;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      auto v = replies->get(tickets[i]);
      if (v) {
        std::cout << keys[i] << " = " << *v << '\n';
      } else {
        std::cerr << "counter-client: " << keys[i] << ": " << v.error().message() << '\n';
        rc = 1;
      }
    }
    return rc;
  }
  // `get` reads an existing counter only: a mistyped key creates nothing.
  auto h = *get ? c->get<counter::counter_if>("counter", key)
                : c->get_or_create<counter::counter_if>("counter", key);
  if (!h && h.error() == ark::errc::not_found) {
    std::cerr << "counter-client: "
              << ark::error{ark::errc::not_found, "no counter '" + key + "'",
                            "check the key, or start it with: counter-client add " + key}
                     .message()
              << '\n';
    return 1;
  }
  if (!h) {
    std::cerr << "counter-client: " << h.error().message() << '\n';
    return 1;
  }
  auto timeout = std::chrono::seconds(10);
  ark::expected<std::int64_t> r = ark::error{ark::errc::invalid_argument, "no command"};
  if (*add)
    r = ark::call<std::int64_t>(sys, *h, timeout, counter::add_atom::value, n);
  else if (*get)
    r = ark::call<std::int64_t>(sys, *h, timeout, counter::get_atom::value);
  else
    r = ark::call<std::int64_t>(sys, *h, timeout, counter::reset_atom::value);
  if (!r) {
    std::cerr << "counter-client: " << r.error().message() << '\n';
    return 1;
  }
  std::cout << key << " = " << *r << '\n';
  return 0;
}
