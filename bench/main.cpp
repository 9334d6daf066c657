// ark-bench: every scenario with its baseline measured in the same run.
//   ark-bench [--quick] [--json FILE] [--only SCENARIO] [--scratch DIR]
//   ark-bench --only postgres [--pg CONNINFO] [--quick]
//   ark-bench --only cluster [--pg CONNINFO] [--quick]
//
// The benchmark data goes to a fresh directory DIR/ark-bench-XXXXXX that it
// creates (mkdtemp) and removes at exit; nothing else in DIR is touched.

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "bench.hpp"

namespace ark::bench {

void context::add(std::string name, double value, std::string unit) {
  std::printf("  %-34s %14.2f %s\n", name.c_str(), value, unit.c_str());
  std::fflush(stdout);
  results.push_back(metric{std::move(name), value, std::move(unit)});
}

double context::get(const std::string& name) const {
  for (const auto& m : results)
    if (m.name == name) return m.value;
  return 0;
}

std::string context::fresh_dir(const std::string& name) const {
  auto p = std::filesystem::path(scratch) / name;
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

scratch_dir::~scratch_dir() {
  std::error_code ec;
  if (!path.empty()) std::filesystem::remove_all(path, ec);
  // The parent only when this run created it and it is empty again (remove
  // refuses a non-empty directory).
  if (!created_parent.empty()) std::filesystem::remove(created_parent, ec);
}

std::optional<std::string> scratch_dir::create(const std::string& parent, std::string& err) {
  std::error_code ec;
  bool existed = std::filesystem::exists(parent, ec);
  std::filesystem::create_directories(parent, ec);
  if (ec) {
    err = "cannot create " + parent + ": " + ec.message();
    return std::nullopt;
  }
  if (!existed) created_parent = parent;
  std::string tmpl = (std::filesystem::path(parent) / "ark-bench-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    err = "cannot create a directory in " + parent + ": " + std::strerror(errno);
    return std::nullopt;
  }
  path = tmpl;
  return path;
}

double median(std::vector<double>& xs) {
  return percentile(xs, 50);
}

double percentile(std::vector<double>& xs, double p) {
  if (xs.empty()) return 0;
  std::sort(xs.begin(), xs.end());
  auto idx = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(xs.size())));
  if (idx > 0) --idx;
  return xs[std::min(idx, xs.size() - 1)];
}

}  // namespace ark::bench

int main(int argc, char** argv) {
  using namespace ark::bench;
  if (argc > 1 && std::string(argv[1]) == "--child") {
    std::vector<std::string> args(argv + 2, argv + argc);
    if (!args.empty() && (args[0] == "plain-server" || args[0] == "remote-client"))
      return remote_child(args);
    return lifecycle_child(args);
  }
  CLI::App app{"ark-bench: ark against raw LMDB and plain CAF, measured in the same run"};
  context ctx;
  std::string json_path;
  std::vector<std::string> only;
  std::string scratch_parent = ".";
  app.add_flag("--quick", ctx.quick, "short run (under a minute on 2 cores)");
  app.add_option("--json", json_path, "write the metrics as a JSON array to FILE");
  app.add_option("--only", only,
                 "run only these scenarios: disk, actors, kv, lifecycle, postgres, cluster, "
                 "kvscale, remote (postgres, cluster, kvscale and remote run only when named "
                 "here)");
  app.add_option("--pg", ctx.pg_conninfo,
                 "with --only postgres or cluster: the PostgreSQL server (libpq connection "
                 "string) to "
                 "measure, in two fresh schemas dropped afterwards; default: a private server "
                 "started for the run");
  app.add_option("--scratch", scratch_parent,
                 "directory on the disk to measure; the data goes to a new subdirectory "
                 "DIR/ark-bench-XXXXXX, removed afterwards (nothing else in DIR is touched)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  const bool postgres = std::find(only.begin(), only.end(), "postgres") != only.end();
  const bool cluster = std::find(only.begin(), only.end(), "cluster") != only.end();
  const bool kvscale = std::find(only.begin(), only.end(), "kvscale") != only.end();
  const bool remote = std::find(only.begin(), only.end(), "remote") != only.end();
  if (!ctx.pg_conninfo.empty() && !postgres && !cluster) {
    std::fprintf(stderr,
                 "ark-bench: --pg applies to the postgres and cluster scenarios: add --only "
                 "postgres or --only cluster\n");
    return 2;
  }
  ctx.self_exe = std::filesystem::canonical("/proc/self/exe").string();
  scratch_dir scratch;  // removed when main returns
  std::string err;
  if (auto dir = scratch.create(scratch_parent, err)) {
    ctx.scratch = *dir;
  } else {
    std::fprintf(stderr, "ark-bench: --scratch: %s\n", err.c_str());
    return 2;
  }

  auto wanted = [&](const std::string& s) {
    return only.empty() || std::find(only.begin(), only.end(), s) != only.end();
  };
  std::printf("ark-bench (%s run), scratch %s\n", ctx.quick ? "quick" : "full",
              ctx.scratch.c_str());
  if (wanted("disk")) {
    std::printf("disk and raw LMDB baselines\n");
    run_disk_baselines(ctx);
  }
  if (wanted("actors")) {
    std::printf("actor throughput and latency\n");
    run_actor_throughput(ctx);
  }
  if (wanted("kv")) {
    std::printf("actor KV\n");
    run_kv(ctx);
  }
  if (wanted("lifecycle")) {
    std::printf("activation, restart, memory\n");
    run_lifecycle(ctx);
  }
  // Not part of the default run: it needs a PostgreSQL server (or the
  // programs to start one).
  if (postgres) {
    std::printf("PostgreSQL: ark against raw libpq on the same server\n");
    run_postgres(ctx);
  }
  if (cluster) {
    std::printf("cluster: 1, 2 and 3 ark-hosts on one PostgreSQL schema\n");
    run_cluster(ctx);
  }
  // Not part of the default run: it writes a 10-million-key keyspace.
  if (kvscale) {
    std::printf("KV at scale: one actor's KV at 10 M keys against 10 k\n");
    run_kv_scale(ctx);
  }
  // Not part of the default run: it starts an ark-host and client processes.
  if (remote) {
    std::printf("remote clients: ark-host against plain CAF over the middleman\n");
    run_remote(ctx);
  }
  // Ratios, from figures measured above in this same run.
  std::printf("ratios\n");
  auto ratio = [&](const char* name, const char* a, const char* b) {
    double x = ctx.get(a), y = ctx.get(b);
    if (x > 0 && y > 0) ctx.add(name, x / y, "ratio");
  };
  ratio("durable_vs_raw_batched", "durable_msg_per_s_10k_actors", "raw_lmdb_batched_put_per_s");
  ratio("durable_vs_naive", "durable_msg_per_s_10k_actors", "naive_durable_msg_per_s");
  ratio("hot_vs_plain_caf", "durable_msg_per_s_100_hot_actors", "plain_caf_msg_per_s");
  ratio("none_vs_plain_caf", "none_msg_per_s", "plain_caf_msg_per_s");
  ratio("single_actor_p50_vs_raw_commit", "single_actor_p50_us", "raw_lmdb_sync_commit_us");
  ratio("kv_get_vs_raw", "kv_get_per_s", "raw_lmdb_get_per_s");
  ratio("pg_durable_vs_raw_batched", "pg_durable_msg_per_s_10k_actors",
        "pg_raw_batched_upsert_per_s");
  ratio("pg_single_p50_vs_raw_commit", "pg_single_actor_p50_us", "pg_raw_commit_p50_us");
  ratio("cluster_2_vs_1_hosts", "cluster_durable_msg_per_s_2_hosts",
        "cluster_durable_msg_per_s_1_hosts");
  ratio("cluster_3_vs_1_hosts", "cluster_durable_msg_per_s_3_hosts",
        "cluster_durable_msg_per_s_1_hosts");
  ratio("cluster_relayed_vs_direct_call_p50", "cluster_relayed_call_p50_us",
        "cluster_direct_call_p50_us");
  ratio("cluster_forwarded_vs_direct_lookup_p50", "cluster_forwarded_lookup_p50_us",
        "cluster_direct_lookup_p50_us");

  if (!json_path.empty()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& m : ctx.results)
      out.push_back({{"name", m.name}, {"value", m.value}, {"unit", m.unit}});
    std::ofstream(json_path) << out.dump(2) << '\n';
  }
  // The metric names are a contract (bench/RESULTS.md): a scenario that ran
  // but lost one of its figures is a failure, so CI notices.
  const std::map<std::string, std::vector<std::string>> contract{
      {"disk",
       {"fdatasync_us", "fdatasync_after_idle_us", "raw_lmdb_sync_commit_per_s",
        "raw_lmdb_sync_commit_us", "raw_lmdb_batched_put_per_s"}},
      {"actors",
       {"naive_durable_msg_per_s", "plain_caf_msg_per_s", "durable_msg_per_s_10k_actors",
        "durable_msg_per_s_100_hot_actors", "none_msg_per_s", "single_actor_p50_us",
        "single_actor_p99_us"}},
      {"kv", {"kv_get_per_s", "raw_lmdb_get_per_s", "kv_list_entries_per_s"}},
      {"lifecycle", {"activation_us", "restart_first_reply_ms", "peak_rss_mb_1m_actors"}},
      {"postgres",
       {"pg_raw_upsert_per_s_batch_1", "pg_raw_upsert_per_s_batch_10",
        "pg_raw_upsert_per_s_batch_100", "pg_raw_upsert_per_s_batch_1000",
        "pg_raw_batched_upsert_per_s", "pg_raw_commit_p50_us", "pg_raw_commit_p99_us",
        "pg_durable_msg_per_s_10k_actors", "pg10k_mean_batch", "pg10k_round_trips_per_commit",
        "pg_single_actor_p50_us", "pg_single_actor_p99_us"}},
      {"cluster",
       {"cluster_durable_msg_per_s_1_hosts", "cluster_durable_msg_per_s_2_hosts",
        "cluster_durable_msg_per_s_3_hosts", "cluster_direct_call_p50_us",
        "cluster_relayed_call_p50_us", "cluster_direct_lookup_p50_us",
        "cluster_forwarded_lookup_p50_us"}},
      {"remote",
       {"remote_durable_msg_per_s_10k_actors", "remote_plain_caf_msg_per_s_10k_actors",
        "remote_durable_msg_per_s_100_hot_actors", "remote_plain_caf_msg_per_s_100_actors",
        "remote_durable_msg_per_s_2_clients", "remote_durable_msg_per_s_4_clients",
        "remote_call_many_4_calls_per_s_10k_actors", "remote_call_many_16_calls_per_s_10k_actors",
        "remote_single_p50_us", "remote_single_p99_us", "remote_plain_single_p50_us"}},
      {"kvscale",
       {"kvscale_build_s", "kvscale_get_us_10k", "kvscale_get_us_10m", "kvscale_put_us_10k",
        "kvscale_put_us_10m", "kvscale_list100_us_10k", "kvscale_list100_us_10m"}},
  };
  int missing = 0;
  for (const auto& [scenario, names] : contract) {
    if (!wanted(scenario) || (scenario == "postgres" && !postgres) ||
        (scenario == "cluster" && !cluster) || (scenario == "kvscale" && !kvscale) ||
        (scenario == "remote" && !remote))
      continue;
    if ((scenario == "actors" || scenario == "postgres" || scenario == "lifecycle") &&
        std::getenv("ARK_BENCH_CASE"))
      continue;  // profiling one case
    for (const auto& n : names) {
      if (ctx.get(n) <= 0) {
        std::fprintf(stderr, "ark-bench: metric %s (scenario %s) was not measured\n", n.c_str(),
                     scenario.c_str());
        ++missing;
      }
    }
  }
  return missing == 0 ? 0 : 1;
}
