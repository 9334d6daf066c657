// The structured-key codec: exact bytes (the on-disk format), round trips,
// order preservation and rejection of malformed input.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "ark/kv/key.hpp"

using ark::errc;
using ark::key;

namespace {

std::string enc(const key& k) {
  auto r = ark::encode_key(k);
  REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message()));
  return *r;
}

std::string bytes_of(std::initializer_list<int> b) {
  std::string out;
  for (int c : b) out.push_back(static_cast<char>(c));
  return out;
}

int sign(int x) {
  return (x > 0) - (x < 0);
}

int byte_compare(const std::string& a, const std::string& b) {
  int c = std::memcmp(a.data(), b.data(), std::min(a.size(), b.size()));
  if (c != 0) return sign(c);
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

// Random keys biased towards shared prefixes and edge values, so that order
// comparisons often reach deep into the tuple.
class key_gen {
 public:
  explicit key_gen(std::uint64_t seed) : rng_(seed) {}

  key make(std::size_t depth = 1) {
    key k;
    auto n = pick(4);
    for (std::size_t i = 0; i < n; ++i) k.push_back(element(depth));
    return k;
  }

 private:
  std::size_t pick(std::size_t n) { return static_cast<std::size_t>(rng_() % n); }

  std::string text() {
    static const char* pool[] = {"", "a", "ab", "a/b", "b", "\xc3\xa9", "\xf0\x9f\x98\x80"};
    std::string s = pool[pick(7)];
    if (pick(3) == 0) s.push_back('\0');
    if (pick(4) == 0) s += pool[pick(7)];
    return s;
  }

  ark::key_element element(std::size_t depth) {
    switch (pick(depth < 6 ? 8 : 7)) {
      case 0:
        return nullptr;
      case 1: {
        std::string b = text();
        if (pick(2)) b.push_back('\xff');
        if (pick(3) == 0) b.push_back('\0');
        return ark::bytes(b);
      }
      case 2:
        return text();
      case 3: {
        static const std::int64_t edges[] = {
            0,           1,      -1,        255,       256,           -255,          -256,
            65535,       -65536, INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1, 1LL << 40,
            -(1LL << 40)};
        if (pick(2)) return edges[pick(15)];
        return static_cast<std::int64_t>(rng_());
      }
      case 4: {
        static const double edges[] = {0.0,
                                       -0.0,
                                       1.5,
                                       -1.5,
                                       1e300,
                                       -1e-300,
                                       std::numeric_limits<double>::infinity(),
                                       -std::numeric_limits<double>::infinity(),
                                       std::numeric_limits<double>::quiet_NaN(),
                                       -std::numeric_limits<double>::quiet_NaN(),
                                       std::numeric_limits<double>::denorm_min()};
        if (pick(2)) return edges[pick(11)];
        std::uint64_t bits = rng_();
        double d;
        std::memcpy(&d, &bits, sizeof d);
        return d;
      }
      case 5:
        return false;
      case 6:
        return true;
      default:
        return make(depth + 1);
    }
  }

  std::mt19937_64 rng_;
};

}  // namespace

TEST_CASE("type codes and element encodings are pinned byte for byte") {
  SUBCASE("null") {
    CHECK(enc(key{nullptr}) == bytes_of({0x00}));
    CHECK(enc(key{key{nullptr}}) == bytes_of({0x05, 0x00, 0xff, 0x00}));
  }
  SUBCASE("bytes") {
    CHECK(enc(key{ark::bytes(bytes_of({0x01, 0x00, 0xff}))}) ==
          bytes_of({0x01, 0x01, 0x00, 0xff, 0xff, 0x00}));
    CHECK(enc(key{ark::bytes(std::string())}) == bytes_of({0x01, 0x00}));
  }
  SUBCASE("string") {
    CHECK(enc(key{"ab"}) == bytes_of({0x02, 'a', 'b', 0x00}));
    CHECK(enc(key{std::string("a\0b", 3)}) == bytes_of({0x02, 'a', 0x00, 0xff, 'b', 0x00}));
    CHECK(enc(key{""}) == bytes_of({0x02, 0x00}));
  }
  SUBCASE("nested tuple") {
    CHECK(enc(key{key{"a", 1}}) == bytes_of({0x05, 0x02, 'a', 0x00, 0x15, 0x01, 0x00}));
    CHECK(enc(key{key{}}) == bytes_of({0x05, 0x00}));
  }
  SUBCASE("integers") {
    CHECK(enc(key{0}) == bytes_of({0x14}));
    CHECK(enc(key{1}) == bytes_of({0x15, 0x01}));
    CHECK(enc(key{255}) == bytes_of({0x15, 0xff}));
    CHECK(enc(key{256}) == bytes_of({0x16, 0x01, 0x00}));
    CHECK(enc(key{-1}) == bytes_of({0x13, 0xfe}));
    CHECK(enc(key{-255}) == bytes_of({0x13, 0x00}));
    CHECK(enc(key{-256}) == bytes_of({0x12, 0xfe, 0xff}));
    CHECK(enc(key{INT64_MAX}) == bytes_of({0x1c, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
    CHECK(enc(key{INT64_MIN}) == bytes_of({0x0c, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
  }
  SUBCASE("doubles") {
    CHECK(enc(key{0.0}) == bytes_of({0x21, 0x80, 0, 0, 0, 0, 0, 0, 0}));
    CHECK(enc(key{-0.0}) == bytes_of({0x21, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
    CHECK(enc(key{1.5}) == bytes_of({0x21, 0xbf, 0xf8, 0, 0, 0, 0, 0, 0}));
    CHECK(enc(key{-1.5}) == bytes_of({0x21, 0x40, 0x07, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
    CHECK(enc(key{std::numeric_limits<double>::infinity()}) ==
          bytes_of({0x21, 0xff, 0xf0, 0, 0, 0, 0, 0, 0}));
    CHECK(enc(key{-std::numeric_limits<double>::infinity()}) ==
          bytes_of({0x21, 0x00, 0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
  }
  SUBCASE("booleans") {
    CHECK(enc(key{false}) == bytes_of({0x26}));
    CHECK(enc(key{true}) == bytes_of({0x27}));
  }
  SUBCASE("the README example") {
    CHECK(ark::to_hex(enc(key{"user", 42, true, nullptr, 1.5, key{"nested"}})) ==
          "0275736572001"
          "52a"
          "27"
          "00"
          "21bff8000000000000"
          "05026e657374656400"
          "00");
  }
  SUBCASE("the empty tuple encodes as nothing") {
    CHECK(enc(key{}).empty());
  }
}

TEST_CASE("a single value is the same key as the one-element tuple") {
  CHECK(key("x") == key{"x"});
  CHECK(enc(key("x")) == enc(key{std::string("x")}));
  CHECK(key(7) == key{7});
  CHECK(key(nullptr) == key{nullptr});
}

TEST_CASE("random keys round-trip through encode and decode") {
  const std::uint64_t seed = std::random_device{}();
  CAPTURE(seed);
  key_gen gen(seed);
  for (int i = 0; i < 20000; ++i) {
    key k = gen.make();
    auto bytes = enc(k);
    auto back = ark::decode_key(bytes);
    REQUIRE_MESSAGE(back.has_value(), k.to_string());
    REQUIRE_MESSAGE(*back == k, k.to_string());
    REQUIRE(enc(*back) == bytes);
  }
}

TEST_CASE("byte order of encodings equals tuple order") {
  const std::uint64_t seed = std::random_device{}();
  CAPTURE(seed);
  key_gen gen(seed);
  int nontrivial = 0;
  for (int i = 0; i < 50000; ++i) {
    key a = gen.make(), b = gen.make();
    if (i % 2 == 0 && !a.empty()) {  // share a prefix with a
      b = key(std::vector<ark::key_element>(a.begin(), a.begin() + 1 + (i / 2) % a.size()));
      key tail = gen.make();
      for (const auto& e : tail) b.push_back(e);
    }
    int semantic = sign(ark::compare(a, b));
    int bytewise = byte_compare(enc(a), enc(b));
    if (a.size() > 1 && b.size() > 1 && a[0] == b[0]) ++nontrivial;
    REQUIRE_MESSAGE(semantic == bytewise, a.to_string() << " vs " << b.to_string());
  }
  CHECK(nontrivial > 5000);
}

TEST_CASE("type order and documented double order hold") {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<key> ordered = {key{nullptr},   key{ark::bytes(std::string("z"))},
                              key{"a"},       key{key{"a"}},
                              key{INT64_MIN}, key{-1},
                              key{0},         key{INT64_MAX},
                              key{-nan},      key{-inf},
                              key{-1.5},      key{-0.0},
                              key{0.0},       key{1.5},
                              key{inf},       key{nan},
                              key{false},     key{true}};
  for (std::size_t i = 0; i + 1 < ordered.size(); ++i) {
    CAPTURE(ordered[i].to_string());
    CHECK(ordered[i] < ordered[i + 1]);
    CHECK(byte_compare(enc(ordered[i]), enc(ordered[i + 1])) < 0);
  }
  CHECK(key{"a"} < key{"a", nullptr});  // a proper prefix sorts first
}

TEST_CASE("[\"user\",\"a/b\"] and [\"user\",\"a\",\"b\"] never collide or interleave") {
  auto one = enc(key{"user", "a/b"});
  auto two = enc(key{"user", "a", "b"});
  CHECK(one != two);
  CHECK(one.compare(0, two.size(), two) != 0);
  CHECK(two.compare(0, one.size(), one) != 0);
  auto prefix = enc(key{"user"});
  CHECK(enc(key{"user", 7}).compare(0, prefix.size(), prefix) == 0);
  CHECK(enc(key{"users"}).compare(0, prefix.size(), prefix) != 0);
  CHECK(key{"user", 7}.starts_with(key{"user"}));
  CHECK_FALSE(key{"users"}.starts_with(key{"user"}));
  CHECK(key{"user"}.starts_with(key{"user"}));
}

TEST_CASE("malformed encodings are invalid_key, never a crash") {
  const std::vector<std::string> bad = {
      bytes_of({0x02, 'a'}),                        // unterminated string
      bytes_of({0x01}),                             // unterminated bytes
      bytes_of({0x05, 0x02, 'a', 0x00}),            // unterminated nested tuple
      bytes_of({0x05, 0x00, 0xff}),                 // nested null, no terminator
      bytes_of({0x15}),                             // truncated int
      bytes_of({0x1c, 0x7f}),                       // truncated 8-byte int
      bytes_of({0x16, 0x00, 0x01}),                 // non-canonical positive int
      bytes_of({0x12, 0xff, 0x01}),                 // non-canonical negative int
      bytes_of({0x1c, 0x80, 0, 0, 0, 0, 0, 0, 0}),  // above INT64_MAX
      bytes_of({0x0c, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}),  // below INT64_MIN
      bytes_of({0x1d, 0x09}),                                            // big int, unsupported
      bytes_of({0x0b, 0x09}),                    // big negative int, unsupported
      bytes_of({0x21, 0x00, 0x00}),              // truncated double
      bytes_of({0x20, 0, 0, 0, 0}),              // float (unsupported code)
      bytes_of({0x30}),                          // uuid (unsupported code)
      bytes_of({0x00, 0xff}),                    // 0xff is no type code
      bytes_of({0x02, 0xc0, 0x80, 0x00}),        // overlong UTF-8
      bytes_of({0x02, 0xed, 0xa0, 0x80, 0x00}),  // UTF-16 surrogate
      bytes_of({0x02, 0xe2, 0x82, 0x00}),        // truncated UTF-8 sequence
      bytes_of({0x02, 0xff, 0x00}),              // 0xff in a string
  };
  for (const auto& b : bad) {
    CAPTURE(ark::to_hex(b));
    auto r = ark::decode_key(b);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::invalid_key);
    CHECK(r.error().context().find("offset") != std::string::npos);
  }
}

TEST_CASE("random and mutated bytes decode cleanly or fail with invalid_key") {
  const std::uint64_t seed = std::random_device{}();
  CAPTURE(seed);
  std::mt19937_64 rng(seed);
  key_gen gen(seed + 1);
  auto check = [](const std::string& b) {
    auto r = ark::decode_key(b);
    if (r) {
      REQUIRE(enc(*r) == b);  // canonical: only one encoding per key
    } else {
      REQUIRE((r.error() == errc::invalid_key || r.error() == errc::nesting_too_deep));
    }
  };
  for (int i = 0; i < 100000; ++i) {
    std::string b(rng() % 12, '\0');
    for (auto& c : b) c = static_cast<char>(rng());
    check(b);
  }
  for (int i = 0; i < 100000; ++i) {
    auto b = enc(gen.make());
    if (b.empty()) continue;
    if (i % 2)
      b.resize(rng() % b.size());
    else
      b[rng() % b.size()] ^= static_cast<char>(1 << (rng() % 8));
    check(b);
  }
}

TEST_CASE("nesting is bounded at 32 levels on encode and decode") {
  auto nest = [](std::size_t levels) {
    key k{1};
    for (std::size_t i = 1; i < levels; ++i) k = key{ark::key_element(k)};
    return k;
  };
  auto ok = nest(ark::max_key_depth);
  auto bytes = enc(ok);
  CHECK(ark::decode_key(bytes).value() == ok);

  auto too_deep = ark::encode_key(nest(ark::max_key_depth + 1));
  REQUIRE_FALSE(too_deep.has_value());
  CHECK(too_deep.error() == errc::nesting_too_deep);

  std::string deeper = std::string(1, '\x05') + bytes + std::string(1, '\0');
  CHECK(ark::decode_key(deeper).error() == errc::nesting_too_deep);
  CHECK(ark::decode_key(std::string(100000, '\x05')).error() == errc::nesting_too_deep);
}

TEST_CASE("strings must be valid UTF-8 to encode") {
  for (const std::string& s :
       {std::string("\xc0\x80"), std::string("\xed\xa0\x80"), std::string("\xe2\x82"),
        std::string("\xff"), std::string("\xf4\x90\x80\x80")}) {
    CAPTURE(ark::to_hex(s));
    auto r = ark::encode_key(key{"ok", s});
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::invalid_key);
    CHECK(r.error().context().find("element 1") != std::string::npos);
  }
  CHECK(ark::encode_key(key{"\xf0\x9f\x98\x80 \xc3\xa9"}).has_value());
  CHECK(ark::encode_key(key{ark::bytes(std::string("\xff"))}).has_value());
}

TEST_CASE("prefix_successor bounds every extension of a prefix") {
  CHECK(ark::prefix_successor("ab").value() == "ac");
  CHECK(ark::prefix_successor(bytes_of({'a', 0xff, 0xff})).value() == "b");
  CHECK_FALSE(ark::prefix_successor(bytes_of({0xff, 0xff})).has_value());
  CHECK_FALSE(ark::prefix_successor("").has_value());
}

TEST_CASE("hex helpers round-trip and reject bad digits") {
  CHECK(ark::to_hex(bytes_of({0x00, 0xab, 0xff})) == "00abff");
  CHECK(ark::parse_hex("00ABff").value() == bytes_of({0x00, 0xab, 0xff}));
  CHECK(ark::parse_hex("abc").error() == errc::invalid_argument);
  auto bad = ark::parse_hex("zz");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().context().find("'z'") != std::string::npos);
}

TEST_CASE("to_string shows every element type readably") {
  CHECK(key{"user", 42, true, nullptr, 1.5, key{"nested"}, ark::bytes(bytes_of({0, 255}))}
            .to_string() == "[\"user\", 42, true, null, 1.5, [\"nested\"], b\"00ff\"]");
  CHECK(key{1.0}.to_string() == "[1.0]");
  CHECK(key{-std::numeric_limits<double>::infinity()}.to_string() == "[-inf]");
}
