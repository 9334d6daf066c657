// ark-dash verify end to end: real data directories with damage planted
// through lmdb_backend (and the LMDB C API for damage ark never writes), and
// the read verbs on a SQLite directory against the same data in LMDB.

#include <doctest/doctest.h>

#include <sqlite3.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "ark/kv/json.hpp"
#include "ark/kv/lmdb_backend.hpp"
#include "ark/kv/open.hpp"
#include "support/lmdb_raw.hpp"
#include "tools/dash_runner.hpp"
#include "tools/stored_bytes.hpp"

namespace {

using ark::test::be64;
using ark::test::run_dash;
using namespace ark::test::stored_bytes;

std::string identity(const std::string& type, const std::string& key) {
  return enc(ark::key{type, ark::key{key}});
}

// Stores `value` under `key` in `space` (all encoded) through the backend
// `kind` (LMDB unless told).
void put(const std::string& data, const std::string& space, const std::string& key,
         const std::string& value, ark::kv::backend_kind kind = ark::kv::backend_kind::lmdb) {
  ark::kv::open_options o;
  o.kind = kind;
  auto db = ark::kv::open_backend(data, o);
  REQUIRE_MESSAGE(db, (db ? "" : db.error().message()));
  ark::kv::backend_batch b;
  b.put(space, key, value);
  REQUIRE((*db)->apply(b));
}

// A directory holding a user space, actor snapshots and a state journal
// record, all valid: space ids board=1, state=2, journal=3.
struct clean_dir {
  ark::test::temp_dir dir;
  std::string data = dir.sub("data");
  std::string board = enc(ark::key{"board"});

  explicit clean_dir(ark::kv::backend_kind kind = ark::kv::backend_kind::lmdb) {
    put(data, board, enc(ark::key{"score", 1}), msgpack_of("100"), kind);
    put(data, board, enc(ark::key{"blob"}), std::string("\x02\x00\xff", 3), kind);
    put(data, board, enc(ark::key{"user", "ada"}), msgpack_of(R"({"name": "Ada", "x": 1.5})"),
        kind);
    put(data, state_space, identity("counter", "a"), snapshot(R"({"value": 3})"), kind);
    put(data, journal_space, be64(1),
        "\x01" + journal_entry(1, identity("counter", "b"), snapshot(R"({"value": 4})")) +
            journal_entry(2, identity("counter", "a"), ""),
        kind);
  }
};

std::vector<nlohmann::json> json_lines(const std::string& out) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

}  // namespace

TEST_CASE("verify of a sound data directory exits 0 with a summary") {
  clean_dir d;
  auto r = run_dash({"verify", "--data", d.data});
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out ==
        "verified " + d.data + ": 3 spaces, 5 keys, 2 snapshots, 1 journal records: no problems\n");
  CHECK(r.err.empty());  // no progress line: stderr is not a terminal
  SUBCASE("--json ends with a summary object") {
    auto j = run_dash({"verify", "--data", d.data, "--json"});
    CHECK(j.status == 0);
    auto lines = json_lines(j.out);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0]["summary"]["problems"] == 0);
    CHECK(lines[0]["summary"]["keys"] == 5);
    CHECK(lines[0]["summary"]["snapshots"] == 2);
    CHECK(lines[0]["summary"]["journal_records"] == 1);
  }
}

TEST_CASE("verify reports every damaged entry by name and exits 1") {
  clean_dir d;
  const auto& data = d.data;
  // Values: a bad tag, msgpack that does not decode, trailing bytes.
  put(data, d.board, enc(ark::key{"bad-tag"}), "\x07zz");
  put(data, d.board, enc(ark::key{"bad-msgpack"}), "\x01\xc1");
  put(data, d.board, enc(ark::key{"trailing"}), "\x01\x05\x05");
  // Snapshots: undecodable, not a {schema, state} map, under a non-actor key.
  put(data, state_space, identity("counter", "broken"), "\x01\xc1");
  put(data, state_space, identity("counter", "list"), msgpack_of("[1, 2]"));
  put(data, state_space, enc(ark::key{"not-an-actor"}), snapshot("{}"));
  // Journal: a torn record, and a record whose second snapshot is damaged.
  put(data, journal_space, be64(2), "\x01\x01\x03");
  put(data, journal_space, be64(3),
      "\x01" + journal_entry(1, identity("counter", "ok"), snapshot(R"({"value": 1})")) +
          journal_entry(1, identity("counter", "j"), "\x01\xc1"));
  // Damage only a broken disk or another program makes, planted in LMDB.
  ark::test::raw_put_checked(data, "meta", "next_space_id", be64(100));
  ark::test::raw_put_checked(data, "spaces", std::string(1, '\x02') + "abc", be64(60));  // unterminated
  ark::test::raw_put_checked(data, "spaces", enc(ark::key{"dup"}), be64(1));             // board's id
  ark::test::raw_put_checked(data, "spaces", enc(ark::key{"late"}), be64(150));
  ark::test::raw_put_checked(data, "kv", be64(999) + enc(ark::key{"x"}), "\x02");
  ark::test::raw_put_checked(data, "kv", be64(1) + "\x02zz", "\x02");

  auto r = run_dash({"verify", "--data", data});
  INFO(r.out);
  INFO(r.err);
  CHECK(r.status == 1);
  const std::vector<std::string> expected{
      R"(space ["board"] key ["bad-tag"]: stored value has unknown kind tag 0x07)",
      R"(space ["board"] key ["bad-msgpack"]: msgpack value does not decode)",
      R"(space ["board"] key ["trailing"]: msgpack value has 1 trailing bytes after the object)",
      R"(space ["board"] key 0x027a7a: the key does not decode)",
      R"(snapshot of actor ["counter",["broken"]]: the snapshot is damaged: msgpack value does not decode)",
      R"(snapshot of actor ["counter",["list"]]: the snapshot is damaged: the snapshot is not a {schema, state} map)",
      R"(snapshot of actor ["not-an-actor"]: the key is not an actor identity [type, key])",
      R"(journal record 2: journal record entry at byte 1 is truncated or corrupt)",
      R"(journal record 3 entry 2 (actor ["counter",["j"]]): the snapshot is damaged: msgpack value does not decode)",
      R"(space 0x02616263: the space key does not decode)",
      R"(space ["dup"]: shares space id 1 with space ["board"])",
      R"(space ["late"]: has space id 150, not below next_space_id 100)",
      R"(kv space id 999: 1 key is stored under this space id, which no space in `spaces` registers)",
  };
  for (const auto& line : expected) {
    CAPTURE(line);
    CHECK(has(r.out, line));
  }
  CHECK(has(r.out, "verified " + data +
                       ": 6 spaces, 15 keys, 7 snapshots, 3 journal records: 13 problems\n"));

  SUBCASE("--json gives one object per problem with the entry as JSON") {
    auto j = run_dash({"verify", "--data", data, "--json"});
    CHECK(j.status == 1);
    auto lines = json_lines(j.out);
    REQUIRE(lines.size() == 14);
    auto find = [&](const nlohmann::json& where) {
      for (const auto& l : lines) {
        bool match = true;
        for (auto it = where.begin(); it != where.end(); ++it)
          match = match && l.contains(it.key()) && l[it.key()] == it.value();
        if (match) return l;
      }
      return nlohmann::json();
    };
    auto tag = find({{"in", "kv"},
                     {"space", nlohmann::json::array({"board"})},
                     {"key", nlohmann::json::array({"bad-tag"})}});
    REQUIRE(tag.is_object());
    CHECK(has(tag["problem"].get<std::string>(), "unknown kind tag 0x07"));
    auto snap =
        find({{"in", "state"}, {"actor", nlohmann::json::parse(R"(["counter",["broken"]])")}});
    CHECK(snap.is_object());
    auto entry = find({{"in", "journal"}, {"record", 3}, {"entry", 2}});
    REQUIRE(entry.is_object());
    CHECK(entry["actor"] == nlohmann::json::parse(R"(["counter",["j"]])"));
    CHECK(find({{"in", "kv"}, {"space_id", 999}, {"keys", 1}}).is_object());
    CHECK(lines.back()["summary"]["problems"] == 13);
  }
}

TEST_CASE("verify checks the alarm tables and names damaged, unindexed and stale alarm entries") {
  clean_dir d;
  const auto rows = enc(ark::key{nullptr, "alarms"});
  const auto index = enc(ark::key{nullptr, "alarm_due"});
  auto alarm = [](int due) {
    return msgpack_of(R"({"due_ms": )" + std::to_string(due) +
                      R"(, "attempt": 0, "max_attempts": 6, "backoff_ms": 1000,
                          "max_backoff_ms": 600000, "payload": ""})");
  };
  const std::string none("\x02", 1);  // the index's raw empty value
  put(d.data, rows, enc(ark::key{"reminder", ark::key{"a"}, "tea"}), alarm(5000));
  put(d.data, index, enc(ark::key{5000, "reminder", ark::key{"a"}, "tea"}), none);
  auto sound = run_dash({"verify", "--data", d.data});
  CHECK_MESSAGE(sound.status == 0, sound.out);

  put(d.data, rows, enc(ark::key{"reminder", "a", "flat"}), alarm(6000));
  put(d.data, rows, enc(ark::key{"reminder", ark::key{"b"}, "bad"}), msgpack_of(R"("garbage")"));
  put(d.data, index, enc(ark::key{1, "reminder", ark::key{"b"}, "bad"}), none);
  put(d.data, rows, enc(ark::key{"reminder", ark::key{"c"}, "lonely"}), alarm(7000));
  put(d.data, index, enc(ark::key{"x"}), none);
  put(d.data, index, enc(ark::key{9000, "reminder", ark::key{"a"}, "tea"}), none);
  auto r = run_dash({"verify", "--data", d.data});
  INFO(r.out);
  CHECK(r.status == 1);
  const std::vector<std::string> expected{
      R"(space [null,"alarms"] key ["reminder","a","flat"]: the key is not an alarm [type, key, name])",
      R"(space [null,"alarms"] key ["reminder",["b"],"bad"]: the alarm does not decode)",
      R"(space [null,"alarm_due"] key ["x"]: the key is not a due-index entry [due_ms, type, key, name])",
      R"(space [null,"alarms"] key ["reminder",["c"],"lonely"]: the alarm has no due-index entry [7000,"reminder",["c"],"lonely"], so it never fires)",
      R"(space [null,"alarm_due"] key [9000,"reminder",["a"],"tea"]: no alarm is due at this time)",
  };
  for (const auto& line : expected) {
    CAPTURE(line);
    CHECK(has(r.out, line));
  }
  CHECK(has(r.out, ": 5 problems\n"));
  // The remedy the stale entry names makes the index clean again.
  auto del = run_dash({"kv", "delete", "--data", d.data, "--space", R"([null,"alarm_due"])",
                       R"([9000,"reminder",["a"],"tea"])"});
  CHECK(del.status == 0);
  CHECK_FALSE(has(run_dash({"verify", "--data", d.data}).out, "no alarm is due"));
}

TEST_CASE("the remedy named by a damaged snapshot error makes verify clean again") {
  clean_dir d;
  put(d.data, state_space, identity("counter", "broken"), "\x01\xc1");
  CHECK(run_dash({"verify", "--data", d.data}).status == 1);
  // The command the runtime's corrupt_snapshot error prints.
  auto del = run_dash({"kv", "delete", "--data", d.data, "--space", R"([null,"state"])",
                       R"(["counter",["broken"]])"});
  CHECK(del.status == 0);
  CHECK(del.out == "deleted [\"counter\",[\"broken\"]]\n");
  CHECK(run_dash({"verify", "--data", d.data}).status == 0);
}

TEST_CASE("verify refuses a directory of a newer storage format with status 1") {
  clean_dir d;
  ark::test::set_format_version(d.data, ark::kv::storage_format_version + 1);
  auto r = run_dash({"verify", "--data", d.data});
  CHECK(r.status == 1);
  CHECK(r.out.empty());
  CHECK(has(r.err, "format_version: data directory " + d.data + " has storage format version " +
                       std::to_string(ark::kv::storage_format_version + 1)));
  CHECK(has(r.err, "upgrade ark"));
}

TEST_CASE("the actor views, query and dump refuse a directory of a newer storage format") {
  clean_dir d;
  ark::test::set_format_version(d.data, ark::kv::storage_format_version + 1);
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"actors", "--data", d.data},
                                             {"state", "counter", "a", "--data", d.data},
                                             {"kv", "show", "counter", "a", "--data", d.data},
                                             {"stats", "--data", d.data},
                                             {"alarms", "--data", d.data},
                                             {"query", "counter", "--data", d.data},
                                             {"dump", "--data", d.data, "--out", "-"}}) {
    auto r = run_dash(args);
    CHECK_MESSAGE(r.status == 1, args[0]);
    CHECK_MESSAGE(has(r.err, "has storage format version " +
                                 std::to_string(ark::kv::storage_format_version + 1)),
                  args[0] << ": " << r.err);
    CHECK(has(r.err, "upgrade ark"));
  }
}

TEST_CASE("verify exits 1 for a missing directory and 2 for bad usage and --help explains it") {
  ark::test::temp_dir dir;
  auto missing = run_dash({"verify", "--data", dir.sub("nope")});
  CHECK(missing.status == 1);
  CHECK(has(missing.err, "no_data_dir"));
  CHECK(run_dash({"verify", "--bogus"}).status == 2);
  CHECK(run_dash({"verify", "extra-argument"}).status == 2);
  auto help = run_dash({"verify", "--help"});
  CHECK(help.status == 0);
  CHECK(has(help.out, "--json"));
  CHECK(has(help.out, "Exit status: 0 no problems, 1 problems found"));
  CHECK(has(run_dash({"--help"}).out, "verify"));
}

// -- SQLite data directories -----------------------------------------------------

namespace {

// `text` with every occurrence of `from` replaced by `to`.
std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

}  // namespace

TEST_CASE("the read verbs show a SQLite data directory exactly as the same data in LMDB") {
  clean_dir lmdb;
  clean_dir sqlite(ark::kv::backend_kind::sqlite);
  REQUIRE(ark::kv::detect_backend(sqlite.data).value() == ark::kv::backend_kind::sqlite);
  for (const auto& verb :
       std::vector<std::vector<std::string>>{{"actors"},
                                             {"actors", "--json"},
                                             {"state", "counter", "a"},
                                             {"state", "counter", "b", "--json"},
                                             {"kv", "show", "counter", "a"},
                                             {"query", "counter", "--where", "value>=4"},
                                             {"kv", "list", "--space", "board"},
                                             {"kv", "spaces"},
                                             {"verify"},
                                             {"verify", "--json"},
                                             {"dump", "--out", "-"}}) {
    auto args = verb;
    args.insert(args.end(), {"--data", lmdb.data});
    auto from_lmdb = run_dash(args);
    args.back() = sqlite.data;
    auto from_sqlite = run_dash(args);
    CAPTURE(verb[0]);
    INFO(from_sqlite.err);
    CHECK(from_lmdb.status == 0);
    CHECK(from_sqlite.status == 0);
    CHECK(!from_sqlite.out.empty());
    CHECK(replace_all(from_sqlite.out, sqlite.data, "DATA") ==
          replace_all(from_lmdb.out, lmdb.data, "DATA"));
  }
  auto stats = run_dash({"stats", "--data", sqlite.data, "--json"});
  CHECK(stats.status == 0);
  CHECK(nlohmann::json::parse(stats.out)["actors"] == 2);
}

TEST_CASE("dump and load convert a data directory between LMDB and SQLite") {
  clean_dir lmdb;
  const std::string converted = lmdb.dir.sub("converted"), back = lmdb.dir.sub("back");
  const std::string dump1 = lmdb.dir.sub("1.jsonl"), dump2 = lmdb.dir.sub("2.jsonl");
  REQUIRE(run_dash({"dump", "--data", lmdb.data, "--out", dump1}).status == 0);
  auto load = run_dash({"load", "--data", converted, "--in", dump1, "--backend", "sqlite"});
  INFO(load.err);
  REQUIRE(load.status == 0);
  CHECK(ark::kv::detect_backend(converted).value() == ark::kv::backend_kind::sqlite);
  REQUIRE(run_dash({"dump", "--data", converted, "--out", dump2}).status == 0);
  REQUIRE(run_dash({"load", "--data", back, "--in", dump2}).status == 0);
  CHECK(ark::kv::detect_backend(back).value() == ark::kv::backend_kind::lmdb);
  auto a = run_dash({"dump", "--data", lmdb.data, "--out", "-"});
  auto b = run_dash({"dump", "--data", back, "--out", "-"});
  CHECK(replace_all(b.out, back, "DATA") == replace_all(a.out, lmdb.data, "DATA"));
  CHECK(run_dash({"verify", "--data", converted}).status == 0);

  SUBCASE("an explicit --backend must match an existing directory") {
    auto r =
        run_dash({"kv", "put", "--data", converted, "--backend", "lmdb", "--space", "s", "k", "1"});
    CHECK(r.status == 2);
    CHECK(has(r.err, "created with --backend sqlite"));
    auto bad = run_dash({"load", "--data", lmdb.dir.sub("x"), "--in", dump1, "--backend", "rocks"});
    CHECK(bad.status == 2);
    CHECK(has(bad.err, "choose lmdb, sqlite or postgres"));
  }
  SUBCASE("without --backend, kv put keeps the directory's backend") {
    REQUIRE(run_dash({"kv", "put", "--data", converted, "--space", "s", "k", "1"}).status == 0);
    CHECK(ark::kv::detect_backend(converted).value() == ark::kv::backend_kind::sqlite);
    CHECK(run_dash({"kv", "get", "--data", converted, "--space", "s", "k"}).out == "1\n");
  }
}

TEST_CASE("verify on a SQLite directory reports damaged entries and SQLite's own findings") {
  clean_dir d(ark::kv::backend_kind::sqlite);
  put(d.data, d.board, enc(ark::key{"bad-tag"}), "\x07zz", ark::kv::backend_kind::sqlite);
  // An orphan page: one more page in the file and in its header's page count,
  // that no table uses. Only SQLite's integrity_check can see it.
  {
    const std::string file = d.data + "/ark.sqlite";
    std::ifstream in(file, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(bytes.size() >= 100);
    auto u = [&](std::size_t at, int n) {
      std::uint32_t v = 0;
      for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
      return v;
    };
    const std::uint32_t page_size = u(16, 2), pages = u(28, 4);
    REQUIRE(bytes.size() == std::size_t{page_size} * pages);  // the WAL was checkpointed
    for (int i = 0; i < 4; ++i)
      bytes[28 + i] = static_cast<char>(((pages + 1) >> (8 * (3 - i))) & 0xff);
    bytes.append(page_size, '\0');
    std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
  }
  auto r = run_dash({"verify", "--data", d.data});
  INFO(r.err);
  CHECK(r.status == 1);
  CHECK(has(r.out, "space [\"board\"] key [\"bad-tag\"]: stored value has unknown kind tag 0x07"));
  CHECK(has(r.out, "file " + d.data + "/ark.sqlite: integrity_check: "));
  CHECK(has(r.out, "is never used"));
  CHECK(has(r.out, "2 problems"));
  auto j = run_dash({"verify", "--data", d.data, "--json"});
  auto lines = json_lines(j.out);
  REQUIRE(lines.size() == 3);
  CHECK(lines[1]["in"] == "file");
}

TEST_CASE("the read verbs refuse a SQLite directory of a newer storage format") {
  clean_dir d(ark::kv::backend_kind::sqlite);
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((d.data + "/ark.sqlite").c_str(), &db) == SQLITE_OK);
    auto sql = "UPDATE meta SET value = " + std::to_string(ark::kv::storage_format_version + 1) +
               " WHERE name = 'format_version'";
    CHECK(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"verify", "--data", d.data},
           {"actors", "--data", d.data},
           {"query", "counter", "--data", d.data},
           {"dump", "--data", d.data, "--out", "-"},
           {"kv", "put", "--data", d.data, "--space", "s", "k", "1"}}) {
    auto r = run_dash(args);
    CHECK_MESSAGE(r.status == 1, args[0]);
    CHECK_MESSAGE(has(r.err, "has storage format version " +
                                 std::to_string(ark::kv::storage_format_version + 1)),
                  args[0] << ": " << r.err);
    CHECK(has(r.err, "upgrade ark"));
  }
}
