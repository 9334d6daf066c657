// Fuzz target: the key parser of the CLI and the admin API, ark-dash's
// parse_key_arg (tools/ark-dash/common.hpp: JSON text such as ["user", 42],
// or a bare word) over kv::key_from_json_text, plus the JSON value parser of
// `ark-dash kv put` (kv::value_from_json_text).
//
// Properties checked on every input:
// - Parsing never crashes or recurses on the input; failures are
//   invalid_key / nesting_too_deep (keys) and invalid_argument (values).
// - A parsed key that encodes prints (key_to_json_text) as JSON text that
//   parses back to the same key, NaN payloads aside, and prints the same
//   again; its encoding decodes to the same key.
// - A parsed value reads back as JSON, and that JSON's text packs to the same
//   bytes.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ark/kv/json.hpp"
#include "common.hpp"
#include "fuzz_check.hpp"

namespace {

using ark::errc;
using ark::key;

void check_key(std::string_view text) {
  auto k = ark::dash::parse_key_arg(text, "KEY");
  auto strict = ark::kv::key_from_json_text(text);
  if (!k) {
    auto c = k.error().code();
    ARK_FUZZ_CHECK(c == errc::invalid_key || c == errc::nesting_too_deep,
                   "parse_key_arg failed with " + std::string(ark::to_string(c)));
    ARK_FUZZ_CHECK(!strict, "key_from_json_text accepts what parse_key_arg refuses");
    return;
  }
  // JSON text means what it says; only text that is not JSON is a bare word.
  if (strict) {
    ARK_FUZZ_CHECK(*strict == *k, "parse_key_arg and key_from_json_text disagree");
  } else {
    ARK_FUZZ_CHECK(k->size() == 1 && (*k)[0].kind() == ark::key_element::type::string &&
                       (*k)[0].as_string() == text,
                   "a bare word is not the one-element string key");
  }

  auto encoded = ark::encode_key(*k);
  if (!encoded) {
    // Only a bare word can hold invalid UTF-8 (JSON strings are checked).
    ARK_FUZZ_CHECK(!strict && encoded.error().code() == errc::invalid_key,
                   "a key parsed from JSON does not encode: " + encoded.error().message());
    return;
  }
  auto decoded = ark::decode_key(*encoded);
  ARK_FUZZ_CHECK(decoded && *decoded == *k, "encode/decode of a parsed key differs");

  const std::string printed = ark::kv::key_to_json_text(*k);
  auto back = ark::dash::parse_key_arg(printed, "KEY");
  ARK_FUZZ_CHECK(back.has_value(), "printed key does not parse: " + printed + ": " +
                                       (back ? "" : back.error().message()));
  ARK_FUZZ_CHECK(ark::fuzz::same_up_to_nan(*back, *k),
                 "printed key parses differently: " + printed);
  ARK_FUZZ_CHECK(ark::kv::key_to_json_text(*back) == printed,
                 "key text is not a fixed point: " + printed);
}

void check_value(std::string_view text) {
  auto v = ark::kv::value_from_json_text(text);
  if (!v) {
    ARK_FUZZ_CHECK(
        v.error().code() == errc::invalid_argument,
        "value_from_json_text failed with " + std::string(ark::to_string(v.error().code())));
    return;
  }
  auto j = ark::kv::value_to_json(*v);
  ARK_FUZZ_CHECK(j.has_value(), "a value packed from JSON does not read back");
  const std::string printed = ark::kv::json_text(*j);
  auto again = ark::kv::value_from_json_text(printed);
  ARK_FUZZ_CHECK(again.has_value(), "the JSON text of a value does not parse: " + printed);
  auto j2 = ark::kv::value_to_json(*again);
  ARK_FUZZ_CHECK(j2 && ark::kv::json_text(*j2) == printed,
                 "value JSON text is not a fixed point: " + printed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  check_key(text);
  check_value(text);
  return 0;
}
