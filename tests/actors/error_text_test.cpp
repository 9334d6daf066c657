// What a caller reads when an error crosses actors: the code and context of
// the party that failed, and exactly one remedy, added by the party that
// knows the situation (errors.hpp, doc/architecture.md "Errors").

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include <ark/testing.hpp>

#include "actors/probe_actor.hpp"

namespace {

using refuse_atom = caf::atom_constant<caf::atom("refuse")>;
using pass_atom = caf::atom_constant<caf::atom("pass")>;

/// refuse(n) fails with invalid_argument; pass(other, n) asks actor `other`
/// to refuse(n) and forwards its answer, error included, to its own caller.
using relay_if =
    caf::typed_actor<caf::replies_to<refuse_atom, std::int64_t>::with<std::int64_t>,
                     caf::replies_to<pass_atom, std::string, std::int64_t>::with<std::int64_t>>;

struct relay_state {
  std::int64_t passed = 0;
  MSGPACK_DEFINE_MAP(passed)
};

class relay : public ark::actor<relay_if, relay_state> {
 public:
  using actor::actor;
  handlers_type make_handlers() override {
    return handlers(
        [](refuse_atom, std::int64_t n) -> ark::expected<std::int64_t> {
          return ark::error{ark::errc::invalid_argument,
                            "amount " + std::to_string(n) + " must be positive"};
        },
        [this](pass_atom, const std::string& other, std::int64_t n) -> ark::promise<std::int64_t> {
          auto p = make_promise<std::int64_t>();
          auto h = get_or_create<relay_if>("error_relay", other);
          if (!h) {
            p.deliver_error(h.error());
            return p;
          }
          request(*h, std::chrono::seconds(10), refuse_atom::value, n)
              .then([p](std::int64_t v) mutable { p.deliver(v); },
                    [p](caf::error& e) mutable { p.deliver_error(e); });
          return p;
        });
  }
};

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

/// A type no ARK_MESSAGE_TYPE registers, in the interface of an actor type.
struct unnamed_point {
  std::int64_t x = 0;
  friend bool operator==(const unnamed_point& a, const unnamed_point& b) { return a.x == b.x; }
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, unnamed_point& p) {
  return f(p.x);
}
using point_atom = caf::atom_constant<caf::atom("point")>;
using point_if = caf::typed_actor<caf::replies_to<point_atom>::with<unnamed_point>>;

class point_holder : public ark::actor<point_if, relay_state> {
 public:
  using actor::actor;
  handlers_type make_handlers() override {
    return handlers([](point_atom) { return unnamed_point{}; });
  }
};

}  // namespace

ARK_ACTOR("error_relay", relay);
ARK_ACTOR("error_point_holder", point_holder);

TEST_CASE("a refusal forwarded from actor to actor keeps its code, its context and one remedy") {
  ark::testing::world w;
  auto front = w.get_or_create<relay_if>("error_relay", "front");
  REQUIRE(front);
  auto r = w.call<std::int64_t>(*front, pass_atom::value, std::string("back"), std::int64_t{-1});
  REQUIRE_FALSE(r);
  CHECK(r.error() == ark::errc::invalid_argument);
  CHECK(r.error().message() ==
        "invalid_argument: amount -1 must be positive (remedy: correct the argument the message "
        "names)");
  CHECK(r.error().message().find("command-line tools") == std::string::npos);
}

TEST_CASE("an in-process timeout does not send the caller to check ark-host's --port") {
  ark::testing::world_options o;
  o.call_timeout = std::chrono::milliseconds(200);
  ark::testing::world w(o);
  auto a = w.get_or_create<probe::probe_if>("probe", "slow", std::int64_t{0});
  REQUIRE(a);
  auto r = w.call<std::int64_t>(*a, probe::slow_atom::value, std::int64_t{1500});
  REQUIRE_FALSE(r);
  CHECK(r.error() == ark::errc::unreachable);
  CHECK(r.error().message() ==
        "unreachable: no reply within the request's timeout (remedy: the actor or its host went "
        "away, or did not answer in time (a blocked handler, a stopped host): see the host's log, "
        "then retry; the message may have been applied)");
  CHECK(r.error().message().find("--port") == std::string::npos);
}

TEST_CASE("an injected crash reaches the caller with exactly one remedy") {
  ark::testing::world w;
  auto a = w.get_or_create<probe::probe_if>("probe", "c", std::int64_t{0});
  REQUIRE(a);
  REQUIRE(w.call<std::int64_t>(*a, probe::add_atom::value, std::int64_t{1}));
  for (auto point :
       {ark::testing::crash_point::before_commit, ark::testing::crash_point::after_commit}) {
    w.crash_at_commit(point);
    auto r = w.call<std::int64_t>(*a, probe::add_atom::value, std::int64_t{1});
    REQUIRE_FALSE(r);
    CHECK(r.error() == ark::errc::storage_failed);
    CHECK(r.error().message() ==
          "storage_failed: the host crashed (ark::testing crash injection) (remedy: call "
          "world::restart(): the host comes back over what was durable)");
    CHECK(count(r.error().message(), "remedy") == 1);
    w.restart();
    a = w.get_or_create<probe::probe_if>("probe", "c", std::int64_t{0});
    REQUIRE(a);
  }
}

TEST_CASE("an explicit remedy replaces the code's and crosses CAF with the context") {
  ark::error e{ark::errc::unreachable, "ark-host at h:1: gone", "check h:1"};
  CHECK(e.message() == "unreachable: ark-host at h:1: gone (remedy: check h:1)");
  CHECK(e.summary() == "unreachable: ark-host at h:1: gone");
  auto back = ark::from_caf(ark::to_caf(e));
  CHECK(back.message() == e.message());
  auto plain = ark::from_caf(ark::to_caf(ark::error{ark::errc::not_found, "k"}));
  CHECK(plain.explicit_remedy().empty());
  CHECK(plain.message() == "not_found: k (remedy: check the key, or write it first)");
}

TEST_CASE("a caller whose interface names a type it did not register is told which type") {
  // What an older client, or one built without the type's ARK_MESSAGE_TYPE,
  // sends: CAF's placeholder for a type it cannot name.
  std::set<std::string> iface{
      "caf::replies_to<@atom,@str>::with<<invalid-type[typeid "
      "N11leaderboard8standingE]>>"};
  CHECK(ark::unregistered_types(iface) == std::vector<std::string>{"leaderboard::standing"});
  ark::testing::world w;
  auto h = w.runtime().get_or_create_actor("probe", ark::key{"a"}, caf::message{}, iface);
  REQUIRE_FALSE(h);
  CHECK(h.error() == ark::errc::unregistered_type);
  auto text = h.error().message();
  CHECK(text.find("unregistered_type: the caller's interface of actor type 'probe' uses "
                  "leaderboard::standing, which the caller's program has not registered") == 0);
  CHECK(text.find("ARK_MESSAGE_TYPE(leaderboard::standing, \"NAME\")") != std::string::npos);
  CHECK(text.find("<invalid-type") == std::string::npos);
  CHECK(w.runtime().active_actors().empty());
}

TEST_CASE("a module whose interface uses an unregistered type is named when a remote caller asks") {
  ark::testing::world w;
  // In process the caller shares the host's type table: no check, it works.
  auto local = w.get_or_create<point_if>("error_point_holder", "p");
  REQUIRE(local);
  CHECK(w.call<unnamed_point>(*local, point_atom::value).value().x == 0);
  // A remote caller that registered the type names it; the host cannot.
  auto h = w.runtime().get_or_create_actor("error_point_holder", ark::key{"p"}, caf::message{},
                                           {"caf::replies_to<point>::with<unnamed_point>"});
  REQUIRE_FALSE(h);
  CHECK(h.error() == ark::errc::unregistered_type);
  CHECK(h.error().message().find("unregistered_type: actor type 'error_point_holder' uses "
                                 "(anonymous namespace)::unnamed_point, which its module has not "
                                 "registered") == 0);
  CHECK(h.error().message().find("add ARK_MESSAGE_TYPE(") != std::string::npos);
}
