// ark-host as a process: locking, signals, bad input from remote clients.

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <thread>

#include <ark/client.hpp>

#include "counter/counter.hpp"
#include "support/host_process.hpp"
#include "support/remote_client.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

namespace {

const std::string counter_module = std::string(ARK_MODULE_DIR) + "/libark_counter.so";

using other_if =
    caf::typed_actor<caf::replies_to<counter::get_atom, std::string>::with<std::string>>;

struct remote : ark::test::remote_client {
  explicit remote(std::uint16_t port) : remote_client(port) { c.timeout = 3s; }
  ark::expected<std::int64_t> add(const std::string& key, std::int64_t n) {
    auto h = c.get_or_create<counter::counter_if>("counter", key);
    if (!h) return h.error();
    return ark::call<std::int64_t>(sys, *h, 3s, counter::add_atom::value, n);
  }
};

}  // namespace

TEST_CASE("a second host on the same data directory is refused and the first is unharmed") {
  ark::test::temp_dir dir;
  ark::test::host_process first(dir.sub("data"), {counter_module});
  REQUIRE_MESSAGE(first.start(), first.output());
  remote r(first.port());
  CHECK(*r.add("a", 1) == 1);
  ark::test::host_process second(dir.sub("data"), {counter_module});
  CHECK_FALSE(second.start(5s));
  CHECK(second.output().find("locked") != std::string::npos);
  CHECK(second.output().find("remedy") != std::string::npos);
  CHECK(*r.add("a", 1) == 2);
  CHECK(first.stop() == 0);
}

TEST_CASE("SIGTERM drains: replies in flight complete and are durable, exit 0") {
  ark::test::temp_dir dir;
  std::vector<std::int64_t> acked(4, 0);
  {
    ark::test::host_process host(dir.sub("data"), {counter_module});
    REQUIRE_MESSAGE(host.start(), host.output());
    remote r(host.port());
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i)
      threads.emplace_back([&, i] {
        while (!stop) {
          auto v = r.add("t" + std::to_string(i), 1);
          if (!v) return;
          acked[i] = *v;
        }
      });
    std::this_thread::sleep_for(300ms);
    CHECK(host.stop() == 0);
    stop = true;
    for (auto& t : threads) t.join();
    CHECK(host.output().find("draining") != std::string::npos);
  }
  ark::test::host_process host(dir.sub("data"), {counter_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  remote r(host.port());
  for (int i = 0; i < 4; ++i) {
    CAPTURE(i);
    CHECK(acked[i] > 0);
    // A clean stop commits everything: at most the add whose reply was cut
    // off by the closing connection is there without an acknowledgement.
    auto v = r.add("t" + std::to_string(i), 0);
    REQUIRE(v);
    CHECK(*v >= acked[i]);
    CHECK(*v <= acked[i] + 1);
  }
}

TEST_CASE("remote clients get clear errors for unknown types and wrong interfaces") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {counter_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  remote r(host.port());
  auto unknown = r.c.get_or_create<counter::counter_if>("no_such_type", "a");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().code() == ark::errc::unknown_actor_type);
  CHECK(unknown.error().message().find("counter") != std::string::npos);
  auto wrong = r.c.get_or_create<other_if>("counter", "a");
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().code() == ark::errc::wrong_interface);
  // A message outside the interface, sent through an untyped handle.
  auto h = r.c.get_or_create<counter::counter_if>("counter", "a");
  REQUIRE(h);
  caf::scoped_actor self{r.sys};
  ark::error got;
  self->request(caf::actor_cast<caf::actor>(*h), 10s, std::string("garbage"))
      .receive([](const caf::message&) {}, [&](caf::error& e) { got = ark::from_caf(e); });
  CHECK(got.code() == ark::errc::wrong_interface);
  CHECK(*r.add("a", 2) == 2);  // the host and the actor live on
}

TEST_CASE("garbage bytes on the middleman port do not harm the host") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {counter_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  for (int round = 0; round < 3; ++round) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(host.port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    std::string junk(4096, '\0');
    for (std::size_t i = 0; i < junk.size(); ++i)
      junk[i] = static_cast<char>((i * 7919 + round) & 0xff);
    (void)::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL);
    ::close(fd);
  }
  std::this_thread::sleep_for(200ms);
  remote r(host.port());
  CHECK(*r.add("a", 1) == 1);
  CHECK(host.stop() == 0);
}

// CAF 0.17 leaks its BASP broker when a heartbeat tick reaches it after it
// terminated (runtime/src/basp_shutdown.hpp). Every client here shuts down
// with ticks every 5 ms. Without client_config's hook, some of them leave a
// cycle that LeakSanitizer reports at this process's exit: this case failed
// in 10 of 12 runs (of 30 or 60 rounds) under scripts/sanitize.sh asan, as
// CI runs it, with the hook removed, and in none of 20 with it.
TEST_CASE("clients with heartbeats on shut down without leaking CAF's BASP broker") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {counter_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  for (int round = 0; round < 30; ++round) {
    ark::client_config cfg;
    cfg.set("middleman.heartbeat-interval", caf::timespan{5ms});
    caf::actor_system sys{cfg};
    auto c = ark::connect(sys, "127.0.0.1", host.port());
    REQUIRE_MESSAGE(c, (c ? "" : c.error().message()));
    auto h = c->get_or_create<counter::counter_if>("counter", "hb");
    REQUIRE(h);
    CHECK(*ark::call<std::int64_t>(sys, *h, 10s, counter::add_atom::value, std::int64_t{1}) ==
          round + 1);
    std::this_thread::sleep_for(20ms);  // ticks flowing when the system stops
  }
  CHECK(host.stop() == 0);
}

TEST_CASE("ark-host rejects bad options and modules with a clear message") {
  ark::test::temp_dir dir;
  auto [rc, out] = ark::test::run_command(std::string(ARK_HOST_PATH) + " --data " + dir.sub("d") +
                                          " --durability sometimes");
  CHECK(rc != 0);
  CHECK(out.find("durability") != std::string::npos);
  std::tie(rc, out) = ark::test::run_command(std::string(ARK_HOST_PATH) + " --data " +
                                             dir.sub("d") + " --module " + dir.sub("missing.so"));
  CHECK(rc != 0);
  CHECK(out.find("missing.so") != std::string::npos);
  // A file that is not a shared library.
  auto bogus = dir.sub("bogus.so");
  std::FILE* f = std::fopen(bogus.c_str(), "w");
  std::fputs("not an ELF file", f);
  std::fclose(f);
  std::tie(rc, out) = ark::test::run_command(std::string(ARK_HOST_PATH) + " --data " +
                                             dir.sub("d") + " --module " + bogus);
  CHECK(rc == 1);
  CHECK(out.find("cannot load module") != std::string::npos);
  // A data directory path that is a file.
  std::tie(rc, out) =
      ark::test::run_command(std::string(ARK_HOST_PATH) + " --data " + bogus + " --port 0");
  CHECK(rc == 1);
  CHECK(out.find("cannot open") != std::string::npos);
}

TEST_CASE("a call or get_or_create to a host that died fails at once with unreachable") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {counter_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  remote r(host.port());
  auto h = r.c.get_or_create<counter::counter_if>("counter", "a");
  REQUIRE(h);
  CHECK(*ark::call<std::int64_t>(r.sys, *h, 10s, counter::add_atom::value, std::int64_t{1}) == 1);
  host.kill();
  auto t0 = std::chrono::steady_clock::now();
  auto v = ark::call<std::int64_t>(r.sys, *h, 10s, counter::add_atom::value, std::int64_t{1});
  REQUIRE_FALSE(v);
  CHECK(v.error().code() == ark::errc::unreachable);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);  // the connection drop, not the timeout

  // get_or_create too (its own round trip to the directory).
  r.c.timeout = 60s;
  t0 = std::chrono::steady_clock::now();
  auto g = r.c.get_or_create<counter::counter_if>("counter", "b");
  REQUIRE_FALSE(g);
  CHECK(g.error().code() == ark::errc::unreachable);
  CHECK(g.error().context().find("ark-host at 127.0.0.1:") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - t0 < 30s);
}
