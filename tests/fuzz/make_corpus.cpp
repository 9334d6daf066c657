// Writes the seed corpora of the fuzz targets: real encodings made by the
// code under test (keys of every element type, stored values of every tag
// and msgpack type, snapshots and a journal record as the runtime writes
// them, JSON keys as users type them).
//
//   cmake --build build --target fuzz_make_corpus
//   build/tests/fuzz/fuzz_make_corpus tests/fuzz/corpus
//
// Files are named after what they hold and rewritten in place; inputs that
// the fuzzers found (named crash-<what>) are left alone.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "ark/kv/json.hpp"
#include "ark/kv/key.hpp"
#include "ark/kv/value.hpp"
#include "ark/stored_format.hpp"
#include "fuzz_states.hpp"

namespace {

namespace fs = std::filesystem;
using ark::key;
using ark::kv::value;

fs::path root;

void write(const std::string& target, const std::string& name, const std::string& bytes) {
  fs::create_directories(root / target);
  std::ofstream f(root / target / name, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) {
    std::fprintf(stderr, "cannot write %s/%s\n", target.c_str(), name.c_str());
    std::exit(1);
  }
}

template <class T>
T must(ark::expected<T> x, const std::string& what) {
  if (!x) {
    std::fprintf(stderr, "%s: %s\n", what.c_str(), x.error().message().c_str());
    std::exit(1);
  }
  return std::move(*x);
}

std::string enc(const key& k) {
  return must(ark::encode_key(k), "encode " + k.to_string());
}

// A key of `depth` nested tuples (the top-level tuple counts as one).
key nested(std::size_t depth) {
  key k{"leaf"};
  for (std::size_t i = 1; i < depth; ++i) k = key{ark::key_element(std::move(k))};
  return k;
}

// The bytes of a key nested `depth` deep, built by hand: encode_key refuses
// more than max_key_depth.
std::string nested_bytes(std::size_t depth) {
  return std::string(depth - 1, '\x05') + std::string("\x02leaf\x00", 6) +
         std::string(depth - 1, '\x00');
}

// An input for fuzz_key_decode that it splits into `a` and `b`.
std::string pair(const std::string& a, const std::string& b) {
  return std::string(1, static_cast<char>(a.size())) + a + b;
}

std::string bytes_of(std::initializer_list<int> bs) {
  std::string out;
  for (int b : bs) out.push_back(static_cast<char>(b));
  return out;
}

void key_corpus() {
  const std::string t = "fuzz_key_decode";
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  write(t, "empty-tuple", enc(key{}));
  write(t, "null", enc(key{nullptr}));
  write(t, "bytes", enc(key{ark::bytes(bytes_of({0x00, 0x01, 0xff, 0x00}))}));
  write(t, "string", enc(key{"user"}));
  write(t, "string-nul", enc(key{std::string("a\0b", 3)}));
  write(t, "string-utf8", enc(key{"h\xc3\xa9llo \xf0\x9f\x98\x80 \xe2\x82\xac"}));
  write(t, "tuple", enc(key{"user", key{"nested", nullptr, 7}, key{}}));
  write(t, "ints", enc(key{0, 1, -1, 255, 256, -255, -256, 65536, -65536}));
  write(
      t, "int-limits",
      enc(key{std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::min()}));
  write(t, "doubles", enc(key{0.0, -0.0, 1.5, -1.5, 1e300, -1e-300, inf, -inf, nan, -nan}));
  write(t, "bools", enc(key{false, true}));
  write(
      t, "readme-example",
      enc(key{"user", 42, true, nullptr, 1.5, key{"nested"}, ark::bytes(bytes_of({0x00, 0xff}))}));
  write(t, "actor-identity", enc(key{"account", key{"alice"}}));
  write(t, "nested-32-max", enc(nested(ark::max_key_depth)));
  write(t, "nested-33-too-deep", nested_bytes(ark::max_key_depth + 1));
  write(t, "nested-1000-too-deep", nested_bytes(1000));
  write(t, "bad-int-wider-than-64", bytes_of({0x1d, 0x09, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  write(t, "bad-int-noncanonical", bytes_of({0x16, 0x00, 0x01}));
  write(t, "bad-unterminated-string", bytes_of({0x02, 'a', 'b'}));
  write(t, "pair-prefix-longer", pair(enc(key{"user"}), enc(key{"user", 7})));
  write(t, "pair-prefix-other", pair(enc(key{"user"}), enc(key{"users"})));
  write(t, "pair-ints", pair(enc(key{-1}), enc(key{1})));
  write(t, "pair-types", pair(enc(key{ark::bytes(std::string("x"))}), enc(key{"x"})));
}

void value_corpus() {
  const std::string t = "fuzz_value_decode";
  write(t, "raw-empty", value::raw("").stored());
  write(t, "raw-bytes", value::raw(bytes_of({0x00, 0xff, 'h', 'i'})).stored());
  write(t, "unknown-tag", bytes_of({0x03, 0xc0}));
  write(t, "msgpack-empty-payload", bytes_of({0x01}));
  write(t, "msgpack-nil", value::pack(msgpack::type::nil_t()).stored());
  write(t, "msgpack-bools", value::pack(std::vector<bool>{true, false}).stored());
  write(t, "msgpack-ints",
        value::pack(std::vector<std::int64_t>{0, 1, -1, 127, 128, -32, -33, 255, 65535, 65536, -129,
                                              -32769, std::numeric_limits<std::int64_t>::min(),
                                              std::numeric_limits<std::int64_t>::max()})
            .stored());
  write(t, "msgpack-uint64-max", value::pack(std::numeric_limits<std::uint64_t>::max()).stored());
  write(t, "msgpack-doubles",
        value::pack(std::vector<double>{1.5, -0.0, 1.0, std::numeric_limits<double>::quiet_NaN(),
                                        -std::numeric_limits<double>::infinity()})
            .stored());
  write(t, "msgpack-float32", value::pack(1.1f).stored());
  write(t, "msgpack-str", value::pack(std::string("h\xc3\xa9llo")).stored());
  write(t, "msgpack-str-invalid-utf8", value::pack(std::string("\xff\xfe")).stored());
  write(t, "msgpack-map",
        value::pack(std::map<std::string, std::int64_t>{{"a", 1}, {"b", -2}}).stored());
  write(t, "msgpack-map-int-keys", value::pack(std::map<int, std::string>{{1, "x"}}).stored());
  write(t, "msgpack-struct", value::pack(ark::fuzz::profile_state{"p", {1, 2}, 0.5}).stored());
  const std::string doc =
      R"({"bin":{"bytes":"00ff"},"ext":{"ext":5,"bytes":"0a0b"},"nan":{"double":"nan"},)"
      R"("list":[1,-2,3.5,"s",null,true,[[]],{}],"big":18446744073709551615})";
  write(t, "msgpack-from-json", must(ark::kv::value_from_json_text(doc), "json").stored());
  // The deepest nesting a read accepts, and one level more.
  auto deep = [](std::size_t n) {
    return std::string(1, '\x01') + std::string(n, '\x91') + std::string(1, '\xc0');
  };
  write(t, "msgpack-nested-127", deep(ark::kv::max_msgpack_depth - 1));
  write(t, "msgpack-nested-129", deep(ark::kv::max_msgpack_depth + 1));
  write(t, "msgpack-huge-array-header", bytes_of({0x01, 0xdd, 0xff, 0xff, 0xff, 0xff}));
  write(t, "msgpack-trailing-bytes", bytes_of({0x01, 0xc0, 0xc0}));
}

template <class State>
std::string snapshot_of(const State& s, std::uint32_t schema = 1) {
  return ark::stored::make_snapshot(schema, std::string(value::pack(s).payload()));
}

void snapshot_corpus() {
  const std::string t = "fuzz_snapshot_load";
  ark::fuzz::counter_state counter{42};
  ark::fuzz::account_state account{1000, 3};
  ark::fuzz::chat_room_state chat{8, 7};
  ark::fuzz::profile_state profile{"alice", {3, 1, 2}, 0.25};
  write(t, "snapshot-counter", snapshot_of(counter));
  write(t, "snapshot-account", snapshot_of(account));
  write(t, "snapshot-chat-room", snapshot_of(chat));
  write(t, "snapshot-profile", snapshot_of(profile));
  write(t, "snapshot-schema-2", snapshot_of(counter, 2));
  write(t, "snapshot-not-a-map", value::pack(std::vector<int>{1, 2}).stored());
  write(t, "snapshot-raw", value::raw("state").stored());
  // A journal record as the writer thread appends it: snapshots keyed by the
  // actors' encoded identities, and an actor whose snapshot went in place.
  auto id = [](const char* type, const key& k) {
    return must(ark::stored::make_identity(type, k), "identity").encoded;
  };
  ark::stored::journal_record record;
  record.add(ark::stored::journal_entry::snapshot, id("counter", key{"visits"}),
             snapshot_of(counter));
  record.add(ark::stored::journal_entry::snapshot, id("account", key{"alice"}),
             snapshot_of(account));
  record.add(ark::stored::journal_entry::in_table, id("chat_room", key{"lobby", 1}), "");
  record.add(ark::stored::journal_entry::snapshot, id("counter", key{"visits"}),
             snapshot_of(ark::fuzz::counter_state{43}));
  write(t, "journal-record", record.bytes());
  ark::stored::journal_record empty;
  write(t, "journal-record-empty", empty.bytes());
  write(t, "journal-record-truncated", record.bytes().substr(0, record.bytes().size() - 3));
}

void json_key_corpus() {
  const std::string t = "fuzz_json_key";
  write(t, "array", R"(["user", 42])");
  write(t, "bare-word", "visits");
  write(t, "string", R"("visits")");
  write(t, "every-type",
        R"([null, true, false, 7, -7, 1.5, -0.0, 1e300, "s\u00e9\n", {"bytes":"00FF"},)"
        R"( {"double":"nan"}, {"double":"-inf"}, ["nested", [1, []]]])");
  write(t, "int-limits", "[9223372036854775807, -9223372036854775808]");
  write(t, "int-too-large", "[18446744073709551615, 99999999999999999999]");
  write(t, "unicode", R"(["h\u00e9llo", "\ud83d\ude00", "\u0000"])");
  write(t, "bad-surrogate", R"(["\ud800"])");
  write(t, "unknown-object", R"({"a": 1})");
  write(t, "bad-hex", R"([{"bytes":"0g"}])");
  write(t, "unterminated", "[1,");
  write(t, "nested-32", std::string(32, '[') + "1" + std::string(32, ']'));
  write(t, "nested-33", std::string(33, '[') + "1" + std::string(33, ']'));
  write(t, "nested-200-unclosed", std::string(200, '['));
  write(t, "value-document",
        R"({"name":"x","scores":[1,2.5],"raw":{"bytes":"00"},"e":{"ext":-1,"bytes":""}})");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s tests/fuzz/corpus\n", argv[0]);
    return 2;
  }
  root = argv[1];
  key_corpus();
  value_corpus();
  snapshot_corpus();
  json_key_corpus();
  return 0;
}
