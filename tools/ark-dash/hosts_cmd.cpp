// `ark-dash hosts`: the members of a cluster (doc/cluster.md), read from the
// PostgreSQL schema its hosts share.

#include <cstdio>
#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ark/kv/open.hpp"
#include "ark/inspect.hpp"
#include "ark/kv/pg_membership.hpp"
#include "commands.hpp"

namespace ark::dash {

namespace {

std::string iso_time(std::int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int run_hosts(const data_source& src, bool as_json) {
  if (!src.postgres())
    return report(error{errc::invalid_argument,
                        "hosts lists the members of a cluster, which live in PostgreSQL: give "
                        "--pg CONNINFO (or --pg-file FILE) and --pg-schema"});
  kv::open_options o;
  if (auto r = kv::configure_postgres(o, src.pg, src.pg_file); !r) return report(r.error());
  auto rows = kv::read_members(o.pg_conninfo, src.schema(), std::chrono::seconds(10));
  if (!rows) return report(rows.error());
  if (as_json) {
    auto out = nlohmann::json::array();
    for (const auto& m : *rows) {
      auto j = inspect::member_json(m);
      j.erase("self");
      j["cluster"] = m.cluster;
      j["joined"] = iso_time(m.joined_ms);
      j["pid"] = m.pid;
      out.push_back(std::move(j));
    }
    std::puts(out.dump().c_str());
    return exit_ok;
  }
  if (rows->empty()) {
    std::puts("no hosts: no ark-host has joined a cluster on this schema");
    return exit_ok;
  }
  std::puts(fmt::format("{:<16} {:>4} {:<22} {:<6} {:>10} {:>8} {:>10}  {}", "HOST", "GEN",
                        "ADDRESS", "STATE", "LEASE_MS", "ACTORS", "MESSAGES", "JOINED")
                .c_str());
  for (const auto& m : *rows) {
    std::string state = m.live ? "live" : (m.status == "left" ? "left" : "dead");
    std::puts(fmt::format("{:<16} {:>4} {:<22} {:<6} {:>10} {:>8} {:>10}  {}", m.host,
                          m.generation, m.address, state, m.live ? m.lease_ms : 0, m.actors,
                          m.messages, iso_time(m.joined_ms))
                  .c_str());
  }
  return exit_ok;
}

}  // namespace

void add_hosts_command(CLI::App& app, run_state& state) {
  struct opts {
    data_source src;
    bool json = false;
  };
  auto o = std::make_shared<opts>();
  auto* cmd = app.add_subcommand(
      "hosts", "The hosts of the cluster on a PostgreSQL schema: id, generation, address, "
               "live/dead/left, lease left, activations and messages (doc/cluster.md)");
  add_data_option(*cmd, o->src, "unused: hosts reads a PostgreSQL schema (--pg)");
  cmd->add_flag("--json", o->json, "One JSON array instead of a table");
  cmd->callback([o, &state] { state.status = run_hosts(o->src, o->json); });
}

}  // namespace ark::dash
