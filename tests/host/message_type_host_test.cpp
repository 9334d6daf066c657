// A client program that lacks the registration of a message type the actor's
// interface uses (ARK_MESSAGE_TYPE): it is told which type and how to
// register it, before anything is sent.

#include <doctest/doctest.h>

#include <ark/client.hpp>

#include "support/host_process.hpp"
#include "support/remote_client.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

// What a client has when it was built against examples/leaderboard's
// interface without the header's ARK_MESSAGE_TYPE line (an older copy of the
// header, or the declarations copied into the client). This binary never
// includes leaderboard.hpp, so leaderboard::standing is not registered here.
namespace leaderboard {

using submit_atom = caf::atom_constant<caf::atom("submit")>;
using top_atom = caf::atom_constant<caf::atom("top")>;
using score_atom = caf::atom_constant<caf::atom("score")>;
using standing_atom = caf::atom_constant<caf::atom("standing")>;

struct standing {
  std::string player;
  std::int64_t points = 0;
  std::int64_t rank = 0;
  std::int64_t players = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, standing& x) {
  return f(caf::meta::type_name("leaderboard::standing"), x.player, x.points, x.rank, x.players);
}

using leaderboard_if =
    caf::typed_actor<caf::replies_to<submit_atom, std::string, std::int64_t>::with<std::int64_t>,
                     caf::replies_to<top_atom, std::int64_t>::with<std::vector<std::string>>,
                     caf::replies_to<score_atom, std::string>::with<std::int64_t>,
                     caf::replies_to<standing_atom, std::string>::with<standing>>;

/// The built-in part only: what a client may declare to use without the
/// registration.
using scores_if =
    caf::typed_actor<caf::replies_to<submit_atom, std::string, std::int64_t>::with<std::int64_t>,
                     caf::replies_to<score_atom, std::string>::with<std::int64_t>>;

}  // namespace leaderboard

namespace {

const std::string leaderboard_module = std::string(ARK_MODULE_DIR) + "/libark_leaderboard.so";

}  // namespace

TEST_CASE("a client without a message type's registration is told which type and how to register") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {leaderboard_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  ark::test::remote_client r(host.port());
  const std::string expected =
      "unregistered_type: the interface of actor type 'leaderboard' uses leaderboard::standing, "
      "which this program has not registered as a message type, so it can neither send nor "
      "receive it (even a message that uses only built-in types is refused, as the whole "
      "interface is checked) (remedy: link into this program the header that declares "
      "leaderboard::standing with ARK_MESSAGE_TYPE(leaderboard::standing, \"NAME\") and build its "
      "actor system from ark::client_config, or call cfg.add_message_type<leaderboard::standing>"
      "(\"NAME\") with the name the actor's module registered)";
  // get_or_create, get and create refuse the interface before sending anything.
  auto h = r.c.get_or_create<leaderboard::leaderboard_if>("leaderboard", "weekly");
  REQUIRE_FALSE(h);
  CHECK(h.error() == ark::errc::unregistered_type);
  CHECK(h.error().message() == expected);
  CHECK(r.c.get<leaderboard::leaderboard_if>("leaderboard", "weekly").error().message() ==
        expected);
  CHECK(r.c.create<leaderboard::leaderboard_if>("leaderboard", "weekly").error().message() ==
        expected);
  // Nothing was created. The built-in part of the interface, declared on its
  // own, works without the registration.
  CHECK(r.c.get<leaderboard::scores_if>("leaderboard", "weekly").error() == ark::errc::not_found);
  auto scores = r.c.get_or_create<leaderboard::scores_if>("leaderboard", "weekly");
  REQUIRE_MESSAGE(scores, scores.error().message());
  CHECK(*ark::call<std::int64_t>(r.sys, *scores, 10s, leaderboard::submit_atom::value,
                                 std::string("ann"), std::int64_t{12}) == 12);
  CHECK(*ark::call<std::int64_t>(r.sys, *scores, 10s, leaderboard::score_atom::value,
                                 std::string("ann")) == 12);
  CHECK(host.stop() == 0);
}
