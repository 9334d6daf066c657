// A real ark-host on a failing disk: the fault library is preloaded into the
// host (LD_PRELOAD) and steered through its control file
// (ark/kv/testing/fault_env.hpp).

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <ark/client.hpp>

#include "counter/counter.hpp"
#include "support/host_process.hpp"
#include "support/remote_client.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

namespace {

const std::string counter_module = std::string(ARK_MODULE_DIR) + "/libark_counter.so";

struct remote : ark::test::remote_client {
  explicit remote(std::uint16_t port) : remote_client(port) { c.timeout = 5s; }
  ark::expected<std::int64_t> call(const std::string& key, bool add) {
    auto h = c.get_or_create<counter::counter_if>("counter", key);
    if (!h) return h.error();
    if (add) return ark::call<std::int64_t>(sys, *h, 5s, counter::add_atom::value, std::int64_t{1});
    return ark::call<std::int64_t>(sys, *h, 5s, counter::get_atom::value);
  }
};

// A host whose storage I/O goes through the fault library, steered by a
// control file: write a rule into it to arm, empty it to disarm.
struct faulty_host {
  ark::test::temp_dir dir;
  std::string data = dir.sub("data");
  std::string control = dir.sub("fault-control");
  ark::test::host_process host{data, {counter_module}};

  bool start() {
    set_rule("");
    ::setenv("ARK_FAULT_CONTROL", control.c_str(), 1);
    ::setenv("LD_PRELOAD", ARK_FAULT_ENV_PATH, 1);
    bool ok = host.start();
    ::unsetenv("LD_PRELOAD");  // only this child
    ::unsetenv("ARK_FAULT_CONTROL");
    return ok;
  }
  // The control file is polled every few ms: wait a little after changing it.
  void set_rule(const std::string& kind, const std::string& extra = "") {
    {
      std::ofstream out(control, std::ios::trunc);
      if (!kind.empty()) {
        std::filesystem::create_directories(data);
        out << kind << " " << std::filesystem::canonical(data).string() << " " << extra << "\n";
      }
    }
    std::this_thread::sleep_for(50ms);
  }
};

}  // namespace

TEST_CASE("ark-host on a full disk: writers get disk_full, readers are served, writes resume") {
  faulty_host f;
  REQUIRE_MESSAGE(f.start(), f.host.output());
  {
    remote r(f.host.port());
    REQUIRE(r.call("a", true));
    REQUIRE(r.call("b", true));
    f.set_rule("enospc");
    for (const char* key : {"a", "b", "a"}) {
      auto v = r.call(key, true);
      REQUIRE_FALSE(v);
      CHECK(v.error().message().find("disk_full") != std::string::npos);
      CHECK(v.error().message().find("free space") != std::string::npos);
    }
    CHECK(*r.call("a", false) == 1);  // reads need no disk
    f.set_rule("");
    CHECK(*r.call("a", true) == 2);
    CHECK(*r.call("b", true) == 2);
  }
  f.host.kill();  // SIGKILL: what was acknowledged must be on disk
  REQUIRE_MESSAGE(f.start(), f.host.output());
  remote r(f.host.port());
  CHECK(*r.call("a", false) == 2);
  CHECK(*r.call("b", false) == 2);
  CHECK(f.host.stop() == 0);
  CHECK(f.host.output().find("disk_full") == std::string::npos);  // the new run had no fault
}

TEST_CASE("ark-host whose meta-page write fails stops with status 3 and a restart has every ack") {
  faulty_host f;
  REQUIRE_MESSAGE(f.start(), f.host.output());
  {
    remote r(f.host.port());
    REQUIRE(*r.call("a", true) == 1);
    REQUIRE(*r.call("a", true) == 2);
    f.set_rule("write_eio", "meta count=1");
    auto v = r.call("a", true);
    REQUIRE_FALSE(v);
    CHECK(v.error().message().find("storage_failed") != std::string::npos);
  }
  CHECK(f.host.wait_exit(20s) == 3);
  auto out = f.host.output();
  CHECK(out.find("storage_failed") != std::string::npos);
  CHECK(out.find("restart the host") != std::string::npos);
  f.set_rule("");
  REQUIRE_MESSAGE(f.start(), f.host.output());
  remote r(f.host.port());
  CHECK(*r.call("a", false) == 2);
  CHECK(*r.call("a", true) == 3);
  CHECK(f.host.stop() == 0);
}
