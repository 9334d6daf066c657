// Fuzz target: stored values ([tag][payload], kv/include/ark/kv/value.hpp)
// and their JSON view (kv/include/ark/kv/json.hpp), as ark-dash shows them.
//
// Properties checked on every input:
// - value::decode fails (corrupt_value) exactly for an empty buffer or an
//   unknown tag, and otherwise keeps the bytes as they are.
// - Typed reads (the SDK's get<T>) and value_to_json never crash, never
//   allocate beyond the payload's size and fail only with their documented
//   errors; raw values read back byte for byte.
// - The JSON view is a fixed point: packing it back (value_from_json) gives a
//   readable value whose JSON view is the same, and its text always dumps.
//   (That the text parses back to the same value is fuzz_json_key's check.)

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "ark/kv/json.hpp"
#include "ark/kv/value.hpp"
#include "fuzz_check.hpp"

namespace {

using ark::errc;
using ark::fuzz::hex;
using ark::kv::value;

// A record type as user code stores them (the bank example's outbox entry).
struct pending_transfer {
  std::string to;
  std::int64_t amount = 0;
  MSGPACK_DEFINE_MAP(to, amount)
};

// A typed read either converts or fails with type_mismatch / corrupt_value;
// when it converts, packing the result reads back (equal, if `compare`).
template <class T>
void typed_read(const value& v, bool compare = true) {
  auto r = v.as<T>();
  if (!r) {
    auto c = r.error().code();
    ARK_FUZZ_CHECK(c == errc::type_mismatch || c == errc::corrupt_value,
                   "as<T> failed with " + std::string(ark::to_string(c)));
    return;
  }
  auto again = value::pack(*r).template as<T>();
  ARK_FUZZ_CHECK(again.has_value(), "a converted value does not read back after packing");
  if constexpr (std::is_same_v<T, pending_transfer>) {
    ARK_FUZZ_CHECK(again->to == r->to && again->amount == r->amount, "struct does not read back");
  } else {
    ARK_FUZZ_CHECK(!compare || *again == *r, "pack(as<T>()) does not read back equal");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto v = value::decode(in);
  const bool known_tag = size > 0 && (data[0] == 0x01 || data[0] == 0x02);
  if (!v) {
    ARK_FUZZ_CHECK(v.error().code() == errc::corrupt_value, "decode failed with another code");
    ARK_FUZZ_CHECK(!known_tag, "a value with a known tag failed to decode");
    return 0;
  }
  ARK_FUZZ_CHECK(known_tag, "a value with an unknown tag decoded");
  ARK_FUZZ_CHECK(v->stored() == in, "stored() differs from the decoded bytes");
  ARK_FUZZ_CHECK(v->payload() == in.substr(1), "payload() is not the bytes after the tag");

  if (v->is_raw()) {
    auto raw = v->raw_bytes();
    ARK_FUZZ_CHECK(raw && *raw == in.substr(1), "raw bytes do not read back");
    ARK_FUZZ_CHECK(v->as<std::int64_t>().error().code() == errc::type_mismatch,
                   "a typed read of raw bytes is not type_mismatch");
  } else {
    ARK_FUZZ_CHECK(v->raw_bytes().error().code() == errc::type_mismatch,
                   "raw_bytes of msgpack is not type_mismatch");
    // One typed read per input, picked by its last byte: every type gets its
    // share of inputs at a tenth of the cost of all ten each time.
    switch (data[size - 1] % 10) {
      case 0:
        typed_read<std::int64_t>(*v);
        break;
      case 1:
        typed_read<std::uint64_t>(*v);
        break;
      case 2:  // doubles and floats: NaN != NaN, no equality check
        typed_read<double>(*v, false);
        break;
      case 3:
        typed_read<float>(*v, false);
        break;
      case 4:
        typed_read<bool>(*v);
        break;
      case 5:
        typed_read<std::string>(*v);
        break;
      case 6:
        typed_read<std::vector<std::int64_t>>(*v);
        break;
      case 7:
        typed_read<std::vector<std::string>>(*v);
        break;
      case 8:
        typed_read<std::map<std::string, std::int64_t>>(*v);
        break;
      default:
        typed_read<pending_transfer>(*v);
        break;
    }
  }

  auto j = ark::kv::value_to_json(*v);
  if (!j) {
    ARK_FUZZ_CHECK(!v->is_raw(), "value_to_json failed on a raw value");
    ARK_FUZZ_CHECK(j.error().code() == errc::corrupt_value,
                   "value_to_json failed with another code");
    return 0;
  }
  const std::string text = ark::kv::json_text(*j);  // never throws
  ARK_FUZZ_CHECK(!text.empty(), "empty JSON text");
  if (v->is_raw()) {
    ARK_FUZZ_CHECK(j->is_object() && j->size() == 1 && j->contains("raw"),
                   "a raw value is not shown as {\"raw\": ...}");
    return 0;
  }

  // The JSON view packs back (ark-dash kv put) into a value with the same view.
  auto back = ark::kv::value_from_json(*j);
  ARK_FUZZ_CHECK(back.has_value(), "the JSON view of a value does not pack: " + text + ": " +
                                       (back ? "" : back.error().message()));
  auto j2 = ark::kv::value_to_json(*back);
  ARK_FUZZ_CHECK(j2.has_value(), "a value packed from JSON does not read back: " + text);
  ARK_FUZZ_CHECK(*j2 == *j, "the JSON view is not a fixed point: " + text + " became " +
                                ark::kv::json_text(*j2) + " (input " + hex(std::string(in)) + ")");
  return 0;
}
