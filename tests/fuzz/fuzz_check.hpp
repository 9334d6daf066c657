#pragma once

// Shared helpers of the fuzz targets (run them with scripts/fuzz.sh): the
// property check that stops the fuzzer, and key comparisons that tolerate the
// documented loss of NaN payloads in JSON.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "ark/kv/key.hpp"

/// Stops the run when a property the target checks does not hold: prints what
/// failed and aborts, so libFuzzer (or the corpus replay) reports a crash and
/// saves the input.
#define ARK_FUZZ_CHECK(cond, what)                                         \
  do {                                                                     \
    if (!(cond)) ::ark::fuzz::violated(#cond, (what), __FILE__, __LINE__); \
  } while (false)

namespace ark::fuzz {

[[noreturn]] inline void violated(const char* cond, const std::string& what, const char* file,
                                  int line) {
  std::fprintf(stderr, "%s:%d: fuzz property violated: %s\n  %s\n", file, line, cond, what.c_str());
  std::fflush(stderr);
  std::abort();
}

/// Keys equal up to NaN payloads and signs: the JSON form writes every NaN as
/// {"double":"nan"}, so a key read back from JSON holds the quiet NaN.
inline bool same_up_to_nan(const key& a, const key& b);

inline bool same_up_to_nan(const key_element& a, const key_element& b) {
  if (a.kind() != b.kind()) return false;
  if (a.kind() == key_element::type::float64 && std::isnan(a.as_double()))
    return std::isnan(b.as_double());
  if (a.kind() == key_element::type::tuple) return same_up_to_nan(a.as_tuple(), b.as_tuple());
  return a == b;
}

inline bool same_up_to_nan(const key& a, const key& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!same_up_to_nan(a[i], b[i])) return false;
  return true;
}

/// Tuple nesting of `k`: 1 for a flat key (the top-level tuple counts).
inline std::size_t depth_of(const key& k) {
  std::size_t inner = 0;
  for (const auto& e : k)
    if (e.kind() == key_element::type::tuple) inner = std::max(inner, depth_of(e.as_tuple()));
  return inner + 1;
}

inline std::string hex(const std::string& s) {
  return ark::to_hex(s);
}

}  // namespace ark::fuzz
