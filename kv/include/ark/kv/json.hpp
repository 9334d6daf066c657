#pragma once

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

/// Converts an unpacked msgpack object to JSON generically: maps with string
/// keys become objects (other map keys are rendered as their JSON text), bin
/// becomes {"bytes":"<hex>"}, ext becomes {"ext":type,"bytes":"<hex>"},
/// non-finite floats become {"double":"nan"|"inf"|"-inf"}. Depth is bounded by
/// the unpacker (max_msgpack_depth).
nlohmann::json msgpack_to_json(const msgpack::object& obj);

/// The JSON view of a stored value: msgpack decoded generically, raw bytes
/// as {"raw":"<hex>"}. Undecodable msgpack is corrupt_value.
expected<nlohmann::json> value_to_json(const value& v);

/// Packs JSON into a msgpack value (the inverse of msgpack_to_json for plain
/// JSON: objects become string-keyed maps; {"bytes":"<hex>"} becomes bin).
expected<value> value_from_json(const nlohmann::json& j);

}  // namespace ark::kv
