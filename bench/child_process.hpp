#pragma once

// A child process whose stdout the benchmark reads (ark-host: its ready line).

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace ark::bench {

// -- child processes with their stdout on a pipe -------------------------------------

/// The directory of ark-bench (`self_exe`) and the counter module for the
/// ark-hosts it starts: the build tree's modules/, else where an installed
/// ark keeps them (ARK_BENCH_INSTALLED_MODULE_DIR, relative to bin/).
inline std::string counter_module_for(const std::string& self_exe) {
  auto bin_dir = std::filesystem::path(self_exe).parent_path();
  auto module = (bin_dir / ".." / "modules" / "libark_counter.so").lexically_normal().string();
#ifdef ARK_BENCH_INSTALLED_MODULE_DIR
  std::error_code ec;
  if (!std::filesystem::exists(module, ec))
    module = (bin_dir / ARK_BENCH_INSTALLED_MODULE_DIR / "libark_counter.so").lexically_normal();
#endif
  return module;
}

/// A spawned process whose stdout we read. The destructor terminates it.
class child_process {
 public:
  child_process() = default;
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process() { stop(std::chrono::seconds(5)); }

  bool spawn(const std::vector<std::string>& argv, std::string& err) {
    return start(argv, false, err);
  }
  /// spawn(), with the child's stdin on a pipe for write_line.
  bool spawn_with_stdin(const std::vector<std::string>& argv, std::string& err) {
    return start(argv, true, err);
  }
  /// Writes `line` and a newline to the child's stdin (spawn_with_stdin).
  bool write_line(const std::string& line) {
    if (in_ < 0) return false;
    std::string s = line + "\n";
    return ::write(in_, s.data(), s.size()) == static_cast<ssize_t>(s.size());
  }

 private:
  bool start(const std::vector<std::string>& argv, bool with_stdin, std::string& err) {
    int in_fds[2] = {-1, -1};
    if (with_stdin && ::pipe2(in_fds, O_CLOEXEC) != 0) {
      err = std::string("pipe: ") + std::strerror(errno);
      return false;
    }
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      err = std::string("pipe: ") + std::strerror(errno);
      return false;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    if (with_stdin) posix_spawn_file_actions_adddup2(&actions, in_fds[0], STDIN_FILENO);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int rc = ::posix_spawn(&pid_, argv[0].c_str(), &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    if (with_stdin) ::close(in_fds[0]);
    if (rc != 0) {
      ::close(fds[0]);
      if (with_stdin) ::close(in_fds[1]);
      pid_ = -1;
      err = "cannot start " + argv[0] + ": " + std::strerror(rc);
      return false;
    }
    fd_ = fds[0];
    in_ = in_fds[1];
    return true;
  }

 public:

  /// The next line of the child's stdout; false on EOF or at `deadline`.
  bool read_line(std::string& line, std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      if (auto nl = buf_.find('\n'); nl != std::string::npos) {
        line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return true;
      }
      if (eof_ || fd_ < 0) {
        if (buf_.empty()) return false;
        line = std::move(buf_);
        buf_.clear();
        return true;
      }
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(left.count()));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      char tmp[4096];
      auto got = ::read(fd_, tmp, sizeof tmp);
      if (got < 0) {
        if (errno == EINTR) continue;
        eof_ = true;
      } else if (got == 0) {
        eof_ = true;
      } else {
        buf_.append(tmp, static_cast<std::size_t>(got));
      }
    }
  }

  /// Waits for the child to exit by itself (at most `timeout`); its exit
  /// status, or -1 (then it is killed).
  int wait(std::chrono::milliseconds timeout) { return reap(timeout, false); }

  /// SIGTERM, then SIGKILL if it has not exited after `timeout`.
  int stop(std::chrono::milliseconds timeout) { return reap(timeout, true); }

 private:
  int reap(std::chrono::milliseconds timeout, bool terminate) {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    if (in_ >= 0) {
      ::close(in_);
      in_ = -1;
    }
    if (pid_ <= 0) return -1;
    if (terminate) ::kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    for (;;) {
      auto r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) break;
      if (r < 0 && errno != EINTR) {
        pid_ = -1;
        return -1;
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  int in_ = -1;  // the child's stdin (spawn_with_stdin)
  std::string buf_;
  bool eof_ = false;
};


}  // namespace ark::bench
