#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "ark/kv/json.hpp"

using namespace ark;
using namespace ark::kv;
using json = nlohmann::json;

namespace {

const double nan_value = std::numeric_limits<double>::quiet_NaN();
const double inf_value = std::numeric_limits<double>::infinity();

// The error of key_from_json_text(text); fails the test when parsing succeeds.
error key_error(const std::string& text) {
  auto k = key_from_json_text(text);
  if (k) {
    FAIL_CHECK("expected an error for " << text << ", got " << k->to_string());
    return {};
  }
  return k.error();
}

bool mentions(const error& e, const std::string& needle) {
  return e.context().find(needle) != std::string::npos;
}

// Packs with msgpack-c, unpacks and converts: what value_to_json shows.
template <class Fn>
json packed_to_json(Fn&& fill) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  fill(pk, buf);
  auto handle = msgpack::unpack(buf.data(), buf.size());
  return msgpack_to_json(handle.get());
}

std::string nested_arrays(std::size_t depth, const std::string& inner = "1") {
  return std::string(depth, '[') + inner + std::string(depth, ']');
}

// The raw float64 bits of d (to tell -0.0 from 0.0).
std::uint64_t bits(double d) {
  std::uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  return u;
}

// Writes d as a msgpack float64 (0xcb). msgpack-c's pack_double() writes
// integral doubles such as -0.0 as integers.
void pack_float64(msgpack::sbuffer& buf, double d) {
  std::uint64_t u = bits(d);
  char out[9];
  out[0] = static_cast<char>(0xcb);
  for (int i = 0; i < 8; ++i) out[1 + i] = static_cast<char>(u >> (56 - 8 * i));
  buf.write(out, sizeof out);
}

}  // namespace

TEST_CASE("keys round-trip through JSON text unchanged") {
  const std::vector<key> keys = {
      key{},
      key{"user", 42, true, nullptr, 1.5, key{"nested"}},
      key{"visits"},
      key{std::int64_t{0}, std::int64_t{-1}, std::numeric_limits<std::int64_t>::min(),
          std::numeric_limits<std::int64_t>::max()},
      key{ark::bytes(std::string("\x00\xff\x01", 3)), ark::bytes(std::string())},
      key{std::string("nul\0inside", 10), "quote\"back\\slash", "ünïcödé ✓"},
      key{nan_value, inf_value, -inf_value, 0.0, -0.0, 1.0, 1e300, -2.5e-300, 0.1},
      key{key{}, key{key{1, key{"deep"}}}, false},
      key{std::numeric_limits<double>::denorm_min(), std::numeric_limits<double>::max()},
  };
  for (const auto& k : keys) {
    CAPTURE(k.to_string());
    auto text = key_to_json_text(k);
    CAPTURE(text);
    auto back = key_from_json_text(text);
    REQUIRE(back.has_value());
    CHECK(*back == k);
    CHECK(key_to_json_text(*back) == text);
  }
}

TEST_CASE("key JSON has the documented shape") {
  CHECK(key_to_json_text(key{"user", 42, true, nullptr, 1.5, key{"nested"}}) ==
        R"(["user",42,true,null,1.5,["nested"]])");
  CHECK(key_to_json_text(key{ark::bytes(std::string("\x00\xff", 2))}) == R"([{"bytes":"00ff"}])");
  CHECK(key_to_json_text(key{nan_value, inf_value, -inf_value}) ==
        R"([{"double":"nan"},{"double":"inf"},{"double":"-inf"}])");
  CHECK(key_to_json_text(key{1.0, -0.0}) == "[1.0,-0.0]");
  CHECK(key_to_json(key{"a"}).is_array());
}

TEST_CASE("-0.0 and 1.0 in key JSON stay doubles, 1 and -0 are integers") {
  auto k = key_from_json_text("[-0.0, 1.0, 1, -0, 2e3]").value();
  REQUIRE(k.size() == 5);
  REQUIRE(k[0].kind() == key_element::type::float64);
  CHECK(std::signbit(k[0].as_double()));
  CHECK(bits(k[0].as_double()) == bits(-0.0));
  REQUIRE(k[1].kind() == key_element::type::float64);
  CHECK(k[1].as_double() == 1.0);
  REQUIRE(k[2].kind() == key_element::type::int64);
  CHECK(k[2].as_int() == 1);
  REQUIRE(k[3].kind() == key_element::type::int64);
  CHECK(k[3].as_int() == 0);
  REQUIRE(k[4].kind() == key_element::type::float64);
  CHECK(k[4].as_double() == 2000.0);
  // -0.0 and 0.0 are different keys, and both survive the text form.
  CHECK(key_from_json_text(key_to_json_text(key{-0.0})).value() != key{0.0});
}

TEST_CASE("a JSON scalar is the one-element key") {
  CHECK(key_from_json_text(R"("visits")").value() == key{"visits"});
  CHECK(key_from_json_text("7").value() == key{7});
  CHECK(key_from_json_text("null").value() == key{nullptr});
  CHECK(key_from_json_text(R"({"bytes":"ab"})").value() == key{ark::bytes(std::string("\xab"))});
  CHECK(key_from_json_text(R"({"double":"-inf"})").value() == key{-inf_value});
  CHECK(key_from_json_text("[]").value() == key{});
}

TEST_CASE("bytes and non-finite doubles parse from their object forms") {
  auto k = key_from_json_text(R"([{"bytes":"00FFaB"}, {"bytes":""}, {"double":"nan"}])").value();
  REQUIRE(k.size() == 3);
  REQUIRE(k[0].kind() == key_element::type::bytes);
  CHECK(k[0].as_bytes() == std::string("\x00\xff\xab", 3));
  REQUIRE(k[1].kind() == key_element::type::bytes);
  CHECK(k[1].as_bytes().empty());
  REQUIRE(k[2].kind() == key_element::type::float64);
  CHECK(std::isnan(k[2].as_double()));
}

TEST_CASE("malformed key JSON is invalid_key naming the parse error") {
  for (const char* text : {"", "[1,", "[1 2]", "user", "[1]]", "{\"bytes\":}", "[\"\xff\"]"}) {
    CAPTURE(text);
    auto e = key_error(text);
    CHECK(e == errc::invalid_key);
    CHECK(mentions(e, "not valid JSON"));
  }
  auto e = key_error("[1, x]");
  CHECK(mentions(e, "column 5"));
}

TEST_CASE("integers outside int64 are invalid_key naming the number and the element") {
  SUBCASE("above INT64_MAX as uint64") {
    auto e = key_error("[1, [2, 9223372036854775808]]");
    CHECK(e == errc::invalid_key);
    CHECK(mentions(e, "9223372036854775808"));
    CHECK(mentions(e, "element 1.1"));
    CHECK(mentions(e, "int64"));
  }
  SUBCASE("beyond uint64 (nlohmann would make it a double)") {
    auto e = key_error("[18446744073709551616]");
    CHECK(e == errc::invalid_key);
    CHECK(mentions(e, "18446744073709551616"));
    CHECK(mentions(e, "element 0"));
  }
  SUBCASE("below INT64_MIN") {
    auto e = key_error("-9223372036854775809");
    CHECK(e == errc::invalid_key);
    CHECK(mentions(e, "-9223372036854775809"));
  }
  SUBCASE("the limits themselves are fine") {
    CHECK(key_from_json_text("[9223372036854775807, -9223372036854775808]").value() ==
          key{std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::min()});
  }
  SUBCASE("in parsed JSON too") {
    auto k = key_from_json(json::array({json(std::uint64_t{1} << 63)}));
    REQUIRE_FALSE(k.has_value());
    CHECK(k.error() == errc::invalid_key);
    CHECK(mentions(k.error(), "9223372036854775808"));
  }
}

TEST_CASE("unknown objects in keys are invalid_key naming what was found") {
  SUBCASE("other member names") {
    auto e = key_error(R"(["a", {"foo": 1, "bar": 2}])");
    CHECK(e == errc::invalid_key);
    CHECK(mentions(e, "element 1"));
    CHECK(mentions(e, "unknown object"));
    CHECK(mentions(e, "\"foo\""));
    CHECK(mentions(e, "\"bar\""));
  }
  SUBCASE("empty object") {
    auto e = key_error("[{}]");
    CHECK(e == errc::invalid_key);
    CHECK(mentions(e, "unknown object {}"));
  }
  SUBCASE("bytes with an extra member") {
    auto e = key_error(R"([{"bytes": "00", "x": 1}])");
    CHECK(e == errc::invalid_key);
    CHECK(mentions(e, "unknown object"));
  }
  SUBCASE("double spelled differently") {
    auto e = key_error(R"([0, [{"double": "NaN"}]])");
    CHECK(e == errc::invalid_key);
    CHECK(mentions(e, "element 1.0"));
    CHECK(mentions(e, "\"NaN\""));
  }
  SUBCASE("finite double in the object form") {
    auto e = key_error(R"([{"double": 1.5}])");
    CHECK(e == errc::invalid_key);
    CHECK(mentions(e, "the number 1.5"));
  }
  SUBCASE("array nested in an object") {
    auto e = key_error(R"([1, {"bytes": [1, 2]}])");
    CHECK(e == errc::invalid_key);
    CHECK(mentions(e, "element 1"));
    CHECK(mentions(e, "\"bytes\""));
  }
}

TEST_CASE("bad hex in a bytes element is invalid_key naming the element and the digit") {
  SUBCASE("not a hex digit") {
    auto e = key_error(R"(["x", {"bytes": "0g"}])");
    CHECK(e == errc::invalid_key);
    CHECK(mentions(e, "element 1"));
    CHECK(mentions(e, "'g'"));
  }
  SUBCASE("odd number of digits") {
    auto e = key_error(R"({"bytes": "abc"})");
    CHECK(e == errc::invalid_key);
    CHECK(mentions(e, "odd"));
  }
  SUBCASE("not a string") {
    auto e = key_error(R"([{"bytes": 12}])");
    CHECK(e == errc::invalid_key);
    CHECK(mentions(e, "the number 12"));
  }
}

TEST_CASE("key nesting: 32 tuples parse, 33 are nesting_too_deep") {
  auto ok = key_from_json_text(nested_arrays(max_key_depth));
  REQUIRE(ok.has_value());
  CHECK(encode_key(*ok).has_value());
  auto e = key_error(nested_arrays(max_key_depth + 1));
  CHECK(e == errc::nesting_too_deep);
  CHECK(mentions(e, "32"));

  SUBCASE("parsed JSON is bounded the same way") {
    json deep = 1;
    for (std::size_t i = 0; i < max_key_depth + 1; ++i) deep = json::array({deep});
    auto k = key_from_json(deep);
    REQUIRE_FALSE(k.has_value());
    CHECK(k.error() == errc::nesting_too_deep);
    CHECK(key_from_json(deep[0]).has_value());
  }
}

TEST_CASE("100000 nested brackets fail cleanly without recursion") {
  SUBCASE("unbalanced") {
    CHECK(key_error(std::string(100000, '[')) == errc::nesting_too_deep);
  }
  SUBCASE("balanced") {
    CHECK(key_error(nested_arrays(100000)) == errc::nesting_too_deep);
  }
  SUBCASE("objects") {
    std::string text;
    for (int i = 0; i < 100000; ++i) text += "{\"a\":";
    CHECK(key_error(text) == errc::invalid_key);
  }
  SUBCASE("as a value") {
    auto v = value_from_json_text(nested_arrays(100000));
    REQUIRE_FALSE(v.has_value());
    CHECK(v.error() == errc::invalid_argument);
    CHECK(mentions(v.error(), "deeper than 128"));
  }
}

TEST_CASE("msgpack_to_json converts every msgpack type") {
  SUBCASE("nil, booleans, integers") {
    auto j = packed_to_json([](auto& pk, auto&) {
      pk.pack_array(6);
      pk.pack_nil();
      pk.pack_true();
      pk.pack_false();
      pk.pack(std::uint64_t{18446744073709551615u});
      pk.pack(std::int64_t{-5});
      pk.pack(std::numeric_limits<std::int64_t>::min());
    });
    CHECK(json_text(j) == "[null,true,false,18446744073709551615,-5,-9223372036854775808]");
  }
  SUBCASE("float32 shows its shortest decimal, float64 its exact value") {
    auto j = packed_to_json([](auto& pk, auto& buf) {
      pk.pack_array(3);
      pk.pack_float(1.1f);
      pk.pack_double(1.1);
      pack_float64(buf, -0.0);
    });
    CHECK(json_text(j) == "[1.1,1.1,-0.0]");
    CHECK(j[2].is_number_float());
  }
  SUBCASE("non-finite floats become double objects") {
    auto j = packed_to_json([](auto& pk, auto&) {
      pk.pack_array(4);
      pk.pack_double(nan_value);
      pk.pack_double(inf_value);
      pk.pack_float(-std::numeric_limits<float>::infinity());
      pk.pack_float(std::numeric_limits<float>::quiet_NaN());
    });
    CHECK(json_text(j) ==
          R"([{"double":"nan"},{"double":"inf"},{"double":"-inf"},{"double":"nan"}])");
  }
  SUBCASE("str, bin and ext") {
    auto j = packed_to_json([](auto& pk, auto&) {
      pk.pack_array(4);
      pk.pack(std::string("héllo"));
      pk.pack_bin(3);
      pk.pack_bin_body("\x00\x01\xff", 3);
      pk.pack_ext(2, -3);
      pk.pack_ext_body("\xab\xcd", 2);
      pk.pack_str(2);
      pk.pack_str_body("a\xff", 2);  // invalid UTF-8 is replaced, so it dumps
    });
    CHECK(json_text(j) ==
          "[\"héllo\",{\"bytes\":\"0001ff\"},{\"bytes\":\"abcd\",\"ext\":-3},\"a\xef\xbf\xbd\"]");
  }
  SUBCASE("maps: string keys, other keys as JSON text, last duplicate wins") {
    auto j = packed_to_json([](auto& pk, auto&) {
      pk.pack_map(5);
      pk.pack(std::string("name"));
      pk.pack(std::string("ada"));
      pk.pack(7);
      pk.pack(true);
      pk.pack_array(2);
      pk.pack(1);
      pk.pack(std::string("x"));
      pk.pack_nil();
      pk.pack(std::string("name"));
      pk.pack(std::string("grace"));
      pk.pack_nil();
      pk.pack(0);
    });
    CHECK(j == json{{"name", "grace"}, {"7", true}, {R"([1,"x"])", nullptr}, {"null", 0}});
  }
  SUBCASE("a struct with MSGPACK_DEFINE_MAP keeps its field names") {
    std::map<std::string, std::vector<int>> m{{"scores", {3, 1}}};
    auto j = packed_to_json([&](auto& pk, auto&) { pk.pack(m); });
    CHECK(json_text(j) == R"({"scores":[3,1]})");
  }
}

TEST_CASE("value_from_json and value_to_json round-trip plain JSON and bytes") {
  const std::vector<std::string> texts = {
      "null",
      "true",
      "-42",
      "18446744073709551615",
      "1.5",
      "-0.0",
      R"("text")",
      R"([1,"two",[3.0,null],{"bytes":"00ff"}])",
      R"({"a":{"b":[true,false]},"blob":{"bytes":""},"n":{"double":"-inf"}})",
      R"({"bytes":"cafe","ext":5})",
      "[]",
      "{}",
  };
  for (const auto& text : texts) {
    CAPTURE(text);
    auto v = value_from_json_text(text);
    REQUIRE(v.has_value());
    CHECK(v->kind() == value_kind::msgpack);
    auto back = value_to_json(*v);
    REQUIRE(back.has_value());
    CHECK(json_text(*back) == json_text(json::parse(text)));
  }
}

TEST_CASE("value_from_json packs the documented msgpack types") {
  SUBCASE("bytes object becomes bin") {
    auto v = value_from_json(json{{"bytes", "00ff"}}).value();
    CHECK(v.payload() == std::string("\xc4\x02\x00\xff", 4));
  }
  SUBCASE("1.0 stays a float64, 1 an integer") {
    CHECK(value_from_json(json(1.0)).value().payload() ==
          std::string("\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00", 9));
    CHECK(value_from_json(json(1)).value().payload() == std::string("\x01", 1));
  }
  SUBCASE("objects become string-keyed maps that typed reads accept") {
    auto v = value_from_json(json{{"a", 1}, {"b", 2}}).value();
    auto m = v.as<std::map<std::string, int>>();
    REQUIRE(m.has_value());
    CHECK(m->at("a") == 1);
    CHECK(m->at("b") == 2);
  }
  SUBCASE("an object that only looks like bytes stays a map") {
    auto v = value_from_json(json{{"bytes", "not hex"}}).value();
    CHECK(v.as<std::map<std::string, std::string>>().value().at("bytes") == "not hex");
  }
  SUBCASE("what C++ packs, JSON shows") {
    auto j = value_to_json(value::pack(std::vector<int>{1, 2, 3})).value();
    CHECK(json_text(j) == "[1,2,3]");
  }
}

TEST_CASE("value JSON errors are invalid_argument naming the place") {
  SUBCASE("malformed") {
    auto v = value_from_json_text("{\"a\": }");
    REQUIRE_FALSE(v.has_value());
    CHECK(v.error() == errc::invalid_argument);
    CHECK(mentions(v.error(), "not valid JSON"));
  }
  SUBCASE("integer beyond uint64") {
    auto v = value_from_json_text(R"({"a": [0, 99999999999999999999]})");
    REQUIRE_FALSE(v.has_value());
    CHECK(v.error() == errc::invalid_argument);
    CHECK(mentions(v.error(), "99999999999999999999"));
    CHECK(mentions(v.error(), "/a/1"));
  }
  SUBCASE("128 levels are fine, 129 are not") {
    CHECK(value_from_json_text(nested_arrays(max_msgpack_depth)).has_value());
    auto v = value_from_json_text(nested_arrays(max_msgpack_depth + 1));
    REQUIRE_FALSE(v.has_value());
    CHECK(v.error() == errc::invalid_argument);
    json deep = 1;
    for (std::size_t i = 0; i < max_msgpack_depth + 1; ++i) deep = json::array({deep});
    CHECK(value_from_json(deep).error() == errc::invalid_argument);
    CHECK(value_from_json(deep[0]).has_value());
  }
  SUBCASE("the deepest value that packs also reads back") {
    auto v = value_from_json_text(nested_arrays(max_msgpack_depth)).value();
    CHECK(value_to_json(v).has_value());
  }
}

TEST_CASE("raw values show as a raw hex object") {
  auto j = value_to_json(value::raw(std::string("\x00\x01\xfe", 3)));
  REQUIRE(j.has_value());
  CHECK(json_text(*j) == R"({"raw":"0001fe"})");
  CHECK(json_text(value_to_json(value::raw("")).value()) == R"({"raw":""})");
}

TEST_CASE("undecodable msgpack shows as corrupt_value, not a crash") {
  auto j =
      value_to_json(value::from_msgpack("\xa5"
                                        "ab"));
  REQUIRE_FALSE(j.has_value());
  CHECK(j.error() == errc::corrupt_value);
}

// Found by tests/fuzz/fuzz_snapshot_load (corpus: crash-oom-map-key-in-map-key):
// each level of map keys nested in map keys escaped the inner key's text
// again, doubling it, so a 390-byte snapshot rendered as gigabytes.
TEST_CASE("map keys nested in map keys render in bounded size") {
  // {{{...{nil: nil}...: nil}: nil}: nil}, 100 maps deep through their keys.
  const std::size_t levels = 100;
  auto v = value::from_msgpack(std::string(levels, '\x81') + std::string(levels + 1, '\xc0'));
  auto j = value_to_json(v);
  REQUIRE(j.has_value());
  const std::string text = json_text(*j);
  CHECK(text.size() < 4096);
  REQUIRE(j->is_object());
  REQUIRE(j->size() == 1);
  const std::string& name = j->begin().key();
  CHECK(name.size() == 1024 + 3);
  CHECK(name.substr(name.size() - 3) == "...");
  SUBCASE("short non-string keys stay whole") {
    auto k = value_to_json(value::from_msgpack("\x81\x81\xc0\xc0\xc0"));
    REQUIRE(k.has_value());
    CHECK(json_text(*k) == R"({"{\"null\":null}":null})");
  }
}

TEST_CASE("json_text never throws on invalid UTF-8") {
  CHECK(json_text(json("a\xff")) == "\"a\xef\xbf\xbd\"");
}
