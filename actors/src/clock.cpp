#include "ark/clock.hpp"

#include <time.h>

namespace ark {

namespace {

class real_clock final : public clock {
 public:
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::now();
  }
  std::chrono::nanoseconds monotonic() const override {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
  }
};

}  // namespace

std::shared_ptr<clock> system_clock() {
  static const std::shared_ptr<clock> instance = std::make_shared<real_clock>();
  return instance;
}

virtual_clock::virtual_clock(std::chrono::system_clock::time_point start)
    : start_ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(start.time_since_epoch())
                    .count()) {}

std::chrono::system_clock::time_point virtual_clock::now() const {
  auto ns = start_ns_ + offset_ns_.load(std::memory_order_acquire);
  return std::chrono::system_clock::time_point{
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(ns))};
}

std::chrono::nanoseconds virtual_clock::monotonic() const {
  // Starts well above zero, as a real monotonic clock does.
  return std::chrono::hours(1) + std::chrono::nanoseconds(offset_ns_.load(std::memory_order_acquire));
}

void virtual_clock::advance(std::chrono::nanoseconds d) {
  if (d.count() > 0) offset_ns_.fetch_add(d.count(), std::memory_order_acq_rel);
}

}  // namespace ark
