#pragma once

// A cluster of real ark-host processes on one private PostgreSQL server, for
// tests/host/cluster_*test.cpp (doc/cluster.md), and a client that counts.

#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <ark/client.hpp>

#include "counter/counter.hpp"
#include "support/host_process.hpp"
#include "support/pg_server.hpp"
#include "test_util.hpp"

namespace cluster_test {

using namespace std::chrono_literals;


inline const std::string counter_module = std::string(ARK_MODULE_DIR) + "/libark_counter.so";
inline const std::string reminder_module = std::string(ARK_MODULE_DIR) + "/libark_test_reminder.so";
inline const std::string bank_actor_module = std::string(ARK_MODULE_DIR) + "/libark_bank.so";

inline std::string fresh_schema() {
  static std::atomic<int> n{0};
  return "cl" + std::to_string(::getpid()) + "_" + std::to_string(n++);
}

/// Three (or more) hosts of cluster "test" on one schema, each on a fixed
/// loopback port, with a short lease.
struct cluster {
  ark::test::pg_server& server;
  std::string schema = fresh_schema();
  ark::test::temp_dir dir;
  std::vector<std::unique_ptr<ark::test::host_process>> hosts;
  std::vector<std::uint16_t> ports;
  std::chrono::milliseconds ttl, renew;
  std::vector<std::string> extra;  // more ark-host flags, for every host

  explicit cluster(ark::test::pg_server& s, int n, std::chrono::milliseconds lease = 2s,
                   std::chrono::milliseconds renewal = 500ms,
                   std::vector<std::string> more = {})
      : server(s), ttl(lease), renew(renewal), extra(std::move(more)) {
    for (int i = 0; i < n; ++i) add();
  }
  ~cluster() {
    for (auto& h : hosts) h->kill();
    server.psql("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
  }

  /// Starts one more host (through `conninfo` when given, else straight to
  /// the server).
  ark::test::host_process& add(const std::string& conninfo = {}) {
    auto i = hosts.size();
    auto port = static_cast<std::uint16_t>(ark::test::pg_server::free_port());
    char ttl_s[32], renew_s[32];
    std::snprintf(ttl_s, sizeof ttl_s, "%.3f", ttl.count() / 1000.0);
    std::snprintf(renew_s, sizeof renew_s, "%.3f", renew.count() / 1000.0);
    std::vector<std::string> flags{"--backend",   "postgres", "--pg",
                                   conninfo.empty() ? server.conninfo() : conninfo,
                                   "--pg-schema", schema,     "--cluster",  "test",
                                   "--host-id",   "h" + std::to_string(i),  "--lease-ttl",
                                   ttl_s,         "--lease-renew",          renew_s};
    flags.insert(flags.end(), extra.begin(), extra.end());
    hosts.push_back(std::make_unique<ark::test::host_process>(
        dir.sub("d" + std::to_string(i)),
        std::vector<std::string>{counter_module, reminder_module, bank_actor_module}, flags));
    hosts.back()->use_port(port);
    ports.push_back(port);
    REQUIRE_MESSAGE(hosts.back()->start(), hosts.back()->output());
    return *hosts.back();
  }

  int psql_int(const std::string& sql) {
    auto r = server.psql(sql);
    REQUIRE_MESSAGE(r.first == 0, r.second);
    return std::stoi(r.second);
  }
  std::string psql_text(const std::string& sql) {
    auto r = server.psql(sql);
    REQUIRE_MESSAGE(r.first == 0, r.second);
    auto s = r.second;
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }
  // SQL: the epochs row of counter `key` (its identity holds the key as a
  // tuple string: 0x02, the bytes, 0x00).
  static std::string owner_is(const std::string& key) {
    return "position(('\\x02'::bytea || convert_to('" + key +
           "', 'UTF8') || '\\x00'::bytea) in owner) > 0";
  }
};

/// A client connected to one host; calls fail with the error, and retry
/// only the lookup (never the add).
struct client {
  ark::client_config cfg;
  caf::actor_system sys{cfg};
  ark::client c;
  std::map<std::string, counter::counter_if> handles;

  explicit client(std::uint16_t port) {
    auto r = ark::connect(sys, "127.0.0.1", port);
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
    c = *r;
    c.timeout = 5s;
  }
  ark::expected<counter::counter_if> handle(const std::string& key) {
    if (auto it = handles.find(key); it != handles.end()) return it->second;
    auto h = c.get_or_create<counter::counter_if>("counter", key);
    if (h) handles.emplace(key, *h);
    return h;
  }
  ark::expected<std::int64_t> add(const std::string& key, std::int64_t n = 1) {
    auto h = handle(key);
    if (!h) return h.error();
    auto r = ark::call<std::int64_t>(sys, *h, 5s, counter::add_atom::value, n);
    if (!r) handles.erase(key);  // look it up again next time
    return r;
  }
  ark::expected<std::int64_t> get(const std::string& key) {
    auto h = handle(key);
    if (!h) return h.error();
    auto r = ark::call<std::int64_t>(sys, *h, 5s, counter::get_atom::value);
    if (!r) handles.erase(key);
    return r;
  }
  // get() until it answers or `limit` passes.
  ark::expected<std::int64_t> get_within(const std::string& key, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      auto r = get(key);
      if (r || std::chrono::steady_clock::now() > deadline) return r;
      std::this_thread::sleep_for(100ms);
    }
  }
};


}  // namespace cluster_test
