// libark_fault_env: interposes the libc calls LMDB writes and syncs through,
// and fails the ones an armed rule selects (see fault_env.hpp).

#include "ark/kv/testing/fault_env.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sstream>
#include <vector>

namespace ark::kv::testing {
namespace {

// The armed rule. `armed` is the only thing a call reads when no rule is
// armed, so the hooks cost one relaxed load in that case.
std::atomic<bool> armed{false};
std::mutex rule_mu;
fault_rule rule;                 // guarded by rule_mu
std::string control_text;        // the control file's rule as last read
std::atomic<std::uint64_t> n_selected{0};
std::atomic<std::uint64_t> n_injected{0};

// The control file (ARK_FAULT_CONTROL), polled at most every poll_interval.
constexpr std::int64_t poll_interval_ns = 2'000'000;
std::atomic<std::int64_t> next_poll{0};
const char* control_path() {
  static const char* path = std::getenv("ARK_FAULT_CONTROL");
  return path;
}

std::int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// The real libc function `name` (the next definition after this library's).
template <class F>
F real(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}
using pwrite_fn = ssize_t (*)(int, const void*, size_t, off_t);
using write_fn = ssize_t (*)(int, const void*, size_t);
using writev_fn = ssize_t (*)(int, const iovec*, int);
using sync_fn = int (*)(int);
using msync_fn = int (*)(void*, size_t, int);

void arm_locked(const fault_rule& r) {
  rule = r;
  n_selected = 0;
  n_injected = 0;
  armed = true;
}

// Re-reads the control file when it is due.
void poll_control_file() {
  const char* path = control_path();
  if (path == nullptr) return;
  auto now = now_ns();
  auto due = next_poll.load(std::memory_order_relaxed);
  if (now < due || !next_poll.compare_exchange_strong(due, now + poll_interval_ns)) return;
  std::string text;
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char buf[1024];
    ssize_t n = ::read(fd, buf, sizeof buf);
    ::close(fd);
    if (n > 0) text.assign(buf, static_cast<std::size_t>(n));
  }
  if (auto eol = text.find('\n'); eol != std::string::npos) text.resize(eol);
  std::lock_guard lock(rule_mu);
  if (text == control_text) return;  // unchanged: keep the counters
  control_text = text;
  if (auto r = parse_rule(text)) {
    arm_locked(*r);
  } else {
    armed = false;
  }
}

enum class op { write, sync };

// What to do with one call.
enum class action { pass, fail_eio, fail_enospc, shorten };

// `offset` is a write's file offset, asked only by meta_only rules.
template <class Offset>
action decide(op kind, int fd, Offset offset) {
  poll_control_file();
  if (!armed.load(std::memory_order_relaxed)) return action::pass;
  std::lock_guard lock(rule_mu);
  if (!armed.load(std::memory_order_relaxed)) return action::pass;
  bool is_sync_rule = rule.kind == fault::fsync_eio;
  if ((kind == op::sync) != is_sync_rule) return action::pass;
  if (rule.meta_only) {
    off_t at = offset();
    if (at < 0 || at >= 2 * ::sysconf(_SC_PAGESIZE)) return action::pass;
  }
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char target[4096];
  ssize_t n = ::readlink(link, target, sizeof target - 1);
  if (n <= 0) return action::pass;
  if (std::string_view(target, static_cast<std::size_t>(n)).substr(0, rule.path_prefix.size()) !=
      rule.path_prefix)
    return action::pass;
  auto seen = n_selected++;
  if (seen < rule.skip) return action::pass;
  if (rule.count != 0 && seen - rule.skip >= rule.count) return action::pass;
  ++n_injected;
  switch (rule.kind) {
    case fault::fsync_eio:
    case fault::write_eio:
      return action::fail_eio;
    case fault::enospc:
      return action::fail_enospc;
    case fault::short_write:
      return action::shorten;
  }
  return action::pass;
}

int fail(int code) {
  errno = code;
  return -1;
}

// Runs a write whose action is known: fails it, or writes half of it.
template <class Write>
ssize_t do_write(action a, std::size_t n, Write w) {
  switch (a) {
    case action::fail_eio:
      return fail(EIO);
    case action::fail_enospc:
      return fail(ENOSPC);
    case action::shorten:
      return w(n / 2);
    case action::pass:
      break;
  }
  return w(n);
}

int do_sync(int fd, sync_fn f) {
  if (decide(op::sync, fd, [] { return off_t{-1}; }) != action::pass) return fail(EIO);
  return f(fd);
}

}  // namespace

std::optional<fault_rule> parse_rule(const std::string& text) {
  std::istringstream in(text);
  std::string kind;
  fault_rule r;
  if (!(in >> kind >> r.path_prefix)) return std::nullopt;
  if (kind == "fsync_eio")
    r.kind = fault::fsync_eio;
  else if (kind == "enospc")
    r.kind = fault::enospc;
  else if (kind == "write_eio")
    r.kind = fault::write_eio;
  else if (kind == "short_write")
    r.kind = fault::short_write;
  else
    return std::nullopt;
  for (std::string word; in >> word;) {
    auto number = [&](std::string_view prefix, std::uint64_t& out) {
      if (word.compare(0, prefix.size(), prefix) != 0) return false;
      char* end = nullptr;
      out = std::strtoull(word.c_str() + prefix.size(), &end, 10);
      return end != nullptr && *end == '\0';
    };
    if (word == "meta")
      r.meta_only = true;
    else if (!number("skip=", r.skip) && !number("count=", r.count))
      return std::nullopt;
  }
  return r;
}

void arm(const fault_rule& r) {
  std::lock_guard lock(rule_mu);
  arm_locked(r);
}

void clear() {
  std::lock_guard lock(rule_mu);
  armed = false;
}

std::uint64_t injected() {
  return n_injected.load();
}

std::uint64_t selected() {
  return n_selected.load();
}

}  // namespace ark::kv::testing

// The interposed libc functions.
using namespace ark::kv::testing;

extern "C" {

ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  static const auto next = real<pwrite_fn>("pwrite");
  return do_write(decide(op::write, fd, [off] { return off; }), n,
                  [&](std::size_t len) { return next(fd, buf, len, off); });
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off_t off) {
  static const auto next = real<pwrite_fn>("pwrite64");
  return do_write(decide(op::write, fd, [off] { return off; }), n,
                  [&](std::size_t len) { return next(fd, buf, len, off); });
}

ssize_t write(int fd, const void* buf, size_t n) {
  static const auto next = real<write_fn>("write");
  return do_write(decide(op::write, fd, [fd] { return ::lseek(fd, 0, SEEK_CUR); }), n,
                  [&](std::size_t len) { return next(fd, buf, len); });
}

ssize_t writev(int fd, const iovec* iov, int count) {
  static const auto next = real<writev_fn>("writev");
  std::size_t total = 0;
  for (int i = 0; i < count; ++i) total += iov[i].iov_len;
  auto offset = [fd] { return ::lseek(fd, 0, SEEK_CUR); };
  return do_write(decide(op::write, fd, offset), total, [&](std::size_t len) {
    if (len == total) return next(fd, iov, count);
    // A shortened write: the first `len` bytes of the vector.
    std::vector<iovec> part;
    for (int i = 0; i < count && len > 0; ++i) {
      auto take = std::min(len, iov[i].iov_len);
      part.push_back(iovec{iov[i].iov_base, take});
      len -= take;
    }
    return next(fd, part.data(), static_cast<int>(part.size()));
  });
}

int fdatasync(int fd) {
  static const auto next = real<sync_fn>("fdatasync");
  return do_sync(fd, next);
}

int fsync(int fd) {
  static const auto next = real<sync_fn>("fsync");
  return do_sync(fd, next);
}

int msync(void* addr, size_t len, int flags) {
  // LMDB msyncs only with MDB_WRITEMAP, which ark does not use; a rule never
  // matches a mapping (there is no fd), so this only forwards.
  static const auto next = real<msync_fn>("msync");
  return next(addr, len, flags);
}

}  // extern "C"
