// ark-dash on records that fail their checksum (storage format 2), with the
// bytes flipped in the closed file itself, on LMDB and SQLite: verify lists
// every damaged record by name and exits 1; dump refuses them, naming each,
// or leaves them out when told; the actor listing marks a corrupt actor;
// upgrade brings a format-1 directory to format 2, which read verbs ask for.

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "ark/kv/json.hpp"
#include "ark/kv/open.hpp"
#include "support/damage.hpp"
#include "support/lmdb_raw.hpp"
#include "tools/dash_runner.hpp"
#include "tools/stored_bytes.hpp"

namespace {

using ark::test::run_dash;
using namespace ark::test::stored_bytes;

// A state journal record (doc/state_format.md) with one snapshot entry.
std::string journal_record(const std::string& identity, const std::string& snapshot) {
  return "\x01" + journal_entry(1, identity, snapshot);
}

using engine = ark::test::embedded_engine;
const auto& engines = ark::test::embedded_engines;

// A directory with one record of each kind, each holding a distinctive
// string the tests find in the file: a KV value, a snapshot, a journal
// record, and (with_alarm) an alarm row (without its due-index entry: only
// for the test that damages it); and a sound KV value next to them.
struct sample {
  ark::test::temp_dir dir;
  std::string data = dir.sub("data");
  const engine& e;

  explicit sample(const engine& en, bool with_alarm = false) : e(en) {
    ark::kv::open_options o;
    o.kind = e.kind;
    auto db = ark::kv::open_backend(data, o);
    REQUIRE_MESSAGE(db, (db ? "" : db.error().message()));
    ark::kv::backend_batch b;
    b.put(enc(ark::key{"board"}), enc(ark::key{"note"}), msgpack_of(R"("kv needle 1111")"));
    b.put(enc(ark::key{"board"}), enc(ark::key{"sound"}), msgpack_of(R"("fine")"));
    b.put(state_space, enc(ark::key{"counter", ark::key{"a"}}),
          msgpack_of(R"({"schema": 1, "state": {"v": "snapshot needle 2222"}})"));
    b.put(journal_space, ark::kv::be64(1),
          journal_record(enc(ark::key{"counter", ark::key{"b"}}),
                         msgpack_of(R"({"schema": 1, "state": {"v": "journal needle 3333"}})")));
    if (with_alarm)
      b.put(alarm_space, enc(ark::key{"counter", ark::key{"a"}, "wake"}),
            msgpack_of(R"("alarm needle 4444")"));
    REQUIRE((*db)->apply(b));
  }
  void flip(const std::string& needle) {
    REQUIRE(ark::test::flip_in_file(data + "/" + e.file, needle, 2) >= 1);
  }
};

}  // namespace

TEST_CASE("verify lists every record that fails its checksum, by name, and exits 1") {
  for (const auto& e : engines) {
    INFO(e.name);
    sample s(e, true);
    s.flip("kv needle 1111");
    s.flip("snapshot needle 2222");
    s.flip("journal needle 3333");
    s.flip("alarm needle 4444");
    auto r = run_dash({"verify", "--data", s.data});
    INFO(r.out);
    INFO(r.err);
    CHECK(r.status == 1);
    for (const auto& line : std::vector<std::string>{
             R"(space ["board"] key ["note"]: fails its checksum)",
             R"(snapshot of actor ["counter",["a"]]: fails its checksum)",
             R"(journal record 1: fails its checksum)",
             R"(space [null,"alarms"] key ["counter",["a"],"wake"]: fails its checksum)",
         }) {
      CAPTURE(line);
      CHECK(has(r.out, line));
    }
    CHECK(has(r.out, "restore the data directory from a backup"));
    CHECK(has(r.out, ": 4 problems\n"));
    CHECK_FALSE(has(r.out, "[\"sound\"]"));

    auto j = run_dash({"verify", "--data", s.data, "--json"});
    CHECK(j.status == 1);
    CHECK(has(j.out, R"("actor":["counter",["a"]],"in":"state","problem":"fails its checksum)"));
  }
}

TEST_CASE("verify names a space id that fails its checksum") {
  for (const auto& e : engines) {
    INFO(e.name);
    sample s(e);
    if (e.kind == ark::kv::backend_kind::lmdb)
      ark::test::raw_put(s.data, "spaces", enc(ark::key{"board"}),
                         ark::kv::be64(1) + std::string("\0\0\0\0", 4));
    else
      ark::test::sqlite_exec(s.data + "/ark.sqlite",
                             "UPDATE spaces SET sum = sum + 1 WHERE json = '[\"board\"]'");
    auto r = run_dash({"verify", "--data", s.data});
    INFO(r.out);
    CHECK(r.status == 1);
    CHECK(has(r.out, R"(space ["board"]: its space id fails its checksum)"));
  }
}

TEST_CASE("dump refuses damaged records, naming each, and --skip-damaged leaves them out") {
  for (const auto& e : engines) {
    INFO(e.name);
    sample s(e);
    s.flip("kv needle 1111");
    s.flip("snapshot needle 2222");
    const auto out = s.dir.sub("dump.jsonl");
    auto r = run_dash({"dump", "--data", s.data, "--out", out});
    INFO(r.err);
    CHECK(r.status == 1);
    CHECK(has(r.err, "2 records fail their checksum"));
    CHECK(has(r.err, R"(space ["board"] key ["note"])"));
    CHECK(has(r.err, R"(space [null,"state"] key ["counter",["a"]])"));
    CHECK(has(r.err, "--skip-damaged"));
    CHECK_FALSE(std::filesystem::exists(out));  // no partial dump left behind

    auto skip = run_dash({"dump", "--data", s.data, "--out", out, "--skip-damaged"});
    INFO(skip.err);
    CHECK(skip.status == 0);
    CHECK(has(skip.err, R"(skipped (fails its checksum): space ["board"] key ["note"])"));
    CHECK(has(skip.err, "skipping 2 damaged"));
    // What was dumped loads, and the copy is sound.
    auto copy = s.dir.sub("copy");
    auto load = run_dash({"load", "--data", copy, "--in", out});
    INFO(load.err);
    CHECK(load.status == 0);
    auto v = run_dash({"verify", "--data", copy});
    CHECK(v.status == 0);
    CHECK(has(v.out, "2 keys"));  // sound, and the journal record

    // An existing --out is never overwritten.
    auto again = run_dash({"dump", "--data", copy, "--out", out});
    CHECK(again.status == 1);
    CHECK(has(again.err, out + " exists"));
    CHECK(std::filesystem::file_size(out) > 0);
  }
}

TEST_CASE("the actor listing marks an actor whose snapshot fails its checksum as corrupt") {
  for (const auto& e : engines) {
    INFO(e.name);
    sample s(e);
    s.flip("snapshot needle 2222");
    auto r = run_dash({"actors", "--data", s.data});
    INFO(r.out);
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK(has(r.out, "CORRUPT (fails its checksum)"));
    auto j = run_dash({"actors", "--data", s.data, "--json"});
    auto listed = nlohmann::json::parse(j.out);
    REQUIRE(listed["actors"].size() == 2);  // a (damaged) and b (in the journal)
    CHECK(listed["actors"][0]["key"] == nlohmann::json::array({"a"}));
    CHECK(listed["actors"][0]["corrupt"] == true);
    CHECK_FALSE(listed["actors"][1].contains("corrupt"));
    auto st = run_dash({"state", "counter", "a", "--data", s.data});
    CHECK(st.status == 1);
    CHECK(has(st.err, "fails its checksum"));
  }
}

TEST_CASE("upgrade brings a format-1 directory to format 2, which read verbs ask for until then") {
  for (const auto& e : engines) {
    INFO(e.name);
    sample s(e);
    if (e.kind == ark::kv::backend_kind::lmdb)
      ark::test::downgrade_lmdb_to_v1(s.data);
    else
      ark::test::downgrade_sqlite_to_v1(s.data);
    auto r = run_dash({"verify", "--data", s.data});
    INFO(r.err);
    CHECK(r.status == 1);
    CHECK(has(r.err, "storage format version 1"));
    CHECK(has(r.err, "`ark-dash upgrade --data " + s.data + "`"));
    auto up = run_dash({"upgrade", "--data", s.data});
    INFO(up.out);
    INFO(up.err);
    CHECK(up.status == 0);
    CHECK(has(up.out, "upgraded " + s.data + " to storage format 2"));
    auto v = run_dash({"verify", "--data", s.data});
    INFO(v.out);
    CHECK(v.status == 0);
    CHECK(has(v.out, "4 keys"));
    auto again = run_dash({"upgrade", "--data", s.data});
    CHECK(again.status == 0);
    CHECK(has(again.out, "nothing to do"));
  }
}
