// What one message of a plain actor costs the host, in counts rather than
// time (so that a cost added to the common path cannot go unnoticed, and no
// timing makes the test flaky): backend calls and heap allocations per
// message, on a real runtime over a real LMDB data directory. The documented
// values are in doc/architecture.md ("What a message costs"); change them
// there and here together, with the reason.
//
// Its own executable: it replaces the global operator new to count.

#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <string>

#include <ark/client.hpp>
#include <ark/kv/lmdb_backend.hpp>
#include <ark/registry.hpp>
#include <ark/runtime.hpp>

#include "test_util.hpp"

using namespace std::chrono_literals;

namespace {

// Allocations made by every thread but the ones that opted out (the test's
// own, which drives the actor as a client would).
std::atomic<std::uint64_t> allocations{0};
thread_local bool uncounted = false;

}  // namespace

void* operator new(std::size_t n) {
  if (!uncounted) allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  return operator new(n);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  if (!uncounted) allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept {
  return operator new(n, t);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}

namespace guard {

using add_atom = caf::atom_constant<caf::atom("add")>;
using get_atom = caf::atom_constant<caf::atom("get")>;
using plain_if = caf::typed_actor<caf::replies_to<add_atom, std::int64_t>::with<std::int64_t>,
                                  caf::replies_to<get_atom>::with<std::int64_t>>;

struct plain_state {
  std::int64_t value = 0;
  MSGPACK_DEFINE_MAP(value)
};

/// The plainest actor: no alarms, no subscribers, no KV groups, no memory part.
class plain : public ark::actor<plain_if, plain_state> {
 public:
  using actor::actor;
  handlers_type make_handlers() override {
    return handlers([this](add_atom, std::int64_t n) { return state().value += n; },
                    [this](get_atom) { return state().value; });
  }
};

}  // namespace guard

ARK_ACTOR("guard_plain", guard::plain);

namespace {

// A real LMDB backend with every call counted by name.
class counting_backend final : public ark::kv::backend {
 public:
  explicit counting_backend(std::shared_ptr<ark::kv::backend> inner) : inner_(std::move(inner)) {}

  std::map<std::string, std::uint64_t> counts() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return counts_;
  }

  std::string_view name() const override { return inner_->name(); }
  ark::expected<std::string> get(std::string_view space, std::string_view key) override {
    count("get");
    return inner_->get(space, key);
  }
  ark::expected<std::vector<std::optional<std::string>>> get_batch(
      std::string_view space, const std::vector<std::string>& keys) override {
    count("get_batch");
    return inner_->get_batch(space, keys);
  }
  ark::expected<std::unique_ptr<ark::kv::backend_cursor>> scan(std::string_view space,
                                                               const ark::kv::byte_range& range,
                                                               bool reverse) override {
    count("scan");
    return inner_->scan(space, range, reverse);
  }
  ark::expected<std::uint64_t> apply(const ark::kv::backend_batch& batch) override {
    count("apply");
    return inner_->apply(batch);
  }
  ark::expected<ark::kv::claim_result> claim(std::string_view space, std::string_view key) override {
    count("claim");
    return inner_->claim(space, key);
  }
  ark::expected<ark::kv::apply_result> apply_fenced(const ark::kv::backend_batch& batch) override {
    count("apply_fenced");
    return inner_->apply_fenced(batch);
  }
  ark::expected<std::vector<std::string>> spaces(std::string_view after,
                                                 std::size_t limit) override {
    count("spaces");
    return inner_->spaces(after, limit);
  }
  ark::expected<void> sync() override {
    count("sync");
    return inner_->sync();
  }

 private:
  void count(const char* what) {
    std::lock_guard<std::mutex> guard{mtx_};
    ++counts_[what];
  }
  std::shared_ptr<ark::kv::backend> inner_;
  mutable std::mutex mtx_;
  std::map<std::string, std::uint64_t> counts_;
};

std::map<std::string, double> per_message(const std::map<std::string, std::uint64_t>& before,
                                          const std::map<std::string, std::uint64_t>& after,
                                          int n) {
  std::map<std::string, double> out;
  for (const auto& [what, count] : after) {
    auto it = before.find(what);
    auto d = count - (it == before.end() ? 0 : it->second);
    if (d > 0) out[what] = static_cast<double>(d) / n;
  }
  return out;
}

}  // namespace

// The documented costs of one message of a plain actor whose state changes
// (doc/architecture.md, "What a message costs"), with requests sent one at a
// time, so that every message is its own commit.
constexpr double documented_backend_applies = 1.0;
constexpr double documented_allocations = 7;

// The backend calls of activating a plain actor that does not exist yet and
// handling its first message (get_or_create, then add): the snapshot lookup
// and the creation's commit, which the first message's commit joins when it
// is still pending (so 1 to 2 applies). No scan: an actor reads its alarms
// only when it first uses them.
constexpr double documented_activation_gets = 1.0;

TEST_CASE("a plain actor's message and activation cost the documented backend calls and allocations") {
  uncounted = true;  // the test thread is the client: not the host's cost
  ark::test::temp_dir dir;
  ark::kv::lmdb_options lo;
  auto lmdb = ark::kv::lmdb_backend::open(dir.sub("data"), lo);
  REQUIRE_MESSAGE(lmdb, (lmdb ? "" : lmdb.error().message()));
  auto db = std::make_shared<counting_backend>(*lmdb);

  caf::actor_system_config cfg;
  ark::actor_registry::global().configure(cfg);
  caf::actor_system sys{cfg};
  ark::runtime_options opts;
  opts.data_dir = dir.sub("data");
  opts.backend = db;
  auto rt = ark::runtime::open(sys, opts);
  REQUIRE_MESSAGE(rt, (rt ? "" : rt.error().message()));
  auto h = (*rt)->get_or_create<guard::plain_if>("guard_plain", ark::key{"a"});
  REQUIRE(h);

  caf::scoped_actor self{sys};
  auto add = [&](std::int64_t n) {
    std::int64_t got = -1;
    self->request(*h, caf::infinite, guard::add_atom::value, n)
        .receive([&](std::int64_t v) { got = v; }, [&](caf::error&) {});
    return got;
  };
  // Warm up: activation, first commits, CAF's and LMDB's first-use allocations.
  for (int i = 0; i < 200; ++i) REQUIRE(add(1) == i + 1);

  const int n = 1000;
  auto calls0 = db->counts();
  auto allocs0 = allocations.load();
  for (int i = 0; i < n; ++i) REQUIRE(add(1) == 200 + i + 1);
  auto allocs = static_cast<double>(allocations.load() - allocs0) / n;
  auto calls = per_message(calls0, db->counts(), n);

  MESSAGE("backend calls per message: " << [&] {
    std::string s;
    for (const auto& [what, c] : calls) s += what + " " + std::to_string(c) + "  ";
    return s;
  }());
  MESSAGE("allocations per message in the host: " << allocs);
  // One commit per message and nothing else: no read, no scan (an actor
  // without alarms must not look for them per message).
  CHECK(calls.size() == 1);
  CHECK(calls["apply"] == doctest::Approx(documented_backend_applies));
  // Allocations: at most the documented number (a new one on this path
  // fails here); far fewer means the documented value is stale.
  CHECK(allocs <= documented_allocations + 0.5);
  CHECK(allocs >= documented_allocations - 3);

  // Activating a new actor and its first message (its creation commit): the
  // snapshot lookup and one commit; no alarm lookup.
  const int k = 100;
  auto act0 = db->counts();
  for (int i = 0; i < k; ++i) {
    auto x = (*rt)->get_or_create<guard::plain_if>("guard_plain", ark::key{"n", i});
    REQUIRE(x);
    std::int64_t got = -1;
    self->request(*x, caf::infinite, guard::add_atom::value, std::int64_t{1})
        .receive([&](std::int64_t v) { got = v; }, [&](caf::error&) {});
    REQUIRE(got == 1);
  }
  auto act = per_message(act0, db->counts(), k);
  MESSAGE("backend calls per activation and first message: " << [&] {
    std::string s;
    for (const auto& [what, c] : act) s += what + " " + std::to_string(c) + "  ";
    return s;
  }());
  CHECK(act.size() == 2);
  CHECK(act["get"] == doctest::Approx(documented_activation_gets));
  CHECK(act.count("scan") == 0);
  CHECK(act["apply"] >= 1.0);
  CHECK(act["apply"] <= 2.0);

  // A lookup alone activates nothing: the activation (its snapshot read)
  // runs with the actor's first message (doc/architecture.md).
  std::vector<guard::plain_if> handles;
  auto lookup0 = db->counts();
  for (int i = 0; i < 10; ++i) {
    auto x = (*rt)->get_or_create<guard::plain_if>("guard_plain", ark::key{"lazy", i});
    REQUIRE(x);
    handles.push_back(*x);
  }
  CHECK(per_message(lookup0, db->counts(), 10).empty());
  for (auto& x : handles) {
    std::int64_t got = -1;
    self->request(x, caf::infinite, guard::add_atom::value, std::int64_t{1})
        .receive([&](std::int64_t v) { got = v; }, [&](caf::error&) {});
    REQUIRE(got == 1);
  }
  CHECK(per_message(lookup0, db->counts(), 10)["get"] == doctest::Approx(1.0));
  (*rt)->shutdown();
}
