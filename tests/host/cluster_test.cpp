// A cluster: three real ark-host processes on one private PostgreSQL server
// (tests/support/pg_server.hpp), on loopback. Membership, placement,
// routing from any host, a kill -9 under load, a race for one actor, a
// frozen owner, a drain. Every loop is bounded in time.

#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include <ark/client.hpp>

#include "counter/counter.hpp"
#include "support/reminder/reminder.hpp"
#include "support/host_process.hpp"
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "host/cluster_support.hpp"
#include "support/pg_server.hpp"
#include "support/tcp_proxy.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

using namespace cluster_test;

TEST_CASE("cluster: three hosts register, place actors by hash, and route from any host") {
  auto& server = ark::test::shared_pg_server();
  cluster cl(server, 3);
  for (auto& h : cl.hosts) CHECK(h->output().find("cluster=test") != std::string::npos);
  // Membership: three live rows, each with its address.
  std::this_thread::sleep_for(2 * cl.renew);
  CHECK(cl.psql_int("SELECT count(*) FROM " + cl.schema +
                    ".members WHERE status = 'active' AND lease_expiry > now()") == 3);
  CHECK(cl.psql_int("SELECT count(*) FROM " + cl.schema + ".members WHERE address = '127.0.0.1:" +
                    std::to_string(cl.ports[1]) + "' AND host = 'h1'") == 1);
  // Every counter through host 0, then read through hosts 1 and 2: the same
  // actor answers.
  client c0(cl.ports[0]);
  const int n = 30;
  for (int i = 0; i < n; ++i) {
    auto r = c0.add("k" + std::to_string(i), i + 1);
    REQUIRE_MESSAGE(r, r.error().message());
    CHECK(*r == i + 1);
  }
  client c1(cl.ports[1]), c2(cl.ports[2]);
  for (int i = 0; i < n; ++i) {
    auto k = "k" + std::to_string(i);
    CHECK(c1.add(k, 1).value() == i + 2);
    CHECK(c2.get(k).value() == i + 2);
  }
  // Placement spread the actors: each claim names one member, and more
  // than one member owns some.
  CHECK(cl.psql_int("SELECT count(*) FROM " + cl.schema + ".epochs") == n);
  CHECK(cl.psql_int("SELECT count(*) FROM " + cl.schema + ".epochs WHERE holder IS NULL") == 0);
  CHECK(cl.psql_int("SELECT count(DISTINCT holder) FROM " + cl.schema + ".epochs") >= 2);
  // One activation per actor: each was claimed once.
  CHECK(cl.psql_int("SELECT max(epoch) FROM " + cl.schema + ".epochs") == 1);
}

TEST_CASE("cluster: the first message for one actor sent to two hosts at once: one claim") {
  auto& server = ark::test::shared_pg_server();
  cluster cl(server, 2);
  std::this_thread::sleep_for(2 * cl.renew);  // each host has seen the other
  client a(cl.ports[0]), b(cl.ports[1]);
  for (int round = 0; round < 10; ++round) {
    auto key = "race" + std::to_string(round);
    std::atomic<bool> go{false};
    ark::expected<std::int64_t> ra{0}, rb{0};
    std::thread ta([&] {
      while (!go) std::this_thread::yield();
      ra = a.add(key, 1);
    });
    std::thread tb([&] {
      while (!go) std::this_thread::yield();
      rb = b.add(key, 1);
    });
    go = true;
    ta.join();
    tb.join();
    REQUIRE_MESSAGE(ra, ra.error().message());
    REQUIRE_MESSAGE(rb, rb.error().message());
    // Both reached one actor: the adds were serialized by it.
    CHECK(std::set<std::int64_t>{*ra, *rb} == std::set<std::int64_t>{1, 2});
  }
  CHECK(cl.psql_int("SELECT count(*) FROM " + cl.schema + ".epochs") == 10);
  CHECK(cl.psql_int("SELECT max(epoch) FROM " + cl.schema + ".epochs") == 1);
}

TEST_CASE("cluster: kill -9 of a host under load loses no acknowledged add and its actors move") {
  auto& server = ark::test::shared_pg_server();
  cluster cl(server, 3);
  std::this_thread::sleep_for(2 * cl.renew);  // each host has seen the others
  const int keys = 24;
  std::vector<std::string> names;
  for (int i = 0; i < keys; ++i) names.push_back("load" + std::to_string(i));
  // Two clients, on hosts 0 and 1, add to every counter in turns; they count
  // what was acknowledged and what failed (in doubt: it may have landed).
  struct tally {
    std::map<std::string, std::int64_t> acked, failed;
  };
  std::atomic<bool> stop{false};
  std::vector<tally> tallies(2);
  std::vector<std::thread> workers;
  for (int w = 0; w < 2; ++w)
    workers.emplace_back([&, w] {
      client c(cl.ports[static_cast<std::size_t>(w)]);
      auto& t = tallies[static_cast<std::size_t>(w)];
      for (int i = 0; !stop; ++i) {
        const auto& k = names[static_cast<std::size_t>(i % keys)];
        if (c.add(k, 1))
          ++t.acked[k];
        else
          ++t.failed[k];
      }
    });
  std::this_thread::sleep_for(1500ms);
  // Host 2 owns some of the counters (hash placement): kill it.
  auto owned_by_2 = cl.psql_int("SELECT count(*) FROM " + cl.schema + ".epochs WHERE holder = 'h2'");
  CHECK(owned_by_2 > 0);
  cl.hosts[2]->kill();
  auto killed_at = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(cl.ttl + 1500ms);
  stop = true;
  for (auto& t : workers) t.join();
  // Every counter answers again within the lease + 2 s, from host 0 and
  // holds every acknowledged add (and at most the failed ones on top).
  client check(cl.ports[0]);
  std::int64_t total_acked = 0;
  for (const auto& k : names) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        killed_at + cl.ttl + 2s - std::chrono::steady_clock::now());
    auto v = check.get_within(k, std::max(left, std::chrono::milliseconds(200)));
    REQUIRE_MESSAGE(v, k << ": " << v.error().message());
    std::int64_t acked = tallies[0].acked[k] + tallies[1].acked[k];
    std::int64_t failed = tallies[0].failed[k] + tallies[1].failed[k];
    CHECK_MESSAGE(*v >= acked, k << " holds " << *v << " but " << acked << " adds were acknowledged");
    CHECK_MESSAGE(*v <= acked + failed, k << " holds " << *v << ", more than the " << acked
                                          << " acknowledged plus " << failed << " failed adds");
    total_acked += acked;
  }
  CHECK(total_acked > 100);
  // The dead host's actors were taken over by the live ones.
  CHECK(cl.psql_int("SELECT count(*) FROM " + cl.schema + ".epochs WHERE holder = 'h2'") == 0);
}

TEST_CASE("cluster: SIGTERM drains a host: its claims are released and its actors move at once") {
  auto& server = ark::test::shared_pg_server();
  cluster cl(server, 2, 30s);  // a long lease: only the release lets others in quickly
  std::this_thread::sleep_for(2 * cl.renew);  // each host has seen the other
  client c0(cl.ports[0]);
  for (int i = 0; i < 20; ++i) REQUIRE(c0.add("d" + std::to_string(i), 5));
  auto on_1 = cl.psql_int("SELECT count(*) FROM " + cl.schema + ".epochs WHERE holder = 'h1'");
  REQUIRE(on_1 > 0);
  CHECK(cl.hosts[1]->stop() == 0);
  CHECK(cl.psql_int("SELECT count(*) FROM " + cl.schema + ".epochs WHERE holder = 'h1'") == 0);
  CHECK(cl.psql_text("SELECT status FROM " + cl.schema + ".members WHERE host = 'h1'") == "left");
  // Every counter answers through host 0 right away (no lease to wait for),
  // with every add.
  client again(cl.ports[0]);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    auto v = again.get_within("d" + std::to_string(i), 5s);
    REQUIRE_MESSAGE(v, v.error().message() << "\nhost 0:\n" << cl.hosts[0]->output());
    CHECK(*v == 5);
  }
  CHECK(std::chrono::steady_clock::now() - t0 < 10s);
}

TEST_CASE("cluster: a frozen owner cannot commit after its lease: its replies fail, epochs move on") {
  auto& server = ark::test::shared_pg_server();
  cluster cl(server, 2, 2s);
  std::this_thread::sleep_for(2 * cl.renew);  // each host has seen the other
  client c0(cl.ports[0]);
  // Counters owned by host 1.
  std::vector<std::string> on_1;
  for (int i = 0; i < 40 && on_1.size() < 3; ++i) {
    auto k = "f" + std::to_string(i);
    REQUIRE(c0.add(k, 1));
    if (cl.psql_int("SELECT count(*) FROM " + cl.schema +
                    ".epochs WHERE holder = 'h1' AND " + cluster::owner_is(k)) == 1)
      on_1.push_back(k);
  }
  REQUIRE(!on_1.empty());
  const auto& hot = on_1.front();
  auto epoch_before = cl.psql_int("SELECT max(epoch) FROM " + cl.schema + ".epochs");
  // Freeze host 1 past its lease; meanwhile host 0 takes the counter over.
  ::kill(cl.hosts[1]->pid(), SIGSTOP);
  // A call sent now through the frozen owner's handle must never be
  // reported as a success: it is held, then fails (or times out).
  auto stale_handle = c0.handle(hot);
  REQUIRE(stale_handle);
  std::atomic<int> stale_ok{0};
  std::thread stale([&] {
    auto r = ark::call<std::int64_t>(c0.sys, *stale_handle, 8s, counter::add_atom::value,
                                     std::int64_t{1000});
    if (r) stale_ok = 1;
  });
  std::this_thread::sleep_for(cl.ttl + 1s);
  client c0b(cl.ports[0]);
  auto moved = c0b.get_within(hot, 5s);
  REQUIRE_MESSAGE(moved, moved.error().message());
  CHECK(*moved == 1);
  CHECK(cl.psql_text("SELECT holder FROM " + cl.schema + ".epochs WHERE " +
                     cluster::owner_is(hot)) == "h0");
  ::kill(cl.hosts[1]->pid(), SIGCONT);
  stale.join();
  std::this_thread::sleep_for(1s);
  // The frozen host's add (if it ran after waking) was fenced: not applied.
  CHECK(stale_ok == 0);
  auto after = c0b.get_within(hot, 5s);
  REQUIRE_MESSAGE(after, after.error().message() << "\nhost 0:\n"
                                                 << cl.hosts[0]->output() << "\nhost 1:\n"
                                                 << cl.hosts[1]->output());
  CHECK(*after == 1);
  CHECK(cl.psql_int("SELECT max(epoch) FROM " + cl.schema + ".epochs") > epoch_before);
}

TEST_CASE("cluster: alarms fire once, on the owner, also after the host that set them died") {
  auto& server = ark::test::shared_pg_server();
  cluster cl(server, 3);
  std::this_thread::sleep_for(2 * cl.renew);
  std::vector<std::string> names;
  {
    client c(cl.ports[0]);
    for (int i = 0; i < 9; ++i) {
      names.push_back("rem" + std::to_string(i));
      auto h = c.c.get_or_create<reminder::reminder_if>("reminder", ark::key{names.back()});
      REQUIRE_MESSAGE(h, h.error().message());
      auto ok = ark::call<bool>(c.sys, *h, 5s, reminder::sched_atom::value, std::string("wake"),
                                std::int64_t{4000}, std::string());
      REQUIRE_MESSAGE(ok, ok.error().message());
    }
  }
  auto on_2 = cl.psql_int("SELECT count(*) FROM " + cl.schema + ".epochs WHERE holder = 'h2'");
  CHECK(on_2 > 0);
  cl.hosts[2]->kill();  // before any alarm is due
  // Due in 4 s; host 2's actors move once its lease (2 s) expired.
  std::this_thread::sleep_for(4s + cl.ttl + 2s);
  client c(cl.ports[1]);
  for (const auto& n : names) {
    std::vector<std::string> fired;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto h = c.c.get<reminder::reminder_if>("reminder", ark::key{n});
      if (h) {
        auto f = ark::call<std::vector<std::string>>(c.sys, *h, 5s, reminder::fired_atom::value);
        if (f && !f->empty()) {
          fired = *f;
          break;
        }
      }
      std::this_thread::sleep_for(200ms);
    }
    CHECK_MESSAGE(fired == std::vector<std::string>{"wake"}, n << " fired " << fired.size()
                                                              << " time(s)");
  }
  // Give any duplicate delivery time to show, then look again.
  std::this_thread::sleep_for(2s);
  for (const auto& n : names) {
    auto h = c.c.get<reminder::reminder_if>("reminder", ark::key{n});
    REQUIRE(h);
    auto f = ark::call<std::vector<std::string>>(c.sys, *h, 5s, reminder::fired_atom::value);
    REQUIRE(f);
    CHECK_MESSAGE(f->size() == 1, n << " fired " << f->size() << " times");
  }
  CHECK(cl.psql_int("SELECT count(*) FROM " + cl.schema + ".epochs WHERE holder = 'h2'") == 0);
}

TEST_CASE("cluster: a host that joins takes over the actors that hash to it as they passivate") {
  auto& server = ark::test::shared_pg_server();
  cluster cl(server, 1, 2s, 500ms, {"--idle-timeout", "1"});
  const int n = 24;
  {
    client c(cl.ports[0]);
    for (int i = 0; i < n; ++i) REQUIRE(c.add("j" + std::to_string(i), 7));
  }  // the client is gone: nothing outside the host holds the actors
  CHECK(cl.psql_int("SELECT count(*) FROM " + cl.schema + ".epochs WHERE holder = 'h0'") == n);
  cl.add();
  // Idle for a second: they passivate and their claims are released.
  auto deadline = std::chrono::steady_clock::now() + 15s;
  while (std::chrono::steady_clock::now() < deadline &&
         cl.psql_int("SELECT count(*) FROM " + cl.schema + ".epochs WHERE holder IS NOT NULL") > 0)
    std::this_thread::sleep_for(200ms);
  CHECK(cl.psql_int("SELECT count(*) FROM " + cl.schema + ".epochs WHERE holder IS NOT NULL") == 0);
  client c(cl.ports[0]);
  for (int i = 0; i < n; ++i) CHECK(c.add("j" + std::to_string(i), 1).value() == 8);
  // The new host now owns the ones that hash to it.
  CHECK(cl.psql_int("SELECT count(*) FROM " + cl.schema + ".epochs WHERE holder = 'h1'") > 0);
  CHECK(cl.psql_int("SELECT count(*) FROM " + cl.schema + ".epochs WHERE holder = 'h0'") > 0);
}

TEST_CASE("cluster: a join and a drain under load lose no acknowledged add") {
  auto& server = ark::test::shared_pg_server();
  cluster cl(server, 2);
  std::this_thread::sleep_for(2 * cl.renew);
  const int keys = 16;
  std::vector<std::string> names;
  for (int i = 0; i < keys; ++i) names.push_back("jd" + std::to_string(i));
  std::atomic<bool> stop{false};
  std::map<std::string, std::int64_t> acked, failed;
  std::thread worker([&] {
    client c(cl.ports[0]);
    for (int i = 0; !stop; ++i) {
      const auto& k = names[static_cast<std::size_t>(i % keys)];
      if (c.add(k, 1))
        ++acked[k];
      else
        ++failed[k];
    }
  });
  std::this_thread::sleep_for(1s);
  cl.add();  // host 2 joins under load
  std::this_thread::sleep_for(1500ms);
  CHECK(cl.hosts[1]->stop() == 0);  // host 1 drains under load
  std::this_thread::sleep_for(1500ms);
  stop = true;
  worker.join();
  client check(cl.ports[2]);
  std::int64_t total = 0;
  for (const auto& k : names) {
    auto v = check.get_within(k, 5s);
    REQUIRE_MESSAGE(v, v.error().message());
    CHECK_MESSAGE(*v >= acked[k], k << ": " << *v << " < " << acked[k] << " acknowledged");
    CHECK_MESSAGE(*v <= acked[k] + failed[k], k << ": " << *v << " > " << acked[k] << " + "
                                                << failed[k]);
    total += acked[k];
  }
  CHECK(total > 50);
  CHECK(cl.psql_int("SELECT count(*) FROM " + cl.schema + ".epochs WHERE holder = 'h1'") == 0);
}

TEST_CASE("cluster: a host cut from the database stops serving by its deadline and another takes over") {
  auto& server = ark::test::shared_pg_server();
  cluster cl(server, 1);
  ark::test::tcp_proxy proxy(server.port());
  auto& cut_host = cl.add("host=127.0.0.1 port=" + std::to_string(proxy.port()) +
                          " user=ark dbname=postgres");
  std::this_thread::sleep_for(2 * cl.renew);
  // Counters owned by host 1 (the one behind the proxy).
  client c0(cl.ports[0]);
  std::vector<std::string> on_1;
  for (int i = 0; i < 40 && on_1.size() < 4; ++i) {
    auto k = "p" + std::to_string(i);
    REQUIRE(c0.add(k, 3));
    if (cl.psql_int("SELECT count(*) FROM " + cl.schema + ".epochs WHERE holder = 'h1' AND " +
                    cluster::owner_is(k)) == 1)
      on_1.push_back(k);
  }
  REQUIRE(!on_1.empty());
  proxy.cut();
  auto cut_at = std::chrono::steady_clock::now();
  // Host 1 notices by its own deadline (at most one lease after its last
  // renewal, which was before the cut).
  auto stopped = [&] {
    return cut_host.output().find("this host stops serving") != std::string::npos;
  };
  while (!stopped() && std::chrono::steady_clock::now() - cut_at < cl.ttl + 3s)
    std::this_thread::sleep_for(20ms);
  auto noticed = std::chrono::steady_clock::now() - cut_at;
  CHECK(stopped());
  CHECK_MESSAGE(noticed <= cl.ttl + 300ms,
                "host 1 stopped serving "
                    << std::chrono::duration_cast<std::chrono::milliseconds>(noticed).count()
                    << " ms after the cut; its lease is " << cl.ttl.count() << " ms");
  // Its counters answer through host 0, with every add, within lease + 2 s.
  client c0b(cl.ports[0]);
  for (const auto& k : on_1) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        cut_at + cl.ttl + 2s - std::chrono::steady_clock::now());
    auto v = c0b.get_within(k, std::max(left, std::chrono::milliseconds(200)));
    REQUIRE_MESSAGE(v, v.error().message());
    CHECK(*v == 3);
  }
  CHECK(cl.psql_int("SELECT count(*) FROM " + cl.schema + ".epochs WHERE holder = 'h1'") == 0);
  // Back on the network, host 1 joins again as a new generation.
  proxy.restore();
  auto back = std::chrono::steady_clock::now();
  while (cut_host.output().find("joined again as generation 2") == std::string::npos &&
         std::chrono::steady_clock::now() - back < 20s)
    std::this_thread::sleep_for(50ms);
  CHECK(cut_host.output().find("joined again as generation 2") != std::string::npos);
  CHECK(cl.psql_int("SELECT generation FROM " + cl.schema + ".members WHERE host = 'h1'") == 2);
}

TEST_CASE("cluster: PostgreSQL killed and restarted under load: acknowledged adds survive, hosts recover") {
  ark::test::pg_server server;  // its own: this test kills it
  cluster cl(server, 3);
  std::this_thread::sleep_for(2 * cl.renew);
  const int keys = 18;
  std::vector<std::string> names;
  for (int i = 0; i < keys; ++i) names.push_back("pgr" + std::to_string(i));
  std::atomic<bool> stop{false};
  std::vector<std::map<std::string, std::int64_t>> acked(2), failed(2);
  std::vector<std::thread> workers;
  for (int w = 0; w < 2; ++w)
    workers.emplace_back([&, w] {
      client c(cl.ports[static_cast<std::size_t>(w)]);
      for (int i = 0; !stop; ++i) {
        const auto& k = names[static_cast<std::size_t>(i % keys)];
        if (c.add(k, 1))
          ++acked[static_cast<std::size_t>(w)][k];
        else
          ++failed[static_cast<std::size_t>(w)][k];
      }
    });
  std::this_thread::sleep_for(1s);
  server.stop_immediate();
  // Down for longer than a lease: every host stops serving, then joins again
  // as a new generation once the server is back, without a restart.
  std::this_thread::sleep_for(cl.ttl + 1s);
  server.start();
  auto back = std::chrono::steady_clock::now();
  auto all_back = [&] {
    for (auto& h : cl.hosts)
      if (h->output().find("joined again as generation") == std::string::npos) return false;
    return true;
  };
  while (!all_back() && std::chrono::steady_clock::now() - back < 20s)
    std::this_thread::sleep_for(100ms);
  CHECK(all_back());
  std::this_thread::sleep_for(2s);  // the load runs on the recovered cluster
  stop = true;
  for (auto& t : workers) t.join();
  client check(cl.ports[2]);
  std::int64_t total = 0;
  for (const auto& k : names) {
    auto v = check.get_within(k, 10s);
    REQUIRE_MESSAGE(v, v.error().message());
    auto a = acked[0][k] + acked[1][k];
    auto f = failed[0][k] + failed[1][k];
    CHECK_MESSAGE(*v >= a, k << ": " << *v << " < " << a << " acknowledged");
    CHECK_MESSAGE(*v <= a + f, k << ": " << *v << " > " << a << " + " << f);
    total += a;
  }
  CHECK(total > 50);
  CHECK(cl.psql_int("SELECT count(*) FROM " + cl.schema +
                    ".members WHERE status = 'active' AND lease_expiry > now()") == 3);
  // Every host serves again: a new counter through each.
  for (std::size_t i = 0; i < cl.hosts.size(); ++i) {
    client c(cl.ports[i]);
    auto v = c.add("after" + std::to_string(i), 1);
    CHECK_MESSAGE(v, "host " << i << ": " << (v ? "" : v.error().message()));
  }
}

TEST_CASE("cluster: the admin API and ark-dash show the hosts, and an actor's owner and epoch") {
  auto& server = ark::test::shared_pg_server();
  cluster cl(server, 2, 2s, 500ms, {"--admin-port", "0"});
  std::this_thread::sleep_for(2 * cl.renew);
  client c(cl.ports[0]);
  REQUIRE(c.add("seen", 4));
  auto admin_port = [&](std::size_t i) {
    auto out = cl.hosts[i]->output();
    auto p = out.find("admin=127.0.0.1:");
    REQUIRE_MESSAGE(p != std::string::npos, out);
    return std::stoi(out.substr(p + 16));
  };
  auto get = [](int port, const std::string& path, const httplib::Params& params = {}) {
    httplib::Client h("127.0.0.1", port);
    h.set_read_timeout(10);
    auto r = h.Get(path, params, httplib::Headers{});
    REQUIRE_MESSAGE(r, "no answer for " << path);
    REQUIRE_MESSAGE(r->status == 200, r->body);
    return nlohmann::json::parse(r->body);
  };
  auto hosts = get(admin_port(1), "/api/v1/hosts");
  CHECK(hosts["cluster"] == "test");
  CHECK(hosts["self"] == "h1");
  CHECK(hosts["serving"] == true);
  REQUIRE(hosts["hosts"].size() == 2);
  for (const auto& h : hosts["hosts"]) {
    CHECK(h["live"] == true);
    CHECK(h["generation"] == 1);
    CHECK(h["lease_ms"].get<std::int64_t>() > 0);
  }
  // The counter's owner and epoch, from either host, active or not.
  auto holder = cl.psql_text("SELECT holder FROM " + cl.schema + ".epochs WHERE " +
                             cluster::owner_is("seen"));
  for (std::size_t i = 0; i < 2; ++i) {
    auto st = get(admin_port(i), "/api/v1/state", {{"type", "counter"}, {"key", "\"seen\""}});
    REQUIRE_MESSAGE(st["owner"].is_object(), st.dump());
    CHECK(st["owner"]["host"] == holder);
    CHECK(st["owner"]["epoch"] == 1);
    CHECK(st["owner"]["address"].get<std::string>().rfind("127.0.0.1:", 0) == 0);
  }
  // ark-dash hosts reads the members table.
  auto [rc, out] = ark::test::run_command(std::string(ARK_DASH_PATH) + " hosts --pg '" +
                                          server.conninfo() + "' --pg-schema " + cl.schema);
  CHECK(rc == 0);
  CHECK(out.find("h0") != std::string::npos);
  CHECK(out.find("h1") != std::string::npos);
  CHECK(out.find("live") != std::string::npos);
  auto [rc2, js] = ark::test::run_command(std::string(ARK_DASH_PATH) + " hosts --json --pg '" +
                                          server.conninfo() + "' --pg-schema " + cl.schema);
  CHECK(rc2 == 0);
  auto rows = nlohmann::json::parse(js, nullptr, false);
  REQUIRE(rows.is_array());
  CHECK(rows.size() == 2);
  // Not a PostgreSQL schema: a clear error.
  auto [rc3, err] = ark::test::run_command(std::string(ARK_DASH_PATH) + " hosts 2>&1");
  CHECK(rc3 == 2);
  CHECK(err.find("--pg") != std::string::npos);
}
