// The cluster scenario (doc/cluster.md): 1, 2 and 3 real ark-host processes
// with the counter module on one PostgreSQL schema, loaded by remote clients
// in this process, and the cost of reaching an actor through another host.
//
//   cluster_durable_msg_per_s_{1,2,3}_hosts  durable adds/s over 1,000
//       counters, 256 requests in flight, each client actor connected to
//       one host (round robin) calling counters wherever they live
//   cluster_direct_call_p50_us / _p99_us     sequential adds from a client
//       connected to the counter's owner
//   cluster_relayed_call_p50_us / _p99_us    the same counters, from a
//       client connected to the other host (the handle points at the owner;
//       CAF relays through the host the client is connected to)
//   cluster_direct_lookup_p50_us, cluster_forwarded_lookup_p50_us
//       get_or_create of an active counter from a client connected to its
//       owner, and through the other host (the lookup is forwarded)
//
// Runs only with `--only cluster` (it needs PostgreSQL, as --only postgres).

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include <libpq-fe.h>

#include "ark/client.hpp"
#include "ark/inspect.hpp"
#include "ark/kv/pg_backend.hpp"
#include "bench.hpp"
#include "child_process.hpp"
#include "pg_private.hpp"
#include "remote_load.hpp"
#include "counter/counter.hpp"
#include "support/pg_server.hpp"

namespace ark::bench {
namespace {

using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr int counters = 1000;
constexpr int inflight = 256;

std::string counter_key(int i) { return "c" + std::to_string(i); }

struct host {
  std::unique_ptr<child_process> proc;
  std::uint16_t port = 0;
  std::string id;
};

// Starts `n` hosts of one cluster on `schema`.
bool start_hosts(const context& ctx, const std::string& conninfo, const std::string& schema, int n,
                 std::vector<host>& out) {
  auto bin_dir = std::filesystem::path(ctx.self_exe).parent_path();
  auto exe = (bin_dir / "ark-host").string();
  auto module = counter_module_for(ctx.self_exe);
  for (int i = 0; i < n; ++i) {
    host h;
    h.port = static_cast<std::uint16_t>(ark::test::pg_server::free_port());
    h.id = "b" + std::to_string(i);
    h.proc = std::make_unique<child_process>();
    std::string err;
    if (!h.proc->spawn({exe, "--module", module, "--backend", "postgres", "--pg", conninfo,
                        "--pg-schema", schema, "--cluster", "bench", "--host-id", h.id, "--port",
                        std::to_string(h.port), "--log-level", "warn", "--idle-timeout", "0"},
                       err)) {
      std::fprintf(stderr, "ark-bench: %s\n", err.c_str());
      return false;
    }
    std::string line;
    bool ready = false;
    while (!ready && h.proc->read_line(line, clock_type::now() + 60s))
      ready = line.rfind("ark-host ready:", 0) == 0;
    if (!ready) {
      std::fprintf(stderr, "ark-bench: ark-host %s did not get ready\n", h.id.c_str());
      return false;
    }
    out.push_back(std::move(h));
  }
  // Every host sees every other (one renewal: 1 s by default).
  std::this_thread::sleep_for(1500ms);
  return true;
}

std::optional<double> durable_rate(const context& ctx, const std::vector<host>& hosts) {
  client_config cfg;
  caf::actor_system sys{cfg};
  // One client connection per host; each counter's handle from the host
  // its index maps to (a forwarded lookup when another host owns it).
  std::vector<client> clients;
  for (const auto& h : hosts) {
    auto c = connect(sys, "127.0.0.1", h.port);
    if (!c) {
      std::fprintf(stderr, "ark-bench: %s\n", c.error().message().c_str());
      return std::nullopt;
    }
    clients.push_back(*c);
  }
  std::vector<std::vector<counter::counter_if>> per_client(hosts.size());
  for (int i = 0; i < counters; ++i) {
    auto& c = clients[static_cast<std::size_t>(i) % clients.size()];
    auto h = c.get_or_create<counter::counter_if>("counter", ark::key{counter_key(i)});
    if (!h) {
      std::fprintf(stderr, "ark-bench: %s\n", h.error().message().c_str());
      return std::nullopt;
    }
    for (auto& v : per_client) v.push_back(*h);
  }
  auto rate = load_rate(
      sys, [&](int a) { return per_client[static_cast<std::size_t>(a) % per_client.size()]; },
      inflight, ctx.pick(300ms, 1000ms), ctx.pick(1000ms, 3000ms));
  return rate;
}

void relay_costs(context& ctx, const std::string& conninfo, const std::string& schema,
                 const std::vector<host>& hosts) {
  kv::pg_options po;
  po.conninfo = conninfo;
  po.schema = schema;
  po.read_only = true;
  auto db = kv::pg_backend::open(po);
  if (!db) {
    std::fprintf(stderr, "ark-bench: %s\n", db.error().message().c_str());
    return;
  }
  client_config cfg;
  caf::actor_system sys{cfg};
  auto c0 = connect(sys, "127.0.0.1", hosts[0].port);
  auto c1 = connect(sys, "127.0.0.1", hosts[1].port);
  if (!c0 || !c1) return;
  // A counter owned by host 0 and one owned by host 1.
  std::optional<int> on0, on1;
  for (int i = 0; i < counters && (!on0 || !on1); ++i) {
    auto id = inspect::encode_identity("counter", ark::key{counter_key(i)});
    if (!id) continue;
    auto info = (*db)->claim_of(*id);
    if (!info) continue;
    if (info->holder == hosts[0].id && !on0) on0 = i;
    if (info->holder == hosts[1].id && !on1) on1 = i;
  }
  if (!on0 || !on1) {
    std::fprintf(stderr, "ark-bench: no counter owned by each of the two hosts\n");
    return;
  }
  const int n = ctx.pick(300, 2000);
  // The same actor (owned by host 1), once through its owner, once through
  // host 0; alternated in blocks so both see the same machine.
  auto direct = c1->get_or_create<counter::counter_if>("counter", ark::key{counter_key(*on1)});
  auto relayed = c0->get_or_create<counter::counter_if>("counter", ark::key{counter_key(*on1)});
  if (!direct || !relayed) return;
  std::vector<double> d, r;
  for (int block = 0; block < 10; ++block) {
    auto a = sequential_add_latencies(sys, *direct, n / 10);
    auto b = sequential_add_latencies(sys, *relayed, n / 10);
    if (a.empty() || b.empty()) return;
    d.insert(d.end(), a.begin(), a.end());
    r.insert(r.end(), b.begin(), b.end());
  }
  auto d99 = d, r99 = r;
  ctx.add("cluster_direct_call_p50_us", median(d), "us");
  ctx.add("cluster_direct_call_p99_us", percentile(d99, 99), "us");
  ctx.add("cluster_relayed_call_p50_us", median(r), "us");
  ctx.add("cluster_relayed_call_p99_us", percentile(r99, 99), "us");
  // Lookups of the active counter: at its owner, and forwarded by host 0.
  std::vector<double> ld, lf;
  for (int i = 0; i < n / 2; ++i) {
    auto t0 = clock_type::now();
    if (!c1->get_or_create<counter::counter_if>("counter", ark::key{counter_key(*on1)})) return;
    ld.push_back(seconds_since(t0) * 1e6);
    t0 = clock_type::now();
    if (!c0->get_or_create<counter::counter_if>("counter", ark::key{counter_key(*on1)})) return;
    lf.push_back(seconds_since(t0) * 1e6);
  }
  ctx.add("cluster_direct_lookup_p50_us", median(ld), "us");
  ctx.add("cluster_forwarded_lookup_p50_us", median(lf), "us");
}

}  // namespace

void run_cluster(context& ctx) {
  std::optional<ark::test::pg_server> server;
  auto pg = pg_for_run(ctx, server);
  if (!pg) return;
  const std::string conninfo = *pg;
  const std::string base = random_schema_name("ark_cbench");
  std::vector<std::string> schemas;
  for (int n = 1; n <= 3; ++n) {
    auto schema = base + "_" + std::to_string(n);
    schemas.push_back(schema);
    std::vector<host> hosts;
    if (!start_hosts(ctx, conninfo, schema, n, hosts)) break;
    std::printf("  %d host(s) on schema %s\n", n, schema.c_str());
    if (auto rate = durable_rate(ctx, hosts))
      ctx.add("cluster_durable_msg_per_s_" + std::to_string(n) + "_hosts", *rate, "1/s");
    if (n == 2) relay_costs(ctx, conninfo, schema, hosts);
    for (auto& h : hosts) h.proc->stop(30s);
  }
  if (server) return;  // the private server goes with its schemas
  // With --pg: the schemas this run made go.
  PGconn* c = PQconnectdb(conninfo.c_str());
  if (PQstatus(c) == CONNECTION_OK)
    for (const auto& s : schemas) PQclear(PQexec(c, ("DROP SCHEMA IF EXISTS " + s + " CASCADE").c_str()));
  PQfinish(c);
}

}  // namespace ark::bench
