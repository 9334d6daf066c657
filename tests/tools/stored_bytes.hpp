#pragma once

// Bytes as ark stores them, built by hand for the ark-dash tests that plant
// records (verify_test.cpp, integrity_test.cpp): keys, stored values,
// snapshots and state journal records (doc/storage_format.md,
// doc/state_format.md).

#include <doctest/doctest.h>

#include <string>

#include "ark/kv/json.hpp"
#include "ark/kv/key.hpp"

namespace ark::test::stored_bytes {

inline bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

inline std::string enc(const ark::key& k) {
  auto e = ark::encode_key(k);
  REQUIRE(e);
  return *e;
}

// The spaces of doc/state_format.md (on-disk constants): 00 02 "state" 00,
// 00 02 "journal" 00 and 00 02 "alarms" 00.
inline const std::string state_space("\x00\x02state\x00", 8);
inline const std::string journal_space("\x00\x02journal\x00", 10);
inline const std::string alarm_space("\x00\x02" "alarms\x00", 9);

/// A stored msgpack value of the JSON `text`.
inline std::string msgpack_of(const std::string& text) {
  auto v = ark::kv::value_from_json_text(text);
  REQUIRE(v);
  return v->stored();
}

/// A stored snapshot value: {"schema": 1, "state": <state_json>}.
inline std::string snapshot(const std::string& state_json) {
  return msgpack_of(R"({"schema": 1, "state": )" + state_json + "}");
}

inline std::string u32le(std::size_t n) {
  std::string out;
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  return out;
}

/// One journal record entry (doc/state_format.md): kind, key, value.
inline std::string journal_entry(char kind, const std::string& key, const std::string& value) {
  return std::string(1, kind) + u32le(key.size()) + key + u32le(value.size()) + value;
}

}  // namespace ark::test::stored_bytes
