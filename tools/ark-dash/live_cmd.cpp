// `ark-dash tail` and `ark-dash call`: a running host's live tail of one actor
// (each durable change as it commits) and a handler called from the command
// line, through the host's admin API (doc/admin_api.md).

#include <csignal>
#include <iostream>
#include <memory>
#include <string>

#include "ark/admin.hpp"
#include "ark/client.hpp"
#include "ark/kv/json.hpp"
#include "commands.hpp"
#include "common.hpp"
#include "live.hpp"

namespace ark::dash {

using json = nlohmann::json;

expected<std::pair<std::unique_ptr<httplib::Client>, httplib::Headers>> live_host::connect(
    int read_timeout_s) const {
  auto token = resolve_token(token_file, "ARK_ADMIN_TOKEN");
  if (!token) return token.error();
  auto client = std::make_unique<httplib::Client>(url);
  if (!client->is_valid())
    return error{errc::invalid_argument, "--host " + url + " is not a URL like http://127.0.0.1:4711"};
  client->set_connection_timeout(5);
  client->set_read_timeout(read_timeout_s);
  httplib::Headers headers;
  if (!token->empty()) headers.emplace("Authorization", "Bearer " + *token);
  return std::make_pair(std::move(client), std::move(headers));
}

error live_host::unreachable(httplib::Error e) const {
  return error{errc::unreachable, "cannot reach the admin API at " + url + " (" +
                                      httplib::to_string(e) +
                                      "): is ark-host running with --admin-port?"};
}

expected<json> answer_of(const live_host& h, int status, const std::string& body) {
  json doc = json::parse(body, nullptr, false);
  if (status == 200 && !doc.is_discarded()) return doc;
  if (!doc.is_discarded() && doc.contains("error")) {
    // The host's error document (ark::error_document): code and context.
    const auto& e = doc["error"];
    auto code = errc_from_string(e.value("code", ""));
    if (code) return error{*code, e.value("context", "") + " (from " + h.url + ")"};
    return error{errc::backend_failure, e.value("message", body)};
  }
  return error{errc::backend_failure,
               "the admin API at " + h.url + " answered HTTP " + std::to_string(status)};
}

expected<raw_answer> get_raw(const live_host& h, const std::string& path,
                             const httplib::Params& params) {
  auto c = h.connect();
  if (!c) return c.error();
  auto res = c->first->Get(path, params, c->second);
  if (!res) return h.unreachable(res.error());
  return raw_answer{res->status, res->body};
}

expected<json> get_json(const live_host& h, const std::string& path,
                        const httplib::Params& params) {
  auto r = get_raw(h, path, params);
  if (!r) return r.error();
  return answer_of(h, r->status, r->body);
}

expected<json> post_live(const live_host& h, const std::string& path, const json& body) {
  auto c = h.connect(660);  // a call may wait up to its own timeout (at most 10 min)
  if (!c) return c.error();
  auto res = c->first->Post(path.c_str(), c->second, kv::json_text(body), "application/json");
  if (!res) return h.unreachable(res.error());
  return answer_of(h, res->status, res->body);
}

expected<void> stream_tail(const live_host& h, const httplib::Params& params,
                           const std::function<bool(const char*, std::size_t)>& on_chunk) {
  auto c = h.connect(3600);  // the host sends a keep-alive every 5 s
  if (!c) return c.error();
  int status = 0;
  std::string refusal;
  auto res = c->first->Get(
      "/api/v1/tail", params, c->second,
      [&](const httplib::Response& r) {
        status = r.status;
        return true;
      },
      [&](const char* data, std::size_t n) {
        if (status != 200) {
          refusal.append(data, n);
          return true;
        }
        return on_chunk(data, n);
      });
  if (status != 0 && status != 200) {
    auto doc = answer_of(h, status, refusal);
    return doc ? error{errc::backend_failure, "unexpected answer " + refusal} : doc.error();
  }
  if (!res && res.error() != httplib::Error::Canceled) return h.unreachable(res.error());
  return {};
}

namespace {

// -- tail -----------------------------------------------------------------------

struct tail_args {
  live_host host;
  std::string type;
  std::string key;
  double rate = 50;
  bool json_out = false;
};

// One change record as a few lines of text.
void print_change(const json& r) {
  std::cout << r.value("time", "") << "  #" << r.value("seq", 0) << "  "
            << (r["handler"].is_string() ? r["handler"].get<std::string>() : "(no handler)");
  if (r["duration_us"].is_number())
    std::cout << "  " << r["duration_us"].get<double>() << " us";
  std::cout << "\n";
  if (r["state"].is_object()) {
    for (const auto& op : r["state"]["patch"]) {
      std::cout << "  state " << op.value("op", "") << " " << op.value("path", "");
      if (op.contains("value")) std::cout << " = " << kv::json_text(op["value"]);
      std::cout << "\n";
    }
  }
  for (const auto& w : r["kv"]) {
    std::cout << "  kv " << w.value("op", "");
    if (w.contains("key")) std::cout << " " << kv::json_text(w["key"]);
    if (w.contains("bytes")) std::cout << " (" << w["bytes"].get<std::uint64_t>() << " bytes)";
    std::cout << "\n";
  }
  for (const auto& e : r["events"]) std::cout << "  event " << e.get<std::string>() << "\n";
  for (const auto& a : r["alarms"]) {
    std::cout << "  alarm " << a.value("op", "") << " '" << a.value("name", "") << "'";
    if (a.contains("due")) std::cout << " due " << a["due"].get<std::string>();
    std::cout << "\n";
  }
  std::cout << std::flush;
}

int run_tail(const tail_args& a) {
  auto k = parse_key_arg(a.key, "KEY");
  if (!k) return report(k.error());
  httplib::Params params{{"type", a.type},
                         {"key", kv::key_to_json_text(*k)},
                         {"rate", std::to_string(a.rate)}};
  std::string buffer;
  int status = exit_ok;
  // Server-Sent Events: frames end with an empty line; fields "event:" and
  // "data:"; lines starting with ':' are keep-alives.
  auto on_chunk = [&](const char* data, std::size_t n) {
    buffer.append(data, n);
    std::size_t end;
    while ((end = buffer.find("\n\n")) != std::string::npos) {
      std::string frame = buffer.substr(0, end);
      buffer.erase(0, end + 2);
      std::string event, payload;
      std::size_t pos = 0;
      while (pos <= frame.size()) {
        auto nl = frame.find('\n', pos);
        auto line = frame.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        if (line.rfind("event: ", 0) == 0) event = line.substr(7);
        if (line.rfind("data: ", 0) == 0) payload += line.substr(6);
        if (nl == std::string::npos) break;
        pos = nl + 1;
      }
      if (event.empty()) continue;
      json d = json::parse(payload, nullptr, false);
      if (a.json_out) {
        std::cout << kv::json_text(json{{"event", event}, {"data", d}}) << std::endl;
      } else if (event == "current") {
        std::cout << "tailing actor " << a.type << " " << kv::key_to_json_text(*k)
                  << " (Ctrl-C stops); its state now: " << kv::json_text(d["state"]) << std::endl;
      } else if (event == "change") {
        print_change(d);
      } else if (event == "dropped") {
        std::cout << "(dropped " << d.value("dropped", 0)
                  << " change(s): the actor changed faster than --rate " << a.rate << "/s)"
                  << std::endl;
      } else if (event == "end") {
        std::cout << "(the tail ended: "
                  << (d.contains("error") ? d["error"].value("message", "") : "") << ")"
                  << std::endl;
        status = exit_failure;
        return false;
      }
    }
    return true;
  };
  auto r = stream_tail(a.host, params, on_chunk);
  if (!r) return report(r.error());
  return status;
}

// -- call -----------------------------------------------------------------------

struct call_args {
  live_host host;
  std::string type;
  std::string key;
  std::string handler;
  std::string args = "[]";
  bool create = false;
  int timeout_ms = 10000;
  bool json_out = false;
};

int run_call(const call_args& a) {
  auto k = parse_key_arg(a.key, "KEY");
  if (!k) return report(k.error());
  json args = json::parse(a.args, nullptr, false);
  if (args.is_discarded())
    return report("ARGS-JSON is not JSON: give the handler's arguments as a JSON array, e.g. "
                  "'[5]' or '[\"alice\", 10]'",
                  exit_usage);
  if (!args.is_array()) args = json::array({args});  // one argument may stand alone
  auto r = post_live(a.host, "/api/v1/call",
                     json{{"type", a.type},
                          {"key", kv::key_to_json(*k)},
                          {"handler", a.handler},
                          {"args", args},
                          {"create", a.create},
                          {"timeout_ms", a.timeout_ms}});
  if (!r) return report(r.error());
  if (a.json_out)
    std::cout << kv::json_text(*r) << "\n";
  else
    std::cout << kv::json_text((*r)["reply"]) << "\n";
  return exit_ok;
}

// -- handlers -------------------------------------------------------------------

struct handlers_args {
  live_host host;
  std::string type;
  bool json_out = false;
};

int run_handlers(const handlers_args& a) {
  httplib::Params params;
  if (!a.type.empty()) params.emplace("type", a.type);
  auto doc = get_json(a.host, "/api/v1/handlers", params);
  if (!doc) return report(doc.error());
  if (a.json_out) {
    std::cout << kv::json_text(*doc) << "\n";
    return exit_ok;
  }
  for (const auto& t : (*doc)["types"]) {
    std::cout << t["type"].get<std::string>() << "\n";
    for (const auto& h : t["handlers"]) {
      std::cout << "  " << h["name"].get<std::string>();
      if (!h.value("callable", false))
        std::cout << "  (not callable: " << h.value("not_callable", "") << ")";
      std::cout << "\n";
    }
  }
  if (doc->value("read_only", false))
    std::cout << "(the host runs with --admin-read-only: calls are refused)\n";
  return exit_ok;
}

void add_host_options(CLI::App& cmd, live_host& h) {
  cmd.add_option("--host", h.url, "the host's admin API, e.g. http://127.0.0.1:4711")->required();
  cmd.add_option("--token-file", h.token_file,
                 "file with the admin API's bearer token (default $ARK_ADMIN_TOKEN)");
}

}  // namespace

void add_live_commands(CLI::App& app, run_state& state) {
  {
    auto a = std::make_shared<handlers_args>();
    auto* cmd = app.add_subcommand(
        "handlers", "List the handlers of a running host's actor types, and which ark-dash call takes");
    add_host_options(*cmd, a->host);
    cmd->add_option("--type", a->type, "only this actor type");
    cmd->add_flag("--json", a->json_out, "print the JSON document (doc/admin_api.md)");
    cmd->callback([a, &state] { state.status = run_handlers(*a); });
  }
  {
    auto a = std::make_shared<tail_args>();
    auto* cmd = app.add_subcommand(
        "tail", "Follow one actor of a running host: each change as it becomes durable");
    cmd->add_option("TYPE", a->type, "the actor type")->required();
    cmd->add_option("KEY", a->key, "the actor key as JSON, or a bare word")->required();
    add_host_options(*cmd, a->host);
    cmd->add_option("--rate", a->rate, "most changes a second the host sends; more are dropped")
        ->check(CLI::Range(1.0, 1000.0))
        ->capture_default_str();
    cmd->add_flag("--json", a->json_out, "one JSON document per line (doc/admin_api.md)");
    cmd->footer(
        "Each change: its handler and duration, the state's patch (RFC 6902), the KV keys\n"
        "written and deleted, events published, alarms set, cancelled or fired. Only\n"
        "changes that became durable are shown, in commit order. Ctrl-C stops.");
    cmd->callback([a, &state] { state.status = run_tail(*a); });
  }
  {
    auto a = std::make_shared<call_args>();
    auto* cmd = app.add_subcommand(
        "call", "Call a handler of an actor of a running host with JSON arguments (admin action)");
    cmd->add_option("TYPE", a->type, "the actor type")->required();
    cmd->add_option("KEY", a->key, "the actor key as JSON, or a bare word")->required();
    cmd->add_option("HANDLER", a->handler,
                    "the handler: its name (the leading atom, e.g. add) or its full signature "
                    "as `ark-dash handlers` lists it")
        ->required();
    cmd->add_option("ARGS-JSON", a->args, "its arguments as a JSON array, e.g. '[5]'")
        ->capture_default_str();
    add_host_options(*cmd, a->host);
    cmd->add_flag("--create", a->create, "create the actor if it does not exist");
    cmd->add_option("--timeout-ms", a->timeout_ms, "how long to wait for the reply")
        ->check(CLI::Range(1, 600000))
        ->capture_default_str();
    cmd->add_flag("--json", a->json_out, "print the whole answer document");
    cmd->footer(
        "Prints the reply as JSON. The host logs every call with the caller's address;\n"
        "it refuses calls without its admin token (when it has one) and when it runs\n"
        "with --admin-read-only.");
    cmd->callback([a, &state] { state.status = run_call(*a); });
  }
}

}  // namespace ark::dash
