// Damaged data directories seen through a real ark-host process: a damaged
// actor gives remote callers a clear error while the others answer, and a
// directory of a newer format is refused at start.

#include <doctest/doctest.h>

#include <ark/client.hpp>
#include <ark/kv/lmdb_backend.hpp>
#include <ark/stored_format.hpp>

#include "counter/counter.hpp"
#include "support/damage.hpp"
#include "support/host_process.hpp"
#include "support/lmdb_raw.hpp"
#include "support/remote_client.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

namespace {

const std::string counter_module = std::string(ARK_MODULE_DIR) + "/libark_counter.so";
const std::string ark_dash = std::string(ARK_BIN_DIR) + "/ark-dash";

bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

struct remote : ark::test::remote_client {
  explicit remote(std::uint16_t port) : remote_client(port) { c.timeout = 5s; }
  ark::expected<std::int64_t> add(const std::string& key, std::int64_t n) {
    auto h = c.get_or_create<counter::counter_if>("counter", key);
    if (!h) return h.error();
    return ark::call<std::int64_t>(sys, *h, 5s, counter::add_atom::value, n);
  }
};

}  // namespace

TEST_CASE("a damaged actor gives remote callers a clear error while the others answer") {
  ark::test::temp_dir dir;
  const auto data = dir.sub("data");
  {
    ark::test::host_process host(data, {counter_module});
    REQUIRE_MESSAGE(host.start(), host.output());
    remote r(host.port());
    CHECK(*r.add("good", 1) == 1);
    CHECK(*r.add("bad", 2) == 2);
    CHECK(host.stop() == 0);
  }
  {
    auto db = ark::kv::lmdb_backend::open(data, {});
    REQUIRE(db);
    auto id = ark::stored::make_identity("counter", ark::key{"bad"});
    REQUIRE(id);
    ark::kv::backend_batch b;
    b.put(ark::stored::state_space(), id->encoded, std::string("\x01\xc1", 2));
    REQUIRE((*db)->apply(b));
  }
  ark::test::host_process host(data, {counter_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  remote r(host.port());
  auto bad = r.add("bad", 1);
  REQUIRE_FALSE(bad);
  const auto m = bad.error().message();
  INFO(m);
  CHECK(bad.error().code() == ark::errc::corrupt_snapshot);
  CHECK(has(m, "actor counter [\"bad\"]: its state snapshot is damaged"));
  CHECK(has(m, "`ark-dash kv delete --data " + data +
                   " --space '[null,\"state\"]' '[\"counter\",[\"bad\"]]'`"));
  CHECK(*r.add("good", 1) == 2);
  auto again = r.add("bad", 1);
  REQUIRE_FALSE(again);
  CHECK(again.error().message() == m);

  // verify reads the directory while the host runs, and names the actor.
  auto [rc, out] = ark::test::run_command(ark_dash + " verify --data " + data);
  INFO(out);
  CHECK(rc == 1);
  CHECK(has(out, "snapshot of actor [\"counter\",[\"bad\"]]: the snapshot is damaged"));
  CHECK(has(out, ": 1 problem\n"));
  CHECK(*r.add("good", 1) == 3);
  CHECK(host.stop() == 0);
}

TEST_CASE("ark-host refuses a data directory of a newer storage format with status 1") {
  ark::test::temp_dir dir;
  const auto data = dir.sub("data");
  REQUIRE(ark::kv::lmdb_backend::open(data, {}));  // a valid directory, closed again
  ark::test::set_format_version(data, ark::kv::storage_format_version + 1);
  auto [rc, out] = ark::test::run_command(std::string(ARK_HOST_PATH) + " --port 0 --data " + data +
                                          " --module " + counter_module);
  INFO(out);
  CHECK(rc == 1);
  CHECK(has(out, "cannot open " + data + ": format_version: data directory " + data +
                     " has storage format version " +
                     std::to_string(ark::kv::storage_format_version + 1)));
  CHECK(has(out, "upgrade ark"));
  CHECK_FALSE(has(out, "ark-host ready"));
}

TEST_CASE("ark-host upgrades a data directory of storage format 1 when it starts, and says so") {
  ark::test::temp_dir dir;
  const auto data = dir.sub("data");
  {
    ark::test::host_process host(data, {counter_module});
    REQUIRE_MESSAGE(host.start(), host.output());
    remote r(host.port());
    CHECK(*r.add("kept", 5) == 5);
    CHECK(host.stop() == 0);
  }
  ark::test::downgrade_lmdb_to_v1(data);  // as an ark before checksums left it
  auto [vrc, vout] = ark::test::run_command(ark_dash + " verify --data " + data);
  CHECK(vrc == 1);
  CHECK(has(vout, "`ark-dash upgrade --data " + data + "`"));
  ark::test::host_process host(data, {counter_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  CHECK(has(host.output(), "upgraded data directory " + data + " from storage format 1 to 2"));
  remote r(host.port());
  CHECK(*r.add("kept", 1) == 6);
  CHECK(host.stop() == 0);
  auto [rc, out] = ark::test::run_command(ark_dash + " verify --data " + data);
  INFO(out);
  CHECK(rc == 0);
}
