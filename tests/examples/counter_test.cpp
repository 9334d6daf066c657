#include <doctest/doctest.h>

#include <ark/client.hpp>

#include "counter/counter.hpp"
#include "support/host_process.hpp"
#include "support/remote_client.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

namespace {

const std::string counter_module = std::string(ARK_MODULE_DIR) + "/libark_counter.so";

struct remote : ark::test::remote_client {
  using remote_client::remote_client;
  counter::counter_if counter(const std::string& key) {
    return handle<counter::counter_if>("counter", key);
  }
  ark::expected<std::int64_t> add(const counter::counter_if& h, std::int64_t n) {
    return ark::call<std::int64_t>(sys, h, 10s, counter::add_atom::value, n);
  }
};

}  // namespace

TEST_CASE("counter: add, get and reset through a real ark-host") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {counter_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  remote r(host.port());
  auto a = r.counter("a");
  CHECK(*r.add(a, 5) == 5);
  CHECK(*r.add(a, -2) == 3);
  CHECK(*ark::call<std::int64_t>(r.sys, a, 10s, counter::get_atom::value) == 3);
  auto b = r.counter("b");
  CHECK(*r.add(b, 1) == 1);  // another key, another actor
  CHECK(*ark::call<std::int64_t>(r.sys, a, 10s, counter::reset_atom::value) == 0);
  CHECK(host.stop() == 0);
}

TEST_CASE("counter: the value survives a host restart and a SIGKILL") {
  ark::test::temp_dir dir;
  {
    ark::test::host_process host(dir.sub("data"), {counter_module});
    REQUIRE_MESSAGE(host.start(), host.output());
    remote r(host.port());
    auto a = r.counter("a");
    for (int i = 0; i < 10; ++i) REQUIRE(r.add(a, 1));
    CHECK(host.stop() == 0);
  }
  {
    ark::test::host_process host(dir.sub("data"), {counter_module});
    REQUIRE_MESSAGE(host.start(), host.output());
    remote r(host.port());
    auto a = r.counter("a");
    CHECK(*r.add(a, 5) == 15);
    host.kill();  // acknowledged before the kill: must survive it
  }
  ark::test::host_process host(dir.sub("data"), {counter_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  remote r(host.port());
  CHECK(*ark::call<std::int64_t>(r.sys, r.counter("a"), 10s, counter::get_atom::value) == 15);
}

TEST_CASE("counter-client prints the value and reports a missing host clearly") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {counter_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  std::string client =
      std::string(ARK_BIN_DIR) + "/counter-client --port " + std::to_string(host.port());
  auto [rc, out] = ark::test::run_command(client + " add visits 3");
  CHECK(rc == 0);
  CHECK(out == "visits = 3\n");
  std::tie(rc, out) = ark::test::run_command(client + " get visits");
  CHECK(out == "visits = 3\n");
  // Several counters in one message (ark::call_many).
  std::tie(rc, out) = ark::test::run_command(client + " add-all 2 visits likes shares");
  CHECK(rc == 0);
  CHECK(out == "visits = 5\nlikes = 2\nshares = 2\n");
  std::tie(rc, out) = ark::test::run_command(client + " get likes");
  CHECK(out == "likes = 2\n");
  host.stop();
  std::tie(rc, out) = ark::test::run_command(client + " get visits");
  CHECK(rc == 1);
  CHECK(out.find("unreachable") != std::string::npos);
}
