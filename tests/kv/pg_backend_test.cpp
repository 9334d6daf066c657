// The PostgreSQL backend against a private server (tests/support/pg_server.hpp):
// the conformance suite unchanged, plus what only a shared engine has
// (claims and fences, round trips per batch, reconnection, the schema lock).
#include <ark/kv/testing/conformance.hpp>

#include <atomic>
#include <thread>

#include <unistd.h>

#include "ark/kv/open.hpp"
#include "ark/kv/pg_backend.hpp"
#include "support/pg_server.hpp"

namespace {

using namespace ark;
using namespace ark::kv;

// A schema of its own per fixture, dropped at the end.
std::string fresh_schema() {
  static std::atomic<int> n{0};
  return "t" + std::to_string(::getpid()) + "_" + std::to_string(n++);
}

pg_options options_for(const std::string& schema) {
  pg_options o;
  o.conninfo = ark::test::shared_pg_server().conninfo();
  o.schema = schema;
  return o;
}

std::shared_ptr<pg_backend> open_pg(const pg_options& o) {
  auto r = pg_backend::open(o);
  REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message()));
  return *r;
}

void drop_schema(const std::string& schema) {
  ark::test::shared_pg_server().psql("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
}

}  // namespace

namespace backends {

struct postgres {
  std::shared_ptr<ark::kv::backend> backend() {
    if (!b_) b_ = open_pg(options_for(schema_));
    return b_;
  }
  ~postgres() {
    b_.reset();
    drop_schema(schema_);
  }
  std::string schema_ = fresh_schema();
  std::shared_ptr<ark::kv::backend> b_;
};

}  // namespace backends

ARK_KV_CONFORMANCE_SUITE(backends::postgres)

namespace {

struct pg_fixture {
  explicit pg_fixture(bool exclusive = true) {
    opts.exclusive = exclusive;
    db = open_pg(opts);
  }
  std::string schema = fresh_schema();
  pg_options opts = options_for(schema);
  std::shared_ptr<pg_backend> db;
  ~pg_fixture() {
    db.reset();
    drop_schema(schema);
  }
};

std::string k(const std::string& s) {
  return encode_user_key(key{s}).value();
}

std::string v(int i) {
  return value::pack(i).stored();
}

}  // namespace

TEST_CASE("a postgres batch costs one round trip whatever its size") {
  pg_fixture f;
  auto trips = [&] { return f.db->round_trips(); };
  backend_batch small;
  small.put("space", k("a"), v(1));
  REQUIRE(f.db->apply(small).has_value());  // creates the space
  auto before = trips();
  backend_batch one;
  one.put("space", k("a"), v(2));
  REQUIRE(f.db->apply(one).has_value());
  auto cost_one = trips() - before;

  backend_batch big;  // 2000 writes over 100 spaces, a delete and a clear
  for (int s = 0; s < 100; ++s)
    for (int i = 0; i < 20; ++i)
      big.put("space" + std::to_string(s), k("key" + std::to_string(i)), v(i));
  big.del("space", k("a"));
  big.clear("space7");
  before = trips();
  auto removed = f.db->apply(big);
  REQUIRE_MESSAGE(removed.has_value(), removed.error().message());
  CHECK(*removed == 21);  // "a", and space7's 20 keys written earlier in the batch
  auto cost_big = trips() - before;
  CHECK(cost_one == 1);
  CHECK(cost_big == 1);
  auto count = ark::test::shared_pg_server().psql("SELECT count(*) FROM " + f.schema + ".kv");
  CHECK(count.second.find("1980") != std::string::npos);
}

TEST_CASE("a claim bumps the owner's epoch and returns the value stored after it") {
  pg_fixture f(false);
  auto c1 = f.db->claim("state", k("actor"));
  REQUIRE(c1.has_value());
  CHECK(c1->epoch == 1);
  CHECK_FALSE(c1->value.has_value());
  backend_batch b;
  auto fence = b.add_fence(k("actor"), c1->epoch);
  b.append(space_writes{"state", {{write_op::kind::put, k("actor"), v(7)}}, fence});
  auto r = f.db->apply_fenced(b);
  REQUIRE(r.has_value());
  CHECK(r->fenced.empty());
  auto c2 = f.db->claim("state", k("actor"));
  REQUIRE(c2.has_value());
  CHECK(c2->epoch == 2);
  REQUIRE(c2->value.has_value());
  CHECK(*c2->value == v(7));
  CHECK(f.db->epoch(k("actor")).value() == 2);
  CHECK(f.db->epoch(k("nobody")).value() == 0);
}

TEST_CASE("a stale fence skips its groups and the rest of the batch commits") {
  pg_fixture f(false);
  auto a = f.db->claim("state", k("a")).value();
  auto b = f.db->claim("state", k("b")).value();
  // Someone else claims "a": the first claim's fence is stale now.
  auto other = open_pg(f.opts);
  REQUIRE(other->claim("state", k("a")).value().epoch == a.epoch + 1);

  backend_batch batch;
  auto fa = batch.add_fence(k("a"), a.epoch);
  auto fb = batch.add_fence(k("b"), b.epoch);
  batch.append(space_writes{"state", {{write_op::kind::put, k("a"), v(1)}}, fa});
  batch.append(space_writes{"kv-a", {{write_op::kind::put, k("x"), v(1)}}, fa});
  batch.append(space_writes{"state", {{write_op::kind::put, k("b"), v(2)}}, fb});
  batch.put("free", k("y"), v(3));
  auto r = f.db->apply_fenced(batch);
  REQUIRE_MESSAGE(r.has_value(), r.error().message());
  CHECK(r->fenced == std::vector<std::uint32_t>{fa});
  CHECK(f.db->get("state", k("a")).error() == errc::not_found);
  CHECK(f.db->get("kv-a", k("x")).error() == errc::not_found);
  CHECK(f.db->get("state", k("b")).value() == v(2));
  CHECK(f.db->get("free", k("y")).value() == v(3));

  // Through plain apply() a stale fence fails the whole batch.
  backend_batch again;
  auto g = again.add_fence(k("a"), a.epoch);
  again.append(space_writes{"state", {{write_op::kind::put, k("a"), v(9)}}, g});
  again.put("free", k("z"), v(4));
  auto plain = f.db->apply(again);
  REQUIRE_FALSE(plain.has_value());
  CHECK(plain.error() == errc::fenced);
  CHECK(f.db->get("free", k("z")).error() == errc::not_found);
}

TEST_CASE("a claim waits for a fenced commit in flight and then sees its writes") {
  // Claims and commits race from two connections many times: a claim either
  // precedes the commit (which then fails, and nothing of it lands) or
  // follows it (and returns what it wrote); never a lost or hidden write.
  pg_fixture f(false);
  auto other = open_pg(f.opts);
  for (int i = 0; i < 50; ++i) {
    auto mine = f.db->claim("state", k("hot")).value();
    std::optional<claim_result> theirs;
    std::thread t([&] { theirs = other->claim("state", k("hot")).value(); });
    backend_batch b;
    auto fence = b.add_fence(k("hot"), mine.epoch);
    b.append(space_writes{"state", {{write_op::kind::put, k("hot"), v(i)}}, fence});
    auto r = f.db->apply_fenced(b);
    t.join();
    REQUIRE(r.has_value());
    REQUIRE(theirs.has_value());
    CHECK(theirs->epoch == mine.epoch + 1);
    if (r->fenced.empty()) {
      // The commit won: the claim after it saw the write.
      REQUIRE(theirs->value.has_value());
      CHECK(*theirs->value == v(i));
    } else {
      CHECK((!theirs->value || *theirs->value != v(i)));
      CHECK(f.db->get("state", k("hot")).value_or("") != v(i));
    }
  }
}

TEST_CASE("cursors read a large range in pages from one snapshot") {
  pg_fixture f;
  const int n = 5000;
  backend_batch b;
  for (int i = 0; i < n; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "k%05d", i);
    b.put("big", k(name), v(i));
  }
  REQUIRE(f.db->apply(b).has_value());
  auto trips_before = f.db->round_trips();
  auto c = f.db->scan("big", byte_range{"", std::nullopt}, false).value();
  // Writes after the cursor opened are not seen by it.
  backend_batch later;
  later.clear("big");
  REQUIRE(f.db->apply(later).value() == static_cast<std::uint64_t>(n));
  int seen = 0;
  std::string last;
  for (; c->valid(); c->next()) {
    CHECK(std::string(c->key()) > last);
    last = std::string(c->key());
    ++seen;
  }
  CHECK_FALSE(c->status());
  CHECK(seen == n);
  // Pages grow: far fewer round trips than rows, more than one.
  auto trips = f.db->round_trips() - trips_before;
  CHECK(trips > 2);
  CHECK(trips < 20);

  // Reverse with an end bound, across pages.
  backend_batch again;
  for (int i = 0; i < 300; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "r%05d", i);
    again.put("rev", k(name), v(i));
  }
  REQUIRE(f.db->apply(again).has_value());
  auto rc = f.db->scan("rev", byte_range{k("r00010"), k("r00290")}, true).value();
  std::vector<std::string> keys;
  for (; rc->valid(); rc->next()) keys.emplace_back(rc->key());
  REQUIRE(keys.size() == 280);
  CHECK(keys.front() == k("r00289"));
  CHECK(keys.back() == k("r00010"));
}

TEST_CASE("a second writable postgres backend on one schema is refused while the first lives") {
  pg_fixture f;
  auto second = pg_backend::open(f.opts);
  REQUIRE_FALSE(second.has_value());
  CHECK(second.error() == errc::locked);
  CHECK(second.error().message().find("schema " + f.schema) != std::string::npos);
  auto ro = f.opts;
  ro.read_only = true;
  auto reader = pg_backend::open(ro);
  REQUIRE(reader.has_value());
  backend_batch b;
  b.put("s", k("a"), v(1));
  CHECK((*reader)->apply(b).error() == errc::read_only);
  f.db.reset();  // releases the lock
  CHECK(pg_backend::open(f.opts).has_value());
}

TEST_CASE("a postgres writer reopened right after it closed finds its schema free") {
  // A host restarted at once must not find its own former session holding
  // the schema lock: closing releases it before the connection ends (the
  // server frees a session's locks only some time after the client left).
  pg_fixture f;
  for (int i = 0; i < 40; ++i) {
    backend_batch b;
    b.put("s", k("n"), v(i));
    REQUIRE(f.db->apply(b).has_value());
    f.db.reset();
    auto again = pg_backend::open(f.opts);
    REQUIRE_MESSAGE(again.has_value(), "round " << i << ": " << again.error().message());
    f.db = std::move(*again);
    CHECK(f.db->get("s", k("n")).value() == v(i));
  }
}

TEST_CASE("a postgres schema of a newer format, or with no ark data, is refused") {
  pg_fixture f;
  auto& server = ark::test::shared_pg_server();
  f.db.reset();
  server.psql("UPDATE " + f.schema + ".meta SET value = 99 WHERE name = 'format_version'");
  auto r = pg_backend::open(f.opts);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == errc::format_version);
  CHECK(r.error().message().find("99") != std::string::npos);

  auto o = options_for("never_created");
  o.read_only = true;
  auto none = pg_backend::open(o);
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error() == errc::no_data_dir);
  o.schema = "Bad-Name";
  CHECK(pg_backend::open(o).error() == errc::invalid_argument);
}

TEST_CASE("an unreachable postgres server is named in the error") {
  pg_options o;
  o.conninfo = "host=/nonexistent/socket/dir port=1 dbname=nowhere connect_timeout=2";
  auto r = pg_backend::open(o);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == errc::backend_failure);
  auto text = r.error().message();
  CAPTURE(text);
  CHECK(text.find("host=/nonexistent/socket/dir") != std::string::npos);
  CHECK(text.find("port=1") != std::string::npos);
  CHECK(text.find("dbname=nowhere") != std::string::npos);
}

TEST_CASE("passwords stay off the command line") {
  CHECK(conninfo_has_password("postgresql://ark:secret@db/app"));
  CHECK(conninfo_has_password("host=db password=secret"));
  CHECK_FALSE(conninfo_has_password("postgresql://ark@db/app"));
  open_options o;
  auto r = configure_postgres(o, "postgresql://ark:secret@db/app", "");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message().find("pgpass") != std::string::npos);
  CHECK(describe_conninfo("postgresql://ark:secret@db:5433/app").value().find("secret") ==
        std::string::npos);
  CHECK(configure_postgres(o, "postgresql://ark@db/app", "").has_value());
  CHECK(o.kind == backend_kind::postgres);
  o.kind = backend_kind::lmdb;
  CHECK(configure_postgres(o, "postgresql://ark@db/app", "").error() == errc::invalid_argument);
}

TEST_CASE("the postgres backend reconnects after the server restarts") {
  ark::test::pg_server server;  // its own: this test stops it
  pg_options o;
  o.conninfo = server.conninfo();
  o.retry_min = std::chrono::milliseconds(20);
  o.retry_max = std::chrono::milliseconds(200);
  auto db = open_pg(o);
  backend_batch b;
  b.put("s", k("acked"), v(1));
  REQUIRE(db->apply(b).has_value());
  server.stop_immediate();
  backend_batch during;
  during.put("s", k("during"), v(2));
  auto failed = db->apply(during);
  REQUIRE_FALSE(failed.has_value());
  CHECK(failed.error() == errc::backend_failure);
  CHECK(db->get("s", k("acked")).error() == errc::backend_failure);
  server.start();
  // The next operations reconnect (after the backoff) and find what was acknowledged.
  expected<std::string> got = error{errc::backend_failure, ""};
  for (int i = 0; i < 100 && !got; ++i) {
    got = db->get("s", k("acked"));
    if (!got) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE_MESSAGE(got.has_value(), got.error().message());
  CHECK(*got == v(1));
  CHECK(db->get("s", k("during")).error() == errc::not_found);
  backend_batch after;
  after.put("s", k("after"), v(3));
  expected<std::uint64_t> w = error{errc::backend_failure, ""};
  for (int i = 0; i < 100 && !w; ++i) {
    w = db->apply(after);
    if (!w) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE_MESSAGE(w.has_value(), w.error().message());
  CHECK(db->get("s", k("after")).value() == v(3));
}

TEST_CASE("walk_raw reports a postgres schema like a data directory") {
  pg_fixture f;
  backend_batch b;
  b.put("s1", k("a"), v(1));
  b.put("s2", k("b"), v(2));
  REQUIRE(f.db->apply(b).has_value());
  std::vector<std::pair<raw_db, std::string>> seen;
  REQUIRE(walk_raw(*f.db, [&](raw_db db, std::string_view key, std::string_view, bool) {
            seen.emplace_back(db, std::string(key));
            return true;
          }).has_value());
  REQUIRE(seen.size() == 5);
  CHECK(seen[0] == std::make_pair(raw_db::meta, std::string("format_version")));
  CHECK(seen[1].first == raw_db::spaces);
  CHECK(seen[3].first == raw_db::kv);
  CHECK(seen[3].second.size() == 8 + k("a").size());
}

TEST_CASE("exclusive and shared postgres writers exclude each other") {
  pg_fixture exclusive;
  auto shared_opts = exclusive.opts;
  shared_opts.exclusive = false;
  auto refused = pg_backend::open(shared_opts);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error() == errc::locked);
  exclusive.db.reset();
  auto shared1 = open_pg(shared_opts);
  auto shared2 = open_pg(shared_opts);  // shared writers coexist
  auto refused2 = pg_backend::open(exclusive.opts);
  REQUIRE_FALSE(refused2.has_value());
  CHECK(refused2.error() == errc::locked);
  CHECK(refused2.error().message().find("an exclusive ark host writes") == std::string::npos);
}

TEST_CASE("an exclusive writer that lost its lock checks its fences from then on") {
  // While it holds the schema lock without a break, no other process can
  // write, and commits skip the fence check. Once its connection (and the
  // lock with it) was lost, a shared writer may have claimed its actors:
  // the stale activation's write must be fenced.
  pg_fixture f;
  auto mine = f.db->claim("state", k("x")).value();
  backend_batch first;
  auto fence = first.add_fence(k("x"), mine.epoch);
  first.append(space_writes{"state", {{write_op::kind::put, k("x"), v(1)}}, fence});
  REQUIRE(f.db->apply_fenced(first).value().fenced.empty());

  auto& server = ark::test::shared_pg_server();
  auto cut = server.psql(
      "SELECT pg_terminate_backend(l.pid) FROM pg_locks l WHERE l.locktype = 'advisory' AND "
      "l.objid = (hashtextextended('ark schema " + f.schema + "', 0) & 4294967295)::oid");
  REQUIRE(cut.second.find('t') != std::string::npos);
  {
    auto o = f.opts;
    o.exclusive = false;
    std::shared_ptr<pg_backend> other;
    for (int i = 0; i < 50 && !other; ++i) {  // the terminated session's lock goes away
      auto r = pg_backend::open(o);
      if (r) other = *r;
      else std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    REQUIRE(other);
    auto theirs = other->claim("state", k("x")).value();
    CHECK(theirs.epoch == mine.epoch + 1);
    backend_batch b;
    auto g = b.add_fence(k("x"), theirs.epoch);
    b.append(space_writes{"state", {{write_op::kind::put, k("x"), v(2)}}, g});
    REQUIRE(other->apply_fenced(b).value().fenced.empty());
  }
  // The first writer reconnects (taking the lock again): its stale write is fenced.
  backend_batch stale;
  auto s = stale.add_fence(k("x"), mine.epoch);
  stale.append(space_writes{"state", {{write_op::kind::put, k("x"), v(3)}}, s});
  expected<apply_result> r = error{errc::backend_failure, ""};
  for (int i = 0; i < 50 && !r; ++i) {
    r = f.db->apply_fenced(stale);
    if (!r) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE_MESSAGE(r.has_value(), r.error().message());
  CHECK(r->fenced == std::vector<std::uint32_t>{s});
  CHECK(f.db->get("state", k("x")).value() == v(2));
}
