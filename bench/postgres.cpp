// PostgreSQL: ark's durable throughput and latency on a PostgreSQL server
// against raw libpq on the same server, in the same run.
//
//   pg_raw_upsert_per_s_batch_N   rows/s upserting batches of N rows (1, 10,
//                                 100, 1000) over 10k keys, each batch one
//                                 statement over arrays (one round trip) and
//                                 one synchronous commit, one connection
//   pg_raw_best_batch             the N with the best rate
//   pg_raw_batched_upsert_per_s   raw upserts at that N, measured in windows
//                                 alternating with ark's (the denominator)
//   pg_durable_msg_per_s_10k_actors  ark (sync) over 10k counter actors, the
//                                 load of the in-process throughput scenario
//   pg10k_mean_batch / _mean_commit_us / _round_trips_per_commit /
//   _wal_bytes_per_unit           the writer over the same windows
//   pg_raw_wal_bytes_per_row      WAL written per raw upserted row
//   pg_raw_commit_p50_us / p99    one single-row upsert + commit, sequential
//   pg_single_actor_p50_us / p99  one client, sequential requests, one actor
//                                 (alternating with the raw commits)
//   pg_raw_upsert_per_s_at_ark_batch, pg_backend_put_per_s_at_ark_batch
//                                 where the time goes: raw upserts and
//                                 pg_backend::apply_fenced alone at the batch
//                                 size ark's writer reached
//
// Without --pg a private server is started for the run (tests/support/
// pg_server.hpp: Debian's defaults plus its settings; fsync and
// synchronous_commit on) and stopped at the end. With --pg the scenario uses
// fresh schemas (ark_bench_XXXXXXXX for ark, _raw for the baseline, _be for
// the decomposition) and drops them at the end; it touches nothing else.

#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <ark/inspect.hpp>
#include <ark/kv/big_endian.hpp>
#include <ark/kv/pg_backend.hpp>
#include <ark/stored_format.hpp>

#include "actor_load.hpp"
#include "bench.hpp"
#include "pg_private.hpp"
#include "support/pg_server.hpp"

#include <sys/stat.h>
#include <cstdlib>

namespace ark::bench {
namespace {

using clock_type = std::chrono::steady_clock;

constexpr Oid oid_bytea = 17;
constexpr int key_count = 10000;  // as many keys as ark's actors

/// One libpq connection, closed on destruction.
class raw_conn {
 public:
  raw_conn() = default;
  raw_conn(const raw_conn&) = delete;
  raw_conn& operator=(const raw_conn&) = delete;
  ~raw_conn() {
    if (c_) PQfinish(c_);
  }

  /// Connects; false after a message naming `what`. The server's notices
  /// ("drop cascades to ...") are not printed.
  bool open(const std::string& conninfo, const char* what) {
    c_ = PQconnectdb(conninfo.c_str());
    if (c_ == nullptr || PQstatus(c_) != CONNECTION_OK) {
      std::fprintf(stderr, "ark-bench: %s: cannot connect to PostgreSQL: %s", what,
                   c_ ? PQerrorMessage(c_) : "out of memory\n");
      return false;
    }
    PQsetNoticeProcessor(
        c_, [](void*, const char*) {}, nullptr);
    return true;
  }

  /// Runs `sql` (no parameters); the first value of the first row ("" when
  /// none), or nullopt after a message naming `what` when it failed (quiet:
  /// no message).
  std::optional<std::string> exec(const std::string& sql, const char* what, bool quiet = false) {
    PGresult* r = PQexec(c_, sql.c_str());
    auto st = PQresultStatus(r);
    std::optional<std::string> out;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
      out = PQntuples(r) > 0 && PQnfields(r) > 0 ? std::string(PQgetvalue(r, 0, 0)) : "";
    } else if (!quiet) {
      std::fprintf(stderr, "ark-bench: %s: %s", what, PQresultErrorMessage(r));
    }
    PQclear(r);
    return out;
  }

  bool prepare(const char* name, const std::string& sql, const char* what) {
    PGresult* r = PQprepare(c_, name, sql.c_str(), 0, nullptr);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) std::fprintf(stderr, "ark-bench: %s: %s", what, PQresultErrorMessage(r));
    PQclear(r);
    return ok;
  }

  /// Executes the prepared statement `name` with binary parameters: one
  /// round trip, one implicit transaction (autocommit).
  bool run(const char* name, const std::vector<std::string_view>& args, const char* what) {
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    for (auto a : args) {
      values.push_back(a.data());
      lengths.push_back(static_cast<int>(a.size()));
      formats.push_back(1);
    }
    PGresult* r = PQexecPrepared(c_, name, static_cast<int>(args.size()), values.data(),
                                 lengths.data(), formats.data(), 1);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) std::fprintf(stderr, "ark-bench: %s: %s", what, PQresultErrorMessage(r));
    PQclear(r);
    return ok;
  }

 private:
  PGconn* c_ = nullptr;
};

void append_be32(std::string& a, std::uint32_t v) {
  a += kv::be32(v);
}

/// A one-dimensional binary bytea[] of items[idx[i]].
std::string bytea_array(const std::vector<std::string>& items, const std::vector<int>& idx) {
  std::string a;
  std::size_t n = 20;
  for (int i : idx) n += 4 + items[static_cast<std::size_t>(i)].size();
  a.reserve(n);
  append_be32(a, 1);  // dimensions
  append_be32(a, 0);  // no NULLs
  append_be32(a, oid_bytea);
  append_be32(a, static_cast<std::uint32_t>(idx.size()));
  append_be32(a, 1);  // lower bound
  for (int i : idx) {
    const auto& s = items[static_cast<std::size_t>(i)];
    append_be32(a, static_cast<std::uint32_t>(s.size()));
    a.append(s);
  }
  return a;
}

/// The snapshot ark stores for a bench_tp actor whose counter is `value`.
std::string snapshot_row(std::int64_t value) {
  tp_state st;
  st.value = value;
  msgpack::sbuffer buf;
  msgpack::pack(buf, st);
  return stored::make_snapshot(1, std::string_view(buf.data(), buf.size()));
}

/// A CHECKPOINT before each measured case, so that every case starts with
/// the same server state (the first write to each page after a checkpoint
/// logs the whole page). Needs superuser or pg_checkpoint; skipped silently
/// otherwise (with --pg on a server where the role may not).
void checkpoint(raw_conn& admin) {
  admin.exec("CHECKPOINT", "checkpoint", true);
}

/// The server's WAL insert position in bytes (0 when it cannot be read).
double wal_position(raw_conn& admin) {
  auto v = admin.exec("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn", "WAL position", true);
  return v ? std::atof(v->c_str()) : 0;
}

// -- raw baselines -----------------------------------------------------------------

struct raw_table {
  std::string schema;
  std::vector<std::string> keys;  // ark's state keys of bench_tp ["a", i]
};

/// Picks batches of distinct keys: consecutive slices of a random
/// permutation of the 10k keys, reshuffled when used up (ON CONFLICT DO
/// UPDATE may not touch a row twice; ark's writer coalesces an actor's
/// snapshots the same way).
class key_picker {
 public:
  explicit key_picker(unsigned seed) : rng_(seed), order_(key_count) {
    for (int i = 0; i < key_count; ++i) order_[static_cast<std::size_t>(i)] = i;
  }
  std::vector<int> next(int n) {
    auto un = static_cast<std::size_t>(n);
    if (pos_ + un > order_.size()) {
      std::shuffle(order_.begin(), order_.end(), rng_);
      pos_ = 0;
    }
    std::vector<int> idx(order_.begin() + static_cast<std::ptrdiff_t>(pos_),
                         order_.begin() + static_cast<std::ptrdiff_t>(pos_ + un));
    pos_ += un;
    return idx;
  }

 private:
  std::mt19937_64 rng_;
  std::vector<int> order_;
  std::size_t pos_ = key_count;
};

/// The raw baseline's connection, table and statements.
class raw_client {
 public:
  explicit raw_client(const raw_table& t) : t_(t), values_(key_count), picker_(42) {}

  /// Connects, creates and fills the table (every key exists before the
  /// measurements, as every actor's snapshot does once ark's actors are
  /// active: all upserts are updates) and prepares the statements; false
  /// after a message.
  bool set_up(const std::string& conninfo) {
    if (!c_.open(conninfo, "raw baseline")) return false;
    // The shape of ark's kv table (pg_backend.cpp: bigint + bytea primary
    // key, fillfactor 80), without ark's spaces, epochs and fences.
    if (!c_.exec("CREATE TABLE IF NOT EXISTS " + t_.schema +
                     ".kv (space_id bigint NOT NULL, key bytea NOT NULL, value bytea NOT NULL, "
                     "PRIMARY KEY (space_id, key)) WITH (fillfactor = 80)",
                 "create the raw table"))
      return false;
    if (!c_.exec("SET synchronous_commit TO on", "raw baseline")) return false;
    if (!c_.prepare("upsert_batch",
                    "INSERT INTO " + t_.schema +
                        ".kv (space_id, key, value) SELECT 1, k, v FROM unnest($1::bytea[], "
                        "$2::bytea[]) AS u(k, v) ON CONFLICT (space_id, key) DO UPDATE SET value "
                        "= excluded.value",
                    "prepare the batched upsert") ||
        !c_.prepare("upsert_one",
                    "INSERT INTO " + t_.schema +
                        ".kv (space_id, key, value) VALUES (1, $1::bytea, $2::bytea) ON CONFLICT "
                        "(space_id, key) DO UPDATE SET value = excluded.value",
                    "prepare the single upsert"))
      return false;
    std::vector<int> all(key_count);
    for (int i = 0; i < key_count; ++i) all[static_cast<std::size_t>(i)] = i;
    if (!upsert(all)) return false;
    c_.exec("VACUUM ANALYZE " + t_.schema + ".kv", "vacuum the raw table", true);
    return true;
  }

  /// One transaction upserting `batch` distinct keys (one round trip).
  bool batch(int batch) { return upsert(picker_.next(batch)); }

  /// One single-row upsert + commit (one round trip).
  bool one() {
    const auto& key = t_.keys[static_cast<std::size_t>(single_++ % key_count)];
    auto value = snapshot_row(++counter_ % 1000);
    return c_.run("upsert_one", {key, value}, "raw single upsert");
  }

  /// Rows/s of batch(n) in a loop for `duration` seconds; 0 on failure.
  double rate(int n, double duration) {
    std::int64_t rows = 0;
    const auto start = clock_type::now();
    while (seconds_since(start) < duration) {
      if (!batch(n)) return 0;
      rows += n;
    }
    return static_cast<double>(rows) / seconds_since(start);
  }

 private:
  bool upsert(const std::vector<int>& idx) {
    // Values like ark's snapshots: counters stay small (ark's 10k counters
    // reach a few hundred in a run), so rows keep ark's size.
    for (int i : idx) values_[static_cast<std::size_t>(i)] = snapshot_row(++counter_ % 1000);
    auto keys = bytea_array(t_.keys, idx);
    auto vals = bytea_array(values_, idx);
    return c_.run("upsert_batch", {keys, vals}, "raw batched upsert");
  }

  const raw_table& t_;
  raw_conn c_;
  std::vector<std::string> values_;
  key_picker picker_;
  std::int64_t counter_ = 0;
  int single_ = 0;
};

/// The batch-size sweep: pg_raw_upsert_per_s_batch_N. Returns the batch size
/// of the best rate (0 on failure).
int run_raw_sweep(context& ctx, raw_conn& admin, raw_client& raw) {
  const double duration = ctx.pick(1.0, 3.0);
  double best = 0;
  int best_batch = 0;
  for (int batch : {1, 10, 100, 1000}) {
    checkpoint(admin);
    double rate = raw.rate(batch, duration);
    if (rate <= 0) return 0;
    ctx.add("pg_raw_upsert_per_s_batch_" + std::to_string(batch), rate, "1/s");
    if (rate > best) {
      best = rate;
      best_batch = batch;
    }
  }
  ctx.add("pg_raw_best_batch", best_batch, "rows");
  return best_batch;
}

// -- ark ---------------------------------------------------------------------------------

/// Sends one request to each of `targets`, `inflight` at a time, and waits
/// for every reply (each actor is activated, its claim made and its snapshot
/// stored, before the measurement). False when some failed or it took over
/// `limit`.
bool touch_all(caf::actor_system& sys, const std::vector<tp_if>& targets, int inflight,
               std::chrono::seconds limit) {
  struct progress {
    std::atomic<int> replies{0};
    std::atomic<int> errors{0};
  };
  auto p = std::make_shared<progress>();
  auto body = [](caf::event_based_actor* self, std::vector<tp_if> targets, int inflight,
                 std::shared_ptr<progress> p) {
    auto next = std::make_shared<std::size_t>(0);
    auto targets_ptr = std::make_shared<std::vector<tp_if>>(std::move(targets));
    auto send = std::make_shared<std::function<void()>>();
    *send = [self, next, targets_ptr, p, send] {
      if (*next >= targets_ptr->size()) return;
      auto i = (*next)++;
      self->request((*targets_ptr)[i], caf::infinite, add_atom::value, std::int64_t{1})
          .then(
              [p, send](std::int64_t) {
                ++p->replies;
                (*send)();
              },
              [p, send](caf::error&) {
                ++p->errors;
                (*send)();
              });
    };
    self->attach_functor([send] { *send = nullptr; });  // `send` holds itself
    for (int i = 0; i < inflight; ++i) (*send)();
    return caf::behavior{[](int) {}};
  };
  auto toucher = sys.spawn(body, targets, inflight, p);
  const auto start = clock_type::now();
  const int n = static_cast<int>(targets.size());
  while (p->replies + p->errors < n && clock_type::now() - start < limit)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  caf::anon_send_exit(toucher, caf::exit_reason::kill);
  if (p->errors > 0)
    std::fprintf(stderr, "ark-bench: %d of %d first requests failed\n", p->errors.load(), n);
  return p->replies == n;
}

ark::runtime_options ark_options(context& ctx, const std::string& conninfo,
                                 const std::string& schema) {
  ark::runtime_options opts;
  opts.data_dir = ctx.fresh_dir("pg-unused");  // unused with postgres
  opts.storage.kind = kv::backend_kind::postgres;
  opts.storage.pg_conninfo = conninfo;
  opts.storage.pg_schema = schema;
  opts.storage.mode = kv::durability::sync;
  return opts;
}

/// Throughput, interleaved with the raw baseline: the machine is shared and
/// its disk's speed changes within seconds, so ark's windows alternate with
/// windows of raw batched upserts at the sweep's best batch size, and each
/// side's figure sums its windows. Then the sequential latencies, a raw
/// commit and an ark request alternately.
void run_ark(context& ctx, raw_conn& admin, raw_client& raw, int best_batch,
             const std::string& conninfo, const std::string& schema) {
  using std::chrono::milliseconds;
  const int rounds = ctx.pick(2, 5);
  const auto warmup = milliseconds(500);
  const auto window = milliseconds(ctx.pick(1000, 2000));
  const double raw_window = ctx.pick(0.5, 1.0);
  const int inflight = 1024;  // as the in-process scenario
  {
    ark_env env(ark_options(ctx, conninfo, schema));
    if (!env.rt) return;
    auto pg = std::dynamic_pointer_cast<kv::pg_backend>(env.rt->storage());
    if (!pg) {
      std::fprintf(stderr, "ark-bench: the runtime did not open a pg_backend\n");
      return;
    }
    auto targets = env.actors(key_count);
    auto t0 = clock_type::now();
    if (!touch_all(*env.sys, targets, inflight, std::chrono::seconds(600))) return;
    ctx.add("pg10k_first_touch_s", seconds_since(t0), "s");
    checkpoint(admin);
    double raw_rows = 0, raw_s = 0, ark_msgs = 0, ark_s = 0, raw_wal = 0, ark_wal = 0;
    std::uint64_t trips = 0, commits = 0, units = 0, commit_us = 0;
    std::uint64_t trips0 = 0;
    double wal0 = 0;
    runtime_stats s0;
    clock_type::time_point w0;
    auto mark = [&](bool end) {
      if (!end) {
        trips0 = pg->round_trips();
        s0 = env.rt->stats();
        wal0 = wal_position(admin);
        w0 = clock_type::now();
        return;
      }
      auto s1 = env.rt->stats();
      ark_wal += wal_position(admin) - wal0;
      trips += pg->round_trips() - trips0;
      commits += s1.commits - s0.commits;
      units += s1.units - s0.units;
      commit_us += s1.commit_us - s0.commit_us;
      ark_s += seconds_since(w0);
    };
    for (int r = 0; r < rounds; ++r) {
      double before_wal = wal_position(admin);
      double rate = raw.rate(best_batch, raw_window);
      if (rate <= 0) return;
      raw_wal += wal_position(admin) - before_wal;
      raw_rows += rate * raw_window;
      raw_s += raw_window;
      double before = ark_s;
      double ark_rate =
          measure(*env.sys, targets, inflight, warmup, window, nullptr, nullptr, nullptr, mark);
      ark_msgs += ark_rate * (ark_s - before);
    }
    ctx.add("pg_raw_batched_upsert_per_s", raw_rows / raw_s, "1/s");
    if (commits > 0) {
      auto c = static_cast<double>(commits);
      ctx.add("pg10k_mean_batch", static_cast<double>(units) / c, "units");
      ctx.add("pg10k_mean_commit_us", static_cast<double>(commit_us) / c, "us");
      ctx.add("pg10k_round_trips_per_commit", static_cast<double>(trips) / c, "trips");
      if (units > 0 && ark_wal > 0 && raw_rows > 0 && raw_wal > 0) {
        ctx.add("pg10k_wal_bytes_per_unit", ark_wal / static_cast<double>(units), "B");
        ctx.add("pg_raw_wal_bytes_per_row", raw_wal / raw_rows, "B");
      }
    }
    ctx.add("pg_durable_msg_per_s_10k_actors", ark_msgs / ark_s, "1/s");
  }
  // One client, sequential requests to one actor (a runtime of its own, as
  // the in-process `single` case), alternating with raw single commits.
  {
    ark_env env(ark_options(ctx, conninfo, schema));
    if (!env.rt) return;
    auto h = env.rt->get_or_create<tp_if>("bench_tp", ark::key{"single"});
    if (!h) return;
    checkpoint(admin);
    const int n = ctx.pick(500, 3000);
    std::vector<double> raw_us, ark_us;
    // Which one goes first alternates, so that neither always follows the
    // other's flush.
    for (int i = 0; i < n + 50; ++i) {
      std::vector<double> a;
      if (i % 2 == 1 && (a = sequential_latency_us(*env.sys, *h, 1, 0)).empty()) return;
      auto t0 = clock_type::now();
      if (!raw.one()) return;
      double raw_t = seconds_since(t0) * 1e6;
      if (i % 2 == 0 && (a = sequential_latency_us(*env.sys, *h, 1, 0)).empty()) return;
      if (i >= 50) {  // after warm-up
        raw_us.push_back(raw_t);
        ark_us.push_back(a[0]);
      }
    }
    auto raw_p99 = raw_us, ark_p99 = ark_us;
    ctx.add("pg_raw_commit_p50_us", median(raw_us), "us");
    ctx.add("pg_raw_commit_p99_us", percentile(raw_p99, 99), "us");
    ctx.add("pg_single_actor_p50_us", median(ark_us), "us");
    ctx.add("pg_single_actor_p99_us", percentile(ark_p99, 99), "us");
  }
}

/// Where ark's time goes (informational): at the batch size ark's writer
/// reached, raw upserts against pg_backend::apply_fenced alone (ark's
/// statements: fence check, spaces, upsert; no actors, no runtime), windows
/// alternating as in run_ark.
void run_decomposition(context& ctx, raw_conn& admin, raw_client& raw, const std::string& conninfo,
                       const raw_table& t, const std::string& be_schema) {
  int batch = static_cast<int>(ctx.get("pg10k_mean_batch") + 0.5);
  if (batch <= 0) batch = 500;
  batch = std::min(batch, key_count);
  const int rounds = ctx.pick(2, 4);
  const double window = ctx.pick(0.5, 1.0);
  kv::pg_options o;
  o.conninfo = conninfo;
  o.schema = be_schema;
  o.mode = kv::durability::sync;
  auto db = kv::pg_backend::open(o);
  if (!db) {
    std::fprintf(stderr, "ark-bench: %s\n", db.error().message().c_str());
    return;
  }
  const std::string& space = stored::state_space();
  std::vector<std::uint64_t> epochs(key_count);
  for (int i = 0; i < key_count; ++i) {
    auto c = (*db)->claim(space, t.keys[static_cast<std::size_t>(i)]);
    if (!c) {
      std::fprintf(stderr, "ark-bench: claim: %s\n", c.error().message().c_str());
      return;
    }
    epochs[static_cast<std::size_t>(i)] = c->epoch;
  }
  std::int64_t counter = 0;
  auto apply = [&](const std::vector<int>& idx) {
    kv::backend_batch b;
    for (int i : idx) {
      auto k = static_cast<std::size_t>(i);
      kv::space_writes g{space, {}, b.add_fence(t.keys[k], epochs[k])};
      g.ops.push_back(
          kv::write_op{kv::write_op::kind::put, t.keys[k], snapshot_row(++counter % 1000)});
      b.append(std::move(g));
    }
    auto r = (*db)->apply_fenced(b);
    if (!r || !r->fenced.empty()) {
      std::fprintf(stderr, "ark-bench: a fenced batch failed: %s\n",
                   r ? "fenced" : r.error().message().c_str());
      return false;
    }
    return true;
  };
  {
    std::vector<int> all(key_count);
    for (int i = 0; i < key_count; ++i) all[static_cast<std::size_t>(i)] = i;
    if (!apply(all)) return;
  }
  checkpoint(admin);
  key_picker picker(7);
  double raw_rows = 0, raw_s = 0, be_rows = 0, be_s = 0;
  for (int r = 0; r < rounds; ++r) {
    double rate = raw.rate(batch, window);
    if (rate <= 0) return;
    raw_rows += rate * window;
    raw_s += window;
    const auto start = clock_type::now();
    while (seconds_since(start) < window) {
      if (!apply(picker.next(batch))) return;
      be_rows += batch;
    }
    be_s += seconds_since(start);
  }
  ctx.add("pg_raw_upsert_per_s_at_ark_batch", raw_rows / raw_s, "1/s");
  ctx.add("pg_backend_put_per_s_at_ark_batch", be_rows / be_s, "1/s");
}

void print_server(raw_conn& admin) {
  std::string line;
  if (auto v = admin.exec("SHOW server_version", "server version")) line = "PostgreSQL " + *v;
  for (const char* s : {"synchronous_commit", "fsync", "full_page_writes", "wal_level",
                        "shared_buffers", "max_wal_size", "wal_compression", "commit_delay"})
    if (auto v = admin.exec(std::string("SHOW ") + s, "server setting", true))
      line += std::string(" ") + s + "=" + *v;
  std::printf("  server: %s\n", line.c_str());
}

}  // namespace

void run_postgres(context& ctx) {
  std::optional<ark::test::pg_server> server;
  auto pg = pg_for_run(ctx, server);
  if (!pg) return;
  const std::string conninfo = *pg;
  raw_conn admin;
  if (!admin.open(conninfo, "postgres")) return;
  print_server(admin);

  // Two fresh schemas, dropped at the end: ark's, which ark creates (a name
  // no schema has), and the raw baseline's, created here.
  std::string schema;
  for (int attempt = 0; attempt < 5 && schema.empty(); ++attempt) {
    auto name = random_schema_name();
    auto taken = admin.exec("SELECT count(*) FROM pg_namespace WHERE nspname IN ('" + name +
                                "', '" + name + "_raw', '" + name + "_be')",
                            "look for schemas");
    if (!taken) return;
    if (*taken == "0" && admin.exec("CREATE SCHEMA " + name + "_raw", "create a schema"))
      schema = name;
  }
  if (schema.empty()) {
    std::fprintf(stderr, "ark-bench: found no free schema name ark_bench_XXXXXXXX\n");
    return;
  }
  std::printf("  schemas %s, %s_raw (dropped at the end)\n", schema.c_str(), schema.c_str());

  raw_table t;
  t.schema = schema + "_raw";
  for (int i = 0; i < key_count; ++i) {
    auto k = inspect::encode_identity("bench_tp", ark::key{"a", i});
    if (k) t.keys.push_back(*k);
  }
  raw_client raw(t);
  if (!raw.set_up(conninfo)) return;
  int best_batch = run_raw_sweep(ctx, admin, raw);
  if (best_batch == 0) return;
  // For profiling one part (bench/RESULTS.md): ARK_BENCH_CASE=pgark|pgparts.
  const char* only_case = std::getenv("ARK_BENCH_CASE");
  auto run_case = [&](const char* name) { return !only_case || std::string(only_case) == name; };
  if (run_case("pgark")) run_ark(ctx, admin, raw, best_batch, conninfo, schema);
  if (run_case("pgparts")) run_decomposition(ctx, admin, raw, conninfo, t, schema + "_be");
  // Row sizes, to check that the raw rows are the size of ark's.
  if (auto v =
          admin.exec("SELECT round(avg(length(key) + length(value))) FROM " + schema +
                         ".kv WHERE space_id = (SELECT id FROM " + schema +
                         ".spaces WHERE space = '\\x" + to_hex(stored::state_space()) + "'::bytea)",
                     "row sizes", true);
      v && !v->empty())
    std::printf("  ark state rows: %s bytes (key + value); raw rows: %zu bytes\n", v->c_str(),
                t.keys[1].size() + snapshot_row(999).size());

  admin.exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE", "drop the benchmark schema");
  admin.exec("DROP SCHEMA " + schema + "_raw CASCADE", "drop the benchmark schema");
  admin.exec("DROP SCHEMA IF EXISTS " + schema + "_be CASCADE", "drop the benchmark schema");
}

}  // namespace ark::bench
