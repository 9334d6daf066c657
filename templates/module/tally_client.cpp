// tally-client: calls a tally actor on a running ark-host.
//   tally-client [--host H] [--port P] [--token-file F] [--tls-*] COMMAND
//   COMMAND: add KEY ITEM [N] | count KEY ITEM | total KEY | vote KEY ITEM...

#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <ark/call_many.hpp>
#include <ark/client.hpp>
#include <ark/client_cli.hpp>

#include "tally.hpp"

int main(int argc, char** argv) {
  CLI::App app{"tally-client: vote for items of a tally actor on an ark-host"};
  ark::connect_flags conn;
  std::string key;
  std::string item;
  std::int64_t n = 1;
  conn.add_to(app);
  app.require_subcommand(1);
  auto* add = app.add_subcommand("add", "add N votes for ITEM in tally KEY; prints its count");
  add->add_option("key", key, "tally key")->required();
  add->add_option("item", item, "item")->required();
  add->add_option("n", n, "votes (default 1)");
  auto* count = app.add_subcommand("count", "print the votes for ITEM in tally KEY");
  count->add_option("key", key, "tally key")->required();
  count->add_option("item", item, "item")->required();
  auto* total = app.add_subcommand("total", "print the votes over all items of tally KEY");
  total->add_option("key", key, "tally key")->required();
  std::vector<std::string> items;
  auto* vote = app.add_subcommand(
      "vote", "one vote for each ITEM in tally KEY, all in one message (ark::call_many)");
  vote->add_option("key", key, "tally key")->required();
  vote->add_option("items", items, "items")->required();
  CLI11_PARSE(app, argc, argv);

  auto opts = conn.resolve();  // the token from --token-file or $ARK_TOKEN
  if (!opts) {
    std::cerr << "tally-client: " << opts.error().message() << '\n';
    return 2;
  }
  ark::client_config cfg(opts->tls);
  caf::actor_system sys{cfg};
  auto host = ark::connect(sys, *opts);
  if (!host) {
    std::cerr << "tally-client: " << host.error().message() << '\n';
    return 1;
  }
  auto h = host->get_or_create<tally::tally_if>("tally", key);
  if (!h) {
    std::cerr << "tally-client: " << h.error().message() << '\n';
    return 1;
  }
  if (*vote) {
    // Many calls, one round trip: each is an ordinary call on the host
    // (each commits on its own); each reply is read with its ticket.
    ark::call_batch batch;
    std::vector<ark::call_ticket<std::int64_t>> tickets;
    for (const auto& i : items)
      tickets.push_back(batch.add(*h, tally::add_atom::value, i, std::int64_t{1}));
    auto replies = ark::call_many(sys, *host, batch);
    if (!replies) {
      std::cerr << "tally-client: " << replies.error().message() << '\n';
      return 1;
    }
    for (std::size_t i = 0; i < items.size(); ++i) {
      auto v = replies->get(tickets[i]);
      if (!v) {
        std::cerr << "tally-client: " << items[i] << ": " << v.error().message() << '\n';
        return 1;
      }
      std::cout << key << ' ' << items[i] << " = " << *v << '\n';
    }
    return 0;
  }
  auto timeout = std::chrono::seconds(10);
  ark::expected<std::int64_t> r = ark::error{ark::errc::invalid_argument, "no command"};
  std::string what = item;
  if (*add) {
    r = ark::call<std::int64_t>(sys, *h, timeout, tally::add_atom::value, item, n);
  } else if (*count) {
    r = ark::call<std::int64_t>(sys, *h, timeout, tally::count_atom::value, item);
  } else {
    r = ark::call<std::int64_t>(sys, *h, timeout, tally::total_atom::value);
    what = "total";
  }
  if (!r) {
    std::cerr << "tally-client: " << r.error().message() << '\n';
    return 1;
  }
  std::cout << key << ' ' << what << " = " << *r << '\n';
  return 0;
}
