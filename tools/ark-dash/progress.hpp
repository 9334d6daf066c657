#pragma once

// A small progress line for long ark-dash runs (dump, load), in the style of
// Rust's indicatif: a bar and percentage when the total is known, else a
// count, with the rate. Drawn on stderr, and only when stderr is a terminal
// (scripts and tests see nothing), at most ten times a second. Debian has no
// C++ progress-bar library, hence these forty lines.

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace ark::dash {

class progress {
 public:
  /// `what`: the unit counted ("entries", "bytes"); `total` 0 when unknown.
  progress(std::string label, std::string what, std::uint64_t total)
      : label_(std::move(label)), what_(std::move(what)), total_(total),
        enabled_(::isatty(2) == 1) {}
  ~progress() { finish(); }

  void update(std::uint64_t done) {
    done_ = done;
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    draw();
  }

  /// Draws the final state and ends the line.
  void finish() {
    if (!enabled_ || finished_) return;
    finished_ = true;
    draw();
    std::fputc('\n', stderr);
  }

 private:
  void draw() const {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    double rate = secs > 0 ? static_cast<double>(done_) / secs : 0;
    if (total_ > 0) {
      constexpr int width = 30;
      double f = std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_));
      int fill = static_cast<int>(f * width);
      std::fprintf(stderr, "\r%s [%s%s] %3d%% %llu/%llu %s (%.0f/s)", label_.c_str(),
                   std::string(static_cast<std::size_t>(fill), '#').c_str(),
                   std::string(static_cast<std::size_t>(width - fill), ' ').c_str(),
                   static_cast<int>(f * 100), static_cast<unsigned long long>(done_),
                   static_cast<unsigned long long>(total_), what_.c_str(), rate);
    } else {
      std::fprintf(stderr, "\r%s %llu %s (%.0f/s)", label_.c_str(),
                   static_cast<unsigned long long>(done_), what_.c_str(), rate);
    }
    std::fflush(stderr);
  }

  std::string label_, what_;
  std::uint64_t total_ = 0, done_ = 0;
  bool enabled_ = false, finished_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_{};
};

}  // namespace ark::dash
