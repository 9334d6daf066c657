// ark-dash on PostgreSQL (label pg): every verb that takes --data also takes
// --pg / --pg-file / --pg-schema, against a schema a real ark-host process
// (--backend postgres, the example counter module, the test reminder module)
// filled, on a private server (tests/support/pg_server.hpp). Each test uses a
// schema of its own and drops it at the end.

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <ark/client.hpp>

#include "support/host_process.hpp"
#include "support/pg_server.hpp"
#include "support/reminder/reminder.hpp"
#include "support/remote_client.hpp"
#include "support/child_process.hpp"
#include "test_util.hpp"
#include "tools/dash_runner.hpp"

using namespace std::chrono_literals;
using json = nlohmann::json;
using ark::test::child;
using ark::test::run_dash;

namespace {

const std::string counter_module = std::string(ARK_MODULE_DIR) + "/libark_counter.so";
const std::string reminder_module = std::string(ARK_MODULE_DIR) + "/libark_test_reminder.so";
const std::string counter_client = std::string(ARK_BIN_DIR) + "/counter-client";

ark::test::pg_server& server() {
  return ark::test::shared_pg_server();
}

// A schema of the shared server for one test: dropped when the test starts
// (a previous run killed midway) and when it ends, whatever happened.
class test_schema {
 public:
  explicit test_schema(std::string name) : name_(std::move(name)) { drop(); }
  ~test_schema() { drop(); }
  test_schema(const test_schema&) = delete;
  test_schema& operator=(const test_schema&) = delete;

  const std::string& name() const { return name_; }
  /// --pg CONNINFO --pg-schema NAME.
  std::vector<std::string> flags() const {
    return {"--pg", server().conninfo(), "--pg-schema", name_};
  }
  /// `args` followed by flags().
  std::vector<std::string> with(std::vector<std::string> args) const {
    for (auto& f : flags()) args.push_back(f);
    return args;
  }
  /// Whether the schema exists on the server.
  bool exists() const {
    auto [status, out] =
        server().psql("SELECT count(*) FROM pg_namespace WHERE nspname = '" + name_ + "'");
    REQUIRE_MESSAGE(status == 0, out);
    return out == "1";
  }
  /// Rows of its kv table.
  int rows() const {
    auto [status, out] = server().psql("SELECT count(*) FROM " + name_ + ".kv");
    REQUIRE_MESSAGE(status == 0, out);
    return std::stoi(out);
  }

 private:
  void drop() const { server().psql("DROP SCHEMA IF EXISTS " + name_ + " CASCADE"); }
  std::string name_;
};

// An ark-host on `schema` with the counter and reminder modules and the admin
// API. host_process passes --data too; with --backend postgres it is unused.
std::unique_ptr<ark::test::host_process> pg_host(const ark::test::temp_dir& dir,
                                                 const test_schema& schema) {
  auto host = std::make_unique<ark::test::host_process>(
      dir.sub("unused"), std::vector<std::string>{counter_module, reminder_module},
      schema.with({"--backend", "postgres", "--admin-port", "0"}));
  REQUIRE_MESSAGE(host->start(), host->output());
  CHECK(host->output().find("backend=postgres") != std::string::npos);
  return host;
}

// The middleman port of a host on PostgreSQL. ark-host's ready line used to
// read "data=PostgreSQL host=... port=<server's> ... port=<host's> bind=...",
// where host_process::port() takes the server's; main's ark-host prints its
// own port first ("ready: port=N data=..."). Either way: the port= that
// opens the line, else the last one before bind=.
std::uint16_t host_port(const ark::test::host_process& host) {
  auto out = host.output();
  auto ready = out.find("ark-host ready: ");
  REQUIRE_MESSAGE(ready != std::string::npos, out);
  auto at = ready + 16;
  auto p = out.compare(at, 5, "port=") == 0 ? at : out.rfind(" port=", out.find(" bind=", at)) + 1;
  return static_cast<std::uint16_t>(std::stoi(out.substr(p + 5)));
}

// `counter-client add KEY N` against the host on `port`: what it prints
// ("KEY = VALUE").
std::string counter_add(std::uint16_t port, const std::string& key, int n) {
  auto [status, out] = ark::test::run_command(counter_client + " --port " + std::to_string(port) +
                                              " add " + key + " " + std::to_string(n));
  REQUIRE_MESSAGE(status == 0, out);
  return out;
}

// Counters a = 5 and b = 1 (through counter-client), and one pending alarm
// "tea time" an hour away on reminder r1.
void fill(std::uint16_t port) {
  CHECK(counter_add(port, "a", 5) == "a = 5\n");
  CHECK(counter_add(port, "b", 1) == "b = 1\n");
  ark::test::remote_client r(port);
  auto rem = r.handle<reminder::reminder_if>("reminder", ark::key{"r1"});
  REQUIRE(ark::call<bool>(r.sys, rem, 5s, reminder::sched_atom::value, std::string("tea time"),
                          std::int64_t{3'600'000}, std::string("green")));
}

// The admin port from the host's ready line ("admin=127.0.0.1:PORT").
int admin_port(const ark::test::host_process& host) {
  auto out = host.output();
  auto p = out.find("admin=");
  REQUIRE_MESSAGE(p != std::string::npos, out);
  return std::stoi(out.substr(out.find(':', p) + 1));
}

json http_get(int port, const std::string& path, const httplib::Params& params = {}) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(10);
  auto r = c.Get(path, params, httplib::Headers{});
  REQUIRE_MESSAGE(r, "no HTTP answer for " << path);
  INFO(path << " answered " << r->status << ": " << r->body);
  REQUIRE(r->status == 200);
  return json::parse(r->body);
}

// The entry lines of a dump file, sorted (neither its header line, which
// names the source, nor its end line, whose "spaces" counts registered
// spaces, also empty ones a load does not recreate). Sorted: a dump lists
// spaces in the order of their ids, which each backend assigns its own way.
std::vector<std::string> dump_entries(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  REQUIRE(lines.size() >= 2);
  CHECK(json::parse(lines.front())["ark_dump"] == 1);
  auto end = json::parse(lines.back());
  CHECK(end["end"] == true);
  CHECK(end["entries"] == lines.size() - 2);
  std::sort(lines.begin() + 1, lines.end() - 1);
  return {lines.begin() + 1, lines.end() - 1};
}

// The "source" of a dump file's header line.
std::string dump_source(const std::string& path) {
  std::ifstream in(path);
  std::string first;
  std::getline(in, first);
  return json::parse(first)["source"].get<std::string>();
}

// The keys of an `actors --json` document, as "type key" strings.
std::vector<std::string> actor_names(const json& doc) {
  std::vector<std::string> out;
  for (const auto& a : doc["actors"])
    out.push_back(a["type"].get<std::string>() + " " + a["key"].dump());
  return out;
}


}  // namespace

TEST_CASE("ark-dash read verbs work on a PostgreSQL schema while an ark-host writes it") {
  test_schema schema("dash_read");
  ark::test::temp_dir dir;
  auto host = pg_host(dir, schema);
  fill(host_port(*host));

  // Read-only opens take no schema lock: all of this runs beside the host.
  auto actors = run_dash(schema.with({"actors", "--json"}));
  REQUIRE_MESSAGE(actors.status == 0, actors.err);
  CHECK(actor_names(json::parse(actors.out)) ==
        std::vector<std::string>{"counter [\"a\"]", "counter [\"b\"]", "reminder [\"r1\"]"});
  auto table = run_dash(schema.with({"actors"}));
  CHECK_MESSAGE(table.out.find("counter   [\"a\"]") != std::string::npos, table.out);

  auto state = run_dash(schema.with({"state", "counter", "a", "--json"}));
  REQUIRE_MESSAGE(state.status == 0, state.err);
  CHECK(json::parse(state.out)["state"]["value"] == 5);

  auto alarms = run_dash(schema.with({"alarms", "--json"}));
  REQUIRE_MESSAGE(alarms.status == 0, alarms.err);
  auto alarm_doc = json::parse(alarms.out);
  REQUIRE(alarm_doc["alarms"].size() == 1);
  CHECK(alarm_doc["alarms"][0]["name"] == "tea time");
  CHECK(alarm_doc["alarms"][0]["type"] == "reminder");

  auto query = run_dash(schema.with({"query", "counter", "--where", "value > 2"}));
  REQUIRE_MESSAGE(query.status == 0, query.err);
  CHECK(query.out.find("[\"a\"]") != std::string::npos);
  CHECK(query.out.find("[\"b\"]") == std::string::npos);
  CHECK(query.err.find("1 of 2 counter actors match") != std::string::npos);

  auto list = run_dash(schema.with(
      {"kv", "list", "--space", "[null,\"state\"]", "--prefix", "[\"counter\"]", "--json"}));
  REQUIRE_MESSAGE(list.status == 0, list.err);
  CHECK(std::count(list.out.begin(), list.out.end(), '\n') == 2);
  CHECK(list.out.find("[\"counter\",[\"a\"]]") != std::string::npos);
  auto count = run_dash(schema.with({"kv", "count", "--space", "[null,\"state\"]"}));
  CHECK(count.out == "3\n");
  auto get =
      run_dash(schema.with({"kv", "get", "--space", "[null,\"state\"]", "[\"counter\",[\"b\"]]"}));
  REQUIRE_MESSAGE(get.status == 0, get.err);
  CHECK(get.out.find("\"value\":1") != std::string::npos);
  auto spaces = run_dash(schema.with({"kv", "spaces"}));
  REQUIRE_MESSAGE(spaces.status == 0, spaces.err);
  CHECK(spaces.out.find("[null,\"state\"]") != std::string::npos);
  CHECK(spaces.out.find("[null,\"alarms\"]") != std::string::npos);
  auto show = run_dash(schema.with({"kv", "show", "counter", "a", "--json"}));
  REQUIRE_MESSAGE(show.status == 0, show.err);
  CHECK(json::parse(show.out)["entries"].empty());

  // stats names the server and schema; a schema's size is unknown here.
  auto stats = run_dash(schema.with({"stats", "--json"}));
  REQUIRE_MESSAGE(stats.status == 0, stats.err);
  auto stats_doc = json::parse(stats.out);
  CHECK(stats_doc["actors"] == 3);
  CHECK(stats_doc["data_bytes"].is_number_unsigned());
  CHECK(stats_doc["data_bytes"].get<std::uint64_t>() > 0);
  auto where = stats_doc["location"].get<std::string>();
  CHECK(where.rfind("PostgreSQL host=", 0) == 0);
  CHECK(where.find("schema dash_read") != std::string::npos);

  auto verify = run_dash(schema.with({"verify"}));
  CHECK_MESSAGE(verify.status == 0, verify.out << verify.err);
  CHECK(verify.out.find("verified PostgreSQL host=") != std::string::npos);
  CHECK(verify.out.find("schema dash_read: ") != std::string::npos);
  CHECK(verify.out.find("no problems") != std::string::npos);

  auto dry = run_dash(
      schema.with({"migrate", "--module", counter_module, "--type", "counter", "--dry-run"}));
  CHECK_MESSAGE(dry.status == 0, dry.out << dry.err);
  CHECK(dry.out.find("2 current") != std::string::npos);

  // Writers need the schema's lock, which the host holds.
  auto put = run_dash(schema.with({"kv", "put", "--space", "notes", "x", "1"}));
  CHECK(put.status == 1);
  CHECK_MESSAGE(put.err.find("locked") != std::string::npos, put.err);
  auto apply = run_dash(
      schema.with({"migrate", "--module", counter_module, "--type", "counter", "--apply"}));
  CHECK(apply.status == 1);
  CHECK_MESSAGE(apply.err.find("locked") != std::string::npos, apply.err);

  // Without the host: writes go through, and the host sees them after.
  CHECK(host->stop() == 0);
  auto put2 = run_dash(schema.with({"kv", "put", "--space", "notes", "x", "1"}));
  CHECK_MESSAGE(put2.status == 0, put2.err);
  CHECK(run_dash(schema.with({"kv", "get", "--space", "notes", "x"})).out == "1\n");
  auto del = run_dash(schema.with({"kv", "delete", "--space", "notes", "x"}));
  CHECK(del.out == "deleted [\"x\"]\n");
  auto gone = run_dash(schema.with({"kv", "get", "--space", "notes", "x"}));
  CHECK(gone.status == 1);
  CHECK(gone.err.find("not found") != std::string::npos);
  // What the host wrote dumps and loads into a directory that reads the same.
  auto file = dir.sub("read.jsonl");
  auto dumped = run_dash(schema.with({"dump", "--out", file}));
  REQUIRE_MESSAGE(dumped.status == 0, dumped.err);
  auto copy = dir.sub("copy");
  auto loaded = run_dash({"load", "--data", copy, "--in", file});
  REQUIRE_MESSAGE(loaded.status == 0, loaded.err);
  for (const auto& verb : std::vector<std::vector<std::string>>{
           {"actors", "--json"}, {"alarms", "--json"}, {"state", "counter", "a", "--json"}}) {
    auto from_pg = run_dash(schema.with(verb));
    auto args = verb;
    args.insert(args.end(), {"--data", copy});
    auto from_dir = run_dash(args);
    REQUIRE_MESSAGE(from_pg.status == 0, from_pg.err);
    CHECK(json::parse(from_pg.out) == json::parse(from_dir.out));
  }
  auto applied = run_dash(
      schema.with({"migrate", "--module", counter_module, "--type", "counter", "--apply"}));
  CHECK_MESSAGE(applied.status == 0, applied.out << applied.err);
  CHECK(applied.out.find("2 current") != std::string::npos);
}

TEST_CASE("ark-dash verify finds a damaged snapshot row in a PostgreSQL schema") {
  test_schema schema("dash_verify");
  ark::test::temp_dir dir;
  auto host = pg_host(dir, schema);
  fill(host_port(*host));
  CHECK(host->stop() == 0);
  auto clean = run_dash(schema.with({"verify", "--json"}));
  REQUIRE_MESSAGE(clean.status == 0, clean.out << clean.err);
  auto summary = json::parse(clean.out.substr(clean.out.rfind("{\"summary\"")))["summary"];
  CHECK(summary["problems"] == 0);
  CHECK(summary["snapshots"] == 3);
  CHECK(summary["data"].get<std::string>().find("schema dash_verify") != std::string::npos);

  // Counter b's snapshot: a value tag ark never writes.
  const std::string s = schema.name();
  auto [status, out] = server().psql(
      "UPDATE " + s + ".kv SET value = '\\x07ff' WHERE space_id = (SELECT id FROM " + s +
      ".spaces WHERE json = '[null,\"state\"]') AND key = (SELECT key FROM " + s +
      ".kv WHERE space_id = (SELECT id FROM " + s +
      ".spaces WHERE json = '[null,\"state\"]') ORDER BY key OFFSET 1 LIMIT 1) RETURNING 1");
  REQUIRE_MESSAGE(status == 0, out);
  REQUIRE(out == "1");

  auto damaged = run_dash(schema.with({"verify"}));
  CHECK(damaged.status == 1);
  CHECK_MESSAGE(damaged.out.find("counter") != std::string::npos, damaged.out);
  CHECK(damaged.out.find("[\"b\"]") != std::string::npos);
  CHECK(damaged.out.find("1 problem\n") != std::string::npos);
  auto lines = run_dash(schema.with({"verify", "--json"}));
  CHECK(lines.status == 1);
  auto first = json::parse(lines.out.substr(0, lines.out.find('\n')));
  CHECK(first.contains("problem"));
}

TEST_CASE("ark-dash dump and load convert LMDB to PostgreSQL to SQLite with identical content") {
  test_schema schema("dash_convert");
  test_schema second("dash_convert_back");
  ark::test::temp_dir dir;
  auto lmdb = dir.sub("lmdb");
  {
    ark::test::host_process host(lmdb, {counter_module, reminder_module});
    REQUIRE_MESSAGE(host.start(), host.output());
    fill(host.port());
    CHECK(host.stop() == 0);
  }
  auto from_lmdb = dir.sub("lmdb.jsonl");
  auto d1 = run_dash({"dump", "--data", lmdb, "--out", from_lmdb});
  REQUIRE_MESSAGE(d1.status == 0, d1.err);

  // LMDB -> PostgreSQL: the schema is created, and holds the same entries.
  auto l1 = run_dash(schema.with({"load", "--in", from_lmdb}));
  REQUIRE_MESSAGE(l1.status == 0, l1.err);
  CHECK(l1.err.find("into PostgreSQL host=") != std::string::npos);
  auto from_pg = dir.sub("pg.jsonl");
  auto d2 = run_dash(schema.with({"dump", "--out", from_pg}));
  REQUIRE_MESSAGE(d2.status == 0, d2.err);
  CHECK(dump_source(from_pg).find("schema dash_convert") != std::string::npos);
  CHECK(dump_entries(from_pg) == dump_entries(from_lmdb));
  CHECK(run_dash(schema.with({"verify"})).status == 0);

  // PostgreSQL -> SQLite.
  auto sqlite = dir.sub("sqlite");
  auto l2 = run_dash({"load", "--data", sqlite, "--backend", "sqlite", "--in", from_pg});
  REQUIRE_MESSAGE(l2.status == 0, l2.err);
  auto from_sqlite = dir.sub("sqlite.jsonl");
  REQUIRE(run_dash({"dump", "--data", sqlite, "--out", from_sqlite}).status == 0);
  CHECK(dump_entries(from_sqlite) == dump_entries(from_lmdb));

  // SQLite -> PostgreSQL (a second schema of the same database), and the
  // loaded schema is a working one: a host serves its counters.
  auto l3 = run_dash(second.with({"load", "--backend", "postgres", "--in", from_sqlite}));
  REQUIRE_MESSAGE(l3.status == 0, l3.err);
  auto again = dir.sub("again.jsonl");
  REQUIRE(run_dash(second.with({"dump", "--out", again})).status == 0);
  CHECK(dump_entries(again) == dump_entries(from_lmdb));
  {
    auto host = pg_host(dir, second);
    auto [status, out] = ark::test::run_command(counter_client + " --port " +
                                                std::to_string(host_port(*host)) + " get a");
    CHECK_MESSAGE(status == 0, out);
    CHECK(out == "a = 5\n");
    CHECK(host->stop() == 0);
  }

  // Never into a schema that holds data; the schema is left as it was.
  int rows = schema.rows();
  auto into = run_dash(schema.with({"load", "--in", from_lmdb}));
  CHECK(into.status == 1);
  CHECK_MESSAGE(into.err.find("already holds ark data") != std::string::npos, into.err);
  CHECK(into.err.find("schema dash_convert") != std::string::npos);
  CHECK(schema.rows() == rows);
}

TEST_CASE("ark-dash load into a PostgreSQL schema leaves nothing behind from a bad dump") {
  test_schema schema("dash_load_bad");
  ark::test::temp_dir dir;
  {
    ark::test::host_process host(dir.sub("lmdb"), {counter_module, reminder_module});
    REQUIRE_MESSAGE(host.start(), host.output());
    fill(host.port());
    CHECK(host.stop() == 0);
  }
  auto good = dir.sub("dump.jsonl");
  REQUIRE(run_dash({"dump", "--data", dir.sub("lmdb"), "--out", good}).status == 0);
  std::ifstream in(good);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // 6,000 more entries in space ["bulk"] after the header line: load commits
  // batches of 5,000, so a dump found bad at its end has already written some.
  const char* b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bulk;
  for (int i = 0; i < 6000; ++i) {
    std::string k{b64[(i >> 12) & 63], b64[(i >> 6) & 63], b64[i & 63], 'A'};
    bulk += "{\"space\":[\"bulk\"],\"key\":\"" + k + "\",\"value\":\"AQ==\"}\n";
  }
  auto header_end = text.find('\n') + 1;
  auto big = text.substr(0, header_end) + bulk + text.substr(header_end);

  // Truncated after its entries: 5,000 were written, then cleared again.
  std::ofstream(dir.sub("cut.jsonl")) << big.substr(0, big.rfind("{\"end\""));
  auto cut = run_dash(schema.with({"load", "--in", dir.sub("cut.jsonl")}));
  CHECK(cut.status == 1);
  CHECK_MESSAGE(cut.err.find("truncated") != std::string::npos, cut.err);
  CHECK(cut.err.find("nothing was loaded") != std::string::npos);
  CHECK(schema.rows() == 0);
  CHECK(run_dash(schema.with({"kv", "spaces"})).out.empty());

  // Damaged base64 in the last entry: the entries before it are cleared.
  auto damaged = big;
  auto last = damaged.rfind("\"value\":\"");
  damaged.replace(last + 9, 1, "!");
  std::ofstream(dir.sub("bad.jsonl")) << damaged;
  auto bad = run_dash(schema.with({"load", "--in", dir.sub("bad.jsonl")}));
  CHECK(bad.status == 1);
  CHECK_MESSAGE(bad.err.find("base64") != std::string::npos, bad.err);
  CHECK(bad.err.find("nothing was loaded") != std::string::npos);
  CHECK(schema.rows() == 0);

  // The schema takes a good dump afterwards: the cleared spaces hold no keys.
  auto ok = run_dash(schema.with({"load", "--in", good}));
  CHECK_MESSAGE(ok.status == 0, ok.err);
  CHECK(schema.rows() == 5);
  CHECK(run_dash(schema.with({"verify"})).status == 0);
}

TEST_CASE("ark-dash serve answers the dashboard API offline from a PostgreSQL schema") {
  test_schema schema("dash_serve");
  ark::test::temp_dir dir;
  {
    auto host = pg_host(dir, schema);
    fill(host_port(*host));
    CHECK(host->stop() == 0);
  }
  std::vector<std::string> args{ARK_DASH_PATH, "serve", "--port", "0"};
  for (auto& f : schema.flags()) args.push_back(f);
  child dash(args);
  REQUIRE_MESSAGE(dash.wait_for("Ctrl-C", 10s), dash.output());
  auto out = dash.output();
  CHECK(out.find("(PostgreSQL host=") != std::string::npos);
  auto p = out.find("http://127.0.0.1:");
  REQUIRE(p != std::string::npos);
  int port = std::stoi(out.substr(p + 17));

  auto source = http_get(port, "/api/v1/source");
  CHECK(source["mode"] == "data");
  CHECK(source["location"].get<std::string>().find("schema dash_serve") != std::string::npos);
  auto actors = http_get(port, "/api/v1/actors", {{"type", "counter"}});
  CHECK(actor_names(actors) == std::vector<std::string>{"counter [\"a\"]", "counter [\"b\"]"});
  auto state = http_get(port, "/api/v1/state", {{"type", "counter"}, {"key", "[\"a\"]"}});
  CHECK(state["state"]["value"] == 5);
  auto stats = http_get(port, "/api/v1/stats");
  CHECK(stats["actors"] == 3);
  CHECK(stats["data_bytes"].is_number_unsigned());
  CHECK(stats["data_bytes"].get<std::uint64_t>() > 0);
}

TEST_CASE("the admin API of an ark-host on PostgreSQL names the server and serves its actors") {
  test_schema schema("dash_admin");
  ark::test::temp_dir dir;
  auto host = pg_host(dir, schema);
  fill(host_port(*host));
  int port = admin_port(*host);
  auto source = http_get(port, "/api/v1/source");
  auto where = source["location"].get<std::string>();
  CHECK(where.rfind("PostgreSQL host=", 0) == 0);
  CHECK(where.find("schema dash_admin") != std::string::npos);
  auto stats = http_get(port, "/api/v1/stats");
  CHECK(stats.contains("commits"));
  CHECK(stats["active_actors"].get<int>() >= 2);
  auto actors = http_get(port, "/api/v1/actors", {{"type", "counter"}});
  CHECK(actor_names(actors) == std::vector<std::string>{"counter [\"a\"]", "counter [\"b\"]"});
  auto state = http_get(port, "/api/v1/state", {{"type", "counter"}, {"key", "[\"a\"]"}});
  CHECK(state["state"]["value"] == 5);
  // ark-dash over that host agrees with ark-dash over the schema.
  auto url = "http://127.0.0.1:" + std::to_string(port);
  auto live = run_dash({"state", "counter", "a", "--host", url, "--json"});
  REQUIRE_MESSAGE(live.status == 0, live.err);
  CHECK(json::parse(live.out)["state"]["value"] == 5);
  CHECK(host->stop() == 0);
}

TEST_CASE("ark-dash --pg refuses a password and names an unreachable server") {
  ark::test::temp_dir dir;
  // A password on the command line: usage error, with the remedy.
  auto pw = run_dash({"actors", "--pg", "host=127.0.0.1 user=ark password=hunter2"});
  CHECK(pw.status == 2);
  CHECK_MESSAGE(pw.err.find("password") != std::string::npos, pw.err);
  CHECK(pw.err.find("~/.pgpass") != std::string::npos);
  CHECK(pw.err.find("--pg-file") != std::string::npos);
  CHECK(pw.err.find("hunter2") == std::string::npos);

  // Nothing listens on that port (bound, never listening).
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  auto port = std::to_string(ntohs(a.sin_port));
  auto down = run_dash(
      {"verify", "--pg", "host=127.0.0.1 port=" + port + " user=ark dbname=app connect_timeout=5"});
  ::close(s);
  CHECK(down.status == 1);
  CHECK_MESSAGE(down.err.find("host=127.0.0.1 port=" + port) != std::string::npos, down.err);
  CHECK(down.err.find("dbname=app") != std::string::npos);

  // --pg-file: refused when others may read it, used when they cannot.
  auto file = dir.sub("pg.conf");
  // A password in the file is fine (the server trusts the role and never asks).
  std::ofstream(file) << server().conninfo() << " password=hunter2\n";
  ::chmod(file.c_str(), 0644);
  auto open_file = run_dash({"actors", "--pg-file", file});
  CHECK(open_file.status == 2);
  CHECK_MESSAGE(open_file.err.find("chmod 600") != std::string::npos, open_file.err);
  ::chmod(file.c_str(), 0600);
  // A read of a schema ark never created: no_data_dir naming it, and the
  // read-only open created nothing.
  test_schema missing("dash_missing");
  auto none = run_dash({"actors", "--pg-file", file, "--pg-schema", "dash_missing"});
  CHECK(none.status == 1);
  CHECK_MESSAGE(none.err.find("schema dash_missing holds no ark data") != std::string::npos,
                none.err);
  CHECK(none.err.find("hunter2") == std::string::npos);
  CHECK_FALSE(missing.exists());
  // A URI works as well as keyword/value text.
  auto uri = run_dash({"kv", "spaces", "--pg", server().uri(), "--pg-schema", "dash_missing"});
  CHECK(uri.status == 1);
  CHECK_MESSAGE(uri.err.find("host=127.0.0.1 port=" + std::to_string(server().port())) !=
                    std::string::npos,
                uri.err);
  CHECK(uri.err.find("holds no ark data") != std::string::npos);

  // Flags that contradict each other are usage errors.
  CHECK(run_dash({"actors", "--data", dir.sub("d"), "--pg", server().conninfo()}).status == 2);
  auto schema_alone = run_dash({"actors", "--pg-schema", "x"});
  CHECK(schema_alone.status == 2);
  CHECK(schema_alone.err.find("--pg") != std::string::npos);
  auto no_server = run_dash({"kv", "put", "--backend", "postgres", "--space", "s", "k", "1"});
  CHECK(no_server.status == 2);
  CHECK(no_server.err.find("--pg CONNINFO or --pg-file FILE") != std::string::npos);
  auto mixed = run_dash(
      {"kv", "put", "--backend", "sqlite", "--pg", server().conninfo(), "--space", "s", "k", "1"});
  CHECK(mixed.status == 2);
}
