#pragma once

// Starts a child process with its stdout and stderr on one pipe: the helper
// under tests/support/host_process.hpp and the browser test's processes.

#include <unistd.h>

#include <string>
#include <vector>

namespace ark::test {

/// Forks and execs `args[0]` with `args`; the child's stdout and stderr go to
/// a pipe whose read end is stored in `out_fd`. Returns the pid, or -1 (with
/// `out_fd` -1) when the pipe or the fork fails. A failing exec exits 127.
inline pid_t spawn_with_output(std::vector<std::string> args, int& out_fd) {
  out_fd = -1;
  int fds[2];
  if (::pipe(fds) != 0) return -1;
  // Built before fork: the child only calls async-signal-safe functions.
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  if (pid < 0) {
    ::close(fds[0]);
    return -1;
  }
  out_fd = fds[0];
  return pid;
}

}  // namespace ark::test
