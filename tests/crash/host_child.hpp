#pragma once

// A real ark-host child process for the crash harness and the soak test:
// which binary runs is a run-time choice (ark-crash --host), and the pid is
// exposed for SIGKILL timing and memory sampling. (tests/support/
// host_process.hpp serves the doctests, with the binary baked in.)

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <ark/expected.hpp>

namespace ark::load {

/// Resident memory of a process, from /proc/<pid>/status, in bytes.
struct memory_usage {
  std::uint64_t vm_rss = 0;    ///< VmRSS: everything resident
  std::uint64_t rss_anon = 0;  ///< RssAnon: heap, stacks (what a leak grows)
  std::uint64_t rss_file = 0;  ///< RssFile: mapped files (LMDB's map grows with the data)
};

/// Reads the memory usage of process `pid`; nullopt when it is gone.
std::optional<memory_usage> read_memory_usage(pid_t pid);

/// One ark-host child: started with `--port 0`, ready once it printed its
/// "ark-host ready" line (the port is parsed from it). Its stdout and stderr
/// are collected for output(). Killed (SIGKILL) on destruction if running.
class host_child {
 public:
  struct options {
    std::string binary;                ///< the ark-host executable
    std::string data_dir;              ///< its --data
    std::vector<std::string> modules;  ///< one --module each
    std::vector<std::string> extra;    ///< further arguments (--durability sync, ...)
  };

  explicit host_child(options opts) : opts_(std::move(opts)) {}
  ~host_child();
  host_child(const host_child&) = delete;
  host_child& operator=(const host_child&) = delete;

  /// Starts the host and waits until it is ready. Errors: io_error when it
  /// cannot be spawned, unreachable when it exits or is not ready within
  /// `timeout` (the context holds its output).
  expected<void> start(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  /// True while the process has not exited (reaps it when it has; its exit
  /// status is then in exit_description()).
  bool running();

  /// SIGKILL, then waits for the process and its output.
  void kill() { signal_and_wait(SIGKILL); }
  /// SIGTERM, then waits; returns the exit status (-1 if killed by a signal).
  int stop() { return signal_and_wait(SIGTERM); }

  pid_t pid() const { return pid_; }
  std::uint16_t port() const { return port_; }
  /// How the process ended, e.g. "exit status 1" or "signal 11"; empty while
  /// it runs.
  std::string exit_description() const { return exit_; }
  /// Everything the host printed so far.
  std::string output() const;

 private:
  int signal_and_wait(int sig);
  void record_exit(int status);
  void drain();

  options opts_;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::uint16_t port_ = 0;
  std::string exit_;
  int exit_status_ = -1;
  mutable std::mutex mtx_;
  std::string output_;
  std::thread reader_;
};

/// What a load tool (ark-crash, ark-soak) runs on: its data directory and
/// the example modules.
struct run_files {
  bool temporary = false;            ///< `data` was created here (remove it on success)
  std::vector<std::string> modules;  ///< counter, bank and chat_room modules
};

/// Prepares `data`: a fresh temporary `<program>-XXXXXX` directory when it is
/// empty, else it must be missing or empty (the ledger starts from nothing).
/// Lists the example modules in `module_dir`. Empty after printing the
/// problem to stderr.
std::optional<run_files> prepare_run(const std::string& program, std::string& data,
                                     const std::string& module_dir);

}  // namespace ark::load
