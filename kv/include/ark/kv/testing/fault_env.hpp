#pragma once

// Fault injection at the storage layer's I/O boundary (LevelDB's Env idea).
//
// LMDB does its own file I/O through libc (pwrite, write, writev, fdatasync,
// fsync, msync) and takes no file interface from its caller, so ark's I/O
// seam is that libc boundary: the library `ark_fault_env`
// (libark_fault_env.so) defines those six functions, forwards every call to
// libc, and fails the calls a rule selects. Linked into a test executable
// (before libc, which the linker guarantees) or preloaded into a process with
// LD_PRELOAD, it sits under every LMDB environment of that process; ark's
// production binaries never link it. See doc/reliability.md.
//
// Two ways to arm a rule:
//  - in process: fault_env::arm(rule) / fault_env::clear();
//  - for a child process (e.g. a real ark-host started with LD_PRELOAD):
//    the environment variable ARK_FAULT_CONTROL names a control file, read
//    at most every few milliseconds; its first line is a rule in the text
//    form of parse_rule() ("enospc /data/dir"), and an empty or missing file
//    means no fault.

#include <cstdint>
#include <optional>
#include <string>

namespace ark::kv::testing {

/// What an armed rule does to the calls it selects.
enum class fault : std::uint8_t {
  fsync_eio,    ///< fdatasync / fsync / msync fail with EIO (the disk lost a write)
  enospc,       ///< pwrite / write / writev fail with ENOSPC (the disk is full)
  write_eio,    ///< pwrite / write / writev fail with EIO
  short_write,  ///< pwrite / write / writev write half the bytes and report that
};

struct fault_rule {
  fault kind = fault::fsync_eio;
  /// Only calls on files whose path starts with this (e.g. a data directory).
  std::string path_prefix;
  /// Let this many selected calls through before failing any.
  std::uint64_t skip = 0;
  /// Fail this many calls, then let every call through; 0: until cleared.
  std::uint64_t count = 0;
  /// Only writes to the first two pages of a file (LMDB's meta pages).
  bool meta_only = false;
};

/// "<kind> <path_prefix> [skip=N] [count=N] [meta]", kind one of fsync_eio,
/// enospc, write_eio, short_write. Empty on malformed text.
std::optional<fault_rule> parse_rule(const std::string& text);

/// Arms `rule` (replacing any armed rule) and resets the counters.
void arm(const fault_rule& rule);
/// Disarms: every call goes through to libc again.
void clear();
/// Calls failed (or shortened) since the last arm().
std::uint64_t injected();
/// Calls the armed rule selected (passed through or failed) since arm().
std::uint64_t selected();

/// Arms `rule` for its lifetime.
class scoped_fault {
 public:
  explicit scoped_fault(const fault_rule& rule) { arm(rule); }
  ~scoped_fault() { clear(); }
  scoped_fault(const scoped_fault&) = delete;
  scoped_fault& operator=(const scoped_fault&) = delete;
};

}  // namespace ark::kv::testing
