// A real ark-host on a private PostgreSQL server (tests/support/pg_server.hpp):
// serving, restarts, the server killed under load, a connection cut in the
// middle of a commit.

#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <future>
#include <thread>
#include <vector>

#include <ark/client.hpp>

#include <ark/subscription.hpp>

#include "counter/counter.hpp"
#include "settings/settings.hpp"
#include "support/reminder/reminder.hpp"
#include "support/host_process.hpp"
#include "support/pg_server.hpp"
#include "support/remote_client.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

namespace {

const std::string counter_module = std::string(ARK_MODULE_DIR) + "/libark_counter.so";
const std::string settings_module = std::string(ARK_MODULE_DIR) + "/libark_settings.so";
const std::string reminder_module = std::string(ARK_MODULE_DIR) + "/libark_test_reminder.so";


std::string fresh_schema() {
  static std::atomic<int> n{0};
  return "host" + std::to_string(::getpid()) + "_" + std::to_string(n++);
}

std::vector<std::string> pg_flags(const std::string& conninfo, const std::string& schema) {
  return {"--backend", "postgres", "--pg", conninfo, "--pg-schema", schema};
}

struct remote : ark::test::remote_client {
  explicit remote(std::uint16_t port) : remote_client(port) { c.timeout = 5s; }
  ark::expected<std::int64_t> add(const std::string& key, std::int64_t n = 1) {
    auto h = c.get_or_create<counter::counter_if>("counter", key);
    if (!h) return h.error();
    return ark::call<std::int64_t>(sys, *h, 8s, counter::add_atom::value, n);
  }
  ark::expected<std::int64_t> get(const std::string& key) {
    auto h = c.get_or_create<counter::counter_if>("counter", key);
    if (!h) return h.error();
    return ark::call<std::int64_t>(sys, *h, 8s, counter::get_atom::value);
  }
};

}  // namespace

TEST_CASE("an ark-host on postgres keeps its counters across restarts and names the server") {
  auto& server = ark::test::shared_pg_server();
  auto schema = fresh_schema();
  ark::test::temp_dir dir;
  {
    ark::test::host_process host(dir.sub("unused"), {counter_module},
                                 pg_flags(server.conninfo(), schema));
    REQUIRE_MESSAGE(host.start(), host.output());
    CHECK(host.output().find("data=PostgreSQL host=" + server.socket_dir()) != std::string::npos);
    CHECK(host.output().find("schema " + schema) != std::string::npos);
    CHECK(host.output().find("backend=postgres") != std::string::npos);
    remote r(host.port());
    for (int i = 1; i <= 5; ++i) CHECK(r.add("a").value() == i);
    CHECK(r.add("b", 10).value() == 10);
    CHECK(host.stop() == 0);
  }
  // No data directory was made: everything is in the schema.
  CHECK_FALSE(std::filesystem::exists(dir.sub("unused")));
  auto rows = server.psql("SELECT count(*) FROM " + schema + ".kv");
  CHECK(rows.first == 0);
  ark::test::host_process host(dir.sub("unused"), {counter_module},
                               pg_flags(server.conninfo(), schema));
  REQUIRE_MESSAGE(host.start(), host.output());
  remote r(host.port());
  CHECK(r.get("a").value() == 5);
  CHECK(r.get("b").value() == 10);

  // A second host on the same schema is refused, naming the holder.
  ark::test::host_process second(dir.sub("unused2"), {counter_module},
                                 pg_flags(server.conninfo(), schema));
  CHECK_FALSE(second.start(10s));
  CHECK(second.output().find("locked") != std::string::npos);
  CHECK(second.output().find("schema " + schema) != std::string::npos);
  CHECK(host.stop() == 0);
  server.psql("DROP SCHEMA " + schema + " CASCADE");
}

TEST_CASE("ark-host names an unreachable postgres server and refuses a password on its command line") {
  ark::test::temp_dir dir;
  ark::test::host_process down(dir.sub("d"), {counter_module},
                               pg_flags("host=" + dir.str() + " port=9 dbname=nowhere", "ark"));
  CHECK_FALSE(down.start(15s));
  CHECK(down.output().find("cannot connect to PostgreSQL host=" + dir.str() + " port=9") !=
        std::string::npos);
  ark::test::host_process secret(dir.sub("d"), {counter_module},
                                 pg_flags("postgresql://ark:hunter2@127.0.0.1/app", "ark"));
  CHECK_FALSE(secret.start(15s));
  CHECK(secret.output().find("holds a password") != std::string::npos);
  CHECK(secret.output().find("pgpass") != std::string::npos);
}

TEST_CASE("the postgres server killed under load: acknowledged adds survive, failures are errors") {
  ark::test::pg_server server;  // its own: this test kills it
  auto schema = fresh_schema();
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("unused"), {counter_module},
                               pg_flags(server.conninfo(), schema));
  REQUIRE_MESSAGE(host.start(), host.output());

  constexpr int clients = 4;
  std::atomic<bool> stop{false};
  std::vector<std::atomic<std::int64_t>> acked(clients), failed(clients);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      remote r(host.port());
      auto key = "c" + std::to_string(c);
      while (!stop) {
        auto v = r.add(key);
        if (v) {
          // Acknowledged: the value includes this add and every earlier one.
          CHECK(*v >= acked[c] + 1);
          ++acked[c];
        } else {
          ++failed[c];
          std::this_thread::sleep_for(20ms);
        }
      }
    });
  std::this_thread::sleep_for(800ms);
  server.stop_immediate();
  std::this_thread::sleep_for(1500ms);
  std::vector<std::int64_t> acked_while_down;
  for (auto& a : acked) acked_while_down.push_back(a.load());
  server.start();
  // The host reconnects within its backoff (at most 5 s between attempts):
  // wait until every client was served again.
  auto all_served = [&] {
    for (int c = 0; c < clients; ++c)
      if (acked[c] <= acked_while_down[c]) return false;
    return true;
  };
  for (int i = 0; i < 200 && !all_served(); ++i) std::this_thread::sleep_for(100ms);
  std::this_thread::sleep_for(300ms);
  stop = true;
  for (auto& t : threads) t.join();

  remote r(host.port());
  for (int c = 0; c < clients; ++c) {
    CAPTURE(c);
    CHECK(acked[c] > 0);
    CHECK(failed[c] > 0);  // the outage was seen, as errors
    // Served again after the server came back.
    CHECK(acked[c] > acked_while_down[c]);
    ark::expected<std::int64_t> v = ark::error{ark::errc::unreachable, ""};
    for (int i = 0; i < 50 && !v; ++i) {
      v = r.get("c" + std::to_string(c));
      if (!v) std::this_thread::sleep_for(100ms);
    }
    REQUIRE_MESSAGE(v.has_value(), v.error().message());
    // Every acknowledged add is there; a failed one may have landed only if
    // its commit was in doubt.
    CHECK(*v >= acked[c]);
    CHECK(*v <= acked[c] + failed[c]);
  }
  CHECK(host.stop() == 0);
}

TEST_CASE("a connection cut in the middle of a commit fails the call, never acknowledges it") {
  ark::test::pg_server server;  // its own: this test terminates its backends
  auto schema = fresh_schema();
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("unused"), {counter_module},
                               pg_flags(server.conninfo(), schema));
  REQUIRE_MESSAGE(host.start(), host.output());
  remote r(host.port());
  REQUIRE(r.add("x").value() == 1);

  // Hold the kv table so the host's next commit waits inside the server.
  auto locker = std::async(std::launch::async, [&] {
    return server.psql("BEGIN; LOCK TABLE " + schema + ".kv IN EXCLUSIVE MODE; SELECT pg_sleep(3); COMMIT;");
  });
  std::this_thread::sleep_for(500ms);
  auto call = std::async(std::launch::async, [&] { return r.add("x"); });
  // Wait until the commit is stuck on the lock, then cut its connection.
  std::string cut;
  for (int i = 0; i < 50; ++i) {
    auto t = server.psql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'ark' "
        "AND wait_event_type = 'Lock'");
    if (t.second.find('t') != std::string::npos) {
      cut = t.second;
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  REQUIRE_MESSAGE(!cut.empty(), "the commit never waited on the lock");
  auto result = call.get();
  REQUIRE_FALSE(result.has_value());
  CAPTURE(result.error().message());
  CHECK(result.error().message().find("connection to the PostgreSQL server was lost") !=
        std::string::npos);
  CHECK(result.error().message().find("outcome is unknown") != std::string::npos);
  locker.get();
  // The host reconnects; the counter holds what was committed (the cut
  // commit never was), and the next add goes on from there.
  ark::expected<std::int64_t> next = ark::error{ark::errc::unreachable, ""};
  for (int i = 0; i < 50 && !next; ++i) {
    next = r.add("x");
    if (!next) std::this_thread::sleep_for(100ms);
  }
  REQUIRE_MESSAGE(next.has_value(), next.error().message());
  CHECK(*next == 2);
  CHECK(host.stop() == 0);
}

TEST_CASE("settings on postgres: state, KV history, a remote subscriber, an alarm, a restart") {
  auto& server = ark::test::shared_pg_server();
  auto schema = fresh_schema();
  ark::test::temp_dir dir;
  std::vector<std::string> seen;
  std::mutex mtx;
  std::condition_variable cv;
  {
    ark::test::host_process host(dir.sub("unused"), {settings_module},
                                 pg_flags(server.conninfo(), schema));
    REQUIRE_MESSAGE(host.start(), host.output());
    ark::test::remote_client r(host.port());
    auto h = r.handle<settings::settings_if>("settings", "eve");
    ark::subscription_callbacks cbs;
    cbs.on_state = [&](const ark::state_changed& c) {
      auto p = ark::decode_state<settings::preferences>(c);
      std::lock_guard<std::mutex> guard{mtx};
      seen.push_back(p ? p->theme + "/" + std::to_string(p->version) : p.error().message());
      cv.notify_all();
    };
    auto sub = ark::subscribe(r.sys, h, ark::subscription_mode::state, cbs);
    REQUIRE_MESSAGE(sub, (sub ? "" : sub.error().message()));
    CHECK(ark::test::run_client("settings-client", host.port(), "set eve lang de") == "1\n");
    CHECK(ark::test::run_client("settings-client", host.port(), "theme eve dark") == "2\n");
    {
      std::unique_lock<std::mutex> lock{mtx};
      REQUIRE(cv.wait_for(lock, 10s, [&] { return seen.size() >= 3; }));
      CHECK(seen == std::vector<std::string>{"light/0", "light/1", "dark/2"});
    }
    CHECK(ark::test::run_client("settings-client", host.port(), "snooze eve 60").find_first_not_of("0123456789\n") ==
          std::string::npos);
    sub->cancel();
    CHECK(host.stop() == 0);
  }
  // The alarms' rows and their due index entries are in the schema (the
  // daily digest and the do-not-disturb end: two of each).
  auto alarms = server.psql("SELECT count(*) FROM " + schema + ".kv k JOIN " + schema +
                            ".spaces s ON s.id = k.space_id WHERE s.json IN "
                            "('[null,\"alarms\"]', '[null,\"alarm_due\"]')");
  CHECK(alarms.second == "4");
  ark::test::host_process host(dir.sub("unused"), {settings_module},
                               pg_flags(server.conninfo(), schema));
  REQUIRE_MESSAGE(host.start(), host.output());
  CHECK(ark::test::run_client("settings-client", host.port(), "status eve") == "theme=dark dnd=on digests=0 version=2\n");
  CHECK(ark::test::run_client("settings-client", host.port(), "history eve") == "lang=de\ntheme=dark\n");
  CHECK(host.stop() == 0);
  server.psql("DROP SCHEMA " + schema + " CASCADE");
}

TEST_CASE("alarms on postgres fire, also after the host that scheduled them restarted") {
  auto& server = ark::test::shared_pg_server();
  auto schema = fresh_schema();
  ark::test::temp_dir dir;
  auto flags = pg_flags(server.conninfo(), schema);
  {
    ark::test::host_process host(dir.sub("unused"), {reminder_module}, flags);
    REQUIRE_MESSAGE(host.start(), host.output());
    ark::test::remote_client r(host.port());
    auto h = r.handle<reminder::reminder_if>("reminder", ark::key{"r"});
    CHECK(ark::call<bool>(r.sys, h, 10s, reminder::sched_atom::value, std::string("soon"),
                          std::int64_t{200}, std::string("a"))
              .value());
    CHECK(ark::call<bool>(r.sys, h, 10s, reminder::sched_atom::value, std::string("later"),
                          std::int64_t{2500}, std::string("b"))
              .value());
    std::vector<std::string> fired;
    for (int i = 0; i < 50 && fired.empty(); ++i) {
      std::this_thread::sleep_for(100ms);
      fired = ark::call<std::vector<std::string>>(r.sys, h, 10s, reminder::fired_atom::value)
                  .value_or(std::vector<std::string>{});
    }
    REQUIRE(fired.size() == 1);
    CHECK(fired[0].find("soon") != std::string::npos);
    CHECK(host.stop() == 0);
  }
  // "later" is due while no host runs: the next host fires it.
  std::this_thread::sleep_for(2500ms);
  ark::test::host_process host(dir.sub("unused"), {reminder_module}, flags);
  REQUIRE_MESSAGE(host.start(), host.output());
  ark::test::remote_client r(host.port());
  auto h = r.handle<reminder::reminder_if>("reminder", ark::key{"r"});
  std::vector<std::string> fired;
  for (int i = 0; i < 100 && fired.size() < 2; ++i) {
    std::this_thread::sleep_for(100ms);
    fired = ark::call<std::vector<std::string>>(r.sys, h, 10s, reminder::fired_atom::value)
                .value_or(std::vector<std::string>{});
  }
  REQUIRE(fired.size() == 2);
  CHECK(fired[1].find("later") != std::string::npos);
  CHECK(host.stop() == 0);
  server.psql("DROP SCHEMA " + schema + " CASCADE");
}
