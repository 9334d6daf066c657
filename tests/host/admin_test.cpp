// The admin API of a real ark-host (HTTP), and ark-dash's actor views over
// the same host (--host) and over its data directory (--data).

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <ark/client.hpp>

#include "chat_room/chat_room.hpp"
#include "counter/counter.hpp"
#include "host/admin_http.hpp"
#include "support/host_process.hpp"
#include "support/reminder/reminder.hpp"
#include "support/remote_client.hpp"
#include "test_util.hpp"
#include "tools/dash_runner.hpp"

using namespace std::chrono_literals;
using json = nlohmann::json;
using ark::test::admin_port;
using ark::test::get;

namespace {

const std::string counter_module = std::string(ARK_MODULE_DIR) + "/libark_counter.so";
const std::string chat_module = std::string(ARK_MODULE_DIR) + "/libark_chat_room.so";
const std::string reminder_module = std::string(ARK_MODULE_DIR) + "/libark_test_reminder.so";

// Fills a host: counters a (value 5) and b (value 1), chat room "lobby" with
// three posts (each a KV entry).
void fill(std::uint16_t port) {
  ark::test::remote_client r(port);
  auto a = r.c.get_or_create<counter::counter_if>("counter", "a");
  auto b = r.c.get_or_create<counter::counter_if>("counter", "b");
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(*ark::call<std::int64_t>(r.sys, *a, 5s, counter::add_atom::value, std::int64_t{5}) == 5);
  REQUIRE(*ark::call<std::int64_t>(r.sys, *b, 5s, counter::add_atom::value, std::int64_t{1}) == 1);
  auto room = r.c.get_or_create<chat_room::chat_room_if>("chat_room", "lobby");
  REQUIRE(room);
  for (const char* text : {"hi", "hello", "bye"})
    REQUIRE(ark::call<std::int64_t>(r.sys, *room, 5s, chat_room::post_atom::value,
                                    std::string("ann"), std::string(text)));
}

}  // namespace

TEST_CASE("the admin API lists types, actors, state, KV, stats and metrics of a live host") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {counter_module, chat_module},
                               {"--admin-port", "0"});
  REQUIRE_MESSAGE(host.start(), host.output());
  fill(host.port());
  int port = admin_port(host);
  CHECK(host.output().find("admin=127.0.0.1:") != std::string::npos);  // loopback by default

  auto types = get(port, "/api/v1/types");
  REQUIRE(types.status == 200);
  std::map<std::string, int> counts;
  for (auto& t : types.body["types"]) counts[t["type"]] = t["actors"];
  CHECK(counts["counter"] == 2);
  CHECK(counts["chat_room"] == 1);

  // Paging: one actor per page, the second page after the first's "next".
  auto p1 = get(port, "/api/v1/actors", {{"type", "counter"}, {"limit", "1"}});
  REQUIRE(p1.status == 200);
  REQUIRE(p1.body["actors"].size() == 1);
  CHECK(p1.body["actors"][0]["key"] == json::array({"a"}));
  CHECK(p1.body["actors"][0]["active"] == true);
  CHECK(p1.body["actors"][0]["snapshot_bytes"].get<int>() > 0);
  REQUIRE(p1.body["next"] == json::array({"a"}));
  auto p2 = get(port, "/api/v1/actors",
                {{"type", "counter"}, {"limit", "1"}, {"after", p1.body["next"].dump()}});
  REQUIRE(p2.body["actors"].size() == 1);
  CHECK(p2.body["actors"][0]["key"] == json::array({"b"}));
  auto p3 = get(port, "/api/v1/actors",
                {{"type", "counter"}, {"limit", "1"}, {"after", p2.body["next"].dump()}});
  CHECK(p3.body["actors"].empty());
  CHECK(p3.body["next"].is_null());
  // Key prefix filter, and every type at once.
  auto pre = get(port, "/api/v1/actors", {{"type", "counter"}, {"prefix", "[\"b\"]"}});
  REQUIRE(pre.body["actors"].size() == 1);
  CHECK(pre.body["actors"][0]["key"] == json::array({"b"}));
  CHECK(get(port, "/api/v1/actors").body["actors"].size() == 3);

  auto st = get(port, "/api/v1/state", {{"type", "counter"}, {"key", "[\"a\"]"}});
  REQUIRE_MESSAGE(st.status == 200, st.text);
  CHECK(st.body["state"] == json{{"value", 5}});
  CHECK(st.body["active"] == true);
  CHECK(st.body["source"] == "actor");
  CHECK(st.body["schema"] == 1);
  // When its last commit settled (this host's clock, ms since the epoch).
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  REQUIRE(st.body["last_commit_ms"].is_number());
  CHECK(st.body["last_commit_ms"].get<std::int64_t>() <= now_ms);
  CHECK(st.body["last_commit_ms"].get<std::int64_t>() > now_ms - 60000);
  // A capped preview says it is truncated instead of failing.
  auto cut = get(port, "/api/v1/state", {{"type", "counter"}, {"key", "[\"a\"]"}, {"limit", "4"}});
  REQUIRE(cut.status == 200);
  CHECK(cut.body["truncated"] == true);
  CHECK(cut.body["state"].is_null());
  CHECK(cut.body["preview"].get<std::string>().size() == 4);

  auto kv = get(port, "/api/v1/kv", {{"type", "chat_room"}, {"key", "[\"lobby\"]"}});
  REQUIRE_MESSAGE(kv.status == 200, kv.text);
  REQUIRE(kv.body["entries"].size() == 3);
  CHECK(kv.body["entries"][0]["value"]["text"] == "hi");
  auto kv_rev = get(port, "/api/v1/kv",
                    {{"type", "chat_room"}, {"key", "[\"lobby\"]"}, {"reverse", "true"},
                     {"limit", "2"}});
  REQUIRE(kv_rev.body["entries"].size() == 2);
  CHECK(kv_rev.body["entries"][0]["value"]["text"] == "bye");
  REQUIRE_FALSE(kv_rev.body["next"].is_null());
  auto kv_rest = get(port, "/api/v1/kv",
                     {{"type", "chat_room"}, {"key", "[\"lobby\"]"}, {"reverse", "true"},
                      {"after", kv_rev.body["next"].dump()}});
  REQUIRE(kv_rest.body["entries"].size() == 1);
  CHECK(kv_rest.body["entries"][0]["value"]["text"] == "hi");

  auto stats = get(port, "/api/v1/stats");
  REQUIRE(stats.status == 200);
  CHECK(stats.body["active_actors"] == 3);
  CHECK(stats.body["messages"].get<int>() >= 5);
  CHECK(stats.body["commits"].get<int>() >= 1);
  CHECK(stats.body["commit_latency_us"]["p99"].get<int>() > 0);
  CHECK(stats.body["map_size"].get<long long>() > 0);
  auto metrics = get(port, "/metrics");
  CHECK(metrics.status == 200);
  CHECK(metrics.text.find("ark_commits_total ") != std::string::npos);
  CHECK(metrics.text.find("ark_commit_latency_seconds_bucket{le=\"+Inf\"}") != std::string::npos);

  // Errors name the problem.
  auto missing = get(port, "/api/v1/state", {{"type", "counter"}, {"key", "[\"zz\"]"}});
  CHECK(missing.status == 404);
  CHECK(missing.body["error"]["code"] == "not_found");
  auto bad = get(port, "/api/v1/state", {{"type", "counter"}, {"key", "[oops"}});
  CHECK(bad.status == 400);
  CHECK(bad.body["error"]["message"].get<std::string>().find("parameter key") !=
        std::string::npos);
  auto nowhere = get(port, "/api/v2/nothing");
  CHECK(nowhere.status == 404);
  CHECK(nowhere.body["error"]["message"].get<std::string>().find("doc/admin_api.md") !=
        std::string::npos);
  CHECK(host.stop() == 0);
}

TEST_CASE("the admin API answers 404 for an actor that does not exist and creates nothing") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {counter_module, chat_module},
                               {"--admin-port", "0"});
  REQUIRE_MESSAGE(host.start(), host.output());
  fill(host.port());
  int port = admin_port(host);
  auto before = get(port, "/api/v1/stats");
  REQUIRE(before.status == 200);
  for (std::string path : {"/api/v1/state", "/api/v1/kv"}) {
    CAPTURE(path);
    auto missing = get(port, path, {{"type", "chat_room"}, {"key", "[\"ghost\"]"}});
    CHECK(missing.status == 404);
    CHECK(missing.body["error"]["code"] == "not_found");
    CHECK(missing.body["error"]["message"].get<std::string>().find("chat_room [\"ghost\"]") !=
          std::string::npos);
  }
  // An actor that exists with no KV entry is not 404: its KV is empty.
  auto empty = get(port, "/api/v1/kv", {{"type", "counter"}, {"key", "[\"a\"]"}});
  CHECK(empty.status == 200);
  CHECK(empty.body["entries"].empty());
  // Nothing was activated, and no actor was created.
  auto after = get(port, "/api/v1/stats");
  CHECK(after.body["active_actors"] == before.body["active_actors"]);
  CHECK(after.body["commits"] == before.body["commits"]);
  auto listed = get(port, "/api/v1/actors", {{"type", "chat_room"}});
  REQUIRE(listed.body["actors"].size() == 1);
  CHECK(listed.body["actors"][0]["key"] == json::array({"lobby"}));
  CHECK(host.stop() == 0);
}

TEST_CASE("the admin API requires its token when one is set, and beyond loopback") {
  ark::test::temp_dir dir;
  auto token_path = ark::test::write_admin_token(dir);
  {
    ark::test::host_process exposed(dir.sub("data1"), {counter_module},
                                    {"--admin-port", "0", "--admin-bind", "0.0.0.0"});
    CHECK_FALSE(exposed.start(5s));
    CHECK(exposed.output().find("--admin-token-file") != std::string::npos);
  }
  ark::test::host_process host(
      dir.sub("data"), {counter_module},
      {"--admin-port", "0", "--admin-token-file", token_path, "--admin-preview-limit", "8"});
  REQUIRE_MESSAGE(host.start(), host.output());
  int port = admin_port(host);
  auto denied = get(port, "/api/v1/types");
  CHECK(denied.status == 401);
  CHECK(denied.body["error"]["code"] == "unauthorized");
  CHECK(get(port, "/api/v1/types", {}, "wrong-token-wrong-token").status == 401);
  CHECK(get(port, "/metrics").status == 401);
  CHECK(get(port, "/api/v1/types", {}, ark::test::admin_token).status == 200);
  // --admin-preview-limit caps every state preview, whatever the request asks.
  {
    ark::test::remote_client r(host.port());
    auto x = r.c.get_or_create<counter::counter_if>("counter", "x");
    REQUIRE(x);
    REQUIRE(ark::call<std::int64_t>(r.sys, *x, 5s, counter::add_atom::value, std::int64_t{123}));
  }
  auto st = get(port, "/api/v1/state",
                {{"type", "counter"}, {"key", "[\"x\"]"}, {"limit", "1000"}},
                ark::test::admin_token);
  REQUIRE_MESSAGE(st.status == 200, st.text);
  CHECK(st.body["truncated"] == true);
  CHECK(st.body["preview"] == "{\"value\"");
  CHECK(st.body["state_bytes"] == 13);
  // ark-dash with the token file gets in, without it is told what to do.
  auto url = "http://127.0.0.1:" + std::to_string(port);
  auto ok = ark::test::run_dash({"stats", "--host", url, "--token-file", token_path, "--json"});
  CHECK_MESSAGE(ok.status == 0, ok.err);
  auto no = ark::test::run_dash({"stats", "--host", url});
  CHECK(no.status == 1);
  CHECK(no.err.find("Authorization") != std::string::npos);
  CHECK(host.stop() == 0);
}

TEST_CASE("ark-dash actors, state, kv show and stats read a live host and its data directory alike") {
  ark::test::temp_dir dir;
  auto data = dir.sub("data");
  ark::test::host_process host(data, {counter_module, chat_module}, {"--admin-port", "0"});
  REQUIRE_MESSAGE(host.start(), host.output());
  fill(host.port());
  auto url = "http://127.0.0.1:" + std::to_string(admin_port(host));

  auto live_actors = ark::test::run_dash({"actors", "--host", url});
  REQUIRE_MESSAGE(live_actors.status == 0, live_actors.err);
  CHECK(live_actors.out.find("ACTIVE") != std::string::npos);
  CHECK(live_actors.out.find("[\"lobby\"]") != std::string::npos);
  // The data directory is readable while the host runs (LMDB readers never
  // block the writer).
  auto offline_actors = ark::test::run_dash({"actors", "--data", data, "--json"});
  REQUIRE_MESSAGE(offline_actors.status == 0, offline_actors.err);
  auto oa = json::parse(offline_actors.out);
  CHECK(oa["actors"].size() == 3);

  auto live_state = ark::test::run_dash({"state", "counter", "a", "--host", url, "--json"});
  REQUIRE_MESSAGE(live_state.status == 0, live_state.err);
  auto data_state = ark::test::run_dash({"state", "counter", "a", "--data", data, "--json"});
  REQUIRE_MESSAGE(data_state.status == 0, data_state.err);
  CHECK(json::parse(live_state.out)["state"] == json::parse(data_state.out)["state"]);
  auto table = ark::test::run_dash({"state", "counter", "a", "--data", data});
  CHECK(table.out.find("\"value\": 5") != std::string::npos);

  auto live_kv =
      ark::test::run_dash({"kv", "show", "chat_room", "lobby", "--host", url, "--json"});
  auto data_kv =
      ark::test::run_dash({"kv", "show", "chat_room", "lobby", "--data", data, "--json"});
  REQUIRE_MESSAGE(live_kv.status == 0, live_kv.err);
  REQUIRE_MESSAGE(data_kv.status == 0, data_kv.err);
  CHECK(json::parse(live_kv.out) == json::parse(data_kv.out));
  CHECK(json::parse(data_kv.out)["entries"].size() == 3);

  auto live_stats = ark::test::run_dash({"stats", "--host", url});
  CHECK_MESSAGE(live_stats.status == 0, live_stats.err);
  CHECK(live_stats.out.find("commit_latency_us") != std::string::npos);
  auto data_stats = ark::test::run_dash({"stats", "--data", data, "--json"});
  CHECK(json::parse(data_stats.out)["actors"] == 3);

  // Clear errors: a missing actor, a host that is not there, a missing dir.
  auto missing = ark::test::run_dash({"state", "counter", "nobody", "--data", data});
  CHECK(missing.status == 1);
  CHECK(missing.err.find("does not exist") != std::string::npos);
  // Through --host the same error, told once (code and remedy not repeated).
  auto live_missing = ark::test::run_dash({"state", "counter", "nobody", "--host", url});
  CHECK(live_missing.status == 1);
  auto first = live_missing.err.find("not_found:");
  REQUIRE(first != std::string::npos);
  CHECK(live_missing.err.find("not_found:", first + 1) == std::string::npos);
  CHECK(live_missing.err.find("(remedy:") == live_missing.err.rfind("(remedy:"));
  CHECK(live_missing.err.find("(from " + url + ")") != std::string::npos);
  CHECK(host.stop() == 0);
  auto gone = ark::test::run_dash({"actors", "--host", url});
  CHECK(gone.status == 1);
  CHECK(gone.err.find("--admin-port") != std::string::npos);
  auto no_dir = ark::test::run_dash({"actors", "--data", dir.sub("nowhere")});
  CHECK(no_dir.status == 1);
}

TEST_CASE("ark-dash dump and load copy a data directory exactly, all or nothing") {
  ark::test::temp_dir dir;
  auto data = dir.sub("data");
  ark::test::host_process host(data, {counter_module, chat_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  fill(host.port());
  // While the host runs: one read snapshot.
  auto dumped = ark::test::run_dash({"dump", "--data", data, "--out", dir.sub("dump.jsonl")});
  REQUIRE_MESSAGE(dumped.status == 0, dumped.err);
  CHECK(host.stop() == 0);

  auto copy = dir.sub("copy");
  auto loaded = ark::test::run_dash({"load", "--data", copy, "--in", dir.sub("dump.jsonl")});
  REQUIRE_MESSAGE(loaded.status == 0, loaded.err);
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"actors", "--json"},
           {"state", "counter", "a", "--json"},
           {"kv", "show", "chat_room", "lobby", "--json"}}) {
    auto with = [&](const std::string& d) {
      auto a = args;
      a.push_back("--data");
      a.push_back(d);
      return ark::test::run_dash(a);
    };
    auto original = with(data);
    auto restored = with(copy);
    REQUIRE_MESSAGE(original.status == 0, original.err);
    CHECK(json::parse(original.out) == json::parse(restored.out));
  }
  CHECK(ark::test::run_dash({"verify", "--data", copy}).status == 0);
  // The copy is a working data directory: a host serves it.
  ark::test::host_process again(copy, {counter_module, chat_module});
  REQUIRE_MESSAGE(again.start(), again.output());
  ark::test::remote_client r(again.port());
  auto a = r.c.get_or_create<counter::counter_if>("counter", "a");
  REQUIRE(a);
  CHECK(*ark::call<std::int64_t>(r.sys, *a, 5s, counter::get_atom::value) == 5);
  CHECK(again.stop() == 0);

  // A truncated dump (no end line) or a damaged one loads nothing.
  std::ifstream in(dir.sub("dump.jsonl"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto cut = text.substr(0, text.rfind("{\"end\""));
  std::ofstream(dir.sub("cut.jsonl")) << cut;
  auto truncated = ark::test::run_dash({"load", "--data", dir.sub("t"), "--in", dir.sub("cut.jsonl")});
  CHECK(truncated.status == 1);
  CHECK(truncated.err.find("truncated") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.sub("t")));
  auto damaged_text = text;
  damaged_text.replace(damaged_text.find("\"value\":\"") + 9, 1, "!");
  std::ofstream(dir.sub("bad.jsonl")) << damaged_text;
  auto damaged = ark::test::run_dash({"load", "--data", dir.sub("b"), "--in", dir.sub("bad.jsonl")});
  CHECK(damaged.status == 1);
  CHECK(damaged.err.find("base64") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.sub("b")));
  // Never into a directory that holds data.
  auto into = ark::test::run_dash({"load", "--data", data, "--in", dir.sub("dump.jsonl")});
  CHECK(into.status == 1);
  CHECK(into.err.find("not empty") != std::string::npos);
  // Nothing left over next to the targets.
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    CHECK(e.path().filename().string().find(".loading-") == std::string::npos);
}

TEST_CASE("ark-dash query filters a type's actors on state fields, while the host runs") {
  ark::test::temp_dir dir;
  auto data = dir.sub("data");
  ark::test::host_process host(data, {counter_module, chat_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  fill(host.port());
  // The newest snapshots may still be in the state journal (checkpointed
  // after a second of quiet): query reads both from one snapshot.
  auto big = ark::test::run_dash({"query", "counter", "--data", data, "--where", "value > 2"});
  REQUIRE_MESSAGE(big.status == 0, big.err);
  CHECK(big.out.find("[\"a\"]") != std::string::npos);
  CHECK(big.out.find("[\"b\"]") == std::string::npos);
  CHECK(big.err.find("1 of 2 counter actors match") != std::string::npos);
  auto all = ark::test::run_dash(
      {"query", "counter", "--data", data, "--where", "value >= 1", "--where", "value != 3", "--json"});
  REQUIRE(all.status == 0);
  std::istringstream lines(all.out);
  std::vector<json> docs;
  for (std::string l; std::getline(lines, l);) docs.push_back(json::parse(l));
  REQUIRE(docs.size() == 2);
  CHECK(docs[0]["state"]["value"] == 5);
  CHECK(docs[1]["state"]["value"] == 1);
  auto rooms = ark::test::run_dash({"query", "chat_room", "--data", data, "--where", "count == 3"});
  CHECK(rooms.out.find("lobby") != std::string::npos);
  auto bad = ark::test::run_dash({"query", "counter", "--data", data, "--where", "value"});
  CHECK(bad.status == 2);
  CHECK(bad.err.find("FIELD OP VALUE") != std::string::npos);
  CHECK(host.stop() == 0);
}

namespace {

// Schedules alarm `name` of actor (type, key) `delay_ms` from now, with
// payload {"note": note} unless note is empty.
void schedule(ark::test::remote_client& r, const std::string& type, const std::string& key,
              const std::string& name, std::int64_t delay_ms, const std::string& note = "") {
  auto h = r.handle<reminder::reminder_if>(type, ark::key{key});
  auto ok = ark::call<bool>(r.sys, h, 5s, reminder::sched_atom::value, name, delay_ms, note);
  REQUIRE_MESSAGE(ok, (ok ? "" : ok.error().message()));
}

std::vector<std::string> alarm_names(const json& doc) {
  std::vector<std::string> out;
  for (const auto& a : doc["alarms"]) out.push_back(a["name"].get<std::string>());
  return out;
}

using strings = std::vector<std::string>;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The value of metric `name` in a Prometheus text, or -1.
long long metric_value(const std::string& text, const std::string& name) {
  auto p = text.find("\n" + name + " ");
  if (p == std::string::npos) return -1;
  return std::stoll(text.substr(p + name.size() + 2));
}

}  // namespace

TEST_CASE("the admin API lists pending alarms in due order, filtered and paged, until they fire") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {counter_module, reminder_module},
                               {"--admin-port", "0"});
  REQUIRE_MESSAGE(host.start(), host.output());
  int port = admin_port(host);
  ark::test::remote_client r(host.port());
  auto before = now_ms();
  schedule(r, "reminder", "r1", "later", 3'600'000, "tea");
  schedule(r, "reminder", "r1", "middle", 1'800'000);
  schedule(r, "reminder_mem", "m", "volatile", 2'400'000);
  schedule(r, "reminder", "r2", "early", 600'000);

  auto all = get(port, "/api/v1/alarms");
  REQUIRE_MESSAGE(all.status == 200, all.text);
  REQUIRE(alarm_names(all.body) == strings{"early", "middle", "volatile", "later"});
  CHECK(all.body["next"].is_null());
  const auto& later = all.body["alarms"][3];
  CHECK(later["type"] == "reminder");
  CHECK(later["key"] == json::array({"r1"}));
  CHECK(later["payload"] == json{{"note", "tea"}});
  CHECK(later["attempt"] == 0);
  CHECK(later["max_attempts"] == 6);
  auto due = later["due_ms"].get<std::int64_t>();
  CHECK(due >= before + 3'600'000);
  CHECK(due <= now_ms() + 3'600'000);
  // "due" is the same instant as ISO-8601 UTC text.
  auto secs = static_cast<std::time_t>(due / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  CHECK(later["due"] ==
        std::string(text) + "." + std::to_string(1000 + due % 1000).substr(1) + "Z");
  CHECK(all.body["alarms"][0]["payload"].is_null());
  // The memory-only type's alarm is listed by the live host, marked.
  CHECK(all.body["alarms"][2]["memory"] == true);
  CHECK_FALSE(later.contains("memory"));

  // Filters: a type, an actor.
  auto typed = get(port, "/api/v1/alarms", {{"type", "reminder"}});
  CHECK(alarm_names(typed.body) == strings{"early", "middle", "later"});
  CHECK(get(port, "/api/v1/alarms", {{"type", "counter"}}).body["alarms"].empty());
  auto actor = get(port, "/api/v1/alarms", {{"type", "reminder"}, {"key", "[\"r1\"]"}});
  REQUIRE_MESSAGE(actor.status == 200, actor.text);
  CHECK(alarm_names(actor.body) == strings{"middle", "later"});
  // Paging: one per page, each after the previous page's next.
  strings paged;
  httplib::Params page{{"limit", "1"}};
  for (int i = 0; i < 10; ++i) {
    auto p = get(port, "/api/v1/alarms", page);
    REQUIRE_MESSAGE(p.status == 200, p.text);
    for (auto& n : alarm_names(p.body)) paged.push_back(n);
    if (p.body["next"].is_null()) break;
    page = {{"limit", "1"}, {"after", p.body["next"].dump()}};
  }
  CHECK(paged == strings{"early", "middle", "volatile", "later"});
  // The actor's state document carries its alarms.
  auto st = get(port, "/api/v1/state", {{"type", "reminder"}, {"key", "[\"r1\"]"}});
  REQUIRE_MESSAGE(st.status == 200, st.text);
  CHECK(alarm_names(st.body) == strings{"middle", "later"});
  auto mem_st = get(port, "/api/v1/state", {{"type", "reminder_mem"}, {"key", "[\"m\"]"}});
  REQUIRE_MESSAGE(mem_st.status == 200, mem_st.text);
  CHECK(alarm_names(mem_st.body) == strings{"volatile"});
  CHECK(metric_value(get(port, "/metrics").text, "ark_alarms_pending") == 4);
  // Bad parameters are named.
  auto no_type = get(port, "/api/v1/alarms", {{"key", "[\"r1\"]"}});
  CHECK(no_type.status == 400);
  CHECK(no_type.body["error"]["message"].get<std::string>().find("needs parameter type") !=
        std::string::npos);
  CHECK(get(port, "/api/v1/alarms", {{"limit", "5000"}}).status == 400);

  // An alarm due soon is listed first, then leaves the list once delivered.
  schedule(r, "reminder", "r2", "soon", 2'000);
  CHECK(alarm_names(get(port, "/api/v1/alarms", {{"limit", "1"}}).body) == strings{"soon"});
  bool gone = false;
  for (int i = 0; i < 150 && !gone; ++i) {
    std::this_thread::sleep_for(100ms);
    gone = alarm_names(get(port, "/api/v1/alarms").body) ==
           strings{"early", "middle", "volatile", "later"};
  }
  CHECK(gone);
  auto fired = ark::call<std::vector<std::string>>(
      r.sys, r.handle<reminder::reminder_if>("reminder", ark::key{"r2"}), 5s,
      reminder::fired_atom::value);
  REQUIRE(fired);
  CHECK(*fired == strings{"soon"});
  // A cancelled one leaves it too.
  auto r1 = r.handle<reminder::reminder_if>("reminder", ark::key{"r1"});
  REQUIRE(*ark::call<bool>(r.sys, r1, 5s, reminder::cancel_atom::value, std::string("middle")));
  CHECK(alarm_names(get(port, "/api/v1/alarms").body) == strings{"early", "volatile", "later"});
  CHECK(metric_value(get(port, "/metrics").text, "ark_alarms_pending") == 3);
  CHECK(host.stop() == 0);
}

TEST_CASE("ark-dash alarms shows a data directory's and a live host's pending alarms alike") {
  ark::test::temp_dir dir;
  auto data = dir.sub("data");
  ark::test::host_process host(data, {reminder_module}, {"--admin-port", "0"});
  REQUIRE_MESSAGE(host.start(), host.output());
  auto url = "http://127.0.0.1:" + std::to_string(admin_port(host));
  {
    ark::test::remote_client r(host.port());
    schedule(r, "reminder", "r1", "water plants", 3'600'000, "ficus");
    schedule(r, "reminder", "r2", "standup", 1'800'000);
    schedule(r, "reminder_mem", "m", "volatile", 2'700'000);
  }
  auto live = ark::test::run_dash({"alarms", "--host", url, "--json"});
  auto offline = ark::test::run_dash({"alarms", "--data", data, "--json"});
  REQUIRE_MESSAGE(live.status == 0, live.err);
  REQUIRE_MESSAGE(offline.status == 0, offline.err);
  auto live_doc = json::parse(live.out), data_doc = json::parse(offline.out);
  CHECK(alarm_names(live_doc) == strings{"standup", "volatile", "water plants"});
  // The data directory holds the same durable alarms (memory-only ones are
  // in the host's memory only).
  json durable = json::array();
  for (const auto& a : live_doc["alarms"])
    if (!a.contains("memory")) durable.push_back(a);
  CHECK(data_doc["alarms"] == durable);

  // The table: soonest first, relative times, attempts.
  auto table = ark::test::run_dash({"alarms", "--data", data});
  REQUIRE_MESSAGE(table.status == 0, table.err);
  std::istringstream lines(table.out);
  strings rows;
  for (std::string l; std::getline(lines, l);) rows.push_back(l);
  REQUIRE_MESSAGE(rows.size() == 3, table.out);
  for (const char* col : {"DUE", "IN", "TYPE", "KEY", "NAME", "ATTEMPT"})
    CHECK(rows[0].find(col) != std::string::npos);
  CHECK(rows[1].find("standup") != std::string::npos);
  CHECK(rows[1].find("in 29m") != std::string::npos);
  CHECK(rows[1].find("0/6") != std::string::npos);
  CHECK(rows[2].find("[\"r1\"]") != std::string::npos);
  CHECK(rows[2].find("in 59m") != std::string::npos);
  // The column after DUE starts at the same place in every row.
  auto in_col = rows[0].find("IN");
  for (std::size_t i = 1; i < rows.size(); ++i) CHECK(rows[i].substr(in_col, 3) == "in ");

  auto one = ark::test::run_dash(
      {"alarms", "--data", data, "--type", "reminder", "--key", "r1", "--json"});
  REQUIRE_MESSAGE(one.status == 0, one.err);
  CHECK(alarm_names(json::parse(one.out)) == strings{"water plants"});
  auto paged = ark::test::run_dash({"alarms", "--host", url, "--limit", "1"});
  CHECK(paged.out.find("(more: --after '") != std::string::npos);
  auto every = ark::test::run_dash({"alarms", "--host", url, "--limit", "1", "--all", "--json"});
  CHECK(alarm_names(json::parse(every.out)).size() == 3);
  auto no_type = ark::test::run_dash({"alarms", "--data", data, "--key", "r1"});
  CHECK(no_type.status == 2);
  CHECK(no_type.err.find("--type") != std::string::npos);
  // ark-dash state shows the actor's alarms too.
  auto st = ark::test::run_dash({"state", "reminder", "r2", "--data", data, "--json"});
  REQUIRE_MESSAGE(st.status == 0, st.err);
  CHECK(alarm_names(json::parse(st.out)) == strings{"standup"});
  auto st_text = ark::test::run_dash({"state", "reminder", "r2", "--data", data});
  CHECK(st_text.out.find("pending alarms:\n  standup  ") != std::string::npos);
  CHECK(st_text.out.find("(in 29m)") != std::string::npos);
  // verify knows the alarm spaces: nothing unknown or damaged.
  auto verified = ark::test::run_dash({"verify", "--data", data});
  CHECK_MESSAGE(verified.status == 0, verified.out);
  CHECK(verified.out.find("no problems") != std::string::npos);

  // An alarm that comes due while the host is down shows as overdue.
  {
    ark::test::remote_client r(host.port());
    schedule(r, "reminder", "r3", "ping", 1'500);
  }
  auto stopping = std::chrono::steady_clock::now();
  CHECK(host.stop() == 0);
  std::this_thread::sleep_until(stopping + 1600ms);
  auto down = ark::test::run_dash({"alarms", "--data", data});
  REQUIRE_MESSAGE(down.status == 0, down.err);
  auto ping = down.out.find("ping");
  REQUIRE(ping != std::string::npos);
  CHECK(down.out.rfind("overdue ", ping) != std::string::npos);
  CHECK(down.out.find("volatile") == std::string::npos);
}
