#pragma once

#include <string>
#include <string_view>

#include <msgpack.hpp>
#include <nlohmann/json.hpp>

#include "ark/expected.hpp"
#include "ark/kv/key.hpp"
#include "ark/kv/value.hpp"

namespace ark::kv {

/// JSON forms of keys and values, shared by ark-dash, the admin API and the
/// default inspect_state(). The mapping is documented in doc/json_format.md.
///
/// Keys: a JSON array is a tuple; a JSON scalar is the one-element tuple.
/// Elements: null, true/false, integers (int64 range), numbers with a
/// fraction or exponent are doubles, strings are UTF-8 strings, nested arrays
/// are nested tuples, {"bytes":"<hex>"} is a bytes element, and
/// {"double":"nan"|"inf"|"-inf"} a non-finite double.

/// Parses the JSON text of a key. Malformed JSON, integers outside int64,
/// unknown objects, bad hex or nesting beyond max_key_depth are invalid_key
/// (nesting_too_deep) with a message saying what was wrong and where.
expected<key> key_from_json_text(std::string_view text);

/// Converts parsed JSON to a key; same rules as key_from_json_text.
expected<key> key_from_json(const nlohmann::json& j);

/// The JSON form of a key: always an array (the tuple).
nlohmann::json key_to_json(const key& k);

/// The compact JSON text of key_to_json(k), e.g. ["user",42,{"bytes":"00ff"}].
std::string key_to_json_text(const key& k);

/// Converts an unpacked msgpack object to JSON generically: maps with string
/// keys become objects (other map keys are rendered as their JSON text, cut
/// to 1024 bytes and marked "..." when longer), bin becomes
/// {"bytes":"<hex>"}, ext becomes {"ext":type,"bytes":"<hex>"}, non-finite
/// floats become {"double":"nan"|"inf"|"-inf"}. Depth is bounded by
/// the unpacker (max_msgpack_depth); a container deeper than that anyway is
/// shown as {"truncated":"..."}. Invalid UTF-8 in strings becomes U+FFFD, so
/// the result always dumps.
nlohmann::json msgpack_to_json(const msgpack::object& obj);

/// The JSON view of a stored value: msgpack decoded generically, raw bytes
/// as {"raw":"<hex>"}. Undecodable msgpack is corrupt_value.
expected<nlohmann::json> value_to_json(const value& v);

/// Packs JSON into a msgpack value (the inverse of msgpack_to_json for plain
/// JSON: objects become string-keyed maps; {"bytes":"<hex>"} becomes bin,
/// {"double":"nan"|"inf"|"-inf"} a float64 and {"ext":type,"bytes":"<hex>"}
/// an ext, when the object has exactly that shape; any other object is a map).
/// Containers nested deeper than max_msgpack_depth (which could not be read
/// back) are invalid_argument, naming the JSON pointer of the offending value.
expected<value> value_from_json(const nlohmann::json& j);

/// Parses JSON text and packs it as value_from_json does. Never throws and
/// never recurses on the input: malformed JSON, integers outside
/// [-2^63, 2^64) and nesting beyond max_msgpack_depth are invalid_argument
/// with a message saying what was wrong and where.
expected<value> value_from_json_text(std::string_view text);

/// Compact JSON text of `j` that never throws: invalid UTF-8 in strings is
/// replaced by U+FFFD (nlohmann's dump() throws on it).
std::string json_text(const nlohmann::json& j);

}  // namespace ark::kv
