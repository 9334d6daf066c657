// `ark-dash migrate`: the real binary loads a real actor module
// (ARK_MIGRATION_MODULE, the types of tests/actors/migrating_actor.hpp) and
// works on a data directory holding snapshots of older schemas.

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/migrating_actor.hpp"
#include "actors/stored.hpp"
#include "test_util.hpp"
#include "tools/dash_runner.hpp"

namespace {

namespace st = ark::test::stored;
using json = nlohmann::json;

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct ghost_state {
  std::int64_t boo = 1;
  MSGPACK_DEFINE_MAP(boo)
};

// A data directory with actors of every kind migrate reports:
//   mig a      schema 1, two notes to move          -> migrates
//   mig j      schema 1 in the state journal, a stale copy in place -> migrates
//   mig f      schema 1, its step 2 -> 3 fails       -> fails
//   mig c      schema 3                              -> current
//   gappy g    schema 1, no step from 1              -> fails
//   ghost x    no module registers "ghost"           -> unknown type
struct migrate_fixture {
  ark::test::temp_dir dir;
  std::string data = dir.sub("data");

  migrate_fixture() {
    st::plant(data, "mig", "a", 1, mig::settings_v1{"ann", 7}, {{"n1", "first"}, {"n2", "second"}});
    st::plant(data, "mig", "j", 1, mig::settings_v1{"stale", 1});
    st::plant(data, "mig", "f", 1, mig::settings_v1{"fail", 2}, {{"n1", "kept"}});
    st::plant(data, "mig", "c", 3, mig::settings{"cal", 3, 0});
    st::plant(data, "gappy", "g", 1, mig::settings_v1{"gus", 4});
    st::plant(data, "ghost", "x", 1, ghost_state{});
    // The journal holds the newest snapshot of j (as a host that crashed
    // before its checkpoint leaves it).
    auto db = st::open_dir(data);
    ark::stored::journal_record rec;
    rec.add(ark::stored::journal_entry::snapshot, st::identity("mig", "j"),
            ark::stored::make_snapshot(1, st::packed(mig::settings_v1{"jay", 5})));
    ark::kv::backend_batch b;
    b.put(ark::stored::journal_space(), ark::stored::journal_key(1), rec.bytes());
    REQUIRE(db->apply(b));
  }

  std::vector<std::string> args(std::initializer_list<std::string> extra) const {
    std::vector<std::string> out{"migrate", "--data", data, "--module", ARK_MIGRATION_MODULE};
    out.insert(out.end(), extra);
    return out;
  }
};

}  // namespace

TEST_CASE(
    "migrate --dry-run reports every actor's migration, failure and unknown type, and changes "
    "nothing") {
  migrate_fixture fx;
  const auto before = file_bytes(fx.data + "/data.mdb");
  REQUIRE_FALSE(before.empty());
  auto r = ark::test::run_dash(fx.args({"--dry-run"}));
  INFO("stdout: " << r.out);
  INFO("stderr: " << r.err);
  CHECK(r.status == 1);  // some would fail, one type is unknown
  CHECK(contains(r.out,
                 "mig [\"a\"]: would migrate from schema 1 to 3 (fields -count, +notes, "
                 "+visits)\n"
                 "  before: {\"count\":7,\"name\":\"ann\"}\n"
                 "  after:  {\"name\":\"ann\",\"notes\":2,\"visits\":7}\n"
                 "  kv del [\"note\",\"n1\"]\n"
                 "  kv del [\"note\",\"n2\"]\n"
                 "  kv put [\"notes\",\"n1\"] = \"first\"\n"
                 "  kv put [\"notes\",\"n2\"] = \"second\"\n"));
  // The journal's copy of j is the newest, not the stale one in place.
  CHECK(contains(r.out, "  before: {\"count\":5,\"name\":\"jay\"}\n"));
  CHECK(contains(r.out,
                 "mig [\"f\"]: would fail: migration_failed: actor mig [\"f\"]: the "
                 "migration from schema 1 to 3 failed in the step 2 -> 3"));
  CHECK(contains(r.out, "the name 'fail' is refused on purpose"));
  CHECK(contains(r.out,
                 "gappy [\"g\"]: would fail: migration_failed: actor gappy [\"g\"]: its "
                 "snapshot has schema 1 and this code's schema is 3, but no migration "
                 "step from 1 to 2 is registered"));
  CHECK(contains(r.out, "unknown type ghost: 1 actor(s) whose type no loaded module registers"));
  CHECK_FALSE(contains(r.out, "mig [\"c\"]"));  // current: counted, not listed
  CHECK(contains(r.out, "2 actor(s) would migrate, 2 would fail, 1 of unknown types, 1 current\n"));
  // Nothing was written: the database file is byte for byte the same.
  CHECK(file_bytes(fx.data + "/data.mdb") == before);
}

TEST_CASE("migrate --dry-run --json prints one document with states, KV writes and errors") {
  migrate_fixture fx;
  auto r = ark::test::run_dash(fx.args({"--dry-run", "--json", "--type", "mig"}));
  INFO("stderr: " << r.err);
  CHECK(r.status == 1);  // f would fail
  auto doc = json::parse(r.out, nullptr, false);
  REQUIRE_FALSE(doc.is_discarded());
  CHECK(doc["dry_run"] == true);
  CHECK(doc["summary"] == json{{"migrate", 2}, {"fail", 1}, {"unknown", 0}, {"current", 1}});
  CHECK(doc["unknown_types"].empty());  // --type mig: ghost is not looked at
  std::map<std::string, json> by_key;
  for (const auto& e : doc["actors"]) by_key[e["key"][0].get<std::string>()] = e;
  REQUIRE(by_key.count("a"));
  const auto& a = by_key["a"];
  CHECK(a["status"] == "migrate");
  CHECK(a["from"] == 1);
  CHECK(a["to"] == 3);
  CHECK(a["before"] == json{{"name", "ann"}, {"count", 7}});
  CHECK(a["after"] == json{{"name", "ann"}, {"visits", 7}, {"notes", 2}});
  CHECK(a["kv"].size() == 4);
  CHECK(a["kv"][2] == json{{"op", "put"}, {"key", {"notes", "n1"}}, {"value", "first"}});
  REQUIRE(by_key.count("f"));
  CHECK(by_key["f"]["status"] == "fail");
  CHECK(by_key["f"]["error"]["code"] == "migration_failed");
  CHECK(by_key["f"]["from"] == 1);
  CHECK(by_key["f"]["to"] == 3);
}

TEST_CASE(
    "migrate --apply writes each migration in one transaction and leaves failures untouched") {
  migrate_fixture fx;
  const auto f_before = st::stored_snapshot(fx.data, "mig", "f");
  SUBCASE("refused while another process holds the data directory") {
    auto held = st::open_dir(fx.data);  // the writer lock, as a running host holds it
    auto r = ark::test::run_dash(fx.args({"--apply"}));
    CHECK(r.status == 1);
    CHECK(contains(r.err, "locked"));
    return;
  }
  auto r = ark::test::run_dash(fx.args({"--apply", "--type", "mig"}));
  INFO("stdout: " << r.out);
  INFO("stderr: " << r.err);
  CHECK(r.status == 1);  // f failed
  CHECK(contains(r.out, "mig [\"a\"]: migrated from schema 1 to 3"));
  CHECK(contains(r.out, "mig [\"f\"]: failed (left unchanged): migration_failed"));
  CHECK(contains(r.out,
                 "2 actor(s) migrated, 1 failed (left unchanged), 0 of unknown types, 1 "
                 "current\n"));
  // a: the new snapshot and the moved notes, together.
  auto a = ark::stored::parse_snapshot(st::stored_snapshot(fx.data, "mig", "a"));
  REQUIRE(a);
  CHECK(a->schema == 3);
  mig::settings s;
  REQUIRE(ark::kv::convert_msgpack(a->state, s));
  CHECK(s.visits == 7);
  CHECK(s.notes == 2);
  CHECK(st::stored_kv(fx.data, "mig", "a", ark::key{"notes", "n2"}) == "second");
  CHECK_FALSE(st::stored_kv(fx.data, "mig", "a", ark::key{"note", "n2"}));
  // j: migrated from the journal's copy, which no longer wins at the next open.
  auto j = ark::stored::parse_snapshot(st::stored_snapshot(fx.data, "mig", "j"));
  REQUIRE(j);
  CHECK(j->schema == 3);
  REQUIRE(ark::kv::convert_msgpack(j->state, s));
  CHECK(s.name == "jay");
  CHECK(s.visits == 5);
  // f: untouched, its KV too.
  CHECK(st::stored_snapshot(fx.data, "mig", "f") == f_before);
  CHECK(st::stored_kv(fx.data, "mig", "f", ark::key{"note", "n1"}) == "kept");
  CHECK_FALSE(st::stored_kv(fx.data, "mig", "f", ark::key{"notes", "n1"}));
  // A second dry run has nothing left to migrate.
  auto again = ark::test::run_dash(fx.args({"--dry-run", "--type", "mig"}));
  CHECK(contains(again.out,
                 "0 actor(s) would migrate, 1 would fail, 0 of unknown types, 3 "
                 "current\n"));
}

TEST_CASE("migrate needs --dry-run or --apply, a module, and modules that load") {
  migrate_fixture fx;
  auto neither = ark::test::run_dash(fx.args({}));
  CHECK(neither.status == 2);
  CHECK(
      contains(neither.err, "pass --dry-run to see what the migrations would change, or --apply"));
  auto both = ark::test::run_dash(fx.args({"--dry-run", "--apply"}));
  CHECK(both.status == 2);
  auto no_module = ark::test::run_dash({"migrate", "--data", fx.data, "--dry-run"});
  CHECK(no_module.status == 2);
  CHECK(contains(no_module.err, "--module"));
  auto bad = ark::test::run_dash(
      {"migrate", "--data", fx.data, "--module", fx.dir.sub("missing.so"), "--dry-run"});
  CHECK(bad.status == 2);
  CHECK(contains(bad.err, "cannot load it"));
  auto unknown = ark::test::run_dash(fx.args({"--dry-run", "--type", "nosuch"}));
  CHECK(unknown.status == 1);
  CHECK(contains(unknown.err, "--type nosuch: no loaded module registers it"));
}
