#pragma once

// A child process whose stdout and stderr are collected by a reader thread,
// SIGTERM'd on destruction: `ark-dash serve` and chromedriver in the web and
// ark-dash tests.

#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/spawn.hpp"

namespace ark::test {

class child {
 public:
  explicit child(std::vector<std::string> args) {
    pid_ = spawn_with_output(std::move(args), fd_);
    REQUIRE(pid_ > 0);
    reader_ = std::thread([this] {
      char buf[4096];
      ssize_t n;
      while ((n = ::read(fd_, buf, sizeof buf)) > 0) {
        std::lock_guard<std::mutex> guard{mtx_};
        out_.append(buf, static_cast<std::size_t>(n));
      }
    });
  }
  ~child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    if (reader_.joinable()) reader_.join();
    ::close(fd_);
  }
  child(const child&) = delete;
  child& operator=(const child&) = delete;

  std::string output() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return out_;
  }
  /// Waits until the output contains `what`; false after `timeout`.
  bool wait_for(const std::string& what, std::chrono::milliseconds timeout) const {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (output().find(what) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::thread reader_;
  mutable std::mutex mtx_;
  std::string out_;
};

}  // namespace ark::test
