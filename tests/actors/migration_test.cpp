// State schema migrations on a real runtime over a real LMDB data directory:
// older snapshots planted in the directory are migrated at activation, the
// result is committed with the steps' KV moves, and every way a migration can
// go wrong leaves the stored bytes untouched with an error naming the actor
// and the versions.

#include <doctest/doctest.h>

#include <map>
#include <optional>

#include <ark/kv/lmdb_backend.hpp>
#include <ark/kv/store.hpp>
#include <ark/stored_format.hpp>

#include "actors/host_env.hpp"
#include "actors/migrating_actor.hpp"
#include "actors/stored.hpp"

ARK_ACTOR("mig", mig::migrating_actor);
ARK_ACTOR("gappy", mig::gappy_actor);
// "probe" is registered by sdk_test.cpp (same executable).

namespace {

using namespace std::chrono_literals;
using ark::test::host_env;
using mig::mig_if;
using namespace ark::test::stored;

bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

mig_if handle(host_env& env, const std::string& type, const std::string& key) {
  auto h = env.rt->get_or_create<mig_if>(type, ark::key{key});
  REQUIRE_MESSAGE(h, (h ? "" : h.error().message()));
  return *h;
}

template <class R, class... Ts>
ark::expected<R> ask(host_env& env, const mig_if& h, Ts&&... xs) {
  return ark::call<R>(*env.sys, h, 10s, std::forward<Ts>(xs)...);
}

// Older layouts of other states (msgpack cannot pack local classes).
struct old_probe {  // probe_state has value, init_arg and forwarded
  std::int64_t value = 5;
  std::int64_t init_arg = 0;
  std::int64_t forwarded = 0;
  std::int64_t legacy = 9;
  MSGPACK_DEFINE_MAP(value, init_arg, forwarded, legacy)
};
struct richer_v1 {  // settings_v1 lacks color
  std::string name = "rita";
  std::int64_t count = 1;
  std::string color = "red";
  MSGPACK_DEFINE_MAP(name, count, color)
};
struct fewer {  // probe_state before init_arg and forwarded
  std::int64_t value = 4;
  MSGPACK_DEFINE_MAP(value)
};

// The error the first message to (type, key) gets; REQUIRES that it fails.
ark::error activation_error(host_env& env, const std::string& type, const std::string& key) {
  auto v = ask<std::int64_t>(env, handle(env, type, key), mig::get_atom::value);
  REQUIRE_MESSAGE(!v, "the actor answered " << (v ? *v : 0));
  return v.error();
}

}  // namespace

TEST_CASE("a schema 1 snapshot migrates to schema 3 through two typed steps, with its KV move") {
  host_env env;
  env.stop();
  plant(env.opts.data_dir, "mig", "a", 1, mig::settings_v1{"ann", 7},
        {{"n1", "first"}, {"n2", "second"}});
  env.start();
  int step1 = mig::step1_runs, step2 = mig::step2_runs;
  auto a = handle(env, "mig", "a");
  CHECK(*ask<std::int64_t>(env, a, mig::get_atom::value) == 7);  // count became visits
  CHECK(*ask<std::string>(env, a, mig::name_atom::value) == "ann");
  CHECK(*ask<std::int64_t>(env, a, mig::notes_atom::value) == 2);
  CHECK(*ask<std::string>(env, a, mig::note_atom::value, std::string("n2")) == "second");
  CHECK(mig::step1_runs == step1 + 1);
  CHECK(mig::step2_runs == step2 + 1);

  // Persisted: the raw snapshot says schema 3 and holds the new layout, and
  // the KV data moved (old keys gone, new keys present).
  env.stop();
  auto snap = ark::stored::parse_snapshot(stored_snapshot(env.opts.data_dir, "mig", "a"));
  REQUIRE(snap);
  CHECK(snap->schema == 3);
  mig::settings s;
  REQUIRE(ark::kv::convert_msgpack(snap->state, s));
  CHECK(s.name == "ann");
  CHECK(s.visits == 7);
  CHECK(s.notes == 2);
  CHECK(stored_kv(env.opts.data_dir, "mig", "a", ark::key{"notes", "n1"}) == "first");
  CHECK_FALSE(stored_kv(env.opts.data_dir, "mig", "a", ark::key{"note", "n1"}));
  CHECK_FALSE(stored_kv(env.opts.data_dir, "mig", "a", ark::key{"note", "n2"}));

  // A restart reads schema 3 directly: no step runs again.
  env.start();
  CHECK(*ask<std::int64_t>(env, handle(env, "mig", "a"), mig::notes_atom::value) == 2);
  CHECK(mig::step1_runs == step1 + 1);
  CHECK(mig::step2_runs == step2 + 1);
}

TEST_CASE("a schema 2 snapshot runs only the step from 2") {
  host_env env;
  env.stop();
  plant(env.opts.data_dir, "mig", "b", 2, mig::settings_v2{"bob", 3}, {{"x", "y"}});
  env.start();
  int step1 = mig::step1_runs;
  auto b = handle(env, "mig", "b");
  CHECK(*ask<std::int64_t>(env, b, mig::get_atom::value) == 3);
  CHECK(*ask<std::int64_t>(env, b, mig::notes_atom::value) == 1);
  CHECK(mig::step1_runs == step1);
}

TEST_CASE(
    "a failing migration step leaves the stored snapshot and KV untouched and names the actor and "
    "versions") {
  host_env env;
  env.stop();
  std::string name, why;
  SUBCASE("the step returns an error") {
    name = "fail";
    why = "invalid_argument: the name 'fail' is refused on purpose";
  }
  SUBCASE("the step throws") {
    name = "throw";
    why = "the step threw: thrown on purpose by move_notes";
  }
  plant(env.opts.data_dir, "mig", "f", 1, mig::settings_v1{name, 1}, {{"n1", "kept"}});
  const auto before = stored_snapshot(env.opts.data_dir, "mig", "f");
  env.start();
  auto e = activation_error(env, "mig", "f");
  INFO(e.message());
  CHECK(e.code() == ark::errc::migration_failed);
  CHECK(has(e.message(), "actor mig [\"f\"]"));
  CHECK(has(e.message(), "from schema 1 to 3"));
  CHECK(has(e.message(), "step 2 -> 3 (mig::settings_v2 -> mig::settings)"));
  CHECK(has(e.message(), why));
  CHECK(has(e.message(), "the stored snapshot and KV are unchanged"));
  CHECK(has(e.message(), "ark-dash migrate --dry-run"));  // the remedy
  // Not cached: a second activation tries again and fails the same way.
  CHECK(activation_error(env, "mig", "f").code() == ark::errc::migration_failed);
  env.stop();
  // The step moved the note before it failed: that write was dropped.
  CHECK(stored_snapshot(env.opts.data_dir, "mig", "f") == before);
  CHECK(stored_kv(env.opts.data_dir, "mig", "f", ark::key{"note", "n1"}) == "kept");
  CHECK_FALSE(stored_kv(env.opts.data_dir, "mig", "f", ark::key{"notes", "n1"}));
}

TEST_CASE("a missing migration step fails activation naming the actor, the versions and the step") {
  host_env env;
  env.stop();
  plant(env.opts.data_dir, "gappy", "g", 1, mig::settings_v1{"gus", 2});
  const auto before = stored_snapshot(env.opts.data_dir, "gappy", "g");
  env.start();
  int step2 = mig::step2_runs;
  auto e = activation_error(env, "gappy", "g");
  INFO(e.message());
  CHECK(e.code() == ark::errc::migration_failed);
  CHECK(has(e.message(),
            "actor gappy [\"g\"]: its snapshot has schema 1 and this code's schema "
            "is 3, but no migration step from 1 to 2 is registered (steps: 2->3)"));
  CHECK(mig::step2_runs == step2);  // nothing ran: the chain is checked first
  env.stop();
  CHECK(stored_snapshot(env.opts.data_dir, "gappy", "g") == before);
}

TEST_CASE("a snapshot newer than the code is refused with format_version and the remedy") {
  host_env env;
  env.stop();
  plant(env.opts.data_dir, "mig", "new", 4, mig::settings{"nia", 1, 0});
  const auto before = stored_snapshot(env.opts.data_dir, "mig", "new");
  env.start();
  auto e = activation_error(env, "mig", "new");
  INFO(e.message());
  CHECK(e.code() == ark::errc::format_version);
  CHECK(has(e.message(),
            "actor mig [\"new\"]: its snapshot has state schema 4, newer than this "
            "code's schema 3"));
  CHECK(has(e.message(), "Deploy code whose actor type declares schema 4 or later"));
  CHECK(has(e.message(), "restore the data directory from a backup"));
  env.stop();
  CHECK(stored_snapshot(env.opts.data_dir, "mig", "new") == before);
}

TEST_CASE("a stored field that the state type does not declare is refused, never dropped") {
  host_env env;
  env.stop();
  SUBCASE("a current snapshot: a field renamed without raising the schema") {
    // probe_state has value, init_arg and forwarded; "legacy" is not in it.
    plant(env.opts.data_dir, "probe", "p", 1, old_probe{});
    const auto before = stored_snapshot(env.opts.data_dir, "probe", "p");
    env.start();
    auto h = env.rt->get_or_create<probe::probe_if>("probe", ark::key{"p"}, std::int64_t{0});
    REQUIRE(h);
    auto v = env.call<std::int64_t>(*h, probe::get_atom::value);
    REQUIRE_FALSE(v);
    INFO(v.error().message());
    CHECK(v.error().code() == ark::errc::migration_failed);
    CHECK(has(v.error().message(),
              "actor probe [\"p\"]: its snapshot (schema 1) has the state "
              "field 'legacy' that probe::probe_state does not declare"));
    CHECK(has(v.error().message(), "raise the actor's schema to 2"));
    env.stop();
    CHECK(stored_snapshot(env.opts.data_dir, "probe", "p") == before);
  }
  SUBCASE("an older snapshot: the step's input type lacks a field") {
    plant(env.opts.data_dir, "mig", "r", 1, richer_v1{});
    const auto before = stored_snapshot(env.opts.data_dir, "mig", "r");
    env.start();
    auto e = activation_error(env, "mig", "r");
    INFO(e.message());
    CHECK(e.code() == ark::errc::migration_failed);
    CHECK(has(e.message(), "step 1 -> 2"));
    CHECK(has(e.message(),
              "the stored state has the field 'color' that mig::settings_v1 does not "
              "declare (it would be lost)"));
    env.stop();
    CHECK(stored_snapshot(env.opts.data_dir, "mig", "r") == before);
  }
}

TEST_CASE("a state that gained a field since its snapshot loads with the field's default") {
  // Adding a field needs no migration: the stored map simply lacks it.
  host_env env;
  env.stop();
  plant(env.opts.data_dir, "probe", "few", 1, fewer{});
  env.start();
  auto h = env.rt->get_or_create<probe::probe_if>("probe", ark::key{"few"}, std::int64_t{0});
  REQUIRE(h);
  CHECK(ark::test::value_of(env, *h) == 4);
  CHECK(*env.call<std::int64_t>(*h, probe::init_atom::value) == -1);
}

namespace {

// Step chains with mistakes: checked when the type registers.
struct gap_state {
  std::int64_t v = 0;
  MSGPACK_DEFINE_MAP(v)
};
class gap_actor : public ark::actor<mig::mig_if, gap_state> {
 public:
  using actor::actor;
  static constexpr std::uint32_t schema = 4;
  static void migrations(ark::migration_chain<gap_actor>& m) {
    auto same = [](gap_state&& s, ark::migration_context&) { return s; };
    m.step<1, gap_state, gap_state>(same);
    m.step<3, gap_state, gap_state>(same);  // no step from 2
  }
  handlers_type make_handlers() override {
    return handlers([](mig::get_atom) { return std::int64_t{0}; },
                    [](mig::name_atom) { return std::string(); },
                    [](mig::notes_atom) { return std::int64_t{0}; },
                    [](mig::note_atom, const std::string&) { return std::string(); });
  }
};
class twice_actor : public gap_actor {
 public:
  using gap_actor::gap_actor;
  static constexpr std::uint32_t schema = 2;
  static void migrations(ark::migration_chain<twice_actor>& m) {
    auto same = [](gap_state&& s, ark::migration_context&) { return s; };
    m.step<1, gap_state, gap_state>(same);
    m.step<1, gap_state, gap_state>(same);
  }
};

}  // namespace

TEST_CASE("a gap in the migration steps or a step registered twice is a registration error") {
  // Registered as ARK_ACTOR registers a type: the registry reports the
  // problems of the chain with the type name (ark-host refuses to start), and
  // the type's schema (actor_type::schema, what ark-dash migrate runs) keeps
  // them.
  auto& registry = ark::actor_registry::global();
  registry.take_errors();
  ark::actor_registrar<gap_actor> gap_registrar{"gap_test"};
  auto errors = registry.take_errors();
  REQUIRE(errors.size() == 1);
  CHECK(has(errors[0], "actor type 'gap_test': its migration steps (1->2, 3->4) have a gap"));
  CHECK(has(errors[0], "have a gap: no step from 2 to 3"));
  const auto* gap = registry.find("gap_test");
  REQUIRE(gap);
  REQUIRE(gap->schema);
  CHECK(gap->schema->current == 4);
  CHECK(gap->schema->errors.size() == 1);
  ark::actor_registrar<twice_actor> twice_registrar{"twice_test"};
  errors = registry.take_errors();
  REQUIRE(errors.size() == 1);
  CHECK(has(errors[0], "actor type 'twice_test': two migration steps from schema 1"));
  // The well-formed chains registered without complaint.
  CHECK(registry.find("mig")->schema->errors.empty());
  CHECK(registry.find("gappy")->schema->errors.empty());
  CHECK(registry.find("probe")->schema->current == 1);
}

TEST_CASE("migrate_snapshot previews a migration in memory and writes nothing") {
  host_env env;
  env.stop();
  plant(env.opts.data_dir, "mig", "d", 1, mig::settings_v1{"dee", 4}, {{"n1", "one"}});
  auto db = open_dir(env.opts.data_dir);
  auto id = ark::stored::make_identity("mig", ark::key{"d"});
  REQUIRE(id);
  auto stored = db->get(ark::stored::state_space(), id->encoded);
  REQUIRE(stored);
  const auto* type = ark::actor_registry::global().find("mig");
  REQUIRE(type);
  auto out = ark::migrate_snapshot(*type->schema, db, *id, *stored);
  REQUIRE_MESSAGE(out, (out ? "" : out.error().message()));
  CHECK(out->from == 1);
  CHECK(out->to == 3);
  auto after = ark::kv::value::from_msgpack(out->after).as<mig::settings>();
  REQUIRE(after);
  CHECK(after->visits == 4);
  CHECK(after->notes == 1);
  REQUIRE(out->kv.ops.size() == 2);  // del ["note","n1"], put ["notes","n1"]
  // Nothing written.
  CHECK(*db->get(ark::stored::state_space(), id->encoded) == *stored);
  CHECK(actor_kv(db, "mig", "d").get<std::string>(ark::key{"note", "n1"}));
  CHECK_FALSE(actor_kv(db, "mig", "d").get<std::string>(ark::key{"notes", "n1"}));
}
