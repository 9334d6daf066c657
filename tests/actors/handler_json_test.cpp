// The JSON codec of handler arguments and replies (ark/handler_json.hpp):
// every type both ways, strict input with errors that name the argument,
// structs, and the handlers of an interface called with JSON.

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <ark/handler_json.hpp>

namespace hj_test {

using ark::detail::json_codec;
using json = nlohmann::json;

/// A struct with field names (as a state struct) that can also travel in a
/// CAF message (it has an inspect overload).
struct score_card {
  std::string player;
  std::int64_t points = 0;
  std::int8_t level = 1;
  std::vector<std::string> tags;
  MSGPACK_DEFINE_MAP(player, points, level, tags)
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, score_card& x) {
  return f(caf::meta::type_name("hj_test::score_card"), x.player, x.points, x.level, x.tags);
}

/// A struct holding structs: unknown fields are found at any depth.
struct team {
  std::string name;
  std::vector<score_card> members;
  MSGPACK_DEFINE_MAP(name, members)
};

/// MSGPACK_DEFINE packs as an array, so its JSON is an array.
struct pair_rec {
  std::int64_t a = 0;
  std::string b;
  MSGPACK_DEFINE(a, b)
};

/// No field names: only a CAF inspect overload (as leaderboard::standing).
struct plain_standing {
  std::string player;
  std::int64_t points = 0;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, plain_standing& x) {
  return f(caf::meta::type_name("hj_test::plain_standing"), x.player, x.points);
}

/// msgpack members but no default constructor.
struct no_default {
  explicit no_default(int v) : x(v) {}
  int x;
  MSGPACK_DEFINE_MAP(x)
};

using add_atom = caf::atom_constant<caf::atom("add")>;
using get_atom = caf::atom_constant<caf::atom("get")>;
using ping_atom = caf::atom_constant<caf::atom("ping")>;
using set_atom = caf::atom_constant<caf::atom("set")>;
using cmd_atom = caf::atom_constant<caf::atom("cmd")>;
using ok_atom = caf::atom_constant<caf::atom("ok")>;
using standing_atom = caf::atom_constant<caf::atom("standing")>;
using card_atom = caf::atom_constant<caf::atom("card")>;
using link_atom = caf::atom_constant<caf::atom("link")>;
using opt_atom = caf::atom_constant<caf::atom("opt")>;
using copt_atom = caf::atom_constant<caf::atom("copt")>;

using calc_if =
    caf::typed_actor<caf::replies_to<add_atom, std::int64_t>::with<std::int64_t>,
                     caf::replies_to<get_atom>::with<std::int64_t>,
                     caf::reacts_to<ping_atom, std::string>,
                     caf::replies_to<std::string, std::int64_t>::with<bool, std::string>,
                     caf::replies_to<set_atom, std::string, cmd_atom, std::int64_t>::with<ok_atom>>;

using mixed_if = caf::typed_actor<
    caf::replies_to<standing_atom, std::string>::with<plain_standing>,
    caf::replies_to<card_atom, score_card>::with<score_card>,
    caf::replies_to<link_atom, caf::actor>::with<bool>,
    caf::replies_to<opt_atom, std::optional<std::int64_t>>::with<std::int64_t>,
    caf::replies_to<copt_atom, caf::optional<std::int64_t>>::with<caf::optional<std::int64_t>>>;

// The context of from_json's error ("" when it decoded).
template <class T>
std::string error_of(const json& j, const std::string& where = "argument 1") {
  auto r = json_codec<T>::from_json(j, where);
  return r ? std::string() : r.error().context();
}

// The decoded value; REQUIRES: from_json succeeds (checked).
template <class T>
T decode(const json& j) {
  auto r = json_codec<T>::from_json(j, "argument 1");
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().context()));
  return *r;
}

const ark::detail::handler_info& find(const std::vector<ark::detail::handler_info>& hs,
                                      const std::string& name) {
  for (const auto& h : hs)
    if (h.name == name) return h;
  FAIL("no handler named " << name);
  return hs.front();
}

}  // namespace hj_test

using namespace hj_test;

TEST_CASE("integers convert both ways and refuse fractions, strings and values out of range") {
  CHECK(json_codec<std::int8_t>::name() == "int8");
  CHECK(json_codec<std::int16_t>::name() == "int16");
  CHECK(json_codec<std::int32_t>::name() == "int32");
  CHECK(json_codec<std::int64_t>::name() == "int64");
  CHECK(json_codec<long long>::name() == "int64");
  CHECK(json_codec<std::uint8_t>::name() == "uint8");
  CHECK(json_codec<std::uint16_t>::name() == "uint16");
  CHECK(json_codec<std::uint32_t>::name() == "uint32");
  CHECK(json_codec<std::uint64_t>::name() == "uint64");

  CHECK(json_codec<std::int8_t>::to_json(-5) == json(-5));
  CHECK(json_codec<std::uint64_t>::to_json(std::numeric_limits<std::uint64_t>::max()).dump() ==
        "18446744073709551615");
  CHECK(json_codec<std::int64_t>::to_json(std::numeric_limits<std::int64_t>::min()).dump() ==
        "-9223372036854775808");

  CHECK(decode<std::int8_t>(json::parse("127")) == 127);
  CHECK(decode<std::int8_t>(json::parse("-128")) == -128);
  CHECK(decode<std::uint8_t>(json::parse("255")) == 255);
  CHECK(decode<std::uint64_t>(json::parse("18446744073709551615")) ==
        std::numeric_limits<std::uint64_t>::max());
  CHECK(decode<std::int64_t>(json::parse("-9223372036854775808")) ==
        std::numeric_limits<std::int64_t>::min());
  CHECK(decode<std::int32_t>(json(7)) == 7);  // a number_integer, not parsed text

  CHECK(error_of<std::int8_t>(json::parse("300")) == "argument 1: expected int8, got 300");
  CHECK(error_of<std::int8_t>(json::parse("-129")) == "argument 1: expected int8, got -129");
  CHECK(error_of<std::uint8_t>(json::parse("256")) == "argument 1: expected uint8, got 256");
  CHECK(error_of<std::uint64_t>(json::parse("-1"), "argument 2") ==
        "argument 2: expected uint64, got -1");
  CHECK(error_of<std::uint32_t>(json(-1)) == "argument 1: expected uint32, got -1");
  CHECK(error_of<std::int64_t>(json::parse("9223372036854775808")) ==
        "argument 1: expected int64, got 9223372036854775808");
  CHECK(error_of<std::int64_t>(json::parse("1.5")) == "argument 1: expected int64, got 1.5");
  CHECK(error_of<std::int64_t>(json::parse("1.0")) == "argument 1: expected int64, got 1.0");
  CHECK(error_of<std::int64_t>(json("5")) == "argument 1: expected int64, got \"5\"");
  CHECK(error_of<std::int64_t>(json(true)) == "argument 1: expected int64, got true");
  CHECK(error_of<std::int64_t>(json(nullptr)) == "argument 1: expected int64, got null");
}

TEST_CASE("double and float take any JSON number and the non-finite forms") {
  CHECK(json_codec<double>::name() == "double");
  CHECK(json_codec<float>::name() == "float");

  CHECK(json_codec<double>::to_json(1.5) == json(1.5));
  CHECK(json_codec<double>::to_json(1.0).dump() == "1.0");
  CHECK(json_codec<double>::to_json(std::nan("")) == json{{"double", "nan"}});
  CHECK(json_codec<double>::to_json(-HUGE_VAL) == json{{"double", "-inf"}});
  CHECK(json_codec<float>::to_json(1.1f).dump() == "1.1");
  CHECK(json_codec<float>::to_json(HUGE_VALF) == json{{"double", "inf"}});

  CHECK(decode<double>(json::parse("3")) == 3.0);
  CHECK(decode<double>(json::parse("-2")) == -2.0);
  CHECK(decode<double>(json::parse("2.5e3")) == 2500.0);
  CHECK(std::isinf(decode<double>(json{{"double", "inf"}})));
  CHECK(decode<double>(json{{"double", "-inf"}}) < 0);
  CHECK(std::isnan(decode<double>(json{{"double", "nan"}})));
  CHECK(decode<float>(json::parse("0.5")) == 0.5f);
  CHECK(decode<float>(json::parse("1.1")) == 1.1f);

  CHECK(error_of<double>(json{{"double", "NaN"}}) ==
        "argument 1: expected double, got {\"double\":\"NaN\"}");
  CHECK(error_of<double>(json{{"double", "inf"}, {"x", 1}}) ==
        "argument 1: expected double, got {\"double\":\"inf\",\"x\":1}");
  CHECK(error_of<double>(json("1.5")) == "argument 1: expected double, got \"1.5\"");
  CHECK(error_of<double>(json(true)) == "argument 1: expected double, got true");
  CHECK(error_of<float>(json::parse("1e300")) == "argument 1: expected float, got 1e+300");
}

TEST_CASE("bool and string take only their own JSON type") {
  CHECK(json_codec<bool>::name() == "bool");
  CHECK(json_codec<std::string>::name() == "string");
  CHECK(json_codec<bool>::to_json(true) == json(true));
  CHECK(decode<bool>(json(false)) == false);
  CHECK(decode<bool>(json(true)) == true);
  CHECK(error_of<bool>(json(1)) == "argument 1: expected bool, got 1");
  CHECK(error_of<bool>(json("true")) == "argument 1: expected bool, got \"true\"");

  CHECK(json_codec<std::string>::to_json("h\xc3\xa9llo") == json("h\xc3\xa9llo"));
  CHECK(decode<std::string>(json("h\xc3\xa9llo")) == "h\xc3\xa9llo");
  // Invalid UTF-8 is replaced (as kv::msgpack_to_json does), so the JSON dumps.
  auto bad = json_codec<std::string>::to_json(std::string("a\xff"));
  CHECK(bad == json("a\xef\xbf\xbd"));
  CHECK(error_of<std::string>(json(5)) == "argument 1: expected string, got 5");
  CHECK(error_of<std::string>(json::array({"a"})) == "argument 1: expected string, got [\"a\"]");
  // A long value is quoted cut to 80 bytes.
  auto long_error = error_of<std::string>(json::array({std::string(200, 'x')}));
  CHECK(long_error == "argument 1: expected string, got [\"" + std::string(78, 'x') + "...");
}

TEST_CASE("bytes are a bytes object of hex digits") {
  using bytes = std::vector<std::uint8_t>;
  CHECK(json_codec<bytes>::name() == "bytes");
  CHECK(json_codec<bytes>::to_json(bytes{0x00, 0xff, 0x1a}) == json{{"bytes", "00ff1a"}});
  CHECK(json_codec<bytes>::to_json(bytes{}) == json{{"bytes", ""}});
  CHECK(decode<bytes>(json{{"bytes", "00FFab"}}) == bytes{0x00, 0xff, 0xab});
  CHECK(decode<bytes>(json{{"bytes", ""}}).empty());

  CHECK(error_of<bytes>(json{{"bytes", "0"}}) ==
        "argument 1: expected bytes, got {\"bytes\":\"0\"}");
  CHECK(error_of<bytes>(json{{"bytes", "zz"}}) ==
        "argument 1: expected bytes, got {\"bytes\":\"zz\"}");
  CHECK(error_of<bytes>(json{{"bytes", "00"}, {"x", 1}}) ==
        "argument 1: expected bytes, got {\"bytes\":\"00\",\"x\":1}");
  CHECK(error_of<bytes>(json("00ff")) == "argument 1: expected bytes, got \"00ff\"");
  CHECK(error_of<bytes>(json::array({0, 255})) == "argument 1: expected bytes, got [0,255]");
}

TEST_CASE("atoms are their text and refuse text CAF cannot encode") {
  CHECK(json_codec<caf::atom_value>::name() == "atom");
  CHECK(json_codec<caf::atom_value>::to_json(caf::atom("add")) == json("add"));
  CHECK(decode<caf::atom_value>(json("add")) == caf::atom("add"));
  CHECK(decode<caf::atom_value>(json("Az_09azAZ_")) == caf::atom("Az_09azAZ_"));
  CHECK(decode<caf::atom_value>(json("")) == caf::atom(""));

  const std::string rule = " (an atom is at most 10 characters of 0-9, A-Z, a-z and _)";
  CHECK(error_of<caf::atom_value>(json("abcdefghijk")) ==
        "argument 1: expected atom, got \"abcdefghijk\"" + rule);
  CHECK(error_of<caf::atom_value>(json("a-b")) == "argument 1: expected atom, got \"a-b\"" + rule);
  CHECK(error_of<caf::atom_value>(json("a b")) == "argument 1: expected atom, got \"a b\"" + rule);
  CHECK(error_of<caf::atom_value>(json(5)) == "argument 1: expected atom, got 5" + rule);

  // A fixed atom of a signature: its name is the quoted value, and only that value decodes.
  CHECK(json_codec<add_atom>::name() == "'add'");
  CHECK(json_codec<add_atom>::to_json(add_atom::value) == json("add"));
  CHECK(json_codec<add_atom>::from_json(json("add"), "x").has_value());
  CHECK(error_of<add_atom>(json("get")) == "argument 1: expected 'add', got \"get\"");
}

TEST_CASE("vectors and optionals nest and errors name the failing element") {
  using opt_vec = std::vector<std::optional<std::int64_t>>;
  CHECK(json_codec<opt_vec>::name() == "vector<optional<int64>>");
  CHECK(json_codec<std::vector<std::int8_t>>::name() == "vector<int8>");
  CHECK(json_codec<std::vector<std::vector<std::uint8_t>>>::name() == "vector<bytes>");
  CHECK(json_codec<caf::optional<std::string>>::name() == "optional<string>");

  auto v = decode<opt_vec>(json::parse("[1, null, -3]"));
  REQUIRE(v.size() == 3);
  CHECK(v[0] == 1);
  CHECK(!v[1].has_value());
  CHECK(v[2] == -3);
  CHECK(json_codec<opt_vec>::to_json(v) == json::parse("[1, null, -3]"));
  CHECK(decode<opt_vec>(json::array()).empty());

  CHECK(error_of<opt_vec>(json::parse("[1, \"x\"]"), "argument 2") ==
        "argument 2[1]: expected int64, got \"x\"");
  CHECK(error_of<std::vector<std::vector<std::int8_t>>>(json::parse("[[1], [2, 300]]")) ==
        "argument 1[1][1]: expected int8, got 300");
  CHECK(error_of<std::vector<std::int64_t>>(json{{"a", 1}}) ==
        "argument 1: expected vector<int64>, got {\"a\":1}");
  CHECK(error_of<std::vector<std::int64_t>>(json(nullptr)) ==
        "argument 1: expected vector<int64>, got null");

  using copt = caf::optional<std::string>;
  CHECK(!decode<copt>(json(nullptr)));
  CHECK(*decode<copt>(json("x")) == "x");
  CHECK(json_codec<copt>::to_json(copt{}) == json(nullptr));
  CHECK(json_codec<copt>::to_json(copt{"y"}) == json("y"));
  CHECK(error_of<copt>(json(1)) == "argument 1: expected string, got 1");

  using opt_bytes = std::optional<std::vector<std::uint8_t>>;
  CHECK(json_codec<opt_bytes>::to_json(opt_bytes{{1, 2}}) == json{{"bytes", "0102"}});
  CHECK(*decode<opt_bytes>(json{{"bytes", "0a"}}) == std::vector<std::uint8_t>{10});
}

TEST_CASE("a MSGPACK_DEFINE_MAP struct is a JSON object of its fields") {
  CHECK(json_codec<score_card>::supported);
  CHECK(json_codec<score_card>::name() == "hj_test::score_card");
  CHECK(json_codec<std::vector<score_card>>::name() == "vector<hj_test::score_card>");

  score_card c{"ada", 300, 2, {"fast", "old"}};
  auto j = json_codec<score_card>::to_json(c);
  CHECK(j == json{{"player", "ada"}, {"points", 300}, {"level", 2}, {"tags", {"fast", "old"}}});

  auto back = decode<score_card>(j);
  CHECK(back.player == "ada");
  CHECK(back.points == 300);
  CHECK(back.level == 2);
  CHECK(back.tags == std::vector<std::string>{"fast", "old"});

  // A missing field keeps its default.
  auto partial = decode<score_card>(json{{"player", "bob"}});
  CHECK(partial.player == "bob");
  CHECK(partial.points == 0);
  CHECK(partial.level == 1);

  // MSGPACK_DEFINE packs as an array, so the JSON is an array.
  CHECK(json_codec<pair_rec>::to_json(pair_rec{7, "x"}) == json::parse("[7, \"x\"]"));
  auto p = decode<pair_rec>(json::parse("[8, \"y\"]"));
  CHECK(p.a == 8);
  CHECK(p.b == "y");
}

TEST_CASE("a struct field that does not convert, or is unknown, is named in the error") {
  const std::string head = "argument 1: expected hj_test::score_card, got ";
  CHECK(error_of<score_card>(json{{"player", "ada"}, {"points", "many"}}) ==
        head + "{\"player\":\"ada\",\"points\":\"many\"}: field \"points\" (default 0) does not " +
            "take \"many\"");
  CHECK(error_of<score_card>(json{{"level", 300}}) ==
        head + "{\"level\":300}: field \"level\" (default 1) does not take 300");
  CHECK(error_of<score_card>(json{{"points", 1.5}}) ==
        head + "{\"points\":1.5}: field \"points\" (default 0) does not take 1.5");
  CHECK(error_of<score_card>(json{{"player", "ada"}, {"ponts", 3}}) ==
        head + "{\"player\":\"ada\",\"ponts\":3}: hj_test::score_card has no field \"ponts\" " +
            "(fields: player, points, level, tags)");
  CHECK(error_of<score_card>(json::array({"ada"})) ==
        head + "[\"ada\"] (a JSON object with fields player, points, level, tags)");

  CHECK(error_of<team>(json::parse(R"({"name":"t","members":[{"player":"a"},{"bogus":1}]})")) ==
        "argument 1: expected hj_test::team, got "
        "{\"members\":[{\"player\":\"a\"},{\"bogus\":1}],\"name\":\"t\"}: hj_test::team has no "
        "field \"members[1].bogus\"");

  CHECK(error_of<pair_rec>(json::parse("[\"x\", \"y\"]")) ==
        "argument 1: expected hj_test::pair_rec, got [\"x\",\"y\"]: element 0 (default 0) does "
        "not take \"x\"");
  CHECK(error_of<pair_rec>(json::parse("[1, \"y\", 3]")) ==
        "argument 1: expected hj_test::pair_rec, got [1,\"y\",3]: hj_test::pair_rec has no "
        "element [2] (it has 2 fields)");
  CHECK(error_of<pair_rec>(json{{"a", 1}}) ==
        "argument 1: expected hj_test::pair_rec, got {\"a\":1} (a JSON array of 2 elements)");
}

TEST_CASE("types without a JSON form are unsupported and say what to do") {
  CHECK_FALSE(json_codec<plain_standing>::supported);
  CHECK(json_codec<plain_standing>::name() == "hj_test::plain_standing");
  const std::string reason =
      "hj_test::plain_standing has no field names: give it MSGPACK_DEFINE_MAP (as a state "
      "struct) to call it from JSON";
  CHECK(json_codec<plain_standing>::unsupported_reason() == reason);
  CHECK(error_of<plain_standing>(json::object()) == "argument 1: " + reason);
  CHECK_FALSE(json_codec<std::vector<plain_standing>>::supported);
  CHECK(json_codec<std::vector<plain_standing>>::unsupported_reason() == reason);
  CHECK_FALSE(json_codec<std::optional<plain_standing>>::supported);

  CHECK(json_codec<score_card>::unsupported_reason().empty());
  CHECK_FALSE(json_codec<int*>::supported);
  CHECK(json_codec<int*>::unsupported_reason() == "int* is a pointer: pointers have no JSON form");
  CHECK_FALSE(json_codec<caf::actor>::supported);
  CHECK(json_codec<caf::actor>::unsupported_reason() ==
        "caf::actor is an actor handle: handles have no JSON form");
  CHECK_FALSE(json_codec<no_default>::supported);
  CHECK(json_codec<no_default>::unsupported_reason().rfind(
            "hj_test::no_default is not default-constructible", 0) == 0);
  CHECK_FALSE(json_codec<char>::supported);
  CHECK(json_codec<char>::unsupported_reason().rfind("char has no JSON form", 0) == 0);
  using string_map = std::map<std::string, int>;
  CHECK_FALSE(json_codec<string_map>::supported);
  CHECK(json_codec<string_map>::unsupported_reason().find("has no JSON form (supported:") !=
        std::string::npos);
}

TEST_CASE("handler names follow the interface's signatures in order") {
  auto hs = ark::detail::describe_handlers<calc_if::signatures>();
  REQUIRE(hs.size() == 5);
  CHECK(hs[0].name == "add(int64) -> int64");
  CHECK(hs[1].name == "get() -> int64");
  CHECK(hs[2].name == "ping(string) -> void");
  CHECK(hs[3].name == "(string, int64) -> (bool, string)");
  CHECK(hs[4].name == "set(string, 'cmd', int64) -> 'ok'");

  CHECK(hs[0].params == std::vector<std::string>{"int64"});
  CHECK(hs[1].params.empty());
  CHECK(hs[3].params == std::vector<std::string>{"string", "int64"});
  CHECK(hs[4].params == std::vector<std::string>{"string", "int64"});
  CHECK(hs[0].reply == "int64");
  CHECK(hs[2].reply == "void");
  CHECK(hs[3].reply == "(bool, string)");
  CHECK(hs[4].reply == "'ok'");
  for (const auto& h : hs) {
    CHECK_MESSAGE(h.callable, h.name);
    CHECK(h.not_callable.empty());
    CHECK(h.make_message);
    CHECK(h.reply_to_json);
  }
  CHECK(hs[0].describe() == json{{"name", "add(int64) -> int64"},
                                 {"params", {"int64"}},
                                 {"reply", "int64"},
                                 {"callable", true}});
}

TEST_CASE("make_message builds the message the handler matches") {
  auto hs = ark::detail::describe_handlers<calc_if::signatures>();
  REQUIRE(hs.size() == 5);

  auto add = hs[0].make_message(json::parse("[5]"));
  REQUIRE_MESSAGE(add.has_value(), (add ? "" : add.error().context()));
  CHECK(add->match_elements<caf::atom_value, std::int64_t>());
  CHECK(add->get_as<caf::atom_value>(0) == caf::atom("add"));
  CHECK(add->get_as<std::int64_t>(1) == 5);

  auto get = hs[1].make_message(json::array());
  REQUIRE(get.has_value());
  CHECK(get->match_elements<caf::atom_value>());
  CHECK(get->get_as<caf::atom_value>(0) == caf::atom("get"));

  auto plain = hs[3].make_message(json::parse("[\"s\", -3]"));
  REQUIRE(plain.has_value());
  CHECK(plain->match_elements<std::string, std::int64_t>());
  CHECK(plain->get_as<std::string>(0) == "s");
  CHECK(plain->get_as<std::int64_t>(1) == -3);

  auto set = hs[4].make_message(json::parse("[\"k\", 9]"));
  REQUIRE(set.has_value());
  CHECK(set->match_elements<caf::atom_value, std::string, caf::atom_value, std::int64_t>());
  CHECK(set->get_as<caf::atom_value>(0) == caf::atom("set"));
  CHECK(set->get_as<std::string>(1) == "k");
  CHECK(set->get_as<caf::atom_value>(2) == caf::atom("cmd"));
  CHECK(set->get_as<std::int64_t>(3) == 9);

  // The messages reach the handlers of a behavior of the interface, and the
  // replies come back as JSON.
  std::string pinged;
  calc_if::behavior_type typed{
      [](add_atom, std::int64_t n) { return n + 1; }, [](get_atom) { return std::int64_t{42}; },
      [&](ping_atom, const std::string& s) { pinged = s; },
      [](const std::string& s, std::int64_t n) {
        return caf::result<bool, std::string>(n > 0, s + "!");
      },
      [](set_atom, const std::string&, cmd_atom, std::int64_t) { return ok_atom::value; }};
  caf::behavior bhvr = typed.unbox();
  auto reply_of = [&](std::size_t i, caf::message msg) {
    auto r = bhvr(msg);
    REQUIRE_MESSAGE(r, hs[i].name);
    return hs[i].reply_to_json(*r);
  };
  CHECK(reply_of(0, *add) == json(6));
  CHECK(reply_of(1, *get) == json(42));
  auto ping = hs[2].make_message(json::parse("[\"hello\"]"));
  REQUIRE(ping.has_value());
  CHECK(reply_of(2, *ping) == json(nullptr));
  CHECK(pinged == "hello");
  CHECK(reply_of(3, *plain) == json::parse("[false, \"s!\"]"));
  CHECK(reply_of(4, *set) == json("ok"));
}

TEST_CASE("make_message refuses a wrong argument count or a bad argument") {
  auto hs = ark::detail::describe_handlers<calc_if::signatures>();
  REQUIRE(hs.size() == 5);
  auto error_of_call = [&](std::size_t i, const json& args) {
    auto m = hs[i].make_message(args);
    REQUIRE_FALSE(m.has_value());
    CHECK(m.error() == ark::errc::invalid_argument);
    return m.error().context();
  };
  CHECK(error_of_call(0, json::parse("[1, 2]")) ==
        "handler add(int64) -> int64 takes 1 argument(s), got 2");
  CHECK(error_of_call(0, json::array()) ==
        "handler add(int64) -> int64 takes 1 argument(s), got 0");
  CHECK(error_of_call(1, json::parse("[1]")) ==
        "handler get() -> int64 takes 0 argument(s), got 1");
  CHECK(error_of_call(0, json::parse("5")) ==
        "handler add(int64) -> int64 takes 1 argument(s), got no array but 5");
  CHECK(error_of_call(0, json::parse("[1.5]")) == "argument 1: expected int64, got 1.5");
  CHECK(error_of_call(3, json::parse("[\"a\", \"b\"]")) == "argument 2: expected int64, got \"b\"");
  // The first bad argument is reported.
  CHECK(error_of_call(3, json::parse("[1, \"b\"]")) == "argument 1: expected string, got 1");
  CHECK(error_of_call(4, json::parse("[\"k\", \"cmd\"]")) ==
        "argument 2: expected int64, got \"cmd\"");
}

TEST_CASE("reply_to_json renders one value, several, void and unexpected messages") {
  auto hs = ark::detail::describe_handlers<calc_if::signatures>();
  REQUIRE(hs.size() == 5);
  CHECK(hs[0].reply_to_json(caf::make_message(std::int64_t{7})) == json(7));
  CHECK(hs[3].reply_to_json(caf::make_message(true, std::string("x"))) ==
        json::parse("[true, \"x\"]"));
  CHECK(hs[2].reply_to_json(caf::message{}) == json(nullptr));
  CHECK(hs[4].reply_to_json(caf::make_message(ok_atom::value)) == json("ok"));

  auto err = hs[0].reply_to_json(caf::make_message(caf::make_error(caf::sec::request_timeout)));
  REQUIRE(err.is_object());
  REQUIRE(err.contains("unexpected"));
  CHECK(err["unexpected"].get<std::string>().find("request_timeout") != std::string::npos);

  auto wrong = hs[0].reply_to_json(caf::make_message(std::string("seven")));
  CHECK(wrong == json{{"unexpected", caf::to_string(caf::make_message(std::string("seven")))}});
  CHECK(hs[2].reply_to_json(caf::make_message(std::int64_t{1})).contains("unexpected"));
  CHECK(hs[3].reply_to_json(caf::make_message(true)).contains("unexpected"));
}

TEST_CASE("handlers with types without a JSON form are listed but not callable") {
  auto hs = ark::detail::describe_handlers<mixed_if::signatures>();
  REQUIRE(hs.size() == 5);

  const auto& standing = find(hs, "standing(string) -> hj_test::plain_standing");
  CHECK_FALSE(standing.callable);
  CHECK(standing.not_callable ==
        "reply: hj_test::plain_standing has no field names: give it MSGPACK_DEFINE_MAP (as a "
        "state struct) to call it from JSON");
  CHECK_FALSE(standing.make_message);
  CHECK_FALSE(standing.reply_to_json);
  CHECK(standing.describe() == json{{"name", "standing(string) -> hj_test::plain_standing"},
                                    {"params", {"string"}},
                                    {"reply", "hj_test::plain_standing"},
                                    {"callable", false},
                                    {"not_callable", standing.not_callable}});

  const auto& link = find(hs, "link(caf::actor) -> bool");
  CHECK_FALSE(link.callable);
  CHECK(link.not_callable ==
        "argument 1: caf::actor is an actor handle: handles have no JSON form");

  // std::optional has a JSON form but CAF 0.17 cannot put it in a message.
  const auto& opt = find(hs, "opt(optional<int64>) -> int64");
  CHECK_FALSE(opt.callable);
  CHECK(opt.not_callable.rfind("argument 1: optional<int64> (std::optional<long>) cannot travel "
                               "in a CAF message",
                               0) == 0);

  const auto& copt = find(hs, "copt(optional<int64>) -> optional<int64>");
  REQUIRE(copt.callable);
  auto none = copt.make_message(json::parse("[null]"));
  REQUIRE(none.has_value());
  REQUIRE(none->match_elements<caf::atom_value, caf::optional<std::int64_t>>());
  CHECK_FALSE(none->get_as<caf::optional<std::int64_t>>(1));
  auto some = copt.make_message(json::parse("[4]"));
  REQUIRE(some.has_value());
  REQUIRE(some->match_elements<caf::atom_value, caf::optional<std::int64_t>>());
  CHECK(some->get_as<caf::optional<std::int64_t>>(1) == caf::optional<std::int64_t>{4});
  CHECK(copt.reply_to_json(caf::make_message(caf::optional<std::int64_t>{})) == json(nullptr));

  const auto& card = find(hs, "card(hj_test::score_card) -> hj_test::score_card");
  REQUIRE(card.callable);
  auto msg = card.make_message(json::parse(R"([{"player":"ada","points":12}])"));
  REQUIRE_MESSAGE(msg.has_value(), (msg ? "" : msg.error().context()));
  REQUIRE(msg->match_elements<caf::atom_value, score_card>());
  CHECK(msg->get_as<score_card>(1).player == "ada");
  CHECK(msg->get_as<score_card>(1).points == 12);
  CHECK(card.reply_to_json(caf::make_message(score_card{"bo", 3, 4, {}})) ==
        json{{"player", "bo"}, {"points", 3}, {"level", 4}, {"tags", json::array()}});
  auto bad = card.make_message(json::parse(R"([{"player":7}])"));
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().context() ==
        "argument 1: expected hj_test::score_card, got {\"player\":7}: field \"player\" (default "
        "\"\") does not take 7");
}
