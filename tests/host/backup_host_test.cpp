// Online backup and restore through real processes: ark-dash backup copies a
// data directory while an ark-host serves several remote clients; the copy,
// restored into a new directory and served by a new host, holds every write
// acknowledged before the backup began, and verify passes on it. restore
// never deletes and never runs under a live host.

#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "counter/counter.hpp"
#include "support/host_process.hpp"
#include "support/remote_client.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

namespace {

const std::string counter_module = std::string(ARK_MODULE_DIR) + "/libark_counter.so";
const std::string ark_dash = std::string(ARK_BIN_DIR) + "/ark-dash";

bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

std::string counter_name(int client, int i) {
  return "c" + std::to_string(client) + "-" + std::to_string(i);
}

}  // namespace

TEST_CASE("a backup under load restores every acknowledged write and passes verify") {
  for (const char* backend : {"lmdb", "sqlite"}) {
    CAPTURE(backend);
    ark::test::temp_dir dir;
    const auto data = dir.sub("data"), backup = dir.sub("backup"), restored = dir.sub("restored");
    ark::test::host_process host(data, {counter_module}, {"--backend", backend});
    REQUIRE_MESSAGE(host.start(), host.output());

    // Four clients calling at once (threads of one client process, over
    // its connection: several actor systems in one process shut down
    // together upset CAF 0.17's middleman under ASan), each adding 1 to
    // its own 20 counters in turn.
    constexpr int clients = 4, counters = 20;
    ark::test::remote_client r(host.port());
    r.c.timeout = 10s;
    std::mutex mu;
    std::map<std::string, std::int64_t> acked;  // the last acknowledged value
    std::atomic<bool> stop{false};
    std::atomic<int> failures{0};
    std::vector<std::thread> load;
    for (int c = 0; c < clients; ++c) {
      load.emplace_back([&, c] {
        std::vector<counter::counter_if> handles;
        for (int i = 0; i < counters; ++i) {
          auto h = r.c.get_or_create<counter::counter_if>("counter", counter_name(c, i));
          if (!h) {
            ++failures;
            return;
          }
          handles.push_back(*h);
        }
        for (int n = 0; !stop; ++n) {
          int i = n % counters;
          auto v = ark::call<std::int64_t>(r.sys, handles[i], 10s, counter::add_atom::value,
                                           std::int64_t{1});
          if (!v) {
            ++failures;
            continue;
          }
          std::lock_guard<std::mutex> guard{mu};
          acked[counter_name(c, i)] = *v;
        }
      });
    }
    auto acked_now = [&] {
      std::lock_guard<std::mutex> guard{mu};
      return acked;
    };
    for (int i = 0; i < 200 && acked_now().size() < clients * counters; ++i)
      std::this_thread::sleep_for(20ms);
    std::this_thread::sleep_for(300ms);
    const auto before = acked_now();  // acknowledged before the backup began
    auto [rc, out] = ark::test::run_command(ark_dash + " backup --data " + data + " --to " + backup);
    INFO(out);
    CHECK(rc == 0);
    CHECK(has(out, "backed up " + data + " to " + backup + ": "));
    CHECK(has(out, " s (one consistent snapshot)"));
    CHECK(has(out, "verified " + backup + ": "));
    CHECK(has(out, "no problems"));
    std::this_thread::sleep_for(200ms);  // the load goes on after the copy
    stop = true;
    for (auto& t : load) t.join();
    CHECK(failures == 0);
    const auto after = acked_now();
    REQUIRE(before.size() == clients * counters);

    // Restore while that host still runs on its own directory.
    auto [rrc, rout] =
        ark::test::run_command(ark_dash + " restore --from " + backup + " --data " + restored);
    INFO(rout);
    CHECK(rrc == 0);
    CHECK(has(rout, "restored " + backup + " into " + restored));
    // A restore over the live host's directory is refused; nothing moves.
    auto [lrc, lout] = ark::test::run_command(ark_dash + " restore --from " + backup + " --data " +
                                              data + " --replace");
    INFO(lout);
    CHECK(lrc == 1);
    CHECK(has(lout, "locked by process"));
    CHECK(has(lout, "stop the host before restoring over " + data));
    CHECK(host.stop() == 0);

    auto [vrc, vout] = ark::test::run_command(ark_dash + " verify --data " + restored);
    INFO(vout);
    CHECK(vrc == 0);

    ark::test::host_process second(restored, {counter_module}, {"--backend", backend});
    REQUIRE_MESSAGE(second.start(), second.output());
    ark::test::remote_client r2(second.port());
    int checked = 0;
    for (const auto& [name, value] : before) {
      CAPTURE(name);
      auto h = r2.handle<counter::counter_if>("counter", ark::key{name});
      auto v = ark::call<std::int64_t>(r2.sys, h, 10s, counter::get_atom::value);
      REQUIRE(v);
      // Every write acknowledged before the backup began is there; nothing
      // acknowledged after the load stopped can be.
      CHECK(*v >= value);
      CHECK(*v <= after.at(name));
      ++checked;
    }
    CHECK(checked == clients * counters);
    CHECK(second.stop() == 0);
  }
}

TEST_CASE("restore refuses a directory that holds data unless told to move it aside") {
  ark::test::temp_dir dir;
  const auto data = dir.sub("data"), backup = dir.sub("backup");
  {
    ark::test::host_process host(data, {counter_module});
    REQUIRE_MESSAGE(host.start(), host.output());
    ark::test::remote_client r(host.port());
    auto h = r.handle<counter::counter_if>("counter", ark::key{"kept"});
    REQUIRE(ark::call<std::int64_t>(r.sys, h, 10s, counter::add_atom::value, std::int64_t{7}));
    CHECK(host.stop() == 0);
  }
  REQUIRE(ark::test::run_command(ark_dash + " backup --data " + data + " --to " + backup).first ==
          0);
  // Into a backup's own place, or over data, without --replace: refused.
  auto [rc, out] = ark::test::run_command(ark_dash + " restore --from " + backup + " --data " + data);
  INFO(out);
  CHECK(rc == 1);
  CHECK(has(out, data + " holds data"));
  CHECK(has(out, "--replace"));
  auto again = ark::test::run_command(ark_dash + " backup --data " + data + " --to " + backup);
  CHECK(again.first == 1);
  CHECK(has(again.second, backup + " is not empty"));
  // --replace moves the old directory aside (nothing deleted) and restores.
  auto [xrc, xout] = ark::test::run_command(ark_dash + " restore --from " + backup + " --data " +
                                            data + " --replace");
  INFO(xout);
  CHECK(xrc == 0);
  CHECK(has(xout, "its previous contents are in " + data + ".before-restore-"));
  int aside = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    if (e.path().filename().string().rfind("data.before-restore-", 0) == 0) {
      ++aside;
      CHECK(std::filesystem::exists(e.path() / "data.mdb"));
    }
  CHECK(aside == 1);
  ark::test::host_process host(data, {counter_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  ark::test::remote_client r(host.port());
  auto h = r.handle<counter::counter_if>("counter", ark::key{"kept"});
  CHECK(*ark::call<std::int64_t>(r.sys, h, 10s, counter::get_atom::value) == 7);
  CHECK(host.stop() == 0);
}
