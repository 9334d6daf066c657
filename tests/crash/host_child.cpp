#include "host_child.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

extern char** environ;

namespace ark::load {

std::optional<memory_usage> read_memory_usage(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  if (!in) return std::nullopt;
  memory_usage m;
  bool found = false;
  std::string line;
  while (std::getline(in, line)) {
    auto field = [&](const char* name, std::uint64_t& out) {
      auto n = std::strlen(name);
      if (line.compare(0, n, name) != 0) return;
      out = std::stoull(line.substr(n)) * 1024;  // "VmRSS:	  1234 kB"
      found = true;
    };
    field("VmRSS:", m.vm_rss);
    field("RssAnon:", m.rss_anon);
    field("RssFile:", m.rss_file);
  }
  if (!found) return std::nullopt;  // a zombie has no VmRSS line
  return m;
}

namespace {

// Under scripts/sanitize.sh: a host's sanitizer report goes to this process's
// stderr, where the script finds it in the test log and fails the run, even
// when the host was SIGKILLed or its exit status went unchecked.
void echo_sanitizer_report(const std::string& output) {
  for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                             "WARNING: ThreadSanitizer", "runtime error: "}) {
    if (output.find(marker) == std::string::npos) continue;
    std::cerr << "ark-host printed a sanitizer report:\n" << output << std::endl;
    return;
  }
}

}  // namespace

host_child::~host_child() {
  kill();
}

expected<void> host_child::start(std::chrono::milliseconds timeout) {
  if (pid_ > 0) return error{errc::invalid_argument, "host_child::start: already running"};
  {
    std::lock_guard<std::mutex> guard{mtx_};
    output_.clear();
  }
  exit_.clear();
  port_ = 0;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return error{errc::io_error, std::string("pipe: ") + std::strerror(errno)};
  std::vector<std::string> args{opts_.binary, "--data", opts_.data_dir, "--port", "0"};
  for (const auto& m : opts_.modules) {
    args.push_back("--module");
    args.push_back(m);
  }
  args.insert(args.end(), opts_.extra.begin(), opts_.extra.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // posix_spawn rather than fork: this process runs CAF's threads.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  int rc = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    pid_ = -1;
    return error{errc::io_error, "cannot start " + opts_.binary + ": " + std::strerror(rc)};
  }
  out_fd_ = fds[0];
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string seen;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd pfd{out_fd_, POLLIN, 0};
    if (::poll(&pfd, 1, 50) <= 0) continue;
    char buf[1024];
    auto n = ::read(out_fd_, buf, sizeof buf);
    if (n <= 0) break;  // the host exited
    seen.append(buf, static_cast<std::size_t>(n));
    auto pos = seen.find("ark-host ready:");
    auto eol = pos == std::string::npos ? pos : seen.find('\n', pos);
    if (eol == std::string::npos) continue;
    auto p = seen.find("port=", pos);
    if (p != std::string::npos && p < eol)
      port_ = static_cast<std::uint16_t>(std::stoi(seen.substr(p + 5)));
    {
      std::lock_guard<std::mutex> guard{mtx_};
      output_ = seen;
    }
    if (port_ == 0) break;
    // Keep reading, so a chatty host never blocks on a full pipe.
    reader_ = std::thread([this] { drain(); });
    return {};
  }
  {
    std::lock_guard<std::mutex> guard{mtx_};
    output_ = seen;
  }
  kill();
  return error{errc::unreachable, "ark-host did not get ready within " +
                                      std::to_string(timeout.count()) + " ms (" + exit_ +
                                      "); its output:\n" + output()};
}

bool host_child::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) != pid_) return true;
  record_exit(status);
  pid_ = -1;
  return false;
}

std::string host_child::output() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return output_;
}

int host_child::signal_and_wait(int sig) {
  bool collecting = reader_.joinable() || out_fd_ >= 0;  // output not yet complete
  if (pid_ > 0) {
    ::kill(pid_, sig);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    record_exit(status);
    pid_ = -1;
  }
  if (reader_.joinable())
    reader_.join();  // the pipe reaches EOF once the host is gone
  else if (out_fd_ >= 0)
    drain();
  if (out_fd_ >= 0) ::close(out_fd_);
  out_fd_ = -1;
  if (collecting) echo_sanitizer_report(output());
  return exit_status_;
}

void host_child::record_exit(int status) {
  if (WIFEXITED(status)) {
    exit_status_ = WEXITSTATUS(status);
    exit_ = "exit status " + std::to_string(exit_status_);
  } else {
    exit_status_ = -1;
    exit_ = WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status)) : "ended";
  }
}

void host_child::drain() {
  char buf[4096];
  ssize_t n;
  while ((n = ::read(out_fd_, buf, sizeof buf)) > 0) {
    std::lock_guard<std::mutex> guard{mtx_};
    output_.append(buf, static_cast<std::size_t>(n));
  }
}

std::optional<run_files> prepare_run(const std::string& program, std::string& data,
                                     const std::string& module_dir) {
  namespace fs = std::filesystem;
  run_files out;
  out.temporary = data.empty();
  if (out.temporary) {
    auto tmpl = (fs::temp_directory_path() / (program + "-XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::cerr << program << ": cannot create a temporary directory\n";
      return std::nullopt;
    }
    data = tmpl;
  } else {
    std::error_code ec;
    if (fs::exists(data, ec) && !fs::is_empty(data, ec)) {
      std::cerr << program << ": --data " << data
                << " is not empty: the ledger starts from a fresh data directory\n";
      return std::nullopt;
    }
  }
  for (const char* m : {"libark_counter.so", "libark_bank.so", "libark_chat_room.so"}) {
    out.modules.push_back((fs::path(module_dir) / m).string());
    if (!fs::exists(out.modules.back())) {
      std::cerr << program << ": module " << out.modules.back() << " not found (--modules)\n";
      return std::nullopt;
    }
  }
  return out;
}

}  // namespace ark::load
