// PostgreSQL: ark's durable throughput and latency on a PostgreSQL server
// against raw libpq on the same server, in the same run.
//
//   pg_raw_upsert_per_s_batch_N   rows/s upserting batches of N rows (1, 10,
//                                 100, 1000) over 10k keys, each batch one
//                                 statement over arrays and one synchronous
//                                 commit, one connection
//   pg_raw_batched_upsert_per_s   the best of those
//   pg_raw_commit_p50_us / p99    one single-row upsert + commit, sequential
//   pg_durable_msg_per_s_10k_actors  ark (sync) over 10k counter actors, the
//                                 load of the in-process throughput scenario
//   pg10k_mean_batch / _mean_commit_us / _round_trips_per_commit
//   pg_single_actor_p50_us / p99  one client, sequential requests, one actor
//
// Without --pg a private server is started for the run (tests/support/
// pg_server.hpp: Debian's defaults plus its settings; fsync and
// synchronous_commit on) and stopped at the end. With --pg the scenario
// creates two fresh schemas (ark_bench_XXXXXXXX and ..._raw) on that server
// and drops them at the end; it touches nothing else.

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
#include "support/pg_server.hpp"

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

/// A schema name nobody uses: ark_bench_ and 8 random hex digits.
std::string random_schema_name() {
  std::random_device rd;
  char buf[32];
  std::snprintf(buf, sizeof buf, "ark_bench_%08x", static_cast<unsigned>(rd()));
  return buf;
}

/// A CHECKPOINT before each measured case, so that every case starts with
/// the same server state (the first write to each page after a checkpoint
/// logs the whole page). Needs superuser or pg_checkpoint; skipped silently
/// otherwise (with --pg on a server where the role may not).
void checkpoint(raw_conn& admin) {
  admin.exec("CHECKPOINT", "checkpoint", true);
}

// -- raw baselines -----------------------------------------------------------------

struct raw_table {
  std::string schema;
  std::vector<std::string> keys;  // ark's state keys of bench_tp ["a", i]
};

/// Rows/s upserting batches of `batch` distinct keys, each batch one
/// transaction, for `duration` seconds. 0 on failure (after a message).
double raw_batched_rate(raw_conn& c, const raw_table& t, int batch, double duration,
                        std::int64_t& counter) {
  std::mt19937_64 rng(42 + static_cast<unsigned>(batch));
  std::vector<int> order(key_count);
  for (int i = 0; i < key_count; ++i) order[static_cast<std::size_t>(i)] = i;
  std::vector<std::string> values(key_count);
  std::size_t pos = key_count;  // next unused slot of `order`
  std::int64_t rows = 0;
  const auto start = clock_type::now();
  while (seconds_since(start) < duration) {
    // Distinct keys in a batch (ON CONFLICT DO UPDATE may not touch a row
    // twice; ark's writer coalesces an actor's snapshots the same way):
    // consecutive slices of a fresh random permutation.
    if (pos + static_cast<std::size_t>(batch) > order.size()) {
      std::shuffle(order.begin(), order.end(), rng);
      pos = 0;
    }
    std::vector<int> idx(order.begin() + static_cast<std::ptrdiff_t>(pos),
                         order.begin() + static_cast<std::ptrdiff_t>(pos) + batch);
    pos += static_cast<std::size_t>(batch);
    for (int i : idx) values[static_cast<std::size_t>(i)] = snapshot_row(++counter % 1000);
    auto keys = bytea_array(t.keys, idx);
    auto vals = bytea_array(values, idx);
    if (!c.run("upsert_batch", {keys, vals}, "raw batched upsert")) return 0;
    rows += batch;
  }
  return static_cast<double>(rows) / seconds_since(start);
}

/// The raw table, filled, and its statements prepared on `c`; false after a
/// message.
bool set_up_raw(raw_conn& c, const std::string& conninfo, const raw_table& t,
                std::int64_t& counter) {
  if (!c.open(conninfo, "raw baseline")) return false;
  // The shape of ark's kv table (pg_backend.cpp: bigint + bytea primary key,
  // fillfactor 80), without ark's spaces, epochs and fences.
  if (!c.exec("CREATE TABLE IF NOT EXISTS " + t.schema +
                  ".kv (space_id bigint NOT NULL, key bytea NOT NULL, value bytea NOT NULL, "
                  "PRIMARY KEY (space_id, key)) WITH (fillfactor = 80)",
              "create the raw table"))
    return false;
  if (!c.exec("SET synchronous_commit TO on", "raw baseline")) return false;
  if (!c.prepare("upsert_batch",
                 "INSERT INTO " + t.schema +
                     ".kv (space_id, key, value) SELECT 1, k, v FROM unnest($1::bytea[], "
                     "$2::bytea[]) AS u(k, v) ON CONFLICT (space_id, key) DO UPDATE SET value = "
                     "excluded.value",
                 "prepare the batched upsert") ||
      !c.prepare("upsert_one",
                 "INSERT INTO " + t.schema +
                     ".kv (space_id, key, value) VALUES (1, $1::bytea, $2::bytea) ON CONFLICT "
                     "(space_id, key) DO UPDATE SET value = excluded.value",
                 "prepare the single upsert"))
    return false;
  // Every key exists before the measurements (as every actor's snapshot
  // does once ark's actors are active): all upserts are updates.
  std::vector<int> all(key_count);
  std::vector<std::string> values(key_count);
  for (int i = 0; i < key_count; ++i) {
    all[static_cast<std::size_t>(i)] = i;
    values[static_cast<std::size_t>(i)] = snapshot_row(++counter % 1000);
  }
  auto keys = bytea_array(t.keys, all);
  auto vals = bytea_array(values, all);
  if (!c.run("upsert_batch", {keys, vals}, "fill the raw table")) return false;
  c.exec("VACUUM ANALYZE " + t.schema + ".kv", "vacuum the raw table", true);
  return true;
}

void run_raw(context& ctx, raw_conn& admin, const std::string& conninfo, const raw_table& t) {
  raw_conn c;
  std::int64_t counter = 0;
  if (!set_up_raw(c, conninfo, t, counter)) return;
  const double duration = ctx.pick(1.0, 4.0);
  double best = 0;
  int best_batch = 0;
  for (int batch : {1, 10, 100, 1000}) {
    checkpoint(admin);
    double rate = raw_batched_rate(c, t, batch, duration, counter);
    if (rate <= 0) return;
    ctx.add("pg_raw_upsert_per_s_batch_" + std::to_string(batch), rate, "1/s");
    if (rate > best) {
      best = rate;
      best_batch = batch;
    }
  }
  ctx.add("pg_raw_batched_upsert_per_s", best, "1/s");
  ctx.add("pg_raw_best_batch", best_batch, "rows");

  // One upsert + commit at a time (one round trip each).
  checkpoint(admin);
  const int n = ctx.pick(500, 3000);
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n + 50; ++i) {
    const auto& key = t.keys[static_cast<std::size_t>(i % key_count)];
    auto value = snapshot_row(++counter % 1000);
    auto t0 = clock_type::now();
    if (!c.run("upsert_one", {key, value}, "raw single upsert")) return;
    if (i >= 50) us.push_back(seconds_since(t0) * 1e6);  // after warm-up
  }
  auto p99 = us;
  ctx.add("pg_raw_commit_p50_us", median(us), "us");
  ctx.add("pg_raw_commit_p99_us", percentile(p99, 99), "us");
}

/// Where ark's time goes (informational): at the batch size ark's writer
/// reached, (1) raw upserts, (2) pg_backend::apply_fenced alone (ark's
/// statements: fence check, spaces, upsert; no actors, no runtime), each
/// with the machine to itself.
void run_decomposition(context& ctx, raw_conn& admin, const std::string& conninfo,
                       const raw_table& t, const std::string& be_schema) {
  int batch = static_cast<int>(ctx.get("pg10k_mean_batch") + 0.5);
  if (batch <= 0) batch = 500;
  batch = std::min(batch, key_count);
  const double duration = ctx.pick(1.0, 4.0);
  {
    raw_conn c;
    std::int64_t counter = 0;
    if (!set_up_raw(c, conninfo, t, counter)) return;
    checkpoint(admin);
    double rate = raw_batched_rate(c, t, batch, duration, counter);
    if (rate <= 0) return;
    ctx.add("pg_raw_upsert_per_s_at_ark_batch", rate, "1/s");
  }
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
  auto fenced_batch = [&](const std::vector<int>& idx, std::int64_t& counter) {
    kv::backend_batch b;
    for (int i : idx) {
      auto k = static_cast<std::size_t>(i);
      auto id = b.add_fence(t.keys[k], epochs[k]);
      kv::space_writes g{space, {}, id};
      g.ops.push_back(
          kv::write_op{kv::write_op::kind::put, t.keys[k], snapshot_row(++counter % 1000)});
      b.append(std::move(g));
    }
    return b;
  };
  std::int64_t counter = 0;
  {
    std::vector<int> all(key_count);
    for (int i = 0; i < key_count; ++i) all[static_cast<std::size_t>(i)] = i;
    if (auto r = (*db)->apply_fenced(fenced_batch(all, counter)); !r) {
      std::fprintf(stderr, "ark-bench: %s\n", r.error().message().c_str());
      return;
    }
  }
  checkpoint(admin);
  std::mt19937_64 rng(7);
  std::vector<int> order(key_count);
  for (int i = 0; i < key_count; ++i) order[static_cast<std::size_t>(i)] = i;
  std::size_t pos = key_count;
  std::int64_t rows = 0;
  const auto start = clock_type::now();
  while (seconds_since(start) < duration) {
    if (pos + static_cast<std::size_t>(batch) > order.size()) {
      std::shuffle(order.begin(), order.end(), rng);
      pos = 0;
    }
    std::vector<int> idx(order.begin() + static_cast<std::ptrdiff_t>(pos),
                         order.begin() + static_cast<std::ptrdiff_t>(pos) + batch);
    pos += static_cast<std::size_t>(batch);
    auto r = (*db)->apply_fenced(fenced_batch(idx, counter));
    if (!r || !r->fenced.empty()) {
      std::fprintf(stderr, "ark-bench: fenced batch failed\n");
      return;
    }
    rows += batch;
  }
  ctx.add("pg_backend_put_per_s_at_ark_batch", static_cast<double>(rows) / seconds_since(start),
          "1/s");
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

void run_ark(context& ctx, raw_conn& admin, const std::string& conninfo,
             const std::string& schema) {
  using std::chrono::milliseconds;
  const auto warmup = milliseconds(ctx.pick(500, 2000));
  const auto window = milliseconds(ctx.pick(2000, 10000));
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
    std::uint64_t trips0 = 0, trips1 = 0, commits0 = 0, commits1 = 0;
    auto mark = [&](bool end) {
      (end ? trips1 : trips0) = pg->round_trips();
      (end ? commits1 : commits0) = env.rt->stats().commits;
    };
    double rate =
        measure(*env.sys, targets, inflight, warmup, window, &ctx, env.rt.get(), "pg10k", mark);
    if (commits1 > commits0)
      ctx.add("pg10k_round_trips_per_commit",
              static_cast<double>(trips1 - trips0) / static_cast<double>(commits1 - commits0),
              "trips");
    ctx.add("pg_durable_msg_per_s_10k_actors", rate, "1/s");
  }
  // One client, sequential requests to one actor (a runtime of its own, as
  // the in-process `single` case).
  {
    ark_env env(ark_options(ctx, conninfo, schema));
    if (!env.rt) return;
    auto h = env.rt->get_or_create<tp_if>("bench_tp", ark::key{"single"});
    if (!h) return;
    checkpoint(admin);
    auto us = sequential_latency_us(*env.sys, *h, ctx.pick(500, 3000));
    if (us.empty()) return;
    auto p99 = us;
    ctx.add("pg_single_actor_p50_us", median(us), "us");
    ctx.add("pg_single_actor_p99_us", percentile(p99, 99), "us");
  }
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
  std::string conninfo = ctx.pg_conninfo;
  if (conninfo.empty()) {
    try {
      server.emplace();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "ark-bench: cannot start a private PostgreSQL server: %s\n", e.what());
      return;
    }
    conninfo = server->conninfo();
    std::printf("  private server in %s (stopped at the end)\n", server->socket_dir().c_str());
  }
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
  // For profiling one part (bench/RESULTS.md): ARK_BENCH_CASE=pgraw|pgark.
  const char* only_case = std::getenv("ARK_BENCH_CASE");
  auto run_case = [&](const char* name) { return !only_case || std::string(only_case) == name; };
  if (run_case("pgraw")) run_raw(ctx, admin, conninfo, t);
  if (run_case("pgark")) run_ark(ctx, admin, conninfo, schema);
  if (run_case("pgparts")) run_decomposition(ctx, admin, conninfo, t, schema + "_be");
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
