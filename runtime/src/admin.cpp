#include "ark/admin.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <sstream>
#include <thread>

#include <httplib.h>

#include <caf/all.hpp>

#include "ark/client.hpp"
#include "ark/detail/actor_core.hpp"
#include "ark/kv/json.hpp"
#include "ark/kv/pg_backend.hpp"
#include "ark/registry.hpp"
#include "cluster.hpp"
#include "runtime_access.hpp"

namespace ark {

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

// How long the state endpoint waits for an active actor's inspect_state().
constexpr auto inspect_timeout = 5s;
// Samples of the statistics kept for the rates and the history (one a second).
constexpr std::size_t history_length = 120;

void send_json(httplib::Response& res, const json& body, int status = 200) {
  res.status = status;
  res.set_content(kv::json_text(body), "application/json");
}

void send_error(httplib::Response& res, const error& e) {
  send_json(res, error_document(e), http_status(e));
}

// The upper bound (us) of the bucket holding the q-quantile of `hist`.
std::uint64_t quantile_us(const std::vector<std::uint64_t>& hist, double q) {
  std::uint64_t total = 0;
  for (auto n : hist) total += n;
  if (total == 0) return 0;
  auto want = static_cast<std::uint64_t>(q * static_cast<double>(total) + 0.5);
  if (want == 0) want = 1;
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < hist.size(); ++i) {
    seen += hist[i];
    if (seen >= want) return std::uint64_t{1} << (i + 1);
  }
  return std::uint64_t{1} << hist.size();
}

struct sample {
  double t = 0;  // seconds since the server started
  runtime_stats s;
};

}  // namespace

int http_status(const error& e) {
  switch (e.code()) {
    case errc::not_found:
    case errc::unknown_actor_type:
      return 404;
    case errc::invalid_key:
    case errc::key_too_large:
    case errc::nesting_too_deep:
    case errc::invalid_argument:
      return 400;
    case errc::unauthorized:
      return 401;
    case errc::shutting_down:
      return 503;
    default:
      return 500;
  }
}

json error_document(const error& e) {
  return json{{"error",
               {{"code", std::string(to_string(e.code()))},
                {"context", e.context()},
                {"message", e.message()}}}};
}

std::string prometheus_text(const runtime_stats& s, std::optional<std::uint64_t> alarms_pending) {
  std::ostringstream o;
  auto metric = [&](const char* name, const char* type, const char* help, std::uint64_t v) {
    o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n'
      << name << ' ' << v << '\n';
  };
  metric("ark_active_actors", "gauge", "Activations alive now.", s.active_actors);
  metric("ark_messages_total", "counter", "Messages actors started handling.", s.messages);
  metric("ark_subscriptions", "gauge", "Subscribers, summed over all actors.", s.subscriptions);
  metric("ark_commits_total", "counter", "Write transactions committed.", s.commits);
  metric("ark_units_total", "counter", "Message effects committed.", s.units);
  metric("ark_failed_units_total", "counter", "Message effects whose commit failed.",
         s.failed_units);
  metric("ark_snapshots_written_total", "counter", "State snapshots written.",
         s.snapshots_written);
  metric("ark_checkpoints_total", "counter", "State journal checkpoints.", s.checkpoints);
  metric("ark_map_size_bytes", "gauge", "Current LMDB map size.", s.map_size);
  metric("ark_data_dir_bytes", "gauge", "Bytes of the data directory's files.", s.data_bytes);
  if (alarms_pending)
    metric("ark_alarms_pending", "gauge", "Alarms scheduled and not yet delivered.",
           *alarms_pending);
  metric("ark_alarm_deliveries_in_flight", "gauge", "Alarm deliveries sent, not yet answered.",
         s.alarms_in_flight);
  metric("ark_alarm_deliveries_total", "counter",
         "Alarm deliveries answered (delivered, stale or failed).", s.alarms_answered);
  o << "# HELP ark_commit_latency_seconds Write transaction latency.\n"
    << "# TYPE ark_commit_latency_seconds histogram\n";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < s.commit_latency.size(); ++i) {
    cumulative += s.commit_latency[i];
    double le = static_cast<double>(std::uint64_t{1} << (i + 1)) / 1e6;
    o << "ark_commit_latency_seconds_bucket{le=\"" << le << "\"} " << cumulative << '\n';
  }
  o << "ark_commit_latency_seconds_bucket{le=\"+Inf\"} " << cumulative << '\n'
    << "ark_commit_latency_seconds_sum " << static_cast<double>(s.commit_us) / 1e6 << '\n'
    << "ark_commit_latency_seconds_count " << cumulative << '\n';
  return o.str();
}

struct admin_server::impl {
  std::shared_ptr<runtime> rt;
  admin_options opts;
  httplib::Server server;
  std::thread thread;
  std::uint16_t port = 0;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  // The sampler: one stats sample a second, for rates and the history.
  std::mutex mtx;
  std::condition_variable cv;
  bool stopping = false;
  std::deque<sample> history;
  std::thread sampler;

  double now() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  }

  void sample_loop() {
    std::unique_lock<std::mutex> lock{mtx};
    while (!stopping) {
      lock.unlock();
      sample x{now(), rt->stats()};
      lock.lock();
      history.push_back(std::move(x));
      if (history.size() > history_length) history.pop_front();
      cv.wait_for(lock, 1s, [this] { return stopping; });
    }
  }

  static json point(const sample& a, const sample& b) {
    double dt = std::max(b.t - a.t, 1e-3);
    auto commits = b.s.commits - a.s.commits;
    auto units = b.s.units - a.s.units;
    std::vector<std::uint64_t> hist(b.s.commit_latency.size());
    for (std::size_t i = 0; i < hist.size() && i < a.s.commit_latency.size(); ++i)
      hist[i] = b.s.commit_latency[i] - a.s.commit_latency[i];
    return json{{"t", b.t},
                {"messages_per_s", static_cast<double>(b.s.messages - a.s.messages) / dt},
                {"commits_per_s", static_cast<double>(commits) / dt},
                {"mean_batch", commits ? static_cast<double>(units) / commits : 0.0},
                {"commit_p50_us", quantile_us(hist, 0.50)},
                {"commit_p99_us", quantile_us(hist, 0.99)}};
  }

  json stats_json() {
    auto s = rt->stats();
    json out{{"active_actors", s.active_actors},
             {"messages", s.messages},
             {"subscriptions", s.subscriptions},
             {"commits", s.commits},
             {"units", s.units},
             {"failed_units", s.failed_units},
             {"snapshots_written", s.snapshots_written},
             {"checkpoints", s.checkpoints},
             {"mean_batch", s.commits ? static_cast<double>(s.units) / s.commits : 0.0},
             {"commit_latency_us",
              {{"p50", quantile_us(s.commit_latency, 0.50)},
               {"p90", quantile_us(s.commit_latency, 0.90)},
               {"p99", quantile_us(s.commit_latency, 0.99)},
               {"mean", s.commits ? static_cast<double>(s.commit_us) / s.commits : 0.0}}},
             {"map_size", s.map_size},
             {"data_bytes", s.data_bytes},
             {"uptime_s", now()}};
    json hist = json::array();
    {
      std::lock_guard<std::mutex> guard{mtx};
      for (std::size_t i = 1; i < history.size(); ++i)
        hist.push_back(point(history[i - 1], history[i]));
    }
    out["rates"] = hist.empty() ? json{{"messages_per_s", 0}, {"commits_per_s", 0}} : hist.back();
    out["history"] = std::move(hist);
    return out;
  }

  bool authorized(const httplib::Request& req, httplib::Response& res) {
    if (opts.token.empty()) return true;
    auto h = req.get_header_value("Authorization");
    const std::string bearer = "Bearer ";
    if (h.compare(0, bearer.size(), bearer) == 0 && same_token(h.substr(bearer.size()), opts.token))
      return true;
    res.set_header("WWW-Authenticate", "Bearer");
    send_error(res, error{errc::unauthorized,
                          "this admin API needs the host's admin token: send the header "
                          "'Authorization: Bearer <token>' (ark-dash: --token-file)"});
    return false;
  }

  // Runs `f` (returning expected<json>) for an authorized request.
  template <class F>
  httplib::Server::Handler handler(F f) {
    return [this, f](const httplib::Request& req, httplib::Response& res) {
      if (!authorized(req, res)) return;
      try {
        expected<json> r = f(req.params);
        if (r)
          send_json(res, *r);
        else
          send_error(res, r.error());
      } catch (const std::exception& e) {
        send_error(res, error{errc::backend_failure, std::string("admin request failed: ") +
                                                         e.what()});
      }
    };
  }

  expected<json> types(const inspect::query_params& p) {
    auto r = inspect::answer(rt->inspector(), "types", p);
    if (!r) return r.error();
    // Registered types without actors yet are listed too.
    std::map<std::string, json> by_name;
    for (auto& t : (*r)["types"]) by_name[t["type"].get<std::string>()] = t;
    for (const auto& n : actor_registry::global().names())
      if (!by_name.count(n)) by_name[n] = json{{"type", n}, {"actors", 0}};
    json list = json::array();
    for (auto& [name, t] : by_name) {
      t["registered"] = actor_registry::global().find(name) != nullptr;
      list.push_back(std::move(t));
    }
    return json{{"types", std::move(list)}};
  }

  expected<json> actors(const inspect::query_params& p) {
    auto r = inspect::answer(rt->inspector(), "actors", p);
    if (!r) return r.error();
    for (auto& a : (*r)["actors"]) {
      auto k = kv::key_from_json(a["key"]);
      auto id = k ? inspect::encode_identity(a["type"].get<std::string>(), *k)
                  : expected<std::string>(k.error());
      a["active"] = id && rt->active_actor(*id).has_value();
    }
    return r;
  }

  // An actor's KV entries. Reads only: nothing is activated or created. An
  // empty answer for an actor that does not exist (no snapshot, not active,
  // no KV entry at all) is 404, as the state endpoint's.
  expected<json> kv(const inspect::query_params& p) {
    auto reader = rt->inspector();
    auto r = inspect::answer(reader, "kv", p);
    if (!r || !(*r)["entries"].empty()) return r;
    // The parameters are valid here (answer checked them).
    auto type = p.find("type")->second;
    auto k = inspect::key_param(p, "key");
    if (!k || !*k) return r;
    auto id = inspect::encode_identity(type, **k);
    if (!id) return id.error();
    if (rt->active_actor(*id)) return r;
    auto snap = reader.snapshot(type, **k);
    if (snap) return r;
    if (snap.error() != errc::not_found) return snap.error();
    inspect::kv_query any;
    any.limit = 1;
    auto entries = reader.kv(type, **k, any);
    if (!entries) return entries.error();
    if (!(*entries)["entries"].empty()) return r;
    return error{errc::not_found, "actor " + type + " " + kv::key_to_json_text(**k) +
                                      " does not exist (no snapshot, no KV entry, not active)"};
  }

  // On PostgreSQL: who holds the actor's claim, at which epoch
  // (doc/cluster.md); null elsewhere or when it was never claimed.
  json owner_of(const std::string& identity) {
    auto pg = std::dynamic_pointer_cast<kv::pg_backend>(rt->storage());
    if (!pg) return nullptr;
    auto c = pg->claim_of(identity);
    if (!c || c->epoch == 0) return nullptr;
    json o{{"epoch", c->epoch}};
    if (c->holder.empty()) {
      o["host"] = nullptr;
    } else {
      o["host"] = c->holder;
      o["generation"] = c->generation;
      o["address"] = c->address;
    }
    return o;
  }

  expected<json> state(const inspect::query_params& p) {
    auto stored = inspect::answer(rt->inspector(), "state", p, opts.preview_limit);
    if (!stored && stored.error() != errc::not_found) return stored.error();
    // The parameters are valid here (answer checked them).
    auto type = p.find("type")->second;
    auto k = inspect::key_param(p, "key");
    if (!k || !*k) return stored.error();
    auto id = inspect::encode_identity(type, **k);
    if (!id) return id.error();
    auto active = rt->active_actor(*id);
    if (!active) {
      if (!stored) return stored.error();
      (*stored)["active"] = false;
      (*stored)["source"] = "snapshot";
      (*stored)["owner"] = owner_of(*id);
      return stored;
    }
    // Active: what its inspect_state() shows (a custom view, or the state
    // in memory, which equals the last snapshot once its commit is durable).
    expected<std::string> text = error{errc::unreachable, "no reply"};
    caf::scoped_actor self{rt->system()};
    self->request(*active, inspect_timeout, inspect_atom::value)
        .receive([&](std::string& t) { text = std::move(t); },
                 [&](caf::error& e) { text = from_caf(e); });
    if (!text) return text.error();
    auto cap = inspect::preview_cap(p, opts.preview_limit);
    if (!cap) return cap.error();
    // The actor answers {"state": <its inspect_state()>, "last_commit_ms": ...}.
    json reply = json::parse(*text, nullptr, false);
    if (!reply.is_object())
      return error{errc::backend_failure, "the actor's inspect reply is not JSON"};
    json out = stored ? *stored : json{{"type", type}, {"key", kv::key_to_json(**k)}};
    if (!stored) {
      // Not stored (a memory-only type): its alarms, as the stored form lists them.
      rt->inspector().put_actor_alarms(out, type, **k);
    }
    out["active"] = true;
    out["source"] = "actor";
    out["owner"] = owner_of(*id);
    out["last_commit_ms"] = reply["last_commit_ms"];
    inspect::put_state_preview(out, std::move(reply["state"]), *cap);
    return out;
  }
};

expected<std::unique_ptr<admin_server>> admin_server::start(std::shared_ptr<runtime> rt,
                                                            admin_options opts) {
  if (!is_loopback(opts.bind) && opts.token.empty())
    return error{errc::invalid_argument,
                 "the admin API bound to " + opts.bind +
                     " would be reachable beyond this machine without a token; give "
                     "--admin-token-file (or bind it to 127.0.0.1)"};
  auto p = std::make_unique<impl>();
  p->rt = std::move(rt);
  p->opts = std::move(opts);
  auto* s = p.get();
  auto& srv = p->server;
  using qp = inspect::query_params;
  srv.Get("/api/v1/types", s->handler([s](const qp& q) { return s->types(q); }));
  srv.Get("/api/v1/actors", s->handler([s](const qp& q) { return s->actors(q); }));
  srv.Get("/api/v1/state", s->handler([s](const qp& q) { return s->state(q); }));
  srv.Get("/api/v1/kv", s->handler([s](const qp& q) { return s->kv(q); }));
  srv.Get("/api/v1/alarms", s->handler([s](const qp& q) {
    return inspect::answer(s->rt->inspector(), "alarms", q);
  }));
  srv.Get("/api/v1/stats",
          s->handler([s](const qp&) -> expected<json> { return s->stats_json(); }));
  srv.Get("/api/v1/hosts", s->handler([s](const qp&) -> expected<json> {
    // The cluster's members as this host last saw them (doc/cluster.md).
    auto* c = detail::runtime_access::cluster(*s->rt);
    if (!c) return json{{"cluster", nullptr}, {"hosts", json::array()}};
    json hosts = json::array();
    for (const auto& m : c->members()) hosts.push_back(inspect::member_json(m, c->host_id()));
    return json{{"cluster", c->options().name},
                {"self", c->host_id()},
                {"generation", c->generation()},
                {"serving", c->serving()},
                {"hosts", std::move(hosts)}};
  }));
  srv.Get("/api/v1/source", s->handler([s](const qp&) -> expected<json> {
    return json{{"mode", "host"}, {"location", s->rt->data_dir()}};
  }));
  srv.Get("/metrics", [s](const httplib::Request& req, httplib::Response& res) {
    if (!s->authorized(req, res)) return;
    auto pending = s->rt->inspector().pending_alarms();
    res.set_content(prometheus_text(s->rt->stats(), pending ? std::optional<std::uint64_t>(*pending)
                                                            : std::nullopt),
                    "text/plain; version=0.0.4");
  });
  srv.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.status == 404 && res.body.empty())
      send_error(res, error{errc::not_found, "no admin endpoint " + req.path +
                                                 " (see doc/admin_api.md)"});
  });
  int port = p->opts.port == 0 ? srv.bind_to_any_port(p->opts.bind)
                               : (srv.bind_to_port(p->opts.bind, p->opts.port) ? p->opts.port
                                                                                 : -1);
  if (port <= 0)
    return error{errc::io_error, "cannot bind the admin API to " + p->opts.bind + ":" +
                                     std::to_string(p->opts.port) +
                                     " (in use, or not an address of this machine)"};
  p->port = static_cast<std::uint16_t>(port);
  p->thread = std::thread([s] { s->server.listen_after_bind(); });
  p->sampler = std::thread([s] { s->sample_loop(); });
  return std::unique_ptr<admin_server>(new admin_server(std::move(p)));
}

admin_server::admin_server(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

admin_server::~admin_server() {
  stop();
}

std::uint16_t admin_server::port() const {
  return impl_->port;
}

void admin_server::stop() {
  if (!impl_) return;
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->sampler.joinable()) impl_->sampler.join();
}

}  // namespace ark
