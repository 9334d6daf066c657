#pragma once

// Spots sanitizer reports in what a child process (ark-host, an example
// client, ark-dash) printed, so that under scripts/sanitize.sh the test that
// started the child fails and shows the report, even when the child was
// killed or its exit status was not checked. A no-op in normal builds.

#include <doctest/doctest.h>

#include <string>

namespace ark::test {

/// True when `output` holds an AddressSanitizer, LeakSanitizer,
/// UndefinedBehaviorSanitizer or ThreadSanitizer report.
inline bool has_sanitizer_report(const std::string& output) {
  for (const char* marker :
       {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
        "ERROR: ThreadSanitizer", "runtime error: ", "SUMMARY: UndefinedBehaviorSanitizer"})
    if (output.find(marker) != std::string::npos) return true;
  return false;
}

/// Fails the current test (without stopping it) when `output`, printed by
/// `who`, holds a sanitizer report.
inline void check_no_sanitizer_report(const std::string& who, const std::string& output) {
  if (has_sanitizer_report(output)) FAIL_CHECK(who << " printed a sanitizer report:\n" << output);
}

}  // namespace ark::test
