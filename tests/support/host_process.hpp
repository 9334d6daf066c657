#pragma once

// Starts a real ark-host process for end-to-end tests.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/sanitizer_report.hpp"
#include "support/spawn.hpp"
#include "test_util.hpp"

namespace ark::test {

/// Runs a command and returns {exit status, stdout+stderr}; fails the test
/// when the command printed a sanitizer report.
inline std::pair<int, std::string> run_command(const std::string& cmd) {
  auto result = capture_command(cmd);
  check_no_sanitizer_report(cmd, result.second);
  return result;
}

/// An ark-host child process: started with --port 0, ready once it printed
/// its "ark-host ready" line (port() is parsed from it). Once it is stopped
/// or killed, a sanitizer report in its output fails the test.
class host_process {
 public:
  host_process(std::string data_dir, std::vector<std::string> modules,
               std::vector<std::string> extra = {})
      : data_(std::move(data_dir)), modules_(std::move(modules)), extra_(std::move(extra)) {}
  ~host_process() { kill(); }
  host_process(const host_process&) = delete;
  host_process& operator=(const host_process&) = delete;

  /// Starts the host; false (with output() explaining) if it exits or does
  /// not get ready within `timeout`.
  bool start(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    output_.clear();
    std::vector<std::string> args{ARK_HOST_PATH, "--data", data_, "--port",
                                  std::to_string(port_arg_)};
    for (const auto& m : modules_) {
      args.push_back("--module");
      args.push_back(m);
    }
    args.insert(args.end(), extra_.begin(), extra_.end());
    pid_ = spawn_with_output(std::move(args), out_fd_);
    if (pid_ < 0) return false;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd pfd{out_fd_, POLLIN, 0};
      if (::poll(&pfd, 1, 50) > 0) {
        char buf[1024];
        auto n = ::read(out_fd_, buf, sizeof buf);
        if (n <= 0) break;
        output_.append(buf, static_cast<std::size_t>(n));
        auto pos = output_.find("ark-host ready:");
        auto eol = pos == std::string::npos ? pos : output_.find('\n', pos);
        if (eol != std::string::npos) {
          auto p = output_.find("port=", pos);
          port_ = static_cast<std::uint16_t>(std::stoi(output_.substr(p + 5)));
          // Keep reading, so a chatty host never blocks on a full pipe.
          reader_ = std::thread([this] { drain(); });
          return true;
        }
      }
    }
    kill();
    return false;
  }

  /// SIGTERM, then waits; returns the exit status (-1 if killed by a signal).
  int stop() { return signal_and_wait(SIGTERM); }
  /// SIGKILL, then waits.
  int kill() { return signal_and_wait(SIGKILL); }
  /// Waits up to `timeout` for the host to exit by itself; its exit status
  /// (-1 if a signal ended it), or -2 if it still runs.
  int wait_exit(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pid_ > 0 && std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        return signal_and_wait(0);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return pid_ > 0 ? -2 : exited_status_;
  }

  std::uint16_t port() const { return port_; }
  /// Listen on `port` instead of any free one (from the next start()).
  void use_port(std::uint16_t port) { port_arg_ = port; }
  /// The child's pid (-1 once it ended), for signals such as SIGSTOP.
  pid_t pid() const { return pid_; }
  /// Everything the host printed so far.
  std::string output() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return output_;
  }

 private:
  int signal_and_wait(int sig) {
    if (pid_ <= 0) return -1;
    int status = 0;
    if (sig != 0) {
      ::kill(pid_, sig);
      ::waitpid(pid_, &status, 0);
    }
    pid_ = -1;
    if (reader_.joinable())
      reader_.join();  // the pipe reaches EOF once the host is gone
    else if (out_fd_ >= 0)
      drain();
    if (out_fd_ >= 0) ::close(out_fd_);
    out_fd_ = -1;
    check_no_sanitizer_report("ark-host", output());
    if (sig == 0) return exited_status_;  // reaped by wait_exit
    // A stop that did not end in exit 0 (a crash while draining, exit 4 for
    // actors that never settled): say how, and what the host printed, for
    // the failing check to be diagnosable.
    if (sig == SIGTERM && WIFSIGNALED(status))
      MESSAGE("ark-host ended by signal " << WTERMSIG(status) << " after SIGTERM; its output:\n"
                                          << output());
    else if (sig == SIGTERM && WIFEXITED(status) && WEXITSTATUS(status) == 4)
      MESSAGE("ark-host exited 4 after SIGTERM (actors still busy); its output:\n" << output());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  void drain() {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(out_fd_, buf, sizeof buf)) > 0) {
      std::lock_guard<std::mutex> guard{mtx_};
      output_.append(buf, static_cast<std::size_t>(n));
    }
  }

  std::string data_;
  std::vector<std::string> modules_;
  std::vector<std::string> extra_;
  pid_t pid_ = -1;
  int exited_status_ = -1;
  int out_fd_ = -1;
  std::uint16_t port_ = 0;
  std::uint16_t port_arg_ = 0;
  mutable std::mutex mtx_;
  std::string output_;
  std::thread reader_;
};

/// Runs the client binary `name` (in build/bin) against the host on `port`
/// with `args`; its stdout and stderr.
inline std::string run_client(const std::string& name, std::uint16_t port,
                              const std::string& args) {
  std::string cmd = std::string(ARK_BIN_DIR) + "/" + name + " --port " + std::to_string(port) +
                    " " + args + " 2>&1";
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    ::pclose(p);
  }
  return out;
}

}  // namespace ark::test
