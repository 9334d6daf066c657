// A cluster whose hosts talk over mutual TLS with an access token (the setup
// a cluster beyond one machine requires, doc/cluster.md), here on loopback:
// lookups forwarded between the hosts, both ways, go over TLS, and a client
// of either host reaches every actor.

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <fstream>

#include "host/cluster_support.hpp"
#include "support/pki.hpp"

using namespace cluster_test;

TEST_CASE("cluster: hosts with mutual TLS and a token route lookups between them") {
  ark::test::pki certs;
  const std::string token = "0123456789abcdef0123456789abcdef";
  auto token_file = certs.path("token");
  std::ofstream(token_file) << token;
  ::chmod(token_file.c_str(), 0600);
  auto& server = ark::test::shared_pg_server();
  cluster cl(server, 2, 2s, 500ms,
             {"--tls-cert", certs.path("host.pem"), "--tls-key", certs.path("host.key"),
              "--tls-ca", certs.path("ca.pem"), "--token-file", token_file});
  for (auto& h : cl.hosts) CHECK(h->output().find("tls=on") != std::string::npos);
  std::this_thread::sleep_for(2 * cl.renew);
  auto connect = [&](std::size_t i) {
    ark::connect_options o;
    o.port = cl.ports[i];
    o.token = token;
    o.tls = certs.files("client");
    return o;
  };
  auto add = [](caf::actor_system& sys, ark::client& c, const std::string& key) {
    auto h = c.get_or_create<counter::counter_if>("counter", key);
    if (!h) return ark::expected<std::int64_t>(h.error());
    return ark::call<std::int64_t>(sys, *h, 5s, counter::add_atom::value, std::int64_t{1});
  };
  ark::client_config cfg0(certs.files("client"));
  caf::actor_system sys0{cfg0};
  auto c0 = ark::connect(sys0, connect(0));
  REQUIRE_MESSAGE(c0, (c0 ? "" : c0.error().message()));
  for (int i = 0; i < 16; ++i) {
    auto v = add(sys0, *c0, "t" + std::to_string(i));
    REQUIRE_MESSAGE(v, v.error().message());
    CHECK(*v == 1);
  }
  // Spread over both hosts: some lookups were forwarded, over TLS.
  CHECK(cl.psql_int("SELECT count(DISTINCT holder) FROM " + cl.schema + ".epochs") == 2);
  // Through host 1: the lookups of host 0's counters are forwarded the other
  // way, over the connection host 0 opened (a second TLS connection between
  // the two hosts would lose the route), and every call reaches its actor.
  ark::client_config cfg1(certs.files("client"));
  caf::actor_system sys1{cfg1};
  auto c1 = ark::connect(sys1, connect(1));
  REQUIRE_MESSAGE(c1, (c1 ? "" : c1.error().message()));
  for (int i = 0; i < 16; ++i) {
    auto v = add(sys1, *c1, "t" + std::to_string(i));
    REQUIRE_MESSAGE(v, v.error().message());
    CHECK(*v == 2);
  }
  CHECK(cl.psql_int("SELECT max(epoch) FROM " + cl.schema + ".epochs") == 1);
  // Without the token, the host refuses the lookup.
  ark::client_config cfg2(certs.files("client"));
  caf::actor_system sys2{cfg2};
  auto o = connect(1);
  o.token.clear();
  auto c2 = ark::connect(sys2, o);
  REQUIRE(c2);
  auto refused = c2->get_or_create<counter::counter_if>("counter", std::string("t0"));
  REQUIRE_FALSE(refused);
  CHECK(refused.error() == ark::errc::unauthorized);
}
