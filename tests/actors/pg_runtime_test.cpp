// The runtime on the PostgreSQL backend (a private server, tests/support/
// pg_server.hpp): actors claim what they activate, and a second runtime on
// the same schema fences the first.
#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <memory>
#include <thread>

#include <ark/client.hpp>
#include <ark/kv/pg_backend.hpp>
#include <ark/runtime.hpp>
#include <ark/testing.hpp>

#include "actors/probe_actor.hpp"
#include "support/pg_server.hpp"

ARK_ACTOR("probe", probe::probe_actor);

namespace {

using namespace std::chrono_literals;
using probe::probe_if;

std::string fresh_schema() {
  static std::atomic<int> n{0};
  return "rt" + std::to_string(::getpid()) + "_" + std::to_string(n++);
}

/// One actor system and runtime on a PostgreSQL schema.
struct pg_host {
  ark::runtime_options opts;
  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::shared_ptr<ark::runtime> rt;

  pg_host(const std::string& schema, bool exclusive) {
    opts.data_dir = "(postgres)";
    opts.storage.kind = ark::kv::backend_kind::postgres;
    opts.storage.pg_conninfo = ark::test::shared_pg_server().conninfo();
    opts.storage.pg_schema = schema;
    opts.storage.pg_exclusive = exclusive;
    opts.idle_timeout = std::chrono::minutes(5);
    cfg = std::make_unique<caf::actor_system_config>();
    ark::actor_registry::global().configure(*cfg);
    sys = std::make_unique<caf::actor_system>(*cfg);
    auto r = ark::runtime::open(*sys, opts);
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
    rt = *r;
  }
  ~pg_host() {
    if (rt) rt->shutdown();
    rt.reset();
    sys.reset();
  }
  probe_if probe(const std::string& key) {
    auto h = rt->get_or_create<probe_if>("probe", key, std::int64_t{0});
    REQUIRE_MESSAGE(h, (h ? "" : h.error().message()));
    return *h;
  }
  // A fenced activation leaves the directory when it handles the writer's
  // notification, just after the failed reply left: look up until the
  // directory holds a new activation.
  probe_if fresh_probe(const std::string& key, const probe_if& old) {
    for (int i = 0; i < 500; ++i) {
      auto h = probe(key);
      if (h != old) return h;
      std::this_thread::sleep_for(10ms);
    }
    FAIL("the fenced activation stayed in the directory");
    return old;
  }
  ark::expected<std::int64_t> add(const probe_if& h, std::int64_t n) {
    return ark::call<std::int64_t>(*sys, h, 10s, probe::add_atom::value, n);
  }
  ark::expected<std::int64_t> get(const probe_if& h) {
    return ark::call<std::int64_t>(*sys, h, 10s, probe::get_atom::value);
  }
};

struct schema_guard {
  std::string name = fresh_schema();
  ~schema_guard() {
    ark::test::shared_pg_server().psql("DROP SCHEMA IF EXISTS " + name + " CASCADE");
  }
};

}  // namespace

TEST_CASE("actors on postgres keep their state and kv across a restart") {
  schema_guard schema;
  {
    pg_host host(schema.name, true);
    auto p = host.probe("p");
    CHECK(host.add(p, 5).value() == 5);
    CHECK(host.add(p, 2).value() == 7);
    CHECK(ark::call<bool>(*host.sys, p, 10s, probe::put_kv_atom::value, std::string("k"),
                          std::string("v"))
              .value());
  }
  pg_host host(schema.name, true);
  auto p = host.probe("p");
  CHECK(host.get(p).value() == 7);
  CHECK(ark::call<std::string>(*host.sys, p, 10s, probe::get_kv_atom::value, std::string("k"))
            .value() == "v");
}

TEST_CASE("a second host on one postgres schema is refused unless it is fenced") {
  schema_guard schema;
  pg_host first(schema.name, true);
  ark::runtime_options o = first.opts;
  caf::actor_system_config cfg;
  ark::actor_registry::global().configure(cfg);
  caf::actor_system sys{cfg};
  auto second = ark::runtime::open(sys, o);
  REQUIRE_FALSE(second.has_value());
  CHECK(second.error() == ark::errc::locked);
  CHECK(second.error().message().find("schema " + schema.name) != std::string::npos);
}

TEST_CASE("a second runtime's claim fences the first: its next commit fails and lands nothing") {
  schema_guard schema;
  pg_host a(schema.name, false);
  pg_host b(schema.name, false);
  auto pa = a.probe("shared");
  REQUIRE(a.add(pa, 1).value() == 1);

  // b activates the same actor: its claim makes a's activation stale.
  auto pb = b.probe("shared");
  CHECK(b.get(pb).value() == 1);
  CHECK(b.add(pb, 10).value() == 11);

  // a's activation still runs, but its commit is refused.
  auto stale = a.add(pa, 100);
  REQUIRE_FALSE(stale.has_value());
  CHECK(stale.error() == ark::errc::fenced);
  CHECK(stale.error().message().find("another process claimed") != std::string::npos);
  // Nothing a wrote after b's claim landed: b still reads its own value.
  CHECK(b.get(pb).value() == 11);
  CHECK(b.add(pb, 1).value() == 12);
  // The fenced activation left a's directory: a lookup on a claims again,
  // reads what b committed, and now fences b.
  auto again = a.fresh_probe("shared", pa);
  CHECK(a.get(again).value() == 12);
  CHECK(a.add(again, 100).value() == 112);
  auto b_stale = b.add(pb, 1);
  REQUIRE_FALSE(b_stale.has_value());
  CHECK(b_stale.error() == ark::errc::fenced);
  auto b_again = b.fresh_probe("shared", pb);
  CHECK(b.get(b_again).value() == 112);
}
