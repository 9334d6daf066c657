// Remote clients (`--only remote`): client processes calling counters on a
// real ark-host over CAF's middleman, against the same clients calling plain
// CAF typed actors (no persistence) published on a port by another process,
// in the same run, so that the cost of the wire is separated from ark's.
//
//   remote_durable_msg_per_s_10k_actors      one client process, 64 requests
//       in flight (each from its own event-based actor, handles cached),
//       adds to 10,000 counters on ark-host (durability sync)
//   remote_plain_caf_msg_per_s_10k_actors    the same client against 10,000
//       plain CAF counters in a server process
//   remote_vs_plain_caf                      the two above
//   remote_nosync_msg_per_s_10k_actors       the same client against a second
//       ark-host with durability none (each commit written, no fsync: the
//       reply does not wait for the disk); remote_nosync_vs_plain_caf: what
//       ark's own path costs over the wire, apart from the wait for the disk
//   remote_durable_msg_per_s_100_hot_actors, remote_plain_caf_msg_per_s_100_actors
//   remote_durable_msg_per_s_{2,4}_clients   10,000 counters, 2 and 4 client
//       processes (64 in flight each), summed
//   remote_call_many_{4,16}_calls_per_s_10k_actors   one client, 64
//       ark::call_many batches in flight of 4 or 16 adds each: calls/s
//   remote_single_p50_us / _p99_us           one client, sequential adds to
//       one counter; remote_plain_single_p50_us the same on plain CAF
//   remote_single_p50_minus_raw_commit_us    p50 - raw_lmdb_sync_commit_us
//       (with --only disk in the same run; target <= 150 us)
//
// The clients and the plain server are this program again (`--child
// remote-client ...`, `--child plain-server`), so that each side has its own
// process, scheduler and middleman, as a user's client has.

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "ark/client.hpp"
#include "bench.hpp"
#include "child_process.hpp"
#include "counter/counter.hpp"
#include "remote_load.hpp"

namespace ark::bench {
namespace {

using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

using plain_get_atom = caf::atom_constant<caf::atom("pget")>;
/// The plain server's directory: the handle of plain counter i.
using plain_dir_if = caf::typed_actor<caf::replies_to<plain_get_atom, std::int64_t>::with<caf::actor>>;

counter::counter_if::behavior_type plain_counter(counter::counter_if::stateful_pointer<std::int64_t> self) {
  return {[self](counter::add_atom, std::int64_t n) { return self->state += n; },
          [self](counter::get_atom) { return self->state; },
          [self](counter::reset_atom) { return self->state = 0; }};
}

// `--child plain-server N`: N plain counters and their directory, published
// on a free port ("ready PORT" on stdout), until stdin closes or SIGTERM.
int plain_server(std::int64_t n) {
  caf::actor_system_config cfg;
  cfg.load<caf::io::middleman>();
  caf::actor_system sys{cfg};
  auto counters = std::make_shared<std::vector<caf::actor>>();
  for (std::int64_t i = 0; i < n; ++i)
    counters->push_back(caf::actor_cast<caf::actor>(sys.spawn(plain_counter)));
  auto dir = sys.spawn([counters](plain_dir_if::pointer) -> plain_dir_if::behavior_type {
    return {[counters](plain_get_atom, std::int64_t i) -> caf::result<caf::actor> {
      if (i < 0 || static_cast<std::size_t>(i) >= counters->size())
        return caf::make_error(caf::sec::invalid_argument);
      return (*counters)[static_cast<std::size_t>(i)];
    }};
  });
  auto port = sys.middleman().publish(dir, 0, "127.0.0.1");
  if (!port) {
    std::fprintf(stderr, "plain-server: publish: %s\n", caf::to_string(port.error()).c_str());
    return 1;
  }
  std::printf("ready %u\n", static_cast<unsigned>(*port));
  std::fflush(stdout);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  int sig = 0;
  sigwait(&set, &sig);
  for (auto& c : *counters) caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(dir, caf::exit_reason::user_shutdown);
  return 0;
}

// The handles of counters 0..n-1 of the server at `port`: ark-host
// (get_or_create "counter" ["r", i]) or the plain server (its directory).
bool counter_handles(caf::actor_system& sys, bool ark_side, std::uint16_t port, std::int64_t n,
                     std::vector<counter::counter_if>& out, client& conn) {
  if (ark_side) {
    auto c = connect(sys, "127.0.0.1", port);
    if (!c) {
      std::fprintf(stderr, "remote-client: %s\n", c.error().message().c_str());
      return false;
    }
    conn = *c;
    for (std::int64_t i = 0; i < n; ++i) {
      auto h = c->get_or_create<counter::counter_if>("counter", ark::key{"r", i});
      if (!h) {
        std::fprintf(stderr, "remote-client: %s\n", h.error().message().c_str());
        return false;
      }
      out.push_back(*h);
    }
    return true;
  }
  auto dir = sys.middleman().remote_actor<plain_dir_if>("127.0.0.1", port);
  if (!dir) {
    std::fprintf(stderr, "remote-client: %s\n", caf::to_string(dir.error()).c_str());
    return false;
  }
  caf::scoped_actor self{sys};
  for (std::int64_t i = 0; i < n; ++i) {
    bool ok = false;
    self->request(*dir, 10s, plain_get_atom::value, i)
        .receive(
            [&](caf::actor& a) {
              out.push_back(caf::actor_cast<counter::counter_if>(a));
              ok = true;
            },
            [&](caf::error& e) {
              std::fprintf(stderr, "remote-client: %s\n", caf::to_string(e).c_str());
            });
    if (!ok) return false;
  }
  return true;
}

// `--child remote-client ark|plain PORT N INFLIGHT WARMUP_MS WINDOW_MS BATCH`:
// prints "handles", waits for a line on stdin ("go"), loads, prints
// "rate R" (calls answered a second). With INFLIGHT 0: sequential adds to
// counter 0, prints "latency P50 P99" (µs). BATCH > 1 (ark only): each of
// the INFLIGHT actors sends ark::call_many batches of BATCH adds.
int remote_client(const std::vector<std::string>& a) {
  bool ark_side = a[0] == "ark";
  auto port = static_cast<std::uint16_t>(std::stoul(a[1]));
  std::int64_t n = std::stoll(a[2]);
  int inflight = std::stoi(a[3]);
  auto warmup = std::chrono::milliseconds(std::stoll(a[4]));
  auto window = std::chrono::milliseconds(std::stoll(a[5]));
  int batch = std::stoi(a[6]);
  client_config cfg;
  caf::actor_system sys{cfg};
  std::vector<counter::counter_if> handles;
  client conn;
  if (!counter_handles(sys, ark_side, port, n, handles, conn)) return 1;
  std::printf("handles\n");
  std::fflush(stdout);
  std::string go;
  if (!std::getline(std::cin, go)) return 1;
  if (inflight == 0) {
    auto us = sequential_add_latencies(sys, handles[0], static_cast<int>(window.count()));
    if (us.empty()) return 1;
    auto p99 = us;
    std::printf("latency %.2f %.2f\n", median(us), percentile(p99, 99));
    return 0;
  }
  double rate = 0;
  if (batch > 1 && ark_side)
    rate = measure_load(sys, inflight, warmup, window, [&](int i, done_counter done, stop_flag stop) {
      sys.spawn(counter_batch_load_actor, conn.directory(), conn.token(), handles, batch, done,
                stop, static_cast<std::uint32_t>(i + 1));
    });
  else
    rate = load_rate(sys, handles, inflight, warmup, window);
  std::printf("rate %.1f\n", rate);
  return 0;
}

struct server {
  std::unique_ptr<child_process> proc;
  std::uint16_t port = 0;
};

bool start_ark_host(const context& ctx, server& out, const char* durability = "sync") {
  auto bin_dir = std::filesystem::path(ctx.self_exe).parent_path();
  auto module = counter_module_for(ctx.self_exe);
  out.proc = std::make_unique<child_process>();
  std::string err;
  if (!out.proc->spawn({(bin_dir / "ark-host").string(), "--module", module, "--data",
                        ctx.fresh_dir("remote-host"), "--port", "0", "--log-level", "warn",
                        "--durability", durability},
                       err)) {
    std::fprintf(stderr, "ark-bench: %s\n", err.c_str());
    return false;
  }
  std::string line;
  while (out.proc->read_line(line, clock_type::now() + 60s)) {
    if (line.rfind("ark-host ready:", 0) != 0) continue;
    auto p = line.find("port=");
    out.port = static_cast<std::uint16_t>(std::stoul(line.substr(p + 5)));
    return true;
  }
  std::fprintf(stderr, "ark-bench: remote: ark-host did not get ready\n");
  return false;
}

bool start_plain_server(const context& ctx, std::int64_t n, server& out) {
  out.proc = std::make_unique<child_process>();
  std::string err;
  if (!out.proc->spawn({ctx.self_exe, "--child", "plain-server", std::to_string(n)}, err)) {
    std::fprintf(stderr, "ark-bench: %s\n", err.c_str());
    return false;
  }
  std::string line;
  while (out.proc->read_line(line, clock_type::now() + 120s)) {
    if (line.rfind("ready ", 0) != 0) continue;
    out.port = static_cast<std::uint16_t>(std::stoul(line.substr(6)));
    return true;
  }
  std::fprintf(stderr, "ark-bench: remote: the plain CAF server did not get ready\n");
  return false;
}

// Runs `clients` client processes against `port` at once; the summed rate
// (or, with inflight 0, the one client's "latency" line). Empty on failure.
std::vector<double> run_clients(const context& ctx, bool ark_side, std::uint16_t port,
                                std::int64_t n, int inflight, int clients, int batch = 1) {
  auto warmup = ctx.pick(500, 1000), window = ctx.pick(2000, 4000);
  std::vector<std::unique_ptr<child_process>> procs;
  for (int i = 0; i < clients; ++i) {
    auto p = std::make_unique<child_process>();
    std::string err;
    if (!p->spawn_with_stdin({ctx.self_exe, "--child", "remote-client", ark_side ? "ark" : "plain",
                              std::to_string(port), std::to_string(n), std::to_string(inflight),
                              std::to_string(warmup),
                              std::to_string(inflight == 0 ? ctx.pick(500, 2000) : window),
                              std::to_string(batch)},
                             err)) {
      std::fprintf(stderr, "ark-bench: %s\n", err.c_str());
      return {};
    }
    procs.push_back(std::move(p));
  }
  // Every client has its handles before any starts: they load at once.
  std::string line;
  for (auto& p : procs)
    if (!p->read_line(line, clock_type::now() + 300s) || line != "handles") {
      std::fprintf(stderr, "ark-bench: remote: a client failed to get its handles\n");
      return {};
    }
  for (auto& p : procs) p->write_line("go");
  std::vector<double> out;
  double sum = 0;
  for (auto& p : procs) {
    if (!p->read_line(line, clock_type::now() + 300s)) return {};
    if (line.rfind("latency ", 0) == 0) {
      double p50 = 0, p99 = 0;
      std::sscanf(line.c_str() + 8, "%lf %lf", &p50, &p99);
      return {p50, p99};
    }
    if (line.rfind("rate ", 0) != 0) return {};
    sum += std::stod(line.substr(5));
  }
  for (auto& p : procs) p->wait(30s);
  return {sum};
}

}  // namespace

int remote_child(const std::vector<std::string>& args) {
  if (args.size() == 2 && args[0] == "plain-server") return plain_server(std::stoll(args[1]));
  if (args.size() == 8 && args[0] == "remote-client")
    return remote_client(std::vector<std::string>(args.begin() + 1, args.end()));
  std::fprintf(stderr,
               "usage: ark-bench --child plain-server N | --child remote-client ark|plain PORT N "
               "INFLIGHT WARMUP_MS WINDOW_MS BATCH\n");
  return 64;
}

void run_remote(context& ctx) {
  const std::int64_t n = 10000;
  server host, plain, nosync;
  if (!start_ark_host(ctx, host) || !start_plain_server(ctx, n, plain) ||
      !start_ark_host(ctx, nosync, "none"))
    return;
  std::printf("  ark-host on port %u (and with durability none on %u), plain CAF server on port "
              "%u\n",
              static_cast<unsigned>(host.port), static_cast<unsigned>(nosync.port),
              static_cast<unsigned>(plain.port));
  // Alternate ark and plain, so that a noisy moment hits both.
  double ark10k = 0, plain10k = 0, ark100 = 0, plain100 = 0, nosync10k = 0;
  const int rounds = ctx.pick(1, 2);
  for (int r = 0; r < rounds; ++r) {
    auto a = run_clients(ctx, true, host.port, n, 64, 1);
    auto b = run_clients(ctx, false, plain.port, n, 64, 1);
    auto e = run_clients(ctx, true, nosync.port, n, 64, 1);
    auto c = run_clients(ctx, true, host.port, 100, 64, 1);
    auto d = run_clients(ctx, false, plain.port, 100, 64, 1);
    if (a.empty() || b.empty() || c.empty() || d.empty() || e.empty()) return;
    ark10k += a[0] / rounds;
    plain10k += b[0] / rounds;
    nosync10k += e[0] / rounds;
    ark100 += c[0] / rounds;
    plain100 += d[0] / rounds;
  }
  nosync.proc->stop(30s);
  ctx.add("remote_durable_msg_per_s_10k_actors", ark10k, "1/s");
  ctx.add("remote_plain_caf_msg_per_s_10k_actors", plain10k, "1/s");
  ctx.add("remote_nosync_msg_per_s_10k_actors", nosync10k, "1/s");
  ctx.add("remote_durable_msg_per_s_100_hot_actors", ark100, "1/s");
  ctx.add("remote_plain_caf_msg_per_s_100_actors", plain100, "1/s");
  ctx.add("remote_vs_plain_caf", ark10k / plain10k, "ratio");
  ctx.add("remote_nosync_vs_plain_caf", nosync10k / plain10k, "ratio");
  // ark::call_many: 64 batches in flight, of 4 and 16 adds (256 and 1,024
  // calls in flight), over the 10k counters.
  for (int batch : {4, 16}) {
    auto r = run_clients(ctx, true, host.port, n, 64, 1, batch);
    if (r.empty()) return;
    ctx.add("remote_call_many_" + std::to_string(batch) + "_calls_per_s_10k_actors", r[0], "1/s");
  }
  for (int clients : {2, 4}) {
    auto r = run_clients(ctx, true, host.port, n, 64, clients);
    if (r.empty()) return;
    ctx.add("remote_durable_msg_per_s_" + std::to_string(clients) + "_clients", r[0], "1/s");
  }
  auto lat = run_clients(ctx, true, host.port, 1, 0, 1);
  auto plain_lat = run_clients(ctx, false, plain.port, 1, 0, 1);
  if (lat.size() != 2 || plain_lat.size() != 2) return;
  ctx.add("remote_single_p50_us", lat[0], "us");
  ctx.add("remote_single_p99_us", lat[1], "us");
  ctx.add("remote_plain_single_p50_us", plain_lat[0], "us");
  if (auto raw = ctx.get("raw_lmdb_sync_commit_us"); raw > 0)
    ctx.add("remote_single_p50_minus_raw_commit_us", lat[0] - raw, "us");
  host.proc->stop(30s);
  plain.proc->stop(10s);
}

}  // namespace ark::bench
