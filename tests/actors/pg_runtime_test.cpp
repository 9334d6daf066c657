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

#include <ark/kv/store.hpp>
#include <ark/kv_group.hpp>
#include <ark/stored_format.hpp>

#include "actors/migrating_actor.hpp"
#include "actors/probe_actor.hpp"
#include "support/pg_server.hpp"

ARK_ACTOR("probe", probe::probe_actor);
ARK_ACTOR("mig", mig::migrating_actor);

namespace pggroup {

using put_atom = caf::atom_constant<caf::atom("gput")>;
using count_atom = caf::atom_constant<caf::atom("gcount")>;
using group_if =
    caf::typed_actor<caf::replies_to<put_atom, std::string, std::string>::with<bool>,
                     caf::replies_to<count_atom>::with<std::int64_t>>;
struct group_state {
  std::int64_t puts = 0;
  MSGPACK_DEFINE_MAP(puts)
};

/// Keys under ["session"] form a KV group cleared by the event "logout".
class group_actor : public ark::actor<group_if, group_state> {
 public:
  using actor::actor;
  std::vector<ark::kv_group> kv_groups() const override {
    return {{"session", ark::key{"session"}, {"logout"}}};
  }
  handlers_type make_handlers() override {
    return handlers(
        [this](put_atom, const std::string& prefix, const std::string& v) -> ark::expected<bool> {
          if (auto r = kv().put(ark::key{prefix, v}, v); !r) return r.error();
          ++state().puts;
          return true;
        },
        [this](count_atom) -> ark::expected<std::int64_t> {
          auto n = kv().count({});
          if (!n) return n.error();
          return static_cast<std::int64_t>(*n);
        });
  }
};

}  // namespace pggroup

ARK_ACTOR("pggroup", pggroup::group_actor);

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

TEST_CASE("a schema 1 snapshot stored in postgres migrates at activation, with its KV move") {
  schema_guard schema;
  {
    // Plant what an older deployment left: a schema 1 snapshot and its notes.
    ark::kv::pg_options o;
    o.conninfo = ark::test::shared_pg_server().conninfo();
    o.schema = schema.name;
    auto db = ark::kv::pg_backend::open(o);
    REQUIRE_MESSAGE(db, (db ? "" : db.error().message()));
    auto id = ark::stored::make_identity("mig", ark::key{"a"}).value();
    ark::kv::backend_batch b;
    b.put(ark::stored::state_space(), id.encoded,
          ark::stored::make_snapshot(
              1, std::string(ark::kv::value::pack(mig::settings_v1{"ann", 7}).payload())));
    REQUIRE((*db)->apply(b));
    auto kv = ark::kv::store::open(*db, ark::key{"mig", ark::key{"a"}}).value();
    REQUIRE(kv.put(ark::key{"note", "n1"}, std::string("first")));
    REQUIRE(kv.put(ark::key{"note", "n2"}, std::string("second")));
  }
  pg_host host(schema.name, true);
  auto h = host.rt->get_or_create<mig::mig_if>("mig", "a");
  REQUIRE_MESSAGE(h, (h ? "" : h.error().message()));
  CHECK(ark::call<std::int64_t>(*host.sys, *h, 10s, mig::get_atom::value).value() == 7);
  CHECK(ark::call<std::int64_t>(*host.sys, *h, 10s, mig::notes_atom::value).value() == 2);
  CHECK(ark::call<std::string>(*host.sys, *h, 10s, mig::note_atom::value, std::string("n2"))
            .value() == "second");
  // Committed to the schema: the snapshot says schema 3, the notes moved.
  auto& server = ark::test::shared_pg_server();
  auto n = server.psql("SELECT count(*) FROM " + schema.name + ".kv k JOIN " + schema.name +
                       ".spaces s ON s.id = k.space_id WHERE s.json = '[\"mig\",[\"a\"]]'");
  CHECK(n.second == "2");
  auto snap = host.rt->storage()->get(ark::stored::state_space(),
                                      ark::stored::make_identity("mig", ark::key{"a"})->encoded);
  REQUIRE(snap);
  CHECK(ark::stored::parse_snapshot(*snap)->schema == 3);
}

TEST_CASE("a KV group on postgres is cleared by its event, atomically with the message") {
  schema_guard schema;
  pg_host host(schema.name, true);
  auto h = host.rt->get_or_create<pggroup::group_if>("pggroup", "u");
  REQUIRE(h);
  auto put = [&](const std::string& prefix, const std::string& v) {
    return ark::call<bool>(*host.sys, *h, 10s, pggroup::put_atom::value, prefix, v).value();
  };
  CHECK(put("session", "a"));
  CHECK(put("session", "b"));
  CHECK(put("prefs", "dark"));
  CHECK(ark::call<std::int64_t>(*host.sys, *h, 10s, pggroup::count_atom::value).value() == 3);
  auto cleared = ark::clear_event(*host.sys, *h, "logout", 10s);
  REQUIRE_MESSAGE(cleared, (cleared ? "" : cleared.error().message()));
  CHECK(*cleared == 2);
  CHECK(ark::call<std::int64_t>(*host.sys, *h, 10s, pggroup::count_atom::value).value() == 1);
}
