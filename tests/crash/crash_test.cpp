// Kills a real ark-host with SIGKILL under load and checks that every
// acknowledged message survived.

#include <doctest/doctest.h>

#include <atomic>
#include <random>
#include <thread>

#include <ark/client.hpp>

#include "counter/counter.hpp"
#include "support/host_process.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

namespace {

const std::string counter_module = std::string(ARK_MODULE_DIR) + "/libark_counter.so";

counter::counter_if crash_counter(ark::client& c, std::size_t i) {
  auto h = c.get_or_create<counter::counter_if>("counter", ark::key{"crash", i});
  REQUIRE_MESSAGE(h, (h ? "" : h.error().message()));
  return *h;
}

// On a freshly started host every counter must hold at least its last
// acknowledged value and at most one more (the add in flight when the host
// died). Records the value found.
void check_counters(caf::actor_system& sys, ark::client& c, std::vector<std::int64_t>& acked) {
  for (std::size_t i = 0; i < acked.size(); ++i) {
    CAPTURE(i);
    auto v = ark::call<std::int64_t>(sys, crash_counter(c, i), 10s, counter::get_atom::value);
    REQUIRE_MESSAGE(v, (v ? "" : v.error().message()));
    CHECK(*v >= acked[i]);
    CHECK(*v <= acked[i] + 1);
    acked[i] = *v;
  }
}

}  // namespace

TEST_CASE("SIGKILL under load loses no acknowledged add, and applies none twice") {
  constexpr int clients = 6;
  constexpr int rounds = 5;
  ark::test::temp_dir dir;
  std::vector<std::int64_t> acked(clients, 0);  // the last value each client saw acknowledged
  std::mt19937 rng(std::random_device{}());
  for (int round = 0; round <= rounds; ++round) {
    CAPTURE(round);
    ark::test::host_process host(dir.sub("data"), {counter_module});
    REQUIRE_MESSAGE(host.start(), host.output());
    ark::client_config cfg;
    caf::actor_system sys{cfg};
    auto c = ark::connect(sys, "127.0.0.1", host.port());
    REQUIRE(c);
    check_counters(sys, *c, acked);
    if (round == rounds) break;  // the last restart only checks
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < clients; ++i) {
      auto h = crash_counter(*c, i);
      threads.emplace_back([&, i, h] {
        while (!stop) {
          auto v = ark::call<std::int64_t>(sys, h, 2s, counter::add_atom::value, std::int64_t{1});
          if (!v) return;  // the host died
          acked[i] = *v;
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + rng() % 500));
    host.kill();
    stop = true;
    for (auto& t : threads) t.join();
  }
  // The run did real work: every client had adds acknowledged.
  for (auto a : acked) CHECK(a > rounds);
  MESSAGE("acknowledged adds per counter: " << doctest::toString(acked.front()) << " ...");
}
