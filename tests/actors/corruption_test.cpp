// Damaged bytes in a real data directory: a corrupt snapshot fails that one
// actor's activation with an error naming it, what is wrong and the remedy;
// a corrupt KV value fails the message that reads it; a corrupt journal
// record refuses the directory. Nothing crashes, nothing else is harmed.

#include <doctest/doctest.h>

#include <ark/kv/lmdb_backend.hpp>
#include <ark/kv/open.hpp>
#include <ark/kv/store.hpp>
#include <ark/stored_format.hpp>

#include "actors/host_env.hpp"
#include "support/damage.hpp"

namespace {

using namespace std::chrono_literals;
using ark::test::host_env;
using namespace probe;

bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

std::shared_ptr<ark::kv::lmdb_backend> open_dir(const std::string& dir) {
  auto db = ark::kv::lmdb_backend::open(dir, {});
  REQUIRE_MESSAGE(db, (db ? "" : db.error().message()));
  return *db;
}

std::string identity(const std::string& type, const std::string& key) {
  auto id = ark::stored::make_identity(type, ark::key{key});
  REQUIRE(id);
  return id->encoded;
}

// The stored snapshot of probe `key` in the (closed) data directory `dir`.
std::string snapshot_of(const std::string& dir, const std::string& key) {
  auto db = open_dir(dir);
  auto v = db->get(ark::stored::state_space(), identity("probe", key));
  REQUIRE_MESSAGE(v, (v ? "" : v.error().message()));
  return *v;
}

// Overwrites the stored snapshot of probe `key` with `bytes`.
void put_snapshot(const std::string& dir, const std::string& key, std::string bytes) {
  auto db = open_dir(dir);
  ark::kv::backend_batch b;
  b.put(ark::stored::state_space(), identity("probe", key), std::move(bytes));
  REQUIRE(db->apply(b));
}

// A msgpack payload (no tag) of `v`.
template <class T>
std::string packed(const T& v) {
  return std::string(ark::kv::value::pack(v).payload());
}

// The error a runtime opening `env`'s (stopped) data directory fails with.
ark::error refused_open(const host_env& env) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto r = ark::runtime::open(sys, env.opts);
  REQUIRE_FALSE(r);
  return r.error();
}

ark::error get_error(host_env& env, const std::string& key) {
  auto h = env.rt->get_or_create<probe_if>("probe", key, std::int64_t{0});
  REQUIRE_MESSAGE(h, (h ? "" : h.error().message()));
  auto v = env.call<std::int64_t>(*h, get_atom::value);
  REQUIRE_MESSAGE(!v, "the damaged actor answered " << (v ? *v : 0));
  return v.error();
}

}  // namespace

TEST_CASE("a damaged snapshot fails only that actor with an error naming it and the remedy") {
  host_env env;
  CHECK(ark::test::value_of(env, env.probe("good", 10)) == 10);
  CHECK(ark::test::value_of(env, env.probe("bad", 20)) == 20);
  env.stop();
  const std::string valid = snapshot_of(env.opts.data_dir, "bad");
  std::string bytes, fault;
  SUBCASE("msgpack that does not decode") {
    bytes = std::string("\x01\xc1", 2);  // 0xc1 is never used by msgpack
    fault = "is damaged (msgpack value does not decode";
  }
  SUBCASE("truncated") {
    bytes = valid.substr(0, valid.size() / 2);
    fault = "is damaged (msgpack value does not decode";
  }
  SUBCASE("trailing bytes") {
    bytes = valid + "\x01";
    fault = "trailing bytes";
  }
  SUBCASE("an unknown tag") {
    bytes = "\x07" + valid.substr(1);
    fault = "unknown kind tag 0x07";
  }
  SUBCASE("empty") {
    bytes = "";
    fault = "is damaged (stored value is empty";
  }
  SUBCASE("raw bytes instead of msgpack") {
    bytes = "\x02" + valid.substr(1);
    fault = "holds raw bytes";
  }
  SUBCASE("msgpack that is not a {schema, state} map") {
    bytes = "\x01" + packed(std::vector<int>{1, 2});
    fault = "is not a {schema, state} map";
  }
  SUBCASE("a state of the wrong type") {
    bytes = ark::stored::make_snapshot(1, packed(std::string("not a probe state")));
    fault = "does not convert into the state type";
  }
  put_snapshot(env.opts.data_dir, "bad", bytes);
  env.start();

  auto e = get_error(env, "bad");
  INFO(e.message());
  CHECK(e.code() == ark::errc::corrupt_snapshot);
  const auto m = e.message();
  CHECK(has(m, "actor probe [\"bad\"]: its state snapshot "));
  CHECK(has(m, fault));
  CHECK(has(m, "restore the data directory from a backup"));
  CHECK(has(m, "`ark-dash kv delete --data " + env.opts.data_dir +
                   " --space '[null,\"state\"]' '[\"probe\",[\"bad\"]]'`"));
  // The other actor, and new ones, are unharmed.
  CHECK(ark::test::value_of(env, env.probe("good")) == 10);
  CHECK(ark::test::value_of(env, env.probe("fresh", 3)) == 3);
  // Every message to it fails alike (no half-activated actor with a default
  // state answers), and a later activation gets the same error.
  auto h = env.rt->get_or_create<probe_if>("probe", "bad", std::int64_t{0});
  REQUIRE(h);
  auto add = env.call<std::int64_t>(*h, add_atom::value, std::int64_t{1});
  REQUIRE_FALSE(add);
  CHECK(add.error().message() == m);
  CHECK(get_error(env, "bad").message() == m);

  // The remedy the message gives works: without its snapshot the actor
  // starts anew (on_initialize runs with the new arguments).
  env.stop();
  {
    auto st = ark::kv::store::open(open_dir(env.opts.data_dir), ark::key{nullptr, "state"});
    REQUIRE(st);
    auto gone = st->del(ark::key{"probe", ark::key{"bad"}});
    REQUIRE(gone);
    CHECK(*gone);
  }
  env.start();
  CHECK(ark::test::value_of(env, env.probe("bad", 7)) == 7);
  CHECK(ark::test::value_of(env, env.probe("good")) == 10);
}

TEST_CASE("a damaged snapshot in a journal record fails that actor like one in place") {
  host_env env;
  CHECK(ark::test::value_of(env, env.probe("good", 1)) == 1);
  CHECK(ark::test::value_of(env, env.probe("bad", 2)) == 2);
  env.stop();  // checkpoints: the journal is empty
  {
    ark::stored::journal_record rec;
    rec.add(ark::stored::journal_entry::snapshot, identity("probe", "bad"),
            std::string("\x01\xc1", 2));
    auto db = open_dir(env.opts.data_dir);
    ark::kv::backend_batch b;
    b.put(ark::stored::journal_space(), ark::stored::journal_key(1), rec.bytes());
    REQUIRE(db->apply(b));
  }
  env.start();  // the record frames fine: the directory opens
  auto e = get_error(env, "bad");
  INFO(e.message());
  CHECK(e.code() == ark::errc::corrupt_snapshot);
  CHECK(has(e.message(), "actor probe [\"bad\"]: its state snapshot is damaged"));
  CHECK(has(e.message(), "ark-dash kv delete"));
  CHECK(ark::test::value_of(env, env.probe("good")) == 1);
}

TEST_CASE("a snapshot of a newer schema is refused with format_version naming the actor") {
  host_env env;
  CHECK(ark::test::value_of(env, env.probe("newer", 5)) == 5);
  env.stop();
  put_snapshot(env.opts.data_dir, "newer", ark::stored::make_snapshot(99, packed(probe_state{})));
  env.start();
  auto e = get_error(env, "newer");
  CHECK(e.code() == ark::errc::format_version);
  CHECK(has(e.message(), "actor probe [\"newer\"]"));
  CHECK(has(e.message(), "schema 99"));
}

TEST_CASE(
    "a damaged KV value fails only the message that reads it and the error names the actor "
    "and key") {
  host_env env;
  auto a = env.probe("a", 0);
  REQUIRE(*env.call<bool>(a, put_kv_atom::value, std::string("x"), std::string("1")));
  REQUIRE(*env.call<bool>(a, put_kv_atom::value, std::string("y"), std::string("2")));
  CHECK(*env.call<std::int64_t>(a, add_atom::value, std::int64_t{4}) == 4);
  env.stop();
  std::string bytes, fault;
  bool list_fails = false;
  SUBCASE("an unknown tag") {
    bytes = "\x07zz";
    fault = "unknown kind tag 0x07";
    list_fails = true;  // listing checks every entry's tag
  }
  SUBCASE("an empty value") {
    bytes = "";
    fault = "stored value is empty";
    list_fails = true;
  }
  SUBCASE("msgpack that does not decode") {
    bytes = std::string("\x01\xc1", 2);
    fault = "msgpack value does not decode";
  }
  SUBCASE("msgpack with trailing bytes") {
    bytes = "\x01" + packed(std::string("1")) + "xx";
    fault = "2 trailing bytes";
  }
  {
    auto st = ark::kv::store::open(open_dir(env.opts.data_dir), ark::key{"probe", ark::key{"a"}});
    REQUIRE(st);
    auto k = ark::kv::encode_user_key(ark::key{"k", "x"});
    REQUIRE(k);
    ark::kv::backend_batch b;
    b.put(st->encoded_space(), *k, bytes);
    REQUIRE(st->engine().apply(b));
  }
  env.start();
  a = env.probe("a");
  auto x = env.call<std::string>(a, get_kv_atom::value, std::string("x"));
  REQUIRE_FALSE(x);
  INFO(x.error().message());
  CHECK(x.error().code() == ark::errc::corrupt_value);
  CHECK(has(x.error().message(),
            "value of key [\"k\",\"x\"] in space [\"probe\",[\"a\"]] (actor "
            "probe [\"a\"]): "));
  CHECK(has(x.error().message(), fault));
  auto listed = env.call<std::vector<std::string>>(a, list_kv_atom::value);
  CHECK(listed.has_value() != list_fails);
  if (!listed) CHECK(has(listed.error().message(), "[\"k\",\"x\"] in space [\"probe\",[\"a\"]]"));
  // Everything else about the actor still works, and persists.
  CHECK(*env.call<std::string>(a, get_kv_atom::value, std::string("y")) == "2");
  CHECK(*env.call<std::int64_t>(a, add_atom::value, std::int64_t{1}) == 5);
  CHECK(*env.call<bool>(a, put_kv_atom::value, std::string("z"), std::string("3")));
  env.restart();
  a = env.probe("a");
  CHECK(ark::test::value_of(env, a) == 5);
  CHECK(*env.call<std::string>(a, get_kv_atom::value, std::string("z")) == "3");
  CHECK_FALSE(env.call<std::string>(a, get_kv_atom::value, std::string("x")));
  // Overwriting the damaged value repairs it.
  CHECK(*env.call<bool>(a, put_kv_atom::value, std::string("x"), std::string("new")));
  CHECK(*env.call<std::string>(a, get_kv_atom::value, std::string("x")) == "new");
}

TEST_CASE("a damaged journal record refuses the data directory naming it and the remedy") {
  host_env env;
  CHECK(ark::test::value_of(env, env.probe("a", 1)) == 1);
  env.stop();
  {
    auto db = open_dir(env.opts.data_dir);
    ark::kv::backend_batch b;
    b.put(ark::stored::journal_space(), ark::stored::journal_key(5), "\x01\x01\x03");
    REQUIRE(db->apply(b));
  }
  const auto e = refused_open(env);
  const auto m = e.message();
  INFO(m);
  CHECK(e == ark::errc::corrupt_snapshot);
  CHECK(has(m, "data directory " + env.opts.data_dir + ": state journal record 5"));
  CHECK(has(m, "truncated or corrupt"));
  CHECK(has(m, "`ark-dash verify --data " + env.opts.data_dir + "`"));
  CHECK(has(m, "restore the data directory from a backup"));
  // Refusing harmed nothing: the directory is not locked afterwards.
  CHECK(ark::kv::lmdb_backend::open(env.opts.data_dir, {}).has_value());
}

// -- checksums (storage format 2): bytes flipped in the closed file itself ------

namespace {

using engine = ark::test::embedded_engine;
const auto& engines = ark::test::embedded_engines;


std::string stored_snapshot(const host_env& env, const std::string& key) {
  ark::kv::open_options o;
  o.read_only = true;
  auto db = ark::kv::open_detected(env.opts.data_dir, o);
  REQUIRE_MESSAGE(db, (db ? "" : db.error().message()));
  auto v = (*db)->get(ark::stored::state_space(), identity("probe", key));
  REQUIRE_MESSAGE(v, (v ? "" : v.error().message()));
  return *v;
}

}  // namespace

TEST_CASE("a snapshot whose bytes changed on disk fails only that actor with corrupt_value") {
  for (const auto& e : engines) {
    INFO(e.name);
    host_env env;
    env.use_backend(e.kind, e.name);
    CHECK(ark::test::value_of(env, env.probe("good", 10)) == 10);
    CHECK(ark::test::value_of(env, env.probe("bad", 123456789)) == 123456789);
    env.stop();  // checkpoints: the snapshots are in place
    const auto snap = stored_snapshot(env, "bad");
    REQUIRE(ark::test::flip_in_file(env.opts.data_dir + "/" + e.file, snap, snap.size() - 1) >= 1);
    env.start();
    auto err = get_error(env, "bad");
    const auto m = err.message();
    INFO(m);
    CHECK(err.code() == ark::errc::corrupt_value);
    CHECK(has(m, "actor probe [\"bad\"]: its state snapshot fails its checksum"));
    CHECK(has(m, "restore the data directory from a backup"));
    // Never a default state in its place, and the others are unharmed.
    CHECK(get_error(env, "bad").message() == m);
    CHECK(ark::test::value_of(env, env.probe("good")) == 10);
    CHECK(ark::test::value_of(env, env.probe("fresh", 3)) == 3);
  }
}

TEST_CASE("a KV value whose bytes changed on disk fails the read, naming the actor and key") {
  for (const auto& e : engines) {
    INFO(e.name);
    host_env env;
    env.use_backend(e.kind, e.name);
    auto a = env.probe("a", 0);
    REQUIRE(*env.call<bool>(a, put_kv_atom::value, std::string("x"),
                            std::string("a distinctive kv value 5150")));
    REQUIRE(*env.call<bool>(a, put_kv_atom::value, std::string("y"), std::string("2")));
    env.stop();
    REQUIRE(ark::test::flip_in_file(env.opts.data_dir + "/" + e.file, "distinctive kv value 5150",
                                    3) >= 1);
    env.start();
    a = env.probe("a");
    auto x = env.call<std::string>(a, get_kv_atom::value, std::string("x"));
    REQUIRE_FALSE(x);
    INFO(x.error().message());
    CHECK(x.error().code() == ark::errc::corrupt_value);
    CHECK(has(x.error().message(), "actor probe [\"a\"]: the stored value of key [\"k\",\"x\"] in "
                                   "space [\"probe\",[\"a\"]] of " +
                                       env.opts.data_dir + " fails its checksum"));
    // Listing stops at it with the same error; everything else works.
    auto listed = env.call<std::vector<std::string>>(a, list_kv_atom::value);
    REQUIRE_FALSE(listed);
    CHECK(has(listed.error().message(), "fails its checksum"));
    CHECK(*env.call<std::string>(a, get_kv_atom::value, std::string("y")) == "2");
    CHECK(*env.call<std::int64_t>(a, add_atom::value, std::int64_t{1}) == 1);
    // Overwriting the damaged value repairs it.
    CHECK(*env.call<bool>(a, put_kv_atom::value, std::string("x"), std::string("new")));
    CHECK(*env.call<std::string>(a, get_kv_atom::value, std::string("x")) == "new");
  }
}

TEST_CASE("a journal record whose bytes changed on disk refuses the directory, naming the remedy") {
  for (const auto& e : engines) {
    INFO(e.name);
    host_env env;
    env.use_backend(e.kind, e.name);
    CHECK(ark::test::value_of(env, env.probe("j", 1)) == 1);
    env.stop();  // checkpointed: the state space holds value 1
    env.start();
    env.checkpoint_at_stop = false;  // the newest snapshot stays in the journal
    CHECK(ark::test::value_of(env, env.probe("j", 0)) == 1);
    CHECK(*env.call<std::int64_t>(env.probe("j"), add_atom::value, std::int64_t{987654320}) ==
          987654321);
    env.stop();
    // The journaled snapshot holds 987654321 (msgpack ce 3a de 68 b1).
    REQUIRE(ark::test::flip_in_file(env.opts.data_dir + "/" + e.file, "\xce\x3a\xde\x68\xb1", 2) >=
            1);
    const auto err = refused_open(env);
    const auto m = err.message();
    INFO(m);
    CHECK(err == ark::errc::corrupt_value);
    CHECK(has(m, "data directory " + env.opts.data_dir + ": the state journal: "));
    CHECK(has(m, "fails its checksum"));
    CHECK(has(m, "the whole directory is refused"));
    CHECK(has(m, "restore the data directory from a backup"));
  }
}
