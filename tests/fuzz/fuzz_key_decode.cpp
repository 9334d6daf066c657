// Fuzz target: the order-preserving key codec (kv/include/ark/kv/key.hpp).
//
// Properties checked on every input:
// - decode_key never crashes, reads out of bounds or recurses without bound;
//   it fails only with invalid_key or nesting_too_deep.
// - A decoded key nests at most max_key_depth tuples, re-encodes to exactly
//   the input bytes (decode accepts canonical encodings only), and decodes
//   again to an equal key.
// - Its JSON text (ark-dash's form) reads back as the same key, NaN payloads
//   aside.
// - Split in two at a point chosen by the first byte: when both halves decode,
//   key order equals byte order of the encodings, and the byte range that
//   store::range_of gives for list(prefix = A) / (start = A) / (end = A)
//   holds B exactly when B starts with A / B >= A / B < A.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "ark/kv/json.hpp"
#include "ark/kv/key.hpp"
#include "ark/kv/memory_backend.hpp"
#include "ark/kv/store.hpp"
#include "fuzz_check.hpp"

namespace {

using ark::key;
using ark::fuzz::hex;

int sign(int c) {
  return (c > 0) - (c < 0);
}

int byte_compare(std::string_view a, std::string_view b) {
  return sign(a.compare(b));
}

bool in_range(std::string_view k, const std::optional<ark::kv::byte_range>& r) {
  return r && k >= r->begin && (!r->end || k < std::string_view(*r->end));
}

// The store list() would run with (range_of is the code under test).
const ark::kv::store& any_store() {
  static const auto s = *ark::kv::store::open(ark::kv::memory_backend::create(), key{"fuzz"});
  return s;
}

// `option` is "prefix", "start" or "end"; `bound` its key.
void check_range(const ark::kv::list_options& opts, const char* option, const key& bound,
                 std::string_view encoded, bool expected) {
  auto r = any_store().range_of(opts);
  ARK_FUZZ_CHECK(r.has_value(), std::string("range_of failed for ") + option);
  ARK_FUZZ_CHECK(in_range(encoded, *r) == expected,
                 std::string("range_of(") + option + " " + bound.to_string() +
                     ") is wrong for the key " + hex(std::string(encoded)) +
                     (expected ? ": it should be listed" : ": it should not be listed"));
}

// Checks the round-trip properties of one input; returns the key if it decoded.
// `full`: also the checks that cost more than the decode itself (to_string,
// prefixes, JSON), done for the whole input but not again for its halves.
std::optional<key> check_round_trip(std::string_view in, bool full) {
  auto k = ark::decode_key(in);
  if (!k) {
    auto c = k.error().code();
    ARK_FUZZ_CHECK(c == ark::errc::invalid_key || c == ark::errc::nesting_too_deep,
                   "decode_key failed with " + std::string(ark::to_string(c)));
    ARK_FUZZ_CHECK(!k.error().context().empty(), "decode_key error without context");
    return std::nullopt;
  }
  const std::string input(in);
  ARK_FUZZ_CHECK(ark::fuzz::depth_of(*k) <= ark::max_key_depth,
                 "decoded key nests deeper than max_key_depth: " + hex(input));

  auto again = ark::encode_key(*k);
  ARK_FUZZ_CHECK(again.has_value(), "a decoded key does not encode: " + k->to_string());
  ARK_FUZZ_CHECK(*again == input, "re-encoding differs: in " + hex(input) + " out " + hex(*again));

  if (!full) return std::move(*k);
  auto twice = ark::decode_key(*again);
  ARK_FUZZ_CHECK(twice.has_value(), "re-encoded key does not decode: " + hex(*again));
  ARK_FUZZ_CHECK(*twice == *k && ark::compare(*twice, *k) == 0, "decode(encode(k)) != k");
  ARK_FUZZ_CHECK(twice->to_string() == k->to_string(), "to_string differs after round trip");
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, k->size() - 1, k->size()}) {
    if (n > k->size()) continue;
    key prefix(std::vector<ark::key_element>(k->begin(), k->begin() + n));
    ARK_FUZZ_CHECK(k->starts_with(prefix), "a key does not start with its own prefix");
  }

  auto text = ark::kv::key_to_json_text(*k);
  auto from_json = ark::kv::key_from_json_text(text);
  ARK_FUZZ_CHECK(from_json.has_value(), "key JSON does not parse back: " + text + ": " +
                                            (from_json ? "" : from_json.error().message()));
  ARK_FUZZ_CHECK(ark::fuzz::same_up_to_nan(*from_json, *k), "key JSON round trip differs: " + text);
  return std::move(*k);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  check_round_trip(in, true);

  if (size < 2) return 0;
  const std::size_t cut = 1 + data[0] % (size - 1);
  std::string_view a = in.substr(1, cut - 1), b = in.substr(cut);
  auto ka = check_round_trip(a, false);
  auto kb = check_round_trip(b, false);
  if (!ka || !kb) return 0;
  // Key order is byte order of the encodings (doc/key_encoding.md).
  ARK_FUZZ_CHECK(
      sign(ark::compare(*ka, *kb)) == byte_compare(a, b),
      "key order differs from byte order: " + ka->to_string() + " vs " + kb->to_string());
  ARK_FUZZ_CHECK((*ka < *kb) == (a < b), "operator< differs from byte order");
  // list() visits exactly the keys its options select.
  ark::kv::list_options opts;
  opts.prefix = *ka;
  check_range(opts, "prefix", *ka, b, kb->starts_with(*ka));
  opts = {};
  opts.start = *ka;
  check_range(opts, "start", *ka, b, !(*kb < *ka));
  opts = {};
  opts.end = *ka;
  check_range(opts, "end", *ka, b, *kb < *ka);
  return 0;
}
