#pragma once

// Runs a verification command (`ark-dash verify --data DIR` by default) on
// the data directory of a stopped host, for ark-crash and ark-soak.

#include <string>
#include <vector>

#include "load_driver.hpp"

namespace ark::load {

/// Runs `cmd` with "{data}" replaced by the shell-quoted data directory
/// (appended when `cmd` has no "{data}"); exit status 0 means clean. An
/// empty `cmd` disables verification. An ark-dash that does not know the
/// verb (exit status 2, CLI11's "not expected" complaint naming it) makes
/// verification unavailable: warned once on stderr, not a failure.
class data_verifier {
 public:
  /// `program` names the caller in the warning.
  data_verifier(std::string cmd, std::string program)
      : cmd_(std::move(cmd)), program_(std::move(program)) {}

  /// Verifies `data_dir`; appends a violation "(d) data directory does not
  /// verify" with the command's output when it finds problems.
  void run(const std::string& data_dir, std::vector<violation>& out);

  /// "N verify runs clean", "verify not available" or "verify disabled".
  std::string summary() const;

 private:
  std::string cmd_;
  std::string program_;
  bool unavailable_ = false;
  int passed_ = 0;
};

/// The last `n` bytes of `text` ("..." first when cut), for reports.
std::string tail(const std::string& text, std::size_t n = 3000);

}  // namespace ark::load
