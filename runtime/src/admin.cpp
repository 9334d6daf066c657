#include "ark/admin.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <sstream>
#include <thread>

#include <httplib.h>

#include <caf/all.hpp>

#include "ark/client.hpp"
#include "ark/handler_json.hpp"
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
// A tail with nothing to send writes a comment this often: a connection
// whose reader went away is noticed then (and a proxy in between with it).
constexpr auto tail_keep_alive = 5s;
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

// A Prometheus label value: backslash, double quote and newline escaped.
std::string label_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

// One histogram of a handler in seconds: buckets every power of 4 from 1 us
// (of latency_buckets' powers of 2), +Inf, sum (from the bucket midpoints)
// and count.
void put_histogram(std::ostringstream& o, const char* name, const std::string& labels,
                   const std::array<std::uint64_t, detail::latency_buckets>& hist) {
  std::uint64_t cumulative = 0;
  double sum_ns = 0;
  for (std::size_t i = 0; i < hist.size(); ++i) {
    cumulative += hist[i];
    sum_ns += static_cast<double>(hist[i]) * 1.5 * static_cast<double>(std::uint64_t{1} << i);
    if (i >= 9 && i % 2 == 1 && i + 1 < hist.size())
      o << name << "_bucket{" << labels << ",le=\""
        << static_cast<double>(std::uint64_t{1} << (i + 1)) / 1e9 << "\"} " << cumulative << '\n';
  }
  o << name << "_bucket{" << labels << ",le=\"+Inf\"} " << cumulative << '\n'
    << name << "_sum{" << labels << "} " << sum_ns / 1e9 << '\n'
    << name << "_count{" << labels << "} " << cumulative << '\n';
}

void put_handler_metrics(std::ostringstream& o, const runtime_stats& s) {
  if (!s.active_by_type.empty()) {
    o << "# HELP ark_type_active_actors Activations alive now, per actor type.\n"
      << "# TYPE ark_type_active_actors gauge\n";
    for (const auto& [type, n] : s.active_by_type)
      o << "ark_type_active_actors{type=\"" << label_value(type) << "\"} " << n << '\n';
  }
  if (s.handlers.empty()) return;
  o << "# HELP ark_handler_calls_total Messages each handler started (or was refused).\n"
    << "# TYPE ark_handler_calls_total counter\n";
  for (const auto& h : s.handlers)
    o << "ark_handler_calls_total{type=\"" << label_value(h.type) << "\",handler=\""
      << label_value(h.handler) << "\"} " << h.calls << '\n';
  o << "# HELP ark_handler_errors_total Replies of each handler that carried an error, by code.\n"
    << "# TYPE ark_handler_errors_total counter\n";
  for (const auto& h : s.handlers)
    for (const auto& [code, n] : h.errors_by_code)
      o << "ark_handler_errors_total{type=\"" << label_value(h.type) << "\",handler=\""
        << label_value(h.handler) << "\",code=\"" << code << "\"} " << n << '\n';
  o << "# HELP ark_handler_seconds Time each handler ran.\n"
    << "# TYPE ark_handler_seconds histogram\n";
  for (const auto& h : s.handlers)
    put_histogram(o, "ark_handler_seconds",
                  "type=\"" + label_value(h.type) + "\",handler=\"" + label_value(h.handler) + "\"",
                  h.handler_ns);
  o << "# HELP ark_handler_commit_wait_seconds Time from a handler's return until its reply "
       "left the output gate (its commit was durable).\n"
    << "# TYPE ark_handler_commit_wait_seconds histogram\n";
  for (const auto& h : s.handlers)
    put_histogram(o, "ark_handler_commit_wait_seconds",
                  "type=\"" + label_value(h.type) + "\",handler=\"" + label_value(h.handler) + "\"",
                  h.commit_wait_ns);
}

// The difference of two histograms (`then` may be empty: none).
std::array<std::uint64_t, detail::latency_buckets> minus(
    const std::array<std::uint64_t, detail::latency_buckets>& now,
    const std::array<std::uint64_t, detail::latency_buckets>* then) {
  auto d = now;
  if (then)
    for (std::size_t i = 0; i < d.size(); ++i) d[i] -= std::min(d[i], (*then)[i]);
  return d;
}

// One handler's row of /api/v1/stats: totals since the host started, and
// rates and quantiles over the window since `then` (`dt` seconds; null:
// since the start).
json handler_row(const handler_figures& now, const handler_figures* then, double dt) {
  auto quantiles = [](const std::array<std::uint64_t, detail::latency_buckets>& h) {
    std::uint64_t n = 0;
    for (auto x : h) n += x;
    if (n == 0) return json{{"p50", nullptr}, {"p99", nullptr}};
    return json{{"p50", detail::histogram_quantile_us(h, 0.50)},
                {"p99", detail::histogram_quantile_us(h, 0.99)}};
  };
  auto calls = now.calls - (then ? std::min(then->calls, now.calls) : 0);
  auto errors = now.errors - (then ? std::min(then->errors, now.errors) : 0);
  json by_code = json::object();
  for (const auto& [code, n] : now.errors_by_code) {
    std::uint64_t before = 0;
    if (then)
      if (auto it = then->errors_by_code.find(code); it != then->errors_by_code.end())
        before = it->second;
    if (n > before) by_code[code] = static_cast<double>(n - before) / dt;
  }
  return json{{"type", now.type},
              {"handler", now.handler},
              {"calls", now.calls},
              {"timed", now.timed},
              {"errors", now.errors},
              {"errors_by_code", now.errors_by_code},
              {"calls_per_s", static_cast<double>(calls) / dt},
              {"errors_per_s", static_cast<double>(errors) / dt},
              {"errors_per_s_by_code", std::move(by_code)},
              {"handler_us", quantiles(minus(now.handler_ns, then ? &then->handler_ns : nullptr))},
              {"commit_wait_us",
               quantiles(minus(now.commit_wait_ns, then ? &then->commit_wait_ns : nullptr))}};
}

// The handler of `handlers` that `name` names: its full signature as
// /api/v1/handlers lists it, or its name alone (the leading atom) when one
// handler has it.
expected<const detail::handler_info*> find_handler(const std::vector<detail::handler_info>& handlers,
                                                   const std::string& name) {
  const detail::handler_info* by_head = nullptr;
  std::size_t heads = 0;
  std::string all;
  for (const auto& h : handlers) {
    if (h.name == name) return &h;
    if (h.name.compare(0, h.name.find('('), name) == 0) {
      by_head = &h;
      ++heads;
    }
    all += (all.empty() ? "" : "; ") + h.name;
  }
  if (heads == 1) return by_head;
  if (heads > 1)
    return error{errc::invalid_argument, "'" + name + "' names " + std::to_string(heads) +
                                             " handlers: give the full signature, one of: " + all};
  return error{errc::invalid_argument, "no handler '" + name + "'; its handlers: " + all};
}

// Sends `msg` to `dest` as a client's request and waits up to `timeout`:
// the reply message, or the error it answered with.
expected<caf::message> request_reply(caf::actor_system& sys, const caf::actor& dest,
                                     caf::message msg, std::chrono::milliseconds timeout) {
  expected<caf::message> out = error{errc::unreachable, "no reply"};
  caf::scoped_actor self{sys};
  self->request(dest, timeout, std::move(msg))
      .receive([&](caf::error& e) { out = from_caf(e); },
               caf::others >> [&](caf::message_view& x) -> caf::result<caf::message> {
                 out = x.copy_content_to_message();
                 return caf::message{};
               });
  return out;
}

// Samples keep their handler figures this long (the window of the rates).
constexpr std::size_t handler_window_samples = 11;

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
    case errc::read_only:
      return 403;
    case errc::shutting_down:
      return 503;
    case errc::unreachable:
      return 504;
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
  put_handler_metrics(o, s);
  return o.str();
}

namespace {

// One live tail (GET /api/v1/tail): the change records of one actor, as
// Server-Sent Events frames, waiting for the connection's thread. The
// subscription's callbacks fill it (on a thread of the actor system); the
// content provider drains it. Bounded: beyond `rate` records a second, or
// `queue_limit` frames not yet sent, records are dropped and counted, and
// the stream says so ("event: dropped").
struct tail_stream {
  static constexpr std::size_t queue_limit = 1000;
  std::mutex mtx;
  std::condition_variable cv;
  std::deque<std::string> frames;
  std::uint64_t dropped = 0;   // records dropped so far
  std::uint64_t reported = 0;  // dropped records the stream has announced
  bool ended = false;
  double rate = 50;  // records a second
  double tokens = 50;
  std::chrono::steady_clock::time_point refilled = std::chrono::steady_clock::now();
  subscription sub;

  static std::string frame(const char* event, const json& data, std::uint64_t id = 0) {
    std::string f = std::string("event: ") + event + "\n";
    if (id) f += "id: " + std::to_string(id) + "\n";
    return f + "data: " + kv::json_text(data) + "\n\n";
  }

  // A record to send, unless the rate or the queue says drop it.
  void offer(std::string f) {
    {
      std::lock_guard<std::mutex> guard{mtx};
      auto now = std::chrono::steady_clock::now();
      tokens = std::min(rate, tokens + rate * std::chrono::duration<double>(now - refilled).count());
      refilled = now;
      if (tokens < 1 || frames.size() >= queue_limit) {
        ++dropped;  // the stream says so at its next write
      } else {
        tokens -= 1;
        frames.push_back(std::move(f));
      }
    }
    cv.notify_all();
  }

  // A frame sent whatever the rate (the current state that opens the stream).
  void push(std::string f) {
    {
      std::lock_guard<std::mutex> guard{mtx};
      frames.push_back(std::move(f));
    }
    cv.notify_all();
  }

  void end(std::string f) {
    {
      std::lock_guard<std::mutex> guard{mtx};
      frames.push_back(std::move(f));
      ended = true;
    }
    cv.notify_all();
  }
};

// A change record (subscription_mode::changes) as the tail sends it: the
// state's RFC 6902 patch next to before and after, and the time it arrived
// (the commit had just become durable), ISO 8601 in UTC.
json tail_record(const state_changed& c) {
  json r = json::parse(c.payload, nullptr, false);
  if (!r.is_object()) r = json{{"error", "the change record is not JSON"}};
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  r["time"] = inspect::iso8601_utc(ms);
  if (r.contains("state") && r["state"].is_object() && r["state"].contains("before"))
    r["state"]["patch"] = json::diff(r["state"]["before"], r["state"]["after"]);
  return r;
}

}  // namespace

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
      // Older samples drop their handler figures: only the window needs them.
      if (history.size() > handler_window_samples) {
        auto& old = history[history.size() - 1 - handler_window_samples].s;
        old.handlers.clear();
        old.handlers.shrink_to_fit();
      }
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
    out["active_by_type"] = s.active_by_type;
    out["handlers"] = handlers_json(s);
    return out;
  }

  // Every handler's row, busiest first: rates and quantiles over the last
  // ~10 s (the oldest sample of the window), totals since the start.
  json handlers_json(const runtime_stats& s) {
    const sample* then = nullptr;
    double t = now();
    std::lock_guard<std::mutex> guard{mtx};
    if (!history.empty()) {
      auto first = history.size() > handler_window_samples ? history.size() - handler_window_samples
                                                            : 0;
      then = &history[first];
    }
    double dt = std::max(then ? t - then->t : t, 1e-3);
    json rows = json::array();
    for (const auto& h : s.handlers) {
      const handler_figures* before = nullptr;
      if (then)
        for (const auto& b : then->s.handlers)
          if (b.type == h.type && b.handler == h.handler) before = &b;
      auto row = handler_row(h, before, dt);
      row["window_s"] = dt;
      rows.push_back(std::move(row));
    }
    std::stable_sort(rows.begin(), rows.end(), [](const json& a, const json& b) {
      return a["calls_per_s"].get<double>() > b["calls_per_s"].get<double>();
    });
    return rows;
  }

  // Live tails open now (max_tails), and a flag that ends them (stop()).
  std::size_t tails = 0;
  std::vector<std::weak_ptr<tail_stream>> streams;

  // GET /api/v1/tail?type=T&key=K[&rate=N]: Server-Sent Events, one
  // "change" per durable unit of the actor (doc/admin_api.md, "Live tail").
  void tail(const httplib::Request& req, httplib::Response& res) {
    const auto& p = req.params;
    auto type = p.find("type");
    auto k = inspect::key_param(inspect::query_params(p.begin(), p.end()), "key");
    if (type == p.end() || !k || !*k)
      return send_error(res, k ? error{errc::invalid_argument,
                                       "GET /api/v1/tail needs type and key (JSON)"}
                               : k.error());
    double rate = 50;
    if (auto r = p.find("rate"); r != p.end()) {
      char* end = nullptr;
      rate = std::strtod(r->second.c_str(), &end);
      if (end == r->second.c_str() || *end != '\0' || !(rate >= 1 && rate <= 1000))
        return send_error(res, error{errc::invalid_argument,
                                     "rate must be a number of records a second in 1..1000"});
    }
    const auto* t = actor_registry::global().find(type->second);
    if (!t)
      return send_error(res, error{errc::unknown_actor_type, "no actor type '" + type->second +
                                                                 "' is registered in this host"});
    {
      std::lock_guard<std::mutex> guard{mtx};
      if (stopping) return send_error(res, error{errc::shutting_down, "the host is stopping"});
      if (tails >= opts.max_tails)
        return send_error(res, error{errc::shutting_down,
                                     std::to_string(tails) +
                                         " live tails are open, the most this host serves; close "
                                         "one (a browser tab, ark-dash tail) and retry"});
      ++tails;
    }
    auto release_slot = [this] {
      std::lock_guard<std::mutex> guard{mtx};
      --tails;
    };
    auto actor = rt->get_actor(type->second, **k, t->interface(rt->system()));
    if (!actor) {
      release_slot();
      return send_error(res, actor.error());
    }
    auto st = std::make_shared<tail_stream>();
    st->rate = st->tokens = rate;
    bool first = true;
    subscription_callbacks cbs;
    std::weak_ptr<tail_stream> weak = st;
    cbs.on_state = [weak, first](const state_changed& c) mutable {
      auto s = weak.lock();
      if (!s) return;
      if (first) {  // the reply to the subscribe: the state now
        first = false;
        json r = json::parse(c.payload, nullptr, false);
        r["type"] = c.type;
        r["key"] = json::parse(c.key, nullptr, false);
        s->push(tail_stream::frame("current", r));
        return;
      }
      s->offer(tail_stream::frame("change", tail_record(c), c.seq));
    };
    cbs.on_end = [weak](const error& e) {
      if (auto s = weak.lock()) s->end(tail_stream::frame("end", error_document(e)));
    };
    auto sub = subscribe_actor(rt->system(), *actor, subscription_mode::changes, std::move(cbs),
                               std::chrono::seconds(10));
    if (!sub) {
      release_slot();
      return send_error(res, sub.error());
    }
    st->sub = std::move(*sub);
    {
      std::lock_guard<std::mutex> guard{mtx};
      streams.erase(std::remove_if(streams.begin(), streams.end(),
                                   [](const std::weak_ptr<tail_stream>& w) { return w.expired(); }),
                    streams.end());
      streams.push_back(st);
    }
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, st](std::size_t, httplib::DataSink& sink) {
          std::string out;
          bool end = false;
          {
            std::unique_lock<std::mutex> lock{st->mtx};
            st->cv.wait_for(lock, tail_keep_alive, [&] {
              return !st->frames.empty() || st->ended || st->dropped > st->reported ||
                     stopped_flag.load();
            });
            if (st->dropped > st->reported) {
              out += tail_stream::frame("dropped", json{{"dropped", st->dropped - st->reported},
                                                        {"total", st->dropped}});
              st->reported = st->dropped;
            }
            for (auto& f : st->frames) out += f;
            st->frames.clear();
            end = st->ended || stopped_flag.load();
          }
          if (out.empty()) out = ": keep-alive\n\n";
          if (!sink.write(out.data(), out.size())) return false;
          if (end) sink.done();
          return true;
        },
        [this, st](bool) {
          st->sub.cancel();
          std::lock_guard<std::mutex> guard{mtx};
          --tails;
        });
  }

  // Wakes every live tail so that it ends (stop()).
  void end_tails() {
    stopped_flag = true;
    std::vector<std::shared_ptr<tail_stream>> live;
    {
      std::lock_guard<std::mutex> guard{mtx};
      for (auto& w : streams)
        if (auto s = w.lock()) live.push_back(std::move(s));
      streams.clear();
    }
    for (auto& s : live) s->cv.notify_all();
  }
  std::atomic<bool> stopped_flag{false};

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

  // GET /api/v1/handlers[?type=T]: each registered type's handlers, named
  // by signature, with what the page needs to call them.
  expected<json> handlers(const inspect::query_params& p) {
    auto& reg = actor_registry::global();
    std::vector<std::string> names;
    if (auto it = p.find("type"); it != p.end()) {
      if (!reg.find(it->second))
        return error{errc::unknown_actor_type,
                     "no actor type '" + it->second + "' is registered in this host"};
      names.push_back(it->second);
    } else {
      names = reg.names();
    }
    json types = json::array();
    for (const auto& n : names) {
      json list = json::array();
      for (const auto& h : reg.find(n)->handlers) list.push_back(h.describe());
      types.push_back(json{{"type", n}, {"handlers", std::move(list)}});
    }
    return json{{"types", std::move(types)}, {"read_only", opts.read_only}};
  }

  // POST /api/v1/call {"type", "key", "handler", "args": [...], "create",
  // "timeout_ms"}: sends one message to the actor as a client would and
  // answers {"reply": <JSON>} or the error document.
  expected<json> call(const std::string& body, const std::string& caller) {
    if (opts.read_only)
      return error{errc::read_only,
                   "this host's admin API is read-only (ark-host --admin-read-only): handler "
                   "calls are refused; call the actor from a client instead"};
    json req = json::parse(body, nullptr, false);
    if (!req.is_object())
      return error{errc::invalid_argument,
                   "the body of POST /api/v1/call is not a JSON object like {\"type\": "
                   "\"counter\", \"key\": [\"a\"], \"handler\": \"add\", \"args\": [1]}"};
    auto field = [&](const char* name) -> expected<std::string> {
      auto it = req.find(name);
      if (it == req.end() || !it->is_string())
        return error{errc::invalid_argument,
                     std::string("POST /api/v1/call needs \"") + name + "\" (a string)"};
      return it->get<std::string>();
    };
    auto type = field("type");
    if (!type) return type.error();
    auto hname = field("handler");
    if (!hname) return hname.error();
    auto k = kv::key_from_json(req.value("key", json(nullptr)));
    if (!k) return k.error();
    const auto* t = actor_registry::global().find(*type);
    if (!t)
      return error{errc::unknown_actor_type,
                   "no actor type '" + *type + "' is registered in this host"};
    auto h = find_handler(t->handlers, *hname);
    if (!h) return error{h.error().code(), "actor type '" + *type + "': " + h.error().context()};
    const auto& info = **h;
    if (!info.callable)
      return error{errc::invalid_argument, "handler " + info.name + " of actor type '" + *type +
                                               "' cannot be called from JSON: " +
                                               info.not_callable};
    auto msg = info.make_message(req.value("args", json::array()));
    if (!msg) return msg.error();
    auto timeout = std::chrono::milliseconds(req.value("timeout_ms", 10000));
    if (timeout.count() <= 0 || timeout > std::chrono::minutes(10))
      return error{errc::invalid_argument, "timeout_ms must be in 1..600000"};
    auto iface = t->interface(rt->system());
    auto actor = req.value("create", false) ? rt->get_or_create_actor(*type, *k, caf::message{},
                                                                      iface)
                                            : rt->get_actor(*type, *k, iface);
    if (!actor) return actor.error();
    auto who = "actor " + *type + " " + kv::key_to_json_text(*k);
    if (opts.log)
      opts.log("admin API: " + caller + " calls " + info.name + " on " + who + " with " +
               kv::json_text(req.value("args", json::array())));
    auto reply = request_reply(rt->system(), *actor, std::move(*msg), timeout);
    if (!reply) return reply.error();
    return json{{"type", *type},
                {"key", kv::key_to_json(*k)},
                {"handler", info.name},
                {"reply", info.reply_to_json(*reply)}};
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
  // A connection holds a thread while it is kept alive or streams a tail:
  // enough threads that the tails and a browser's six connections leave
  // room for every other request.
  srv.new_task_queue = [n = p->opts.max_tails] { return new httplib::ThreadPool(n + 12); };
  using qp = inspect::query_params;
  srv.Get("/api/v1/types", s->handler([s](const qp& q) { return s->types(q); }));
  srv.Get("/api/v1/actors", s->handler([s](const qp& q) { return s->actors(q); }));
  srv.Get("/api/v1/state", s->handler([s](const qp& q) { return s->state(q); }));
  srv.Get("/api/v1/kv", s->handler([s](const qp& q) { return s->kv(q); }));
  srv.Get("/api/v1/alarms", s->handler([s](const qp& q) {
    return inspect::answer(s->rt->inspector(), "alarms", q);
  }));
  srv.Get("/api/v1/handlers", s->handler([s](const qp& q) { return s->handlers(q); }));
  srv.Post("/api/v1/call", [s](const httplib::Request& req, httplib::Response& res) {
    if (!s->authorized(req, res)) return;
    try {
      auto r = s->call(req.body, req.remote_addr + ":" + std::to_string(req.remote_port));
      if (r)
        send_json(res, *r);
      else
        send_error(res, r.error());
    } catch (const std::exception& e) {  // a field of the wrong JSON type
      send_error(res, error{errc::invalid_argument,
                            std::string("POST /api/v1/call: ") + e.what() +
                                " (types: type, handler strings; key a JSON key; args an array; "
                                "create a bool; timeout_ms an integer)"});
    }
  });
  srv.Get("/api/v1/tail", [s](const httplib::Request& req, httplib::Response& res) {
    if (s->authorized(req, res)) s->tail(req, res);
  });
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
  impl_->end_tails();
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
