#include <doctest/doctest.h>

#include <cmath>
#include <map>

#include "ark/kv/value.hpp"

using namespace ark;
using namespace ark::kv;

namespace {
struct point {
  double x = 0;
  double y = 0;
  MSGPACK_DEFINE_MAP(x, y)
};
}  // namespace

TEST_CASE("value kind tags are pinned on-disk constants") {
  CHECK(static_cast<int>(value_kind::msgpack) == 0x01);
  CHECK(static_cast<int>(value_kind::raw) == 0x02);
  CHECK(value::pack(1).stored() == std::string("\x01\x01", 2));
  CHECK(value::pack(std::string("hi")).stored() == std::string("\x01\xa2hi", 4));
  CHECK(value::raw("ab").stored() == std::string("\x02"
                                                 "ab",
                                                 3));
  CHECK(value::raw("").stored() == std::string("\x02", 1));
}

TEST_CASE("decoding a stored value checks its tag") {
  CHECK(value::decode(std::string("\x01\x05", 2)).value().as<int>().value() == 5);
  CHECK(value::decode(std::string("\x02xyz", 4)).value().raw_bytes().value() == "xyz");
  CHECK(value::decode("").error() == errc::corrupt_value);
  auto bad = value::decode(std::string("\x07zz", 3));
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error() == errc::corrupt_value);
  CHECK(bad.error().context().find("0x07") != std::string::npos);
}

TEST_CASE("typed reads convert or report type_mismatch") {
  auto v = value::pack(std::map<std::string, int>{{"a", 1}});
  CHECK(v.as<std::map<std::string, int>>().value().at("a") == 1);
  CHECK(v.as<std::string>().error() == errc::type_mismatch);
  CHECK(v.raw_bytes().error() == errc::type_mismatch);
  CHECK(value::raw("x").as<std::string>().error() == errc::type_mismatch);
}

TEST_CASE("undecodable msgpack is corrupt_value, never a crash or a huge allocation") {
  SUBCASE("truncated string") {
    CHECK(value::from_msgpack("\xa5"
                              "ab")
              .as<std::string>()
              .error() == errc::corrupt_value);
  }
  SUBCASE("array header claiming four billion elements") {
    auto v = value::from_msgpack(std::string("\xdd\xff\xff\xff\xff\x01", 6));
    CHECK(v.as<std::vector<int>>().error() == errc::corrupt_value);
  }
  SUBCASE("trailing bytes after the object") {
    CHECK(value::from_msgpack(std::string("\x01\x02", 2)).as<int>().error() == errc::corrupt_value);
  }
  SUBCASE("empty payload") {
    CHECK(value::from_msgpack("").as<int>().error() == errc::corrupt_value);
  }
  SUBCASE("nesting beyond the depth limit") {
    std::string deep(max_msgpack_depth + 2, '\x91');  // fixarray of one element, nested
    deep.push_back('\x01');
    CHECK(value::from_msgpack(deep).unpack().error() == errc::corrupt_value);
    std::string ok(10, '\x91');
    ok.push_back('\x01');
    CHECK(value::from_msgpack(ok).unpack().has_value());
  }
}

TEST_CASE("doubles are stored as doubles, keeping -0.0 and whole numbers") {
  CHECK(value::pack(1.0).stored() == std::string("\x01\xcb\x3f\xf0\0\0\0\0\0\0", 10));
  auto neg_zero = value::pack(-0.0).as<double>().value();
  CHECK(neg_zero == 0.0);
  CHECK(std::signbit(neg_zero));
  CHECK(value::pack(2.5f).stored() == std::string("\x01\xca\x40\x20\0\0", 6));
  auto p = value::pack(point{-0.0, 3.0}).as<point>().value();
  CHECK(std::signbit(p.x));
  CHECK(p.y == 3.0);
}
