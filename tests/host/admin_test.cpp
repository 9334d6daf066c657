// The admin API of a real ark-host (HTTP), and ark-dash's actor views over
// the same host (--host) and over its data directory (--data).

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <ark/client.hpp>

#include "chat_room/chat_room.hpp"
#include "counter/counter.hpp"
#include "support/host_process.hpp"
#include "support/remote_client.hpp"
#include "test_util.hpp"
#include "tools/dash_runner.hpp"

using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

const std::string counter_module = std::string(ARK_MODULE_DIR) + "/libark_counter.so";
const std::string chat_module = std::string(ARK_MODULE_DIR) + "/libark_chat_room.so";

// The admin port from the host's ready line ("admin=127.0.0.1:PORT").
int admin_port(const ark::test::host_process& host) {
  auto out = host.output();
  auto p = out.find("admin=");
  REQUIRE_MESSAGE(p != std::string::npos, out);
  auto colon = out.find(':', p);
  REQUIRE(colon != std::string::npos);
  return std::stoi(out.substr(colon + 1));
}

struct http_result {
  int status = 0;
  json body;
  std::string text;
};

http_result get(int port, const std::string& path, const httplib::Params& params = {},
                const std::string& token = {}) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(10);
  httplib::Headers h;
  if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
  auto r = c.Get(path, params, h);
  REQUIRE_MESSAGE(r, "no HTTP answer from the admin API for " << path);
  http_result out{r->status, json::parse(r->body, nullptr, false), r->body};
  return out;
}

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

TEST_CASE("the admin API requires its token when one is set, and beyond loopback") {
  ark::test::temp_dir dir;
  auto token_path = dir.sub("admin-token");
  {
    std::ofstream(token_path) << "0123456789abcdef0123\n";
  }
  ::chmod(token_path.c_str(), 0600);
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
  CHECK(get(port, "/api/v1/types", {}, "0123456789abcdef0123").status == 200);
  // --admin-preview-limit caps every state preview, whatever the request asks.
  {
    ark::test::remote_client r(host.port());
    auto x = r.c.get_or_create<counter::counter_if>("counter", "x");
    REQUIRE(x);
    REQUIRE(ark::call<std::int64_t>(r.sys, *x, 5s, counter::add_atom::value, std::int64_t{123}));
  }
  auto st = get(port, "/api/v1/state",
                {{"type", "counter"}, {"key", "[\"x\"]"}, {"limit", "1000"}},
                "0123456789abcdef0123");
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
