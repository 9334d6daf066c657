// Cluster membership and member claims on a private PostgreSQL server
// (tests/support/pg_server.hpp): joins, generations, leases by the
// server's clock, and claims that respect another member's live lease.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include <unistd.h>

#include "ark/kv/pg_backend.hpp"
#include "ark/kv/pg_membership.hpp"
#include "support/pg_server.hpp"

namespace {

using namespace ark;
using namespace ark::kv;
using namespace std::chrono_literals;

struct cluster_schema {
  std::string name = [] {
    static std::atomic<int> n{0};
    return "c" + std::to_string(::getpid()) + "_" + std::to_string(n++);
  }();
  std::string conninfo = ark::test::shared_pg_server().conninfo();
  ~cluster_schema() { ark::test::shared_pg_server().psql("DROP SCHEMA IF EXISTS " + name + " CASCADE"); }

  std::shared_ptr<pg_backend> backend() {
    pg_options o;
    o.conninfo = conninfo;
    o.schema = name;
    o.exclusive = false;
    auto r = pg_backend::open(o);
    REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message()));
    return *r;
  }
  pg_membership::options member(const std::string& host, std::chrono::milliseconds ttl = 5s) {
    pg_membership::options o;
    o.conninfo = conninfo;
    o.schema = name;
    o.cluster = "test";
    o.host = host;
    o.address = "127.0.0.1:" + std::to_string(10000 + host.size());
    o.lease_ttl = ttl;
    return o;
  }
  std::unique_ptr<pg_membership> join(const std::string& host,
                                      std::chrono::milliseconds ttl = 5s) {
    auto m = pg_membership::join(member(host, ttl));
    REQUIRE_MESSAGE(m.has_value(), (m ? std::string() : m.error().message()));
    return std::move(*m);
  }
};

}  // namespace

TEST_CASE("pg cluster: a host joins, renews, is listed live, and leaves") {
  cluster_schema s;
  auto db = s.backend();
  auto a = s.join("a");
  CHECK(a->generation() == 1);
  CHECK(a->deadline() > std::chrono::steady_clock::now());
  REQUIRE(a->renew(3, 42).has_value());
  auto rows = a->members();
  REQUIRE(rows.has_value());
  REQUIRE(rows->size() == 1);
  CHECK((*rows)[0].host == "a");
  CHECK((*rows)[0].live);
  CHECK((*rows)[0].actors == 3);
  CHECK((*rows)[0].messages == 42);
  CHECK((*rows)[0].lease_ms > 4000);
  CHECK((*rows)[0].pid == ::getpid());
  REQUIRE(a->leave().has_value());
  auto after = read_members(s.conninfo, s.name, 2s);
  REQUIRE(after.has_value());
  REQUIRE(after->size() == 1);
  CHECK_FALSE((*after)[0].live);
  CHECK((*after)[0].status == "left");
  // Leaving ends the generation: renewing it is refused.
  auto r = a->renew(0, 0);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == errc::lease_lost);
  // Joining again is a new generation.
  auto again = s.join("a");
  CHECK(again->generation() == 2);
}

TEST_CASE("pg cluster: a live host id cannot join twice, an expired one can") {
  cluster_schema s;
  auto db = s.backend();
  auto first = s.join("a", 300ms);
  auto second = pg_membership::join(s.member("a"));
  REQUIRE_FALSE(second.has_value());
  CHECK(second.error() == errc::locked);
  CHECK(second.error().message().find("host id 'a'") != std::string::npos);
  CHECK(second.error().message().find("--host-id") != std::string::npos);
  std::this_thread::sleep_for(400ms);
  // The first one's lease expired (the server's clock): renewing fails, and
  // the id may join again, as a new generation.
  auto r = first->renew(0, 0);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == errc::lease_lost);
  auto third = s.join("a");
  CHECK(third->generation() == 2);
}

TEST_CASE("pg cluster: one schema, one cluster name") {
  cluster_schema s;
  auto db = s.backend();
  auto a = s.join("a");
  auto o = s.member("b");
  o.cluster = "other";
  auto b = pg_membership::join(o);
  REQUIRE_FALSE(b.has_value());
  CHECK(b.error() == errc::invalid_argument);
  CHECK(b.error().message().find("belongs to cluster 'test'") != std::string::npos);
}

TEST_CASE("pg cluster: an unreachable server fails the join within the call timeout") {
  auto o = cluster_schema{}.member("a");
  // A port nothing listens on.
  o.conninfo = "host=127.0.0.1 port=1 dbname=none connect_timeout=30";
  o.call_timeout = 500ms;
  auto t0 = std::chrono::steady_clock::now();
  auto m = pg_membership::join(o);
  REQUIRE_FALSE(m.has_value());
  CHECK(m.error() == errc::backend_failure);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
}

TEST_CASE("pg cluster: a member's live claim is not taken, a dead member's is") {
  cluster_schema s;
  auto db_a = s.backend();
  auto db_b = s.backend();
  auto a = s.join("a", 400ms);
  auto b = s.join("b", 5s);
  db_a->set_claim_holder("a", a->generation());
  db_b->set_claim_holder("b", b->generation());
  const std::string owner = "actor-1";
  auto ca = db_a->claim("state", owner);
  REQUIRE(ca.has_value());
  CHECK(ca->held_by.empty());
  CHECK(ca->epoch == 1);
  // b finds a's live claim: it learns the holder and its address, and the
  // epoch does not move.
  auto cb = db_b->claim("state", owner);
  REQUIRE(cb.has_value());
  CHECK(cb->held_by == "a");
  CHECK(cb->held_by_address == s.member("a").address);
  CHECK(cb->epoch == 1);
  CHECK_FALSE(cb->value.has_value());
  auto info = db_b->claim_of(owner);
  REQUIRE(info.has_value());
  CHECK(info->holder == "a");
  CHECK(info->generation == a->generation());
  // a claims again (a new activation on the same host): allowed.
  auto ca2 = db_a->claim("state", owner);
  REQUIRE(ca2.has_value());
  CHECK(ca2->held_by.empty());
  CHECK(ca2->epoch == 2);
  // a's lease expires: b takes the actor over, and a's writes under its
  // epoch are fenced.
  std::this_thread::sleep_for(500ms);
  auto cb2 = db_b->claim("state", owner);
  REQUIRE(cb2.has_value());
  CHECK(cb2->held_by.empty());
  CHECK(cb2->epoch == 3);
  backend_batch batch;
  auto f = batch.add_fence(owner, ca2->epoch);
  space_writes g{"state", {}, f};
  g.ops.push_back(write_op{write_op::kind::put, owner, "stale"});
  batch.append(std::move(g));
  auto applied = db_a->apply_fenced(batch);
  REQUIRE(applied.has_value());
  CHECK(applied->fenced == std::vector<std::uint32_t>{f});
}

TEST_CASE("pg cluster: two members racing for one owner: exactly one claim wins") {
  cluster_schema s;
  auto setup = s.backend();  // creates the schema
  auto a = s.join("a");
  auto b = s.join("b");
  for (int round = 0; round < 20; ++round) {
    auto db_a = s.backend();
    auto db_b = s.backend();
    db_a->set_claim_holder("a", a->generation());
    db_b->set_claim_holder("b", b->generation());
    const std::string owner = "race-" + std::to_string(round);
    expected<claim_result> ra{claim_result{}}, rb{claim_result{}};
    std::atomic<bool> go{false};
    std::thread ta([&] {
      while (!go) std::this_thread::yield();
      ra = db_a->claim("state", owner);
    });
    std::thread tb([&] {
      while (!go) std::this_thread::yield();
      rb = db_b->claim("state", owner);
    });
    go = true;
    ta.join();
    tb.join();
    REQUIRE(ra.has_value());
    REQUIRE(rb.has_value());
    int winners = (ra->held_by.empty() ? 1 : 0) + (rb->held_by.empty() ? 1 : 0);
    CHECK(winners == 1);
    CHECK(ra->epoch == 1);
    CHECK(rb->epoch == 1);
  }
}

TEST_CASE("pg cluster: released claims are taken at once") {
  cluster_schema s;
  auto db_a = s.backend();
  auto db_b = s.backend();
  auto a = s.join("a");
  auto b = s.join("b");
  db_a->set_claim_holder("a", a->generation());
  db_b->set_claim_holder("b", b->generation());
  for (int i = 0; i < 3; ++i) REQUIRE(db_a->claim("state", "o" + std::to_string(i)).has_value());
  auto held = db_b->claim("state", "o0");
  REQUIRE(held.has_value());
  CHECK(held->held_by == "a");
  auto n = db_a->release_claims("a", a->generation());
  REQUIRE(n.has_value());
  CHECK(*n == 3);
  auto taken = db_b->claim("state", "o0");
  REQUIRE(taken.has_value());
  CHECK(taken->held_by.empty());
  CHECK(taken->epoch == 2);
}
