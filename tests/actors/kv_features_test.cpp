// kv().update, KV groups and memory() on a real runtime over a real LMDB
// data directory.

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <stdexcept>
#include <thread>

#include "actors/host_env.hpp"

namespace kvfeat {

using kput_atom = caf::atom_constant<caf::atom("kput")>;
using kcount_atom = caf::atom_constant<caf::atom("kcount")>;
using kupd_atom = caf::atom_constant<caf::atom("kupd")>;
using kclear_atom = caf::atom_constant<caf::atom("kclear")>;
using kgroup_atom = caf::atom_constant<caf::atom("kgroup")>;
using ktell_atom = caf::atom_constant<caf::atom("ktell")>;
using mset_atom = caf::atom_constant<caf::atom("mset")>;
using mfail_atom = caf::atom_constant<caf::atom("mfail")>;
using mget_atom = caf::atom_constant<caf::atom("mget")>;
using sset_atom = caf::atom_constant<caf::atom("sset")>;

using kvfeat_if = caf::typed_actor<
    caf::replies_to<kput_atom, std::string, std::string, std::string>::with<bool>,
    caf::replies_to<kcount_atom, std::string>::with<std::uint64_t>,
    caf::replies_to<kupd_atom, std::string, std::int64_t, bool, bool>::with<std::int64_t>,
    caf::replies_to<kclear_atom, std::string, bool>::with<std::uint64_t>,
    caf::replies_to<kgroup_atom, std::string>::with<std::uint64_t>,
    caf::replies_to<ktell_atom, std::string, std::string>::with<bool>,
    caf::replies_to<mset_atom, std::string>::with<std::string>,
    caf::replies_to<mfail_atom, std::string>::with<std::string>,
    caf::replies_to<mget_atom>::with<std::string>,
    caf::replies_to<sset_atom, std::string>::with<bool>>;

struct kvfeat_state {
  std::string text;
  MSGPACK_DEFINE_MAP(text)
};

/// Never written: what the tests look for on disk.
struct kvfeat_memory {
  std::string note;
};

class kvfeat_actor : public ark::actor<kvfeat_if, kvfeat_state, kvfeat_memory> {
 public:
  using actor::actor;

  std::vector<ark::kv_group> kv_groups() const override {
    return {{"session", ark::key{"session"}, {"logout", "lock"}},
            {"cache", ark::key{"cache"}, {"lock"}},
            {"session-tmp", ark::key{"session", "tmp"}, {"logout"}},  // overlaps "session"
            {"prefs", ark::key{"prefs"}, {}}};
  }

  handlers_type make_handlers() override {
    return handlers(
        [this](kput_atom, const std::string& prefix, const std::string& name,
               const std::string& v) -> ark::expected<bool> {
          ark::key k = name == "tmp" ? ark::key{prefix, "tmp", v} : ark::key{prefix, name};
          if (auto r = kv().put(k, v); !r) return r.error();
          return true;
        },
        [this](kcount_atom, const std::string& prefix) {
          ark::kv::list_options o;
          if (!prefix.empty()) o.prefix = ark::key{prefix};
          return kv().count(o);
        },
        [this](kupd_atom, const std::string& name, std::int64_t delta, bool skip,
               bool fail) -> ark::expected<std::int64_t> {
          ark::kv::update_options<std::int64_t> o;
          o.should_update = [skip](const auto&, const auto&) { return !skip; };
          auto r = kv().update<std::int64_t>(
              ark::key{"n", name},
              [&](const std::optional<std::int64_t>& cur) { return cur.value_or(0) + delta; }, o);
          if (!r) return r.error();
          if (fail) {
            (void)kv().put(ark::key{"log", name}, delta);
            throw std::runtime_error("failed after update");
          }
          return r->value.value_or(-1);
        },
        [this](kclear_atom, const std::string& event, bool fail) -> ark::expected<std::uint64_t> {
          auto n = clear_on_event(event);
          if (!n) return n.error();
          if (fail) throw std::runtime_error("failed after clear");
          return *n;
        },
        [this](kgroup_atom, const std::string& name) { return clear_group(name); },
        [this](ktell_atom, const std::string& other,
               const std::string& event) -> ark::expected<bool> {
          auto h = get_or_create<kvfeat_if>("kvfeat", ark::key{other});
          if (!h) return h.error();
          send_clear_event(*h, event);
          return true;
        },
        [this](mset_atom, const std::string& v) {
          auto old = memory().note;
          memory().note = v;
          return old;
        },
        [this](mfail_atom, const std::string& v) -> std::string {
          memory().note = v;
          throw std::runtime_error("failed after memory()");
        },
        [this](mget_atom) { return memory().note; },
        [this](sset_atom, const std::string& v) {
          state().text = v;
          return true;
        });
  }
};

/// Declares two groups of the same name: its activation must fail.
class kvdup_actor : public kvfeat_actor {
 public:
  using kvfeat_actor::kvfeat_actor;
  std::vector<ark::kv_group> kv_groups() const override {
    return {{"session", ark::key{"session"}, {"logout"}}, {"session", ark::key{"other"}, {"lock"}}};
  }
};

}  // namespace kvfeat

ARK_ACTOR("kvfeat", kvfeat::kvfeat_actor);
ARK_ACTOR("kvdup", kvfeat::kvdup_actor);

using namespace std::chrono_literals;
using ark::test::host_env;
using kvfeat::kvfeat_if;

namespace {

kvfeat_if get(host_env& env, const std::string& k, const char* type = "kvfeat") {
  auto h = env.rt->get_or_create<kvfeat_if>(type, ark::key{k});
  REQUIRE_MESSAGE(h, (h ? "" : h.error().message()));
  return *h;
}

template <class R, class... Ts>
R must(host_env& env, const kvfeat_if& h, Ts&&... xs) {
  auto r = ark::call<R>(*env.sys, h, 10s, std::forward<Ts>(xs)...);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
  return *r;
}

std::uint64_t count(host_env& env, const kvfeat_if& h, const std::string& prefix) {
  return must<std::uint64_t>(env, h, kvfeat::kcount_atom::value, prefix);
}

void put(host_env& env, const kvfeat_if& h, const std::string& prefix, const std::string& name,
         const std::string& v = "x") {
  CHECK(must<bool>(env, h, kvfeat::kput_atom::value, prefix, name, v));
}

// Fills every group: session 3 keys (one under ["session","tmp"]), cache 2,
// prefs 1, plus 2 keys in no group.
void fill(host_env& env, const kvfeat_if& h) {
  put(env, h, "session", "token");
  put(env, h, "session", "user");
  put(env, h, "session", "tmp", "scratch");
  put(env, h, "cache", "a");
  put(env, h, "cache", "b");
  put(env, h, "prefs", "theme");
  put(env, h, "keep", "a");
  put(env, h, "sessions", "not-a-session");  // ["sessions"] is no ["session", ...]
}

void wait_all_passive(host_env& env) {
  for (int i = 0; i < 300 && env.rt->stats().active_actors > 0; ++i)
    std::this_thread::sleep_for(10ms);
  REQUIRE(env.rt->stats().active_actors == 0);
}

// Every byte of every file in `dir`.
std::string all_bytes(const std::string& dir) {
  std::string out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    out.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return out;
}

}  // namespace

// -- kv().update ---------------------------------------------------------------

TEST_CASE("kv().update in a handler commits with the message, and no update is lost") {
  host_env env;
  auto h = get(env, "upd");
  CHECK(must<std::int64_t>(env, h, kvfeat::kupd_atom::value, std::string("a"), std::int64_t{5},
                           false, false) == 5);
  // Many concurrent updates behind a paused writer: each reads the one before.
  ark::testing::pause_commits(*env.rt);
  std::vector<std::future<ark::expected<std::int64_t>>> replies;
  for (int i = 0; i < 20; ++i)
    replies.push_back(std::async(std::launch::async, [&] {
      return ark::call<std::int64_t>(*env.sys, h, 10s, kvfeat::kupd_atom::value, std::string("a"),
                                     std::int64_t{1}, false, false);
    }));
  std::this_thread::sleep_for(200ms);
  ark::testing::resume_commits(*env.rt);
  std::vector<std::int64_t> got;
  for (auto& r : replies) got.push_back(r.get().value_or(-1));
  std::sort(got.begin(), got.end());
  CHECK(got.front() == 6);
  CHECK(got.back() == 25);
  env.restart();
  h = get(env, "upd");
  CHECK(must<std::int64_t>(env, h, kvfeat::kupd_atom::value, std::string("a"), std::int64_t{0},
                           false, false) == 25);
}

TEST_CASE("kv().update and other writes of a failing handler leave nothing") {
  host_env env;
  auto h = get(env, "upd");
  REQUIRE(must<std::int64_t>(env, h, kvfeat::kupd_atom::value, std::string("a"), std::int64_t{1},
                             false, false) == 1);
  auto units = env.rt->stats().units;
  auto r = ark::call<std::int64_t>(*env.sys, h, 10s, kvfeat::kupd_atom::value, std::string("a"),
                                   std::int64_t{10}, false, true);
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == ark::errc::handler_failed);
  CHECK(r.error().context().find("failed after update") != std::string::npos);
  CHECK(count(env, h, "log") == 0);  // the put after the update is gone too
  CHECK(env.rt->stats().units == units);
  env.restart();
  h = get(env, "upd");
  CHECK(must<std::int64_t>(env, h, kvfeat::kupd_atom::value, std::string("a"), std::int64_t{0},
                           false, false) == 1);
  CHECK(count(env, h, "log") == 0);
}

TEST_CASE("kv().update with should_update false writes nothing and submits no unit") {
  host_env env;
  auto h = get(env, "upd");
  REQUIRE(must<std::int64_t>(env, h, kvfeat::kupd_atom::value, std::string("a"), std::int64_t{3},
                             false, false) == 3);
  auto units = env.rt->stats().units;
  // Skipped: the reply is the current value, nothing goes to the writer.
  CHECK(must<std::int64_t>(env, h, kvfeat::kupd_atom::value, std::string("a"), std::int64_t{100},
                           true, false) == 3);
  CHECK(must<std::int64_t>(env, h, kvfeat::kupd_atom::value, std::string("new"), std::int64_t{100},
                           true, false) == -1);  // still absent
  CHECK(env.rt->stats().units == units);
  CHECK(count(env, h, "n") == 1);
}

// -- KV groups -----------------------------------------------------------------

TEST_CASE("validate_kv_groups refuses unnamed, duplicate, badly keyed and empty-event groups") {
  using ark::kv_group;
  CHECK(ark::validate_kv_groups({}));
  CHECK(ark::validate_kv_groups({{"a", ark::key{"a"}, {"x"}}, {"b", ark::key{"a"}, {"x"}}}));
  CHECK(ark::validate_kv_groups({{"all", ark::key{}, {"wipe"}}}));  // the whole kv()
  auto unnamed = ark::validate_kv_groups({{"", ark::key{"a"}, {}}});
  REQUIRE_FALSE(unnamed);
  CHECK(unnamed.error().context().find("has no name") != std::string::npos);
  auto dup = ark::validate_kv_groups({{"s", ark::key{"a"}, {}}, {"s", ark::key{"b"}, {}}});
  REQUIRE_FALSE(dup);
  CHECK(dup.error().code() == ark::errc::invalid_argument);
  CHECK(dup.error().context().find("'s' is declared twice") != std::string::npos);
  auto big = ark::validate_kv_groups({{"big", ark::key{std::string(600, 'p')}, {}}});
  REQUIRE_FALSE(big);
  CHECK(big.error().code() == ark::errc::key_too_large);
  CHECK(big.error().context().find("kv group 'big'") != std::string::npos);
  auto empty_event = ark::validate_kv_groups({{"e", ark::key{"e"}, {"logout", ""}}});
  REQUIRE_FALSE(empty_event);
  CHECK(empty_event.error().context().find("empty event name") != std::string::npos);
}

TEST_CASE("an actor type declaring a kv group twice fails activation with a clear error") {
  host_env env;
  auto h = get(env, "x", "kvdup");
  auto r = ark::call<std::uint64_t>(*env.sys, h, 10s, kvfeat::kcount_atom::value, std::string());
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == ark::errc::activation_failed);
  CHECK(r.error().context().find("kvdup") != std::string::npos);
  CHECK(r.error().context().find("'session' is declared twice") != std::string::npos);
}

TEST_CASE("clear_on_event in a handler clears every group listing the event, atomically") {
  host_env env;
  auto h = get(env, "u");
  fill(env, h);
  REQUIRE(count(env, h, "") == 8);

  // A failing handler keeps the keys.
  auto failed = ark::call<std::uint64_t>(*env.sys, h, 10s, kvfeat::kclear_atom::value,
                                         std::string("lock"), true);
  REQUIRE_FALSE(failed);
  CHECK(count(env, h, "session") == 3);
  CHECK(count(env, h, "cache") == 2);

  // "logout": session and session-tmp (overlapping: each key counted once).
  CHECK(must<std::uint64_t>(env, h, kvfeat::kclear_atom::value, std::string("logout"), false) == 3);
  CHECK(count(env, h, "session") == 0);
  CHECK(count(env, h, "cache") == 2);
  CHECK(count(env, h, "sessions") == 1);
  // An event no group lists removes nothing.
  CHECK(must<std::uint64_t>(env, h, kvfeat::kclear_atom::value, std::string("reboot"), false) == 0);
  // "lock": session (empty now) and cache.
  CHECK(must<std::uint64_t>(env, h, kvfeat::kclear_atom::value, std::string("lock"), false) == 2);
  CHECK(count(env, h, "") == 3);  // prefs, keep, sessions
  env.restart();
  h = get(env, "u");
  CHECK(count(env, h, "session") == 0);
  CHECK(count(env, h, "cache") == 0);
  CHECK(count(env, h, "prefs") == 1);
  CHECK(count(env, h, "keep") == 1);
}

TEST_CASE("clear_group clears one group by name, an unknown name lists the declared ones") {
  host_env env;
  auto h = get(env, "u");
  fill(env, h);
  CHECK(must<std::uint64_t>(env, h, kvfeat::kgroup_atom::value, std::string("prefs")) == 1);
  CHECK(count(env, h, "prefs") == 0);
  CHECK(count(env, h, "") == 7);
  auto r =
      ark::call<std::uint64_t>(*env.sys, h, 10s, kvfeat::kgroup_atom::value, std::string("nope"));
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == ark::errc::invalid_argument);
  CHECK(r.error().context().find("no kv group 'nope'") != std::string::npos);
  CHECK(r.error().context().find("session, cache, session-tmp, prefs") != std::string::npos);
}

TEST_CASE("clear_event from outside the actor clears its groups as a durable message") {
  host_env env;
  auto h = get(env, "u");
  fill(env, h);
  ark::testing::pause_commits(*env.rt);
  auto reply =
      std::async(std::launch::async, [&] { return ark::clear_event(*env.sys, h, "logout"); });
  CHECK(reply.wait_for(300ms) == std::future_status::timeout);  // gated on the commit
  ark::testing::resume_commits(*env.rt);
  auto n = reply.get();
  REQUIRE_MESSAGE(n, (n ? "" : n.error().message()));
  CHECK(*n == 3);
  CHECK(count(env, h, "session") == 0);
  CHECK(count(env, h, "cache") == 2);
  auto none = ark::clear_event(*env.sys, h, "no-such-event");
  REQUIRE(none);
  CHECK(*none == 0);
  env.restart();
  CHECK(count(env, get(env, "u"), "session") == 0);
}

TEST_CASE("an actor clears another actor's groups with send_clear_event") {
  host_env env;
  auto target = get(env, "target");
  fill(env, target);
  auto sender = get(env, "sender");
  CHECK(must<bool>(env, sender, kvfeat::ktell_atom::value, std::string("target"),
                   std::string("lock")));
  for (int i = 0; i < 200 && count(env, target, "cache") != 0; ++i)
    std::this_thread::sleep_for(10ms);
  CHECK(count(env, target, "cache") == 0);
  CHECK(count(env, target, "session") == 0);
  CHECK(count(env, target, "prefs") == 1);
}

// -- memory() ------------------------------------------------------------------

TEST_CASE("memory() survives passivation within the host and is gone after a restart") {
  host_env env(50ms);
  {
    auto h = get(env, "m");
    CHECK(must<std::string>(env, h, kvfeat::mset_atom::value, std::string("remembered")) == "");
  }
  wait_all_passive(env);
  {
    auto h = get(env, "m");
    CHECK(must<std::string>(env, h, kvfeat::mget_atom::value) == "remembered");
    // A held handle: the actor drops its state instead (soft passivation);
    // memory() stays with it.
    std::this_thread::sleep_for(200ms);
    CHECK(must<std::string>(env, h, kvfeat::mget_atom::value) == "remembered");
  }
  env.restart();
  CHECK(must<std::string>(env, get(env, "m"), kvfeat::mget_atom::value) == "");
}

TEST_CASE("memory() changes of a failing handler are not rolled back") {
  host_env env;
  auto h = get(env, "m");
  auto r = ark::call<std::string>(*env.sys, h, 10s, kvfeat::mfail_atom::value,
                                  std::string("kept anyway"));
  REQUIRE_FALSE(r);
  CHECK(must<std::string>(env, h, kvfeat::mget_atom::value) == "kept anyway");
}

TEST_CASE("memory_stash_limit drops the memory stashed longest ago") {
  host_env env(50ms);
  env.opts.memory_stash_limit = 1;
  env.restart();
  {
    auto a = get(env, "a");
    must<std::string>(env, a, kvfeat::mset_atom::value, std::string("from a"));
  }
  wait_all_passive(env);
  {
    auto b = get(env, "b");
    must<std::string>(env, b, kvfeat::mset_atom::value, std::string("from b"));
  }
  wait_all_passive(env);  // b's stash pushed a's out
  CHECK(must<std::string>(env, get(env, "b"), kvfeat::mget_atom::value) == "from b");
  CHECK(must<std::string>(env, get(env, "a"), kvfeat::mget_atom::value) == "");

  env.opts.memory_stash_limit = 0;  // keep none
  env.restart();
  {
    auto c = get(env, "c");
    must<std::string>(env, c, kvfeat::mset_atom::value, std::string("from c"));
  }
  wait_all_passive(env);
  CHECK(must<std::string>(env, get(env, "c"), kvfeat::mget_atom::value) == "");
}

TEST_CASE("memory() is never written to disk, while state and kv are") {
  const std::string memory_marker = "MEMORY-ONLY-7f3a9c21";
  const std::string state_marker = "STATE-ON-DISK-51be0d4";
  const std::string kv_marker = "KV-ON-DISK-c0ffee42";
  host_env env(50ms);
  {
    auto h = get(env, "disk");
    must<std::string>(env, h, kvfeat::mset_atom::value, memory_marker);
    CHECK(must<bool>(env, h, kvfeat::sset_atom::value, state_marker));
    put(env, h, "keep", "k", kv_marker);
  }
  wait_all_passive(env);  // passivated and reactivated: memory went through the stash
  CHECK(must<std::string>(env, get(env, "disk"), kvfeat::mget_atom::value) == memory_marker);
  env.stop();  // everything committed, checkpointed, closed
  auto bytes = all_bytes(env.opts.data_dir);
  REQUIRE(bytes.size() > 0);
  CHECK(bytes.find(state_marker) != std::string::npos);  // the scan does find what is written
  CHECK(bytes.find(kv_marker) != std::string::npos);
  CHECK(bytes.find(memory_marker) == std::string::npos);
}
