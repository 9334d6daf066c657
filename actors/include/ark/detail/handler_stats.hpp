#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/error.hpp>

namespace ark::detail {

/// Buckets of a handler latency histogram: bucket i counts durations in
/// [2^i, 2^(i+1)) nanoseconds (bucket 0 also holds 0 and 1 ns; the last one
/// everything longer, about 34 s and more).
constexpr std::size_t latency_buckets = 36;

/// The histogram bucket of `ns` nanoseconds.
inline std::size_t latency_bucket(std::uint64_t ns) {
  if (ns < 2) return 0;
  auto b = static_cast<std::size_t>(63 - __builtin_clzll(ns));
  return b < latency_buckets ? b : latency_buckets - 1;
}

/// A monotonic clock reading in nanoseconds (handler and commit-wait times).
inline std::int64_t stats_clock_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// What one handler of one actor type did since the host started (a copy,
/// summed over the counters' shards).
struct handler_figures {
  std::string type;
  std::string handler;  ///< its signature, e.g. "add(int64) -> int64"
  std::uint64_t calls = 0;   ///< messages the handler started (or was refused)
  std::uint64_t timed = 0;   ///< of those, the calls timed (type_stats::record_call)
  std::uint64_t errors = 0;  ///< replies that carried an error
  std::map<std::string, std::uint64_t> errors_by_code;  ///< errc name -> count
  /// handler_ns[i]: timed calls whose handler ran [2^i, 2^(i+1)) ns
  /// (latency_bucket).
  std::array<std::uint64_t, latency_buckets> handler_ns{};
  /// commit_wait_ns[i]: replies of timed calls that left the output gate
  /// [2^i, 2^(i+1)) ns after their handler returned (0 when nothing was
  /// pending).
  std::array<std::uint64_t, latency_buckets> commit_wait_ns{};
};

/// The per-handler counters of one actor type in one host: calls, errors by
/// code, handler time and commit wait (doc/admin_api.md, "Handlers"). Actors
/// of the type (on CAF's worker threads) and the writer (commit waits) update
/// it concurrently: the counters are sharded by thread, so that a counter is
/// bumped with an uncontended atomic add, and summed when read. Errors, the
/// rare case, go through a mutex. The host owns one per type for its whole
/// life; activations keep a plain pointer to it.
class type_stats {
 public:
  type_stats(std::string type, std::vector<std::string> handlers);
  type_stats(const type_stats&) = delete;
  type_stats& operator=(const type_stats&) = delete;

  const std::string& type() const { return type_; }
  std::size_t handler_count() const { return names_.size(); }
  const std::vector<std::string>& handler_names() const { return names_; }

  /// Counts a call of handler `h` (its index in the interface's signatures)
  /// and says whether to time it: the first call of the handler on this
  /// thread at each new reading `coarse_ns` of the coarse monotonic clock the
  /// actor read anyway (a few ms apart), so at most a few hundred calls a
  /// second per handler and thread are timed, whatever the rate, and a rare
  /// handler's calls are all timed. Whether a call is timed never depends on
  /// how long it takes, so the sample's percentiles are the calls'.
  bool record_call(std::size_t h, std::int64_t coarse_ns) {
    if (h >= names_.size()) return false;
    auto& s = shard()[h];
    s.calls.fetch_add(1, std::memory_order_relaxed);
    if (s.sampled_at.load(std::memory_order_relaxed) == coarse_ns) return false;
    s.sampled_at.store(coarse_ns, std::memory_order_relaxed);
    return true;
  }
  /// A timed call of handler `h` ran for `ns`.
  void record_time(std::size_t h, std::uint64_t ns) {
    if (h >= names_.size()) return;
    shard()[h].handler_ns[latency_bucket(ns)].fetch_add(1, std::memory_order_relaxed);
  }
  /// The reply of a timed call of handler `h` left the output gate `ns` after
  /// the handler returned.
  void record_wait(std::size_t h, std::uint64_t ns) {
    if (h >= names_.size()) return;
    shard()[h].wait_ns[latency_bucket(ns)].fetch_add(1, std::memory_order_relaxed);
  }
  /// A call of handler `h` was answered with `e` (its handler failed, the
  /// actor could not take it, or its commit failed).
  void record_error(std::size_t h, const caf::error& e);

  /// Activations of the type alive now.
  std::atomic<std::int64_t> active{0};

  /// The figures of every handler, in the interface's order.
  std::vector<handler_figures> read() const;

 private:
  struct alignas(64) counters {
    std::atomic<std::uint64_t> calls{0};
    std::atomic<std::int64_t> sampled_at{-1};  // the coarse reading of the last timed call
    std::array<std::atomic<std::uint64_t>, latency_buckets> handler_ns{};
    std::array<std::atomic<std::uint64_t>, latency_buckets> wait_ns{};
  };
  static constexpr std::size_t shards = 8;
  // This thread's shard: one counters per handler.
  counters* shard() { return &counters_[thread_shard() * names_.size()]; }
  static std::size_t thread_shard();

  std::string type_;
  std::vector<std::string> names_;
  std::unique_ptr<counters[]> counters_;  // shards x handlers
  mutable std::mutex errors_mtx_;
  std::vector<std::map<std::string, std::uint64_t>> errors_;  // per handler
};

/// The name under which an error is counted: the errc name (ark::to_string)
/// of from_caf(e), e.g. "invalid_argument".
std::string error_code_name(const caf::error& e);

/// The q-quantile (0 < q < 1) of a latency histogram in microseconds,
/// interpolated linearly within its bucket; 0 for an empty histogram.
double histogram_quantile_us(const std::array<std::uint64_t, latency_buckets>& hist, double q);

}  // namespace ark::detail
