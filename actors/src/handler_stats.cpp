#include "ark/detail/handler_stats.hpp"

#include "ark/errors.hpp"

namespace ark::detail {

type_stats::type_stats(std::string type, std::vector<std::string> handlers)
    : type_(std::move(type)),
      names_(std::move(handlers)),
      counters_(new counters[shards * std::max<std::size_t>(names_.size(), 1)]),
      errors_(names_.size()) {}

std::size_t type_stats::thread_shard() {
  static std::atomic<std::size_t> next{0};
  thread_local std::size_t mine = next.fetch_add(1, std::memory_order_relaxed) % shards;
  return mine;
}

void type_stats::record_error(std::size_t h, const caf::error& e) {
  if (h >= names_.size() || !e) return;
  auto code = error_code_name(e);
  std::lock_guard<std::mutex> guard{errors_mtx_};
  ++errors_[h][code];
}

std::vector<handler_figures> type_stats::read() const {
  std::vector<handler_figures> out(names_.size());
  for (std::size_t h = 0; h < names_.size(); ++h) {
    auto& f = out[h];
    f.type = type_;
    f.handler = names_[h];
    for (std::size_t s = 0; s < shards; ++s) {
      const auto& c = counters_[s * names_.size() + h];
      f.calls += c.calls.load(std::memory_order_relaxed);
      for (std::size_t b = 0; b < latency_buckets; ++b) {
        auto n = c.handler_ns[b].load(std::memory_order_relaxed);
        f.handler_ns[b] += n;
        f.timed += n;
        f.commit_wait_ns[b] += c.wait_ns[b].load(std::memory_order_relaxed);
      }
    }
  }
  std::lock_guard<std::mutex> guard{errors_mtx_};
  for (std::size_t h = 0; h < names_.size(); ++h) {
    out[h].errors_by_code = errors_[h];
    for (const auto& [code, n] : errors_[h]) out[h].errors += n;
  }
  return out;
}

std::string error_code_name(const caf::error& e) {
  return std::string(to_string(from_caf(e).code()));
}

double histogram_quantile_us(const std::array<std::uint64_t, latency_buckets>& hist, double q) {
  std::uint64_t total = 0;
  for (auto n : hist) total += n;
  if (total == 0) return 0;
  double want = q * static_cast<double>(total);
  double seen = 0;
  for (std::size_t i = 0; i < hist.size(); ++i) {
    if (hist[i] == 0) continue;
    double next = seen + static_cast<double>(hist[i]);
    if (next >= want) {
      double lo = i == 0 ? 0.0 : static_cast<double>(std::uint64_t{1} << i);
      double hi = static_cast<double>(std::uint64_t{1} << (i + 1));
      double frac = (want - seen) / static_cast<double>(hist[i]);
      return (lo + frac * (hi - lo)) / 1000.0;
    }
    seen = next;
  }
  return static_cast<double>(std::uint64_t{1} << latency_buckets) / 1000.0;
}

}  // namespace ark::detail
