// get (lookup without creation) and create, next to get_or_create: in the
// runtime, in the test kit and inside actors.

#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <ark/testing.hpp>

#include "actors/host_env.hpp"
#include "actors/probe_actor.hpp"

namespace {

using probe::probe_if;
using namespace std::chrono_literals;

using exists_atom = caf::atom_constant<caf::atom("exists")>;
using make_atom = caf::atom_constant<caf::atom("make")>;

/// Reaches probes with get and create from inside a handler; answers "found"
/// / "created" or the error code's name.
using finder_if = caf::typed_actor<caf::replies_to<exists_atom, std::string>::with<std::string>,
                                   caf::replies_to<make_atom, std::string>::with<std::string>>;

struct finder_state {
  std::int64_t calls = 0;
  MSGPACK_DEFINE_MAP(calls)
};

class finder : public ark::actor<finder_if, finder_state> {
 public:
  using actor::actor;
  handlers_type make_handlers() override {
    return handlers(
        [this](exists_atom, const std::string& key) -> std::string {
          auto h = get<probe_if>("probe", key);
          return h ? "found" : std::string(ark::to_string(h.error().code()));
        },
        [this](make_atom, const std::string& key) -> std::string {
          auto h = create<probe_if>("probe", key, std::int64_t{7});
          return h ? "created" : std::string(ark::to_string(h.error().code()));
        });
  }
};

/// A probe whose state and KV live in the host's memory only.
class memory_probe : public probe::probe_actor {
 public:
  using probe_actor::probe_actor;
  static constexpr ark::storage_location location = ark::storage_location::memory;
};

}  // namespace

ARK_ACTOR("lookup_finder", finder);
ARK_ACTOR("lookup_memory_probe", memory_probe);

TEST_CASE("get of an actor never created is not_found and activates, writes and creates nothing") {
  ark::testing::world w;
  auto commits = w.commits();
  auto runs = probe::initialize_runs.load();
  auto h = w.get<probe_if>("probe", "ghost");
  REQUIRE_FALSE(h);
  CHECK(h.error() == ark::errc::not_found);
  CHECK(h.error().message() ==
        "not_found: actor probe [\"ghost\"] does not exist (get creates nothing) (remedy: create "
        "it with create or get_or_create, or check the type and key)");
  CHECK(w.runtime().stats().active_actors == 0);
  CHECK(w.runtime().active_actors().empty());
  CHECK(probe::initialize_runs.load() == runs);
  CHECK(w.commits() == commits);
  CHECK(w.stored_state_json("probe", "ghost").error() == ark::errc::not_found);
  // Still absent: the failed get left nothing behind.
  CHECK(w.get<probe_if>("probe", "ghost").error() == ark::errc::not_found);
  // The usual checks come first.
  CHECK(w.get<probe_if>("no_such_type", "a").error() == ark::errc::unknown_actor_type);
  CHECK(w.get<probe::other_if>("probe", "a").error() == ark::errc::wrong_interface);
}

TEST_CASE("get reaches a stored actor whether active, passivated or after a host restart") {
  ark::testing::world w;
  auto a = w.get_or_create<probe_if>("probe", "a", std::int64_t{5});
  REQUIRE(a);
  REQUIRE(w.call<std::int64_t>(*a, probe::add_atom::value, std::int64_t{1}).value() == 6);
  auto active = w.get<probe_if>("probe", "a");
  REQUIRE(active);
  CHECK(*active == *a);  // the one activation
  REQUIRE(w.restart_actor("probe", "a"));
  auto passive = w.get<probe_if>("probe", "a");
  REQUIRE(passive);
  CHECK(w.call<std::int64_t>(*passive, probe::get_atom::value).value() == 6);
  w.restart();
  CHECK(w.runtime().active_actors().empty());
  auto again = w.get<probe_if>("probe", "a");
  REQUIRE(again);
  CHECK(w.call<std::int64_t>(*again, probe::get_atom::value).value() == 6);
  CHECK(w.call<std::int64_t>(*again, probe::init_atom::value).value() == 5);
}

TEST_CASE("create makes a new actor and refuses one that exists, active, stored or restarted") {
  ark::testing::world w;
  auto runs = probe::initialize_runs.load();
  auto n = w.create<probe_if>("probe", "n", std::int64_t{3});
  REQUIRE(n);
  CHECK(w.call<std::int64_t>(*n, probe::init_atom::value).value() == 3);
  CHECK(probe::initialize_runs.load() == runs + 1);
  auto twice = w.create<probe_if>("probe", "n", std::int64_t{9});
  REQUIRE_FALSE(twice);
  CHECK(twice.error() == ark::errc::already_exists);
  CHECK(twice.error().message() ==
        "already_exists: actor probe [\"n\"] already exists (create makes only new actors) "
        "(remedy: reach the existing actor with get or get_or_create, or create another key)");
  REQUIRE(w.restart_actor("probe", "n"));
  CHECK(w.create<probe_if>("probe", "n").error() == ark::errc::already_exists);
  w.restart();
  CHECK(w.create<probe_if>("probe", "n").error() == ark::errc::already_exists);
  CHECK(w.runtime().active_actors().empty());  // a refused create activates nothing
  CHECK(probe::initialize_runs.load() == runs + 1);
  auto still = w.get<probe_if>("probe", "n");
  REQUIRE(still);
  CHECK(w.call<std::int64_t>(*still, probe::init_atom::value).value() == 3);
}

TEST_CASE("an actor whose creation is not yet durable exists for create and get") {
  ark::testing::world w;
  ark::testing::pause_commits(w.runtime());
  // The runtime's own calls: the world's wait for the creation to settle.
  auto p = w.runtime().create<probe_if>("probe", "pending", std::int64_t{1});
  REQUIRE(p);  // created: its first commit waits in the paused writer
  CHECK(w.create<probe_if>("probe", "pending").error() == ark::errc::already_exists);
  auto g = w.get<probe_if>("probe", "pending");
  REQUIRE(g);
  CHECK(*g == *p);
  auto gc = w.runtime().get_or_create<probe_if>("probe", "pending", std::int64_t{2});
  REQUIRE(gc);
  CHECK(*gc == *p);
  ark::testing::resume_commits(w.runtime());
  CHECK(w.call<std::int64_t>(*p, probe::init_atom::value).value() == 1);
}

TEST_CASE("concurrent creates of one identity: exactly one succeeds, the rest get already_exists") {
  ark::test::host_env env;  // real LMDB, real threads
  for (int round = 0; round < 5; ++round) {
    auto key = "race" + std::to_string(round);
    auto runs = probe::initialize_runs.load();
    std::atomic<int> created{0}, exists{0}, other{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
      threads.emplace_back([&, t] {
        // Half create, half get_or_create: both race for the one activation.
        if (t % 2 == 0) {
          auto h = env.rt->create<probe_if>("probe", key, std::int64_t{t});
          if (h)
            ++created;
          else if (h.error() == ark::errc::already_exists)
            ++exists;
          else
            ++other;
        } else {
          if (!env.rt->get_or_create<probe_if>("probe", key, std::int64_t{t})) ++other;
        }
      });
    for (auto& t : threads) t.join();
    CHECK(other == 0);
    CHECK(created + exists == 4);
    CHECK(created <= 1);
    // One activation: every handle is the same actor, initialized once.
    auto h = env.rt->get<probe_if>("probe", key);
    REQUIRE(h);
    CHECK(ark::call<std::int64_t>(*env.sys, *h, 10s, probe::get_atom::value));
    CHECK(probe::initialize_runs.load() == runs + 1);
    CHECK(env.rt->active_actors().size() == static_cast<std::size_t>(round + 1));
  }
}

TEST_CASE("a memory-only actor exists while the memory store holds it") {
  ark::testing::world w;
  CHECK(w.get<probe_if>("lookup_memory_probe", "m").error() == ark::errc::not_found);
  auto m = w.create<probe_if>("lookup_memory_probe", "m", std::int64_t{4});
  REQUIRE(m);
  REQUIRE(w.call<std::int64_t>(*m, probe::add_atom::value, std::int64_t{1}).value() == 5);
  REQUIRE(w.restart_actor("lookup_memory_probe", "m"));
  CHECK(w.create<probe_if>("lookup_memory_probe", "m").error() == ark::errc::already_exists);
  auto back = w.get<probe_if>("lookup_memory_probe", "m");
  REQUIRE(back);
  CHECK(w.call<std::int64_t>(*back, probe::get_atom::value).value() == 5);
  w.restart();  // the memory store is gone with the host
  CHECK(w.get<probe_if>("lookup_memory_probe", "m").error() == ark::errc::not_found);
}

TEST_CASE("actors reach other actors with get and create") {
  ark::testing::world w;
  auto f = w.get_or_create<finder_if>("lookup_finder", "f");
  REQUIRE(f);
  CHECK(w.call<std::string>(*f, exists_atom::value, std::string("x")).value() == "not_found");
  CHECK(w.stored_state_json("probe", "x").error() == ark::errc::not_found);
  CHECK(w.call<std::string>(*f, make_atom::value, std::string("x")).value() == "created");
  CHECK(w.call<std::string>(*f, make_atom::value, std::string("x")).value() == "already_exists");
  CHECK(w.call<std::string>(*f, exists_atom::value, std::string("x")).value() == "found");
  auto x = w.get<probe_if>("probe", "x");
  REQUIRE(x);
  CHECK(w.call<std::int64_t>(*x, probe::init_atom::value).value() == 7);
}
