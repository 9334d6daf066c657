#pragma once

// ark-bench: shared pieces of the benchmark program.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ark::bench {

/// One reported figure. Names are a contract (bench/RESULTS.md): keep them.
struct metric {
  std::string name;
  double value = 0;
  std::string unit;
};

/// What every scenario gets: the run mode, a scratch directory on the disk
/// under test, and the result list.
/// False when $ARK_BENCH_HANDLER_STATS is 0: ark's runtimes in the actors
/// and lifecycle scenarios then keep no per-handler statistics (the A/B of
/// their cost, bench/RESULTS.md).
bool handler_stats_on();

struct context {
  bool quick = false;
  std::string scratch;   ///< a directory the scenario may fill (one subdir each)
  std::string self_exe;  ///< path of ark-bench itself (for child processes)
  std::string pg_conninfo;  ///< --pg: the PostgreSQL server (empty: a private one)
  std::vector<metric> results;

  void add(std::string name, double value, std::string unit);
  /// The value of a metric added earlier, or 0.
  double get(const std::string& name) const;
  /// A fresh empty directory under scratch.
  std::string fresh_dir(const std::string& name) const;
  /// Quick mode picks the first value, the full run the second.
  template <class T>
  T pick(T quick_value, T full_value) const {
    return quick ? quick_value : full_value;
  }
};

/// The run's scratch directory: a new DIR/ark-bench-XXXXXX (mkdtemp), so
/// that `--scratch DIR` never deletes what was in DIR before. The destructor
/// removes that subdirectory, and DIR too when create() made it and it is
/// empty again.
struct scratch_dir {
  std::string path;            ///< the subdirectory, once created
  std::string created_parent;  ///< DIR, when create() had to make it

  scratch_dir() = default;
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  ~scratch_dir();

  /// Creates `parent` when missing, then the subdirectory; returns its path,
  /// or nullopt with `err` naming the failure.
  std::optional<std::string> create(const std::string& parent, std::string& err);
};

/// Median of `xs` (sorted in place). 0 for an empty vector.
double median(std::vector<double>& xs);
/// The p-th percentile (0..100) of `xs` (sorted in place).
double percentile(std::vector<double>& xs, double p);

/// Seconds since `t0`.
inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// -- scenarios (one file each) ---------------------------------------------------

/// fdatasync_us, raw_lmdb_sync_commit_per_s, raw_lmdb_sync_commit_us,
/// raw_lmdb_batched_put_per_s (baselines.cpp).
void run_disk_baselines(context& ctx);
/// naive_durable_msg_per_s, durable_msg_per_s_10k_actors,
/// durable_msg_per_s_100_hot_actors, none_msg_per_s, plain_caf_msg_per_s,
/// single_actor_p50_us, single_actor_p99_us (throughput.cpp).
void run_actor_throughput(context& ctx);
/// kv_get_per_s, raw_lmdb_get_per_s, kv_list_entries_per_s (kv_bench.cpp).
void run_kv(context& ctx);
/// activation_us, restart_first_reply_ms, peak_rss_mb_1m_actors
/// (lifecycle.cpp).
void run_lifecycle(context& ctx);
/// pg_raw_upsert_per_s_batch_{1,10,100,1000}, pg_raw_batched_upsert_per_s,
/// pg_raw_commit_p50_us, pg_raw_commit_p99_us, pg_durable_msg_per_s_10k_actors,
/// pg10k_mean_batch, pg10k_round_trips_per_commit, pg_single_actor_p50_us,
/// pg_single_actor_p99_us and informational figures (postgres.cpp). Runs only
/// when `--only postgres` names it.
void run_postgres(context& ctx);
/// cluster_durable_msg_per_s_{1,2,3}_hosts, cluster_direct_call_p50_us and
/// _p99_us, cluster_relayed_call_p50_us and _p99_us,
/// cluster_direct_lookup_p50_us, cluster_forwarded_lookup_p50_us
/// (cluster.cpp). Runs only when `--only cluster` names it.
void run_cluster(context& ctx);

/// One actor's KV at 10 M keys against 10 k (`--only kvscale`, kv_scale.cpp).
void run_kv_scale(context& ctx);

/// Remote clients against ark-host and against plain CAF (`--only remote`,
/// remote.cpp), and its child processes' entry point.
void run_remote(context& ctx);
int remote_child(const std::vector<std::string>& args);
/// Child-process entry points of run_lifecycle; returns an exit status.
int lifecycle_child(const std::vector<std::string>& args);

}  // namespace ark::bench
