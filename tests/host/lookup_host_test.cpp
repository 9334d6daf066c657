// get and create over ark-host's directory protocol, from a remote client.

#include <doctest/doctest.h>

#include <ark/client.hpp>

#include "counter/counter.hpp"
#include "support/host_process.hpp"
#include "support/remote_client.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

namespace {

const std::string counter_module = std::string(ARK_MODULE_DIR) + "/libark_counter.so";

using counter::counter_if;

}  // namespace

TEST_CASE("a remote get finds existing actors only and a remote create makes new ones only") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {counter_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  {
    ark::test::remote_client r(host.port());
    auto ghost = r.c.get<counter_if>("counter", "ghost");
    REQUIRE_FALSE(ghost);
    CHECK(ghost.error() == ark::errc::not_found);
    CHECK(ghost.error().message().find("actor counter [\"ghost\"] does not exist") !=
          std::string::npos);
    auto made = r.c.create<counter_if>("counter", "c");
    REQUIRE_MESSAGE(made, made.error().message());
    CHECK(*ark::call<std::int64_t>(r.sys, *made, 10s, counter::add_atom::value, std::int64_t{2}) ==
          2);
    auto again = r.c.create<counter_if>("counter", "c");
    REQUIRE_FALSE(again);
    CHECK(again.error() == ark::errc::already_exists);
    CHECK(again.error().message().find("get or get_or_create") != std::string::npos);
    auto found = r.c.get<counter_if>("counter", "c");
    REQUIRE(found);
    CHECK(*ark::call<std::int64_t>(r.sys, *found, 10s, counter::get_atom::value) == 2);
    // get_or_create, the protocol every older client speaks, still works.
    auto old = r.c.get_or_create<counter_if>("counter", "c");
    REQUIRE(old);
    CHECK(*ark::call<std::int64_t>(r.sys, *old, 10s, counter::get_atom::value) == 2);
  }
  CHECK(host.stop() == 0);
  // After a restart the stored actor exists, the one never created does not.
  REQUIRE_MESSAGE(host.start(), host.output());
  ark::test::remote_client r(host.port());
  CHECK(r.c.get<counter_if>("counter", "ghost").error() == ark::errc::not_found);
  CHECK(r.c.create<counter_if>("counter", "c").error() == ark::errc::already_exists);
  auto c = r.c.get<counter_if>("counter", "c");
  REQUIRE(c);
  CHECK(*ark::call<std::int64_t>(r.sys, *c, 10s, counter::get_atom::value) == 2);
  CHECK(host.stop() == 0);
}

TEST_CASE("counter-client get on a counter never added says not found and creates nothing") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {counter_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  std::string client =
      std::string(ARK_BIN_DIR) + "/counter-client --port " + std::to_string(host.port());
  auto [rc, out] = ark::test::run_command(client + " get ghost");
  CHECK(rc == 1);
  CHECK(out ==
        "counter-client: not_found: no counter 'ghost' (remedy: check the key, or start it with: "
        "counter-client add ghost)\n");
  std::tie(rc, out) = ark::test::run_command(client + " get ghost");
  CHECK(rc == 1);  // the first get created nothing
  std::tie(rc, out) = ark::test::run_command(client + " add ghost 2");
  CHECK(out == "ghost = 2\n");
  std::tie(rc, out) = ark::test::run_command(client + " get ghost");
  CHECK(out == "ghost = 2\n");
  CHECK(host.stop() == 0);
}

TEST_CASE("a client that cannot reach ark-host is told to check its address and port") {
  ark::client_config cfg;
  caf::actor_system sys{cfg};
  // A port nobody listens on: bind one, then close it.
  std::uint16_t port = 0;
  {
    ark::test::temp_dir dir;
    ark::test::host_process host(dir.sub("data"), {counter_module});
    REQUIRE_MESSAGE(host.start(), host.output());
    port = host.port();
    host.stop();
  }
  auto c = ark::connect(sys, "127.0.0.1", port);
  REQUIRE_FALSE(c);
  CHECK(c.error() == ark::errc::unreachable);
  auto text = c.error().message();
  CHECK(text.find("unreachable: ark-host at 127.0.0.1:" + std::to_string(port) +
                  ": cannot connect: ") == 0);
  CHECK(text.find("(remedy: check that ark-host runs and listens on 127.0.0.1:" +
                  std::to_string(port)) != std::string::npos);
  CHECK(text.find("remedy", text.find("remedy") + 1) == std::string::npos);  // one remedy
}
