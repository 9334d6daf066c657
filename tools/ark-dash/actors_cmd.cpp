// `ark-dash actors|state|alarms|stats` and `ark-dash kv show`: the actor views, over
// a data directory (--data) or a PostgreSQL schema (--pg), read-only (fine while a
// host runs), or a running host's admin API (--host URL). Both produce the same JSON documents
// (ark/inspect.hpp, doc/admin_api.md); --json prints them, else a table.

#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <httplib.h>

#include "ark/admin.hpp"
#include "ark/client.hpp"
#include "ark/inspect.hpp"
#include "ark/kv/open.hpp"
#include "ark/kv/pg_membership.hpp"
#include "ark/kv/json.hpp"
#include "ark/kv/pg_backend.hpp"
#include "commands.hpp"
#include "common.hpp"
#include "live.hpp"

namespace ark::dash {

/// The web page (tools/ark-dash/web/index.html), embedded at build time.
extern const char* const web_index_html;

namespace {

using json = nlohmann::json;
using query = std::vector<std::pair<std::string, std::string>>;

// Where the views come from.
struct source_args {
  data_source data;  // --data, or --pg/--pg-file/--pg-schema
  std::string host;  // admin API base URL; wins over --data (--pg) when given
  std::string token_file;
  bool json_out = false;
};

void add_source_options(CLI::App& cmd, source_args& s) {
  add_data_option(cmd, s.data);
  cmd.add_option("--host", s.host,
                 "a running host's admin API instead of --data (--pg), e.g. http://127.0.0.1:4711 "
                 "(ark-host --admin-port)");
  cmd.add_option("--token-file", s.token_file,
                 "file with the admin API's bearer token (default $ARK_ADMIN_TOKEN)");
  cmd.add_flag("--json", s.json_out, "print the JSON document (doc/admin_api.md)");
}

// The host --host names.
live_host host_of(const source_args& s) {
  return live_host{s.host, s.token_file};
}

// GET `path` with `q` from the admin API at s.host, as a JSON document.
expected<json> fetch_live(const source_args& s, const std::string& path, const query& q) {
  return get_json(host_of(s), path, httplib::Params(q.begin(), q.end()));
}

// What a data directory (a PostgreSQL schema) holds, as /api/v1/stats answers
// offline (rates exist only in a live host). data_bytes: the size of the
// directory's files, or of the schema's tables and indexes on the server.
expected<json> offline_stats(const inspect::reader& r, const data_source& src,
                             const kv::backend& db) {
  auto types = r.types();
  if (!types) return types.error();
  std::uint64_t actors = 0;
  for (const auto& t : (*types)["types"]) actors += t["actors"].get<std::uint64_t>();
  json bytes = nullptr;
  if (auto* pg = dynamic_cast<const kv::pg_backend*>(&db)) {
    if (auto n = pg->stored_bytes()) bytes = *n;  // the schema's tables on the server
  } else if (!src.postgres()) {
    bytes = inspect::directory_bytes(src.dir);
  }
  return json{{"actors", actors},
              {"types", (*types)["types"]},
              {"data_bytes", bytes},
              {"location", location(src, db)}};
}

// /api/v1/hosts from a data source: the members table of a PostgreSQL schema
// (doc/cluster.md); a data directory has none.
expected<json> offline_hosts(const data_source& src) {
  json out{{"cluster", nullptr}, {"self", nullptr}, {"hosts", json::array()}};
  if (!src.postgres()) return out;
  kv::open_options o;
  if (auto r = kv::configure_postgres(o, src.pg, src.pg_file); !r) return r.error();
  auto rows = kv::read_members(o.pg_conninfo, src.schema(), std::chrono::seconds(10));
  if (!rows) return rows.error();
  for (const auto& m : *rows) {
    out["cluster"] = m.cluster;
    out["hosts"].push_back(inspect::member_json(m));
  }
  return out;
}

// GET /api/v1/<endpoint> answered from `db` (opened from `src`) through `r`:
// the documents the admin API serves (stats: what the directory holds).
expected<json> answer_offline(const inspect::reader& r, const data_source& src,
                              const kv::backend& db, const std::string& endpoint,
                              const inspect::query_params& params) {
  if (endpoint == "stats") return offline_stats(r, src, db);
  if (endpoint == "hosts") return offline_hosts(src);
  return inspect::answer(r, endpoint, params);
}

// GET /api/v1/<endpoint> with `q`: from s.host, or computed from s.data.
expected<json> fetch(const source_args& s, const std::string& endpoint, const query& q) {
  if (!s.host.empty()) return fetch_live(s, "/api/v1/" + endpoint, q);
  auto db = open_data(s.data, access::read);
  if (!db) return db.error();
  auto r = inspect::reader::open(*db);
  if (!r) return r.error();
  return answer_offline(*r, s.data, **db, endpoint, inspect::query_params(q.begin(), q.end()));
}

// Prints rows under headers, each column as wide as its widest cell.
void print_table(const std::vector<std::string>& headers,
                 const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(headers.size());
  for (std::size_t i = 0; i < headers.size(); ++i) width[i] = columns(headers[i]);
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], columns(r[i]));
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      out += cells[i];
      if (i + 1 < cells.size()) out += std::string(width[i] - columns(cells[i]) + 2, ' ');
    }
    std::cout << out << "\n";
  };
  line(headers);
  for (const auto& r : rows) line(r);
}

std::string key_text(const json& k) {
  return dump(k);
}

// -- actors -------------------------------------------------------------------

struct actors_args {
  source_args src;
  std::string type;
  std::string prefix;
  std::string after;
  std::string after_type;
  std::size_t limit = 100;
  bool all = false;
};

int run_actors(const actors_args& a) {
  query params{{"limit", std::to_string(a.limit)}};
  if (!a.type.empty()) params.emplace_back("type", a.type);
  if (!a.prefix.empty()) {
    auto p = parse_key_arg(a.prefix, "--prefix");
    if (!p) return report(p.error());
    params.emplace_back("prefix", kv::key_to_json_text(*p));
  }
  json next = nullptr, next_type = nullptr;
  if (!a.after.empty()) {
    auto p = parse_key_arg(a.after, "--after");
    if (!p) return report(p.error());
    next = kv::key_to_json(*p);
    next_type = a.after_type;
  }
  std::vector<std::vector<std::string>> rows;
  json all = json::array();
  bool live = !a.src.host.empty();
  while (true) {
    auto page_params = params;
    if (!next.is_null()) {
      page_params.emplace_back("after", dump(next));
      if (!next_type.get<std::string>().empty())
        page_params.emplace_back("after_type", next_type.get<std::string>());
    }
    auto page = fetch(a.src, "actors", page_params);
    if (!page) return report(page.error());
    for (auto& actor : (*page)["actors"]) {
      std::vector<std::string> row{actor["type"].get<std::string>(), key_text(actor["key"])};
      if (live) row.push_back(actor.value("active", false) ? "yes" : "no");
      // A snapshot that fails its checksum: its size means nothing.
      row.push_back(actor.value("corrupt", false)
                        ? std::string("CORRUPT (fails its checksum)")
                        : std::to_string(actor["snapshot_bytes"].get<std::size_t>()));
      rows.push_back(std::move(row));
      all.push_back(std::move(actor));
    }
    next = (*page)["next"];
    next_type = (*page)["next_type"];
    if (!a.all || next.is_null()) break;
  }
  if (a.src.json_out) {
    std::cout << dump(json{{"actors", all}, {"next", next}, {"next_type", next_type}}) << "\n";
    return exit_ok;
  }
  if (rows.empty()) {
    std::cout << "(no actors)\n";
    return exit_ok;
  }
  std::vector<std::string> headers{"TYPE", "KEY"};
  if (live) headers.push_back("ACTIVE");
  headers.push_back("SNAPSHOT");
  print_table(headers, rows);
  if (!next.is_null())
    std::cout << "(more: --after '" << dump(next) << "'"
              << (a.type.empty() ? " --after-type " + next_type.get<std::string>() : "")
              << ", or --all)\n";
  return exit_ok;
}

// A due time relative to now (`ms` = due - now): "in 5m", "overdue 2s"; the
// largest whole unit of s, m, h, d.
std::string relative_time(std::int64_t ms) {
  const char* lead = ms >= 0 ? "in " : "overdue ";
  auto s = (ms >= 0 ? ms : -(ms + 1) + 1) / 1000;  // no overflow at INT64_MIN
  if (s < 60) return lead + std::to_string(s) + "s";
  if (s < 3600) return lead + std::to_string(s / 60) + "m";
  if (s < 48 * 3600) return lead + std::to_string(s / 3600) + "h";
  return lead + std::to_string(s / 86400) + "d";
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The pending alarms of a state document, under its state.
void print_actor_alarms(const json& d, const std::string& type, const key& k) {
  if (d.contains("alarms_error")) {
    std::cout << "pending alarms: cannot be read: " << d["alarms_error"].get<std::string>() << "\n";
    return;
  }
  if (!d.contains("alarms") || !d["alarms"].is_array() || d["alarms"].empty()) return;
  std::cout << "pending alarms:\n";
  auto now = now_ms();
  for (const auto& al : d["alarms"]) {
    std::cout << "  " << al["name"].get<std::string>();
    if (al["due_ms"].is_number())
      std::cout << "  " << al["due"].get<std::string>() << " ("
                << relative_time(al["due_ms"].get<std::int64_t>() - now) << ")";
    if (al.contains("error")) std::cout << "  " << al["error"].get<std::string>();
    std::cout << "\n";
  }
  if (d.contains("alarms_next") && !d["alarms_next"].is_null())
    std::cout << "  (more: ark-dash alarms --type " << type << " --key '" << kv::key_to_json_text(k)
              << "')\n";
}

// -- state --------------------------------------------------------------------

struct state_args {
  source_args src;
  std::string type;
  std::string key;
  std::size_t limit = inspect::default_preview_limit;
};

int run_state_view(const state_args& a) {
  auto k = parse_key_arg(a.key, "KEY");
  if (!k) return report(k.error());
  auto doc = fetch(a.src, "state",
                   {{"type", a.type},
                    {"key", kv::key_to_json_text(*k)},
                    {"limit", std::to_string(a.limit)}});
  if (!doc) return report(doc.error());
  if (a.src.json_out) {
    std::cout << dump(*doc) << "\n";
    return exit_ok;
  }
  const auto& d = *doc;
  std::cout << "actor " << a.type << " " << kv::key_to_json_text(*k);
  if (d.contains("schema")) std::cout << ", schema " << d["schema"].get<std::uint64_t>();
  if (d.contains("snapshot_bytes"))
    std::cout << ", snapshot " << d["snapshot_bytes"].get<std::uint64_t>() << " bytes";
  if (d.contains("active")) std::cout << (d["active"].get<bool>() ? ", active" : ", passivated");
  if (d.contains("last_commit_ms") && d["last_commit_ms"].is_number())  // as the alarm views
    std::cout << ", last commit " << inspect::iso8601_utc(d["last_commit_ms"].get<std::int64_t>());
  std::cout << "\n";
  if (d.value("truncated", false))
    std::cout << d["preview"].get<std::string>() << "\n(truncated: the state's JSON is "
              << d["state_bytes"].get<std::uint64_t>() << " bytes; raise --limit)\n";
  else
    std::cout << d["state"].dump(2) << "\n";
  print_actor_alarms(d, a.type, *k);
  return exit_ok;
}

// -- kv show --------------------------------------------------------------------

struct kv_show_args {
  source_args src;
  std::string type;
  std::string key;
  std::string prefix, start, end, after;
  bool reverse = false;
  std::size_t limit = 100;
};

int run_kv_show(const kv_show_args& a) {
  auto k = parse_key_arg(a.key, "KEY");
  if (!k) return report(k.error());
  query params{{"type", a.type}, {"key", kv::key_to_json_text(*k)}};
  for (auto [text, name] : {std::pair{&a.prefix, "prefix"}, std::pair{&a.start, "start"},
                            std::pair{&a.end, "end"}, std::pair{&a.after, "after"}}) {
    if (text->empty()) continue;
    auto p = parse_key_arg(*text, std::string("--") + name);
    if (!p) return report(p.error());
    params.emplace_back(name, kv::key_to_json_text(*p));
  }
  if (a.reverse) params.emplace_back("reverse", "true");
  params.emplace_back("limit", std::to_string(a.limit));
  auto doc = fetch(a.src, "kv", params);
  if (!doc) return report(doc.error());
  if (a.src.json_out) {
    std::cout << dump(*doc) << "\n";
    return exit_ok;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : (*doc)["entries"])
    rows.push_back({key_text(e["key"]), truncate(dump(e["value"]), 80),
                    std::to_string(e["bytes"].get<std::size_t>())});
  if (rows.empty())
    std::cout << "(no entries)\n";
  else
    print_table({"KEY", "VALUE", "BYTES"}, rows);
  if (!(*doc)["next"].is_null())
    std::cout << "(more: --after '" << dump((*doc)["next"]) << "')\n";
  return exit_ok;
}

// -- stats ----------------------------------------------------------------------

struct stats_args {
  source_args src;
  bool by_handler = false;
};

// A figure with at most one decimal, "-" for none.
std::string figure(const json& v) {
  if (!v.is_number()) return "-";
  return fmt::format("{:.1f}", v.get<double>());
}

// The handler table: busiest first, as the host sorts it.
int print_handlers(const json& doc) {
  if (!doc.contains("handlers"))
    return report("per-handler figures need a running host: give --host URL (ark-host "
                  "--admin-port), not --data",
                  exit_usage);
  std::vector<std::vector<std::string>> rows;
  for (const auto& h : doc["handlers"]) {
    std::string codes;
    for (const auto& [code, rate] : h["errors_per_s_by_code"].items())
      codes += (codes.empty() ? " (" : ", ") + code + " " + figure(rate);
    if (!codes.empty()) codes += ")";
    rows.push_back({h["type"].get<std::string>(), h["handler"].get<std::string>(),
                    figure(h["calls_per_s"]), figure(h["errors_per_s"]) + codes,
                    figure(h["handler_us"]["p50"]), figure(h["handler_us"]["p99"]),
                    figure(h["commit_wait_us"]["p50"]), figure(h["commit_wait_us"]["p99"]),
                    std::to_string(h["calls"].get<std::uint64_t>())});
  }
  if (rows.empty()) {
    std::cout << "(no handler has run yet: an actor type appears once one of its actors is "
                 "activated)\n";
    return exit_ok;
  }
  print_table({"TYPE", "HANDLER", "CALLS/S", "ERRORS/S", "P50_US", "P99_US", "WAIT_P50_US",
               "WAIT_P99_US", "CALLS"},
              rows);
  std::cout << "(rates and percentiles over the last "
            << figure(doc["handlers"][0]["window_s"]) << " s; WAIT: until the reply left the "
            << "output gate)\n";
  return exit_ok;
}

int run_stats(const stats_args& a) {
  const auto& s = a.src;
  if (a.by_handler && s.host.empty())
    return report("--by-handler needs a running host: give --host URL (ark-host --admin-port)",
                  exit_usage);
  auto d = fetch(s, "stats", {});
  if (!d) return report(d.error());
  json doc = std::move(*d);
  if (s.json_out) {
    std::cout << dump(a.by_handler ? json{{"handlers", doc["handlers"]}} : doc) << "\n";
    return exit_ok;
  }
  if (a.by_handler) return print_handlers(doc);
  std::vector<std::vector<std::string>> rows;
  for (const auto& [name, v] : doc.items()) {
    if (name == "history" || name == "handlers") continue;
    rows.push_back({name, v.is_object() || v.is_array() ? dump(v) : v.dump()});
  }
  print_table({"STAT", "VALUE"}, rows);
  return exit_ok;
}

// -- alarms -------------------------------------------------------------------

struct alarms_args {
  source_args src;
  std::string type;
  std::string key;
  std::string after;
  std::size_t limit = 100;
  bool all = false;
};

int run_alarms(const alarms_args& a) {
  if (!a.key.empty() && a.type.empty())
    return report("--key needs --type (an actor is a type and a key)", exit_usage);
  query params{{"limit", std::to_string(a.limit)}};
  if (!a.type.empty()) params.emplace_back("type", a.type);
  if (!a.key.empty()) {
    auto k = parse_key_arg(a.key, "--key");
    if (!k) return report(k.error());
    params.emplace_back("key", kv::key_to_json_text(*k));
  }
  json next = nullptr;
  if (!a.after.empty()) {
    auto p = parse_key_arg(a.after, "--after");
    if (!p) return report(p.error());
    next = kv::key_to_json(*p);
  }
  json all = json::array();
  while (true) {
    auto page_params = params;
    if (!next.is_null()) page_params.emplace_back("after", dump(next));
    auto page = fetch(a.src, "alarms", page_params);
    if (!page) return report(page.error());
    for (auto& alarm : (*page)["alarms"]) all.push_back(std::move(alarm));
    next = (*page)["next"];
    if (!a.all || next.is_null()) break;
  }
  if (a.src.json_out) {
    std::cout << dump(json{{"alarms", all}, {"next", next}}) << "\n";
    return exit_ok;
  }
  if (all.empty()) {
    std::cout << "(no pending alarms)\n";
    return exit_ok;
  }
  auto now = now_ms();
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> damaged;
  for (const auto& al : all) {
    bool timed = al["due_ms"].is_number();
    std::string attempt = al["attempt"].is_number()
                              ? std::to_string(al["attempt"].get<std::uint64_t>()) + "/" +
                                    std::to_string(al["max_attempts"].get<std::uint64_t>())
                              : "-";
    rows.push_back({timed ? al["due"].get<std::string>() : "-",
                    timed ? relative_time(al["due_ms"].get<std::int64_t>() - now) : "-",
                    al["type"].get<std::string>() + (al.value("memory", false) ? " (memory)" : ""),
                    key_text(al["key"]), al["name"].get<std::string>(), attempt});
    if (al.contains("error"))
      damaged.push_back("alarm '" + al["name"].get<std::string>() + "' of " +
                        al["type"].get<std::string>() + " " + key_text(al["key"]) + ": " +
                        al["error"].get<std::string>());
  }
  print_table({"DUE", "IN", "TYPE", "KEY", "NAME", "ATTEMPT"}, rows);
  for (const auto& d : damaged) std::cout << d << "\n";
  if (!next.is_null()) std::cout << "(more: --after '" << dump(next) << "', or --all)\n";
  return exit_ok;
}

// -- serve --------------------------------------------------------------------

struct serve_args {
  source_args src;
  std::string bind = "127.0.0.1";
  int port = 4780;
};

void send_json(httplib::Response& res, const json& body, int status = 200) {
  res.status = status;
  res.set_content(dump(body), "application/json");
}

// The admin API's error document and status (ark/admin.hpp).
void send_error(httplib::Response& res, const error& e) {
  send_json(res, error_document(e), http_status(e));
}

int run_serve(const serve_args& a) {
  if (!is_loopback(a.bind))
    return report("ark-dash serve binds to loopback only (it has no access control of its own); "
                  "reach it from elsewhere through an SSH tunnel",
                  exit_usage);
  const bool live = !a.src.host.empty();
  std::shared_ptr<kv::backend> db;
  if (!live) {
    auto opened = open_data(a.src.data, access::read);
    if (!opened) return report(opened.error());
    db = *opened;
  } else {
    // Fail early, with the reason, when the host cannot be reached.
    if (auto probe = fetch_live(a.src, "/api/v1/types", {}); !probe) return report(probe.error());
  }
  httplib::Server srv;
  // A browser keeps up to six connections alive, each holding a thread, and
  // every live tail holds one more for as long as it streams.
  srv.new_task_queue = [] { return new httplib::ThreadPool(24); };
  srv.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(web_index_html, "text/html; charset=utf-8");
  });
  const std::string where = live ? a.src.host : location(a.src.data, *db);
  srv.Get("/api/v1/source", [&](const httplib::Request&, httplib::Response& res) {
    send_json(res, json{{"mode", live ? "host" : "data"}, {"location", where}});
  });
  const live_host host = host_of(a.src);
  // What only a running host has: the handlers, calling them, the live tail.
  auto needs_host = [](const std::string& what) {
    return error{errc::invalid_argument,
                 what + " needs a running host: start the dashboard with ark-dash serve --host "
                        "URL (ark-host --admin-port)"};
  };
  srv.Get("/api/v1/handlers", [&](const httplib::Request& req, httplib::Response& res) {
    if (!live) return send_error(res, needs_host("the handler list"));
    auto r = get_raw(host, "/api/v1/handlers", req.params);
    if (!r) return send_error(res, r.error());
    res.status = r->status;
    res.set_content(r->body, "application/json");
  });
  srv.Post("/api/v1/call", [&](const httplib::Request& req, httplib::Response& res) {
    if (!live) return send_error(res, needs_host("calling a handler"));
    // An admin action carries the token the page was given, never the one
    // this process reads the views with: a page left open cannot change
    // actors on a host that has a token unless its user types it.
    auto c = host.connect(660);
    if (!c) return send_error(res, c.error());
    httplib::Headers headers;
    if (req.has_header("Authorization"))
      headers.emplace("Authorization", req.get_header_value("Authorization"));
    auto r = c->first->Post("/api/v1/call", headers, req.body, "application/json");
    if (!r) return send_error(res, host.unreachable(r.error()));
    res.status = r->status;
    res.set_content(r->body, "application/json");
  });
  srv.Get("/api/v1/tail", [&](const httplib::Request& req, httplib::Response& res) {
    if (!live) return send_error(res, needs_host("the live tail"));
    auto params = req.params;
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream", [&host, params](std::size_t, httplib::DataSink& sink) {
          // The host's stream, passed on as it comes; its refusal as an
          // "end" event the page shows.
          auto r = stream_tail(host, params, [&](const char* d, std::size_t n) {
            return sink.write(d, n);
          });
          if (!r) {
            auto f = "event: end\ndata: " + dump(error_document(r.error())) + "\n\n";
            sink.write(f.data(), f.size());
          }
          sink.done();
          return true;
        });
  });
  srv.Get(R"(/api/v1/(types|actors|state|kv|alarms|stats|hosts))",
          [&](const httplib::Request& req, httplib::Response& res) {
            std::string endpoint = req.matches[1];
            if (live) {  // the host's own answer, status and all
              auto r = get_raw(host, "/api/v1/" + endpoint, req.params);
              if (!r) return send_error(res, r.error());
              res.status = r->status;
              res.set_content(r->body, "application/json");
              return;
            }
            // A fresh reader per request: it sees what a running host wrote since.
            auto reader = inspect::reader::open(db);
            if (!reader) return send_error(res, reader.error());
            auto doc = answer_offline(*reader, a.src.data, *db, endpoint, req.params);
            if (!doc) return send_error(res, doc.error());
            send_json(res, *doc);
          });
  int port = a.port == 0 ? srv.bind_to_any_port(a.bind)
                         : (srv.bind_to_port(a.bind, a.port) ? a.port : -1);
  if (port <= 0)
    return report("cannot listen on " + a.bind + ":" + std::to_string(a.port) +
                      " (in use? pick another with --port)",
                  exit_failure);
  std::cout << "ark-dash serve: http://" << a.bind << ":" << port << "/ ("
            << (live                    ? "live host " + where
                : a.src.data.postgres() ? where
                                        : "data directory " + where)
            << "); Ctrl-C stops" << std::endl;
  srv.listen_after_bind();
  return exit_ok;
}

}  // namespace

void add_actor_commands(CLI::App& app, run_state& state) {
  {
    auto a = std::make_shared<serve_args>();
    auto* cmd = app.add_subcommand(
        "serve", "Serve the web dashboard (a single page, no external assets) on loopback");
    add_data_option(*cmd, a->src.data);
    cmd->add_option("--host", a->src.host, "a running host's admin API instead of --data (--pg)");
    cmd->add_option("--token-file", a->src.token_file,
                    "file with the admin API's bearer token (default $ARK_ADMIN_TOKEN)");
    cmd->add_option("--port", a->port, "port of the dashboard (0: any free port)")
        ->check(CLI::Range(0, 65535))
        ->capture_default_str();
    cmd->add_option("--bind", a->bind, "address of the dashboard (loopback only)")
        ->capture_default_str();
    cmd->callback([a, &state] { state.status = run_serve(*a); });
  }
  {
    auto a = std::make_shared<actors_args>();
    auto* cmd = app.add_subcommand("actors", "List actors (type, key, snapshot size; live: active)");
    add_source_options(*cmd, a->src);
    cmd->add_option("--type", a->type, "only actors of this type");
    cmd->add_option("--prefix", a->prefix, "only keys starting with these elements (JSON key)")
        ->type_name("KEY");
    cmd->add_option("--after", a->after, "the page after this key (printed as 'more')")
        ->type_name("KEY");
    cmd->add_option("--after-type", a->after_type, "with --after and no --type: its type");
    cmd->add_option("--limit", a->limit, "actors per page (1-1000)")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    cmd->add_flag("--all", a->all, "follow every page");
    cmd->callback([a, &state] { state.status = run_actors(*a); });
  }
  {
    auto a = std::make_shared<state_args>();
    auto* cmd = app.add_subcommand("state", "Show one actor's state as JSON");
    add_source_options(*cmd, a->src);
    cmd->add_option("TYPE", a->type, "the actor type")->required();
    cmd->add_option("KEY", a->key, "the actor key as JSON, or a bare word")->required();
    cmd->add_option("--limit", a->limit, "cap of the state's JSON text in bytes")
        ->capture_default_str();
    cmd->callback([a, &state] { state.status = run_state_view(*a); });
  }
  {
    auto a = std::make_shared<alarms_args>();
    auto* cmd = app.add_subcommand(
        "alarms", "List pending durable alarms, soonest first (due time, type, key, name)");
    add_source_options(*cmd, a->src);
    cmd->add_option("--type", a->type, "only alarms of actors of this type");
    cmd->add_option("--key", a->key, "with --type: only the alarms of this actor")
        ->type_name("KEY");
    cmd->add_option("--after", a->after, "the page after this entry (printed as 'more')")
        ->type_name("KEY");
    cmd->add_option("--limit", a->limit, "alarms per page (1-1000)")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    cmd->add_flag("--all", a->all, "follow every page");
    cmd->footer(
        "DUE is UTC; IN is relative to this machine's clock ('in 5m', 'overdue 2s': due,\n"
        "not yet delivered); ATTEMPT is failed deliveries so far / max attempts.\n"
        "Alarms of memory-only actor types are listed by a live host (--host) only.");
    cmd->callback([a, &state] { state.status = run_alarms(*a); });
  }
  {
    auto a = std::make_shared<stats_args>();
    auto* cmd = app.add_subcommand(
        "stats",
        "Host statistics (--host), or what a data directory (--data) or PostgreSQL schema (--pg) "
        "holds");
    add_source_options(*cmd, a->src);
    cmd->add_flag("--by-handler", a->by_handler,
                  "with --host: calls/s, errors/s, handler time and commit wait of every handler, "
                  "busiest first");
    cmd->callback([a, &state] { state.status = run_stats(*a); });
  }
  {
    auto* group = app.get_subcommand("kv");
    auto a = std::make_shared<kv_show_args>();
    auto* cmd =
        group->add_subcommand("show", "List one actor's KV entries (--data, --pg or --host)");
    add_source_options(*cmd, a->src);
    cmd->add_option("TYPE", a->type, "the actor type")->required();
    cmd->add_option("KEY", a->key, "the actor key as JSON, or a bare word")->required();
    cmd->add_option("--prefix", a->prefix, "only keys starting with these elements")
        ->type_name("KEY");
    cmd->add_option("--start", a->start, "only keys >= this key")->type_name("KEY");
    cmd->add_option("--end", a->end, "only keys < this key")->type_name("KEY");
    cmd->add_option("--after", a->after, "the page after this key (printed as 'more')")
        ->type_name("KEY");
    cmd->add_flag("--reverse", a->reverse, "descending key order");
    cmd->add_option("--limit", a->limit, "entries per page (1-1000)")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    cmd->callback([a, &state] { state.status = run_kv_show(*a); });
  }
}

}  // namespace ark::dash
