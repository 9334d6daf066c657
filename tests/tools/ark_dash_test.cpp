// End-to-end tests of the ark-dash binary: each test runs the real executable
// (ARK_DASH_PATH) on a fresh data directory and checks stdout, stderr and the
// exit status.

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include "ark/kv/lmdb_backend.hpp"
#include "ark/kv/store.hpp"
#include "test_util.hpp"
#include "tools/dash_runner.hpp"

namespace {

using run_result = ark::test::dash_result;

// Runs ark-dash with `args` (in `cwd` when given), capturing its output.
run_result dash(const std::vector<std::string>& args, const std::string& cwd = {}) {
  return ark::test::run_dash(args, cwd);
}

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

// Runs a command that must succeed and returns its stdout.
std::string ok(const std::vector<std::string>& args) {
  auto r = dash(args);
  INFO("stderr: " << r.err);
  CHECK(r.status == 0);
  return r.out;
}

// A data directory with a space "board" holding scores, users and a counter.
struct board_fixture {
  ark::test::temp_dir dir;
  std::string data = dir.sub("data");

  board_fixture() {
    for (int i = 1; i <= 5; ++i)
      ok({"kv", "put", "--data", data, "--space", "board", "[\"score\", " + std::to_string(i) + "]",
          std::to_string(i * 100)});
    ok({"kv", "put", "--data", data, "--space", "board", "[\"user\", \"ada\"]",
        R"({"name": "Ada", "langs": ["c++", "ml"]})"});
    ok({"kv", "put", "--data", data, "--space", "board", "[\"user\", \"bob\"]", "null"});
    ok({"kv", "put", "--data", data, "--space", "board", "visits", "42"});
  }

  std::vector<std::string> list(std::initializer_list<std::string> extra) const {
    std::vector<std::string> args{"kv", "list", "--data", data, "--space", "board"};
    args.insert(args.end(), extra);
    return args;
  }
};

}  // namespace

TEST_CASE("key encode prints the exact hex of the example key") {
  auto r = dash({"key", "encode", R"(["user", 42, true, null, 1.5, ["nested"]])"});
  CHECK(r.status == 0);
  CHECK(r.out == "027573657200152a270021bff800000000000005026e65737465640000\n");
  CHECK(r.err.empty());
}

TEST_CASE("key decode prints the key back as compact JSON") {
  auto r = dash({"key", "decode", "027573657200152a270021bff800000000000005026e65737465640000"});
  CHECK(r.status == 0);
  CHECK(r.out == "[\"user\",42,true,null,1.5,[\"nested\"]]\n");
  SUBCASE("bytes, -0.0 and infinities survive encode then decode") {
    const std::string key = R"([{"bytes":"00ff"},-0.0,1.0,{"double":"-inf"}])";
    auto hex = dash({"key", "encode", key});
    REQUIRE(hex.status == 0);
    auto back = dash({"key", "decode", hex.out.substr(0, hex.out.size() - 1)});
    CHECK(back.status == 0);
    CHECK(back.out == key + "\n");
  }
}

TEST_CASE("a bare word key is the one-element string key") {
  CHECK(ok({"key", "encode", "visits"}) == "0276697369747300\n");
  CHECK(ok({"key", "encode", "[\"visits\"]"}) == "0276697369747300\n");
  CHECK(ok({"key", "encode", "-5"}) == "13fa\n");  // a number, not a word or an option
}

TEST_CASE("bad key JSON exits 2 naming the problem") {
  SUBCASE("truncated array") {
    auto r = dash({"key", "encode", "[1,"});
    CHECK(r.status == 2);
    CHECK(contains(r.err, "invalid_key"));
    CHECK(contains(r.err, "not valid JSON"));
    CHECK(r.out.empty());
  }
  SUBCASE("integer outside int64") {
    auto r = dash({"kv", "get", "--space", "s", "[18446744073709551616]"});
    CHECK(r.status == 2);
    CHECK(contains(r.err, "18446744073709551616"));
  }
  SUBCASE("unknown object") {
    auto r = dash({"key", "encode", R"(["a", {"when": 1}])"});
    CHECK(r.status == 2);
    CHECK(contains(r.err, "element 1"));
    CHECK(contains(r.err, "\"when\""));
  }
  SUBCASE("undecodable hex") {
    auto r = dash({"key", "decode", "02zz"});
    CHECK(r.status == 2);
    CHECK(contains(r.err, "HEX"));
    auto t = dash({"key", "decode", "0275"});  // string without terminator
    CHECK(t.status == 2);
    CHECK(contains(t.err, "invalid_key"));
  }
}

TEST_CASE("kv put then get returns the JSON value") {
  ark::test::temp_dir dir;
  const std::string data = dir.sub("data");
  auto put = dash({"kv", "put", "--data", data, "--space", "users", "[\"user\", 7]",
                   R"({"name": "ada", "score": 1.0, "avatar": {"bytes": "89504e47"}})"});
  CHECK(put.status == 0);
  CHECK(put.out == "stored [\"user\",7] in space [\"users\"]\n");
  CHECK(std::filesystem::exists(data));
  auto get = dash({"kv", "get", "--data", data, "--space", "users", "[\"user\", 7]"});
  CHECK(get.status == 0);
  CHECK(get.out == R"({"avatar":{"bytes":"89504e47"},"name":"ada","score":1.0})"
                   "\n");
}

TEST_CASE("raw values are stored from hex and shown as raw hex") {
  ark::test::temp_dir dir;
  const std::string data = dir.sub("data");
  CHECK(
      dash({"kv", "put", "--data", data, "--space", "blobs", "png", "89504E47", "--raw"}).status ==
      0);
  CHECK(ok({"kv", "get", "--data", data, "--space", "blobs", "png"}) == "{\"raw\":\"89504e47\"}\n");
  // The bytes are stored as given: a typed reader sees them raw.
  ark::kv::lmdb_options read_only;
  read_only.read_only = true;
  auto db = ark::kv::lmdb_backend::open(data, read_only).value();
  auto st = ark::kv::store::open(db, ark::key{"blobs"}).value();
  CHECK(st.get_raw(ark::key{"png"}).value() == "\x89PNG");
  SUBCASE("bad hex is a usage error") {
    auto r = dash({"kv", "put", "--data", data, "--space", "blobs", "x", "0g", "--raw"});
    CHECK(r.status == 2);
    CHECK(contains(r.err, "--raw"));
    CHECK(contains(r.err, "'g'"));
  }
}

TEST_CASE("kv get of a missing key exits 1 with not found") {
  board_fixture f;
  auto r = dash({"kv", "get", "--data", f.data, "--space", "board", "nobody"});
  CHECK(r.status == 1);
  CHECK(contains(r.err, "not found"));
  CHECK(contains(r.err, "[\"nobody\"]"));
  CHECK(r.out.empty());
}

TEST_CASE("kv list prints an aligned table in key order") {
  board_fixture f;
  CHECK(ok(f.list({})) ==
        "KEY             VALUE\n"
        "[\"score\",1]     100\n"
        "[\"score\",2]     200\n"
        "[\"score\",3]     300\n"
        "[\"score\",4]     400\n"
        "[\"score\",5]     500\n"
        "[\"user\",\"ada\"]  {\"langs\":[\"c++\",\"ml\"],\"name\":\"Ada\"}\n"
        "[\"user\",\"bob\"]  null\n"
        "[\"visits\"]      42\n");
  SUBCASE("an empty range says so") {
    CHECK(ok(f.list({"--prefix", "nothing"})) == "(no entries)\n");
  }
  SUBCASE("long values are cut") {
    ok({"kv", "put", "--data", f.data, "--space", "long", "k",
        "\"" + std::string(300, 'x') + "\""});
    auto out = ok({"kv", "list", "--data", f.data, "--space", "long"});
    CHECK(contains(out, "xxx...\n"));
    CHECK(out.size() < 200);
  }
}

TEST_CASE("kv list streams more entries than one table page, keeping the column width") {
  ark::test::temp_dir dir;
  const std::string data = dir.sub("data");
  {
    auto db = ark::kv::lmdb_backend::open(data).value();
    auto st = ark::kv::store::open(db, ark::key{"many"}).value();
    ark::kv::write_batch batch;
    for (int i = 0; i < 2500; ++i) batch.put(ark::key{"n", i}, i);
    REQUIRE(st.apply(batch).has_value());
  }
  auto table = ok({"kv", "list", "--data", data, "--space", "many"});
  std::istringstream lines(table);
  std::string line, last;
  std::size_t n = 0;
  while (std::getline(lines, line)) {
    if (n == 1) CHECK(line == "[\"n\",0]    0");  // width of the first 1000 keys
    last = line;
    ++n;
  }
  CHECK(n == 2501);  // header + every entry
  CHECK(last == "[\"n\",2499]  2499");
  auto json_lines = ok({"kv", "list", "--data", data, "--space", "many", "--json"});
  CHECK(std::count(json_lines.begin(), json_lines.end(), '\n') == 2500);
}

TEST_CASE("kv list --json prints one object per line") {
  board_fixture f;
  CHECK(ok(f.list({"--json", "--prefix", "[\"user\"]"})) ==
        R"({"key":["user","ada"],"value":{"langs":["c++","ml"],"name":"Ada"}})"
        "\n"
        R"({"key":["user","bob"],"value":null})"
        "\n");
  CHECK(ok(f.list({"--json", "--prefix", "nothing"})).empty());
}

TEST_CASE("kv list honours prefix, start, end, reverse and limit in both modes") {
  board_fixture f;
  SUBCASE("prefix is a tuple-element prefix") {
    CHECK(ok(f.list({"--json", "--prefix", "[\"score\"]", "--limit", "2"})) ==
          "{\"key\":[\"score\",1],\"value\":100}\n{\"key\":[\"score\",2],\"value\":200}\n");
  }
  SUBCASE("start inclusive, end exclusive") {
    CHECK(ok(f.list({"--json", "--start", "[\"score\", 2]", "--end", "[\"score\", 4]"})) ==
          "{\"key\":[\"score\",2],\"value\":200}\n{\"key\":[\"score\",3],\"value\":300}\n");
    CHECK(ok(f.list({"--start", "[\"score\", 2]", "--end", "[\"score\", 4]"})) ==
          "KEY          VALUE\n"
          "[\"score\",2]  200\n"
          "[\"score\",3]  300\n");
  }
  SUBCASE("reverse with limit returns the last keys first") {
    CHECK(ok(f.list({"--json", "--reverse", "--limit", "2"})) ==
          "{\"key\":[\"visits\"],\"value\":42}\n{\"key\":[\"user\",\"bob\"],\"value\":null}\n");
    CHECK(ok(f.list({"--reverse", "--prefix", "[\"score\"]", "--limit", "2"})) ==
          "KEY          VALUE\n"
          "[\"score\",5]  500\n"
          "[\"score\",4]  400\n");
  }
  SUBCASE("a negative limit is a usage error") {
    auto r = dash(f.list({"--limit", "-1"}));
    CHECK(r.status == 2);
    CHECK(contains(r.err, "--limit"));
  }
}

TEST_CASE("kv count prints how many entries the range holds") {
  board_fixture f;
  auto count = [&](std::initializer_list<std::string> extra) {
    std::vector<std::string> args{"kv", "count", "--data", f.data, "--space", "board"};
    args.insert(args.end(), extra);
    return ok(args);
  };
  CHECK(count({}) == "8\n");
  CHECK(count({"--prefix", "[\"score\"]"}) == "5\n");
  CHECK(count({"--start", "[\"score\", 3]", "--end", "[\"user\"]"}) == "3\n");
  CHECK(count({"--prefix", "[\"score\"]", "--limit", "2"}) == "2\n");
  CHECK(count({"--prefix", "[\"scores\"]"}) == "0\n");
}

TEST_CASE("kv delete reports whether the key existed") {
  board_fixture f;
  auto del = [&](const std::string& key) {
    return dash({"kv", "delete", "--data", f.data, "--space", "board", key});
  };
  auto first = del("visits");
  CHECK(first.status == 0);
  CHECK(first.out == "deleted [\"visits\"]\n");
  auto second = del("visits");
  CHECK(second.status == 0);
  CHECK(second.out == "not found: [\"visits\"] (nothing deleted)\n");
  CHECK(dash({"kv", "get", "--data", f.data, "--space", "board", "visits"}).status == 1);
  CHECK(ok({"kv", "count", "--data", f.data, "--space", "board"}) == "7\n");
}

TEST_CASE("kv spaces lists the spaces that hold keys") {
  board_fixture f;
  ok({"kv", "put", "--data", f.data, "--space", "[\"actor\", \"counter\", 7]", "n", "1"});
  ok({"kv", "put", "--data", f.data, "--space", "gone", "k", "1"});
  ok({"kv", "delete", "--data", f.data, "--space", "gone", "k"});
  CHECK(ok({"kv", "spaces", "--data", f.data}) ==
        "[\"actor\",\"counter\",7]\n"
        "[\"board\"]\n");
}

TEST_CASE("two spaces with the same keys are isolated") {
  ark::test::temp_dir dir;
  const std::string data = dir.sub("data");
  ok({"kv", "put", "--data", data, "--space", "a", "k", "1"});
  ok({"kv", "put", "--data", data, "--space", "b", "k", "2"});
  ok({"kv", "put", "--data", data, "--space", "b", "only-b", "3"});
  CHECK(ok({"kv", "get", "--data", data, "--space", "a", "k"}) == "1\n");
  CHECK(ok({"kv", "get", "--data", data, "--space", "b", "k"}) == "2\n");
  CHECK(ok({"kv", "count", "--data", data, "--space", "a"}) == "1\n");
  CHECK(dash({"kv", "get", "--data", data, "--space", "a", "only-b"}).status == 1);
  ok({"kv", "delete", "--data", data, "--space", "a", "k"});
  CHECK(ok({"kv", "get", "--data", data, "--space", "b", "k"}) == "2\n");
}

TEST_CASE("a missing data directory exits 1 with no_data_dir and the remedy") {
  ark::test::temp_dir dir;
  const std::string missing = dir.sub("nope");
  for (auto args : std::vector<std::vector<std::string>>{
           {"kv", "get", "--data", missing, "--space", "s", "k"},
           {"kv", "list", "--data", missing, "--space", "s"},
           {"kv", "count", "--data", missing, "--space", "s"},
           {"kv", "delete", "--data", missing, "--space", "s", "k"},
           {"kv", "spaces", "--data", missing}}) {
    CAPTURE(args[1]);
    auto r = dash(args);
    CHECK(r.status == 1);
    CHECK(contains(r.err, "no_data_dir"));
    CHECK(contains(r.err, missing));
    CHECK(contains(r.err, "--data"));
    CHECK_FALSE(std::filesystem::exists(missing));
  }
}

TEST_CASE("--data defaults to ./ark-data") {
  ark::test::temp_dir dir;
  CHECK(dash({"kv", "put", "--space", "s", "k", "\"here\""}, dir.str()).status == 0);
  CHECK(std::filesystem::exists(dir.sub("ark-data")));
  auto r = dash({"kv", "get", "--space", "s", "k"}, dir.str());
  CHECK(r.status == 0);
  CHECK(r.out == "\"here\"\n");
}

TEST_CASE("a second writer gets locked while another process holds the data directory") {
  board_fixture f;
  auto holder = ark::kv::lmdb_backend::open(f.data);
  REQUIRE(holder.has_value());
  auto put = dash({"kv", "put", "--data", f.data, "--space", "board", "visits", "43"});
  CHECK(put.status == 1);
  CHECK(contains(put.err, "locked"));
  CHECK(contains(put.err, "remedy"));
  auto del = dash({"kv", "delete", "--data", f.data, "--space", "board", "visits"});
  CHECK(del.status == 1);
  CHECK(contains(del.err, "locked"));
  SUBCASE("reads still work while the writer holds the lock") {
    auto st = ark::kv::store::open(*holder, ark::key{"board"}).value();
    REQUIRE(st.put(ark::key{"visits"}, 99).has_value());
    CHECK(ok({"kv", "get", "--data", f.data, "--space", "board", "visits"}) == "99\n");
    CHECK(ok({"kv", "count", "--data", f.data, "--space", "board"}) == "8\n");
  }
}

TEST_CASE("usage errors exit 2 with a message on stderr") {
  board_fixture f;
  SUBCASE("no verb names the verbs") {
    auto r = dash({});
    CHECK(r.status == 2);
    CHECK(contains(r.err, "key, kv"));
    auto kv = dash({"kv"});
    CHECK(kv.status == 2);
    CHECK(contains(kv.err, "put, get, list, count, delete, spaces"));
  }
  SUBCASE("unknown verb") {
    auto r = dash({"kv", "frobnicate"});
    CHECK(r.status == 2);
    CHECK(contains(r.err, "frobnicate"));
  }
  SUBCASE("missing --space") {
    auto r = dash({"kv", "get", "--data", f.data, "k"});
    CHECK(r.status == 2);
    CHECK(contains(r.err, "--space"));
  }
  SUBCASE("missing KEY") {
    auto r = dash({"kv", "get", "--data", f.data, "--space", "board"});
    CHECK(r.status == 2);
    CHECK(contains(r.err, "KEY"));
  }
  SUBCASE("a value that is not JSON names the fix") {
    auto r = dash({"kv", "put", "--data", f.data, "--space", "board", "k", "hello"});
    CHECK(r.status == 2);
    CHECK(contains(r.err, "VALUE"));
    CHECK(contains(r.err, "quotes"));
  }
  SUBCASE("an empty space key") {
    auto r = dash({"kv", "get", "--data", f.data, "--space", "[]", "k"});
    CHECK(r.status == 2);
    CHECK(contains(r.err, "--space"));
  }
  SUBCASE("a bad --prefix") {
    auto r = dash(f.list({"--prefix", "[1,"}));
    CHECK(r.status == 2);
    CHECK(contains(r.err, "--prefix"));
  }
  SUBCASE("nothing was written by a failed put") {
    dash({"kv", "put", "--data", f.data, "--space", "board", "[1,", "1"});
    CHECK(ok({"kv", "count", "--data", f.data, "--space", "board"}) == "8\n");
  }
}

TEST_CASE("every verb has --help that exits 0") {
  for (auto args : std::vector<std::vector<std::string>>{{"--help"},
                                                         {"key", "--help"},
                                                         {"key", "encode", "--help"},
                                                         {"key", "decode", "--help"},
                                                         {"kv", "--help"},
                                                         {"kv", "put", "--help"},
                                                         {"kv", "get", "--help"},
                                                         {"kv", "list", "--help"},
                                                         {"kv", "count", "--help"},
                                                         {"kv", "delete", "--help"},
                                                         {"kv", "spaces", "--help"}}) {
    CAPTURE(args.size() > 1 ? args[1] : args[0]);
    auto r = dash(args);
    CHECK(r.status == 0);
    CHECK(contains(r.out, "Usage: ark-dash"));
  }
}
