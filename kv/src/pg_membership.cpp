#include "ark/kv/pg_membership.hpp"

#include <libpq-fe.h>
#include <poll.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "ark/kv/pg_backend.hpp"
#include "pg_text.hpp"

namespace ark::kv {

namespace {

using clock_type = std::chrono::steady_clock;

using pg_text::trim;
using pg_text::with_schema;

// Waits until the socket is readable (or writable) or `deadline` passes.
bool wait_socket(PGconn* c, bool for_write, clock_type::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
  if (left.count() <= 0) return false;
  pollfd p{PQsocket(c), static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
  int r;
  do {
    r = ::poll(&p, 1, static_cast<int>(left.count()));
  } while (r < 0 && errno == EINTR);
  return r > 0;
}

error bad_schema(const std::string& s) {
  return error{errc::invalid_argument, "invalid PostgreSQL schema name '" + s + "'"};
}

}  // namespace

/// One connection, every operation bounded by a deadline (non-blocking
/// libpq: PQconnectPoll, PQsendQueryParams, poll).
struct pg_membership::conn {
  std::string conninfo;
  std::string where;  // "PostgreSQL host=... schema ..." for messages
  PGconn* c = nullptr;

  ~conn() { close(); }
  void close() {
    if (c) PQfinish(c);
    c = nullptr;
  }

  error timeout(const std::string& what) {
    close();
    return error{errc::backend_failure, what + " on " + where + ": no answer in time",
                 "check that the server runs and is reachable from this host"};
  }

  expected<void> open(clock_type::time_point deadline) {
    if (c && PQstatus(c) == CONNECTION_OK) return {};
    close();
    const char* keys[] = {"fallback_application_name", "dbname", nullptr};
    const char* vals[] = {"ark cluster", conninfo.c_str(), nullptr};
    c = PQconnectStartParams(keys, vals, 1);
    if (!c) return error{errc::backend_failure, "cannot connect to " + where + ": out of memory"};
    if (PQstatus(c) == CONNECTION_BAD) {
      std::string why = trim(PQerrorMessage(c));
      close();
      return error{errc::backend_failure, "cannot connect to " + where + ": " + why,
                   "start the PostgreSQL server or fix the connection string"};
    }
    for (;;) {
      auto st = PQconnectPoll(c);
      if (st == PGRES_POLLING_OK) break;
      if (st == PGRES_POLLING_FAILED) {
        std::string why = trim(PQerrorMessage(c));
        close();
        return error{errc::backend_failure, "cannot connect to " + where + ": " + why,
                     "start the PostgreSQL server or fix the connection string"};
      }
      if (!wait_socket(c, st == PGRES_POLLING_WRITING, deadline)) return timeout("connecting");
    }
    PQsetNoticeProcessor(c, [](void*, const char*) {}, nullptr);
    if (PQsetnonblocking(c, 1) != 0) return timeout("connecting");
    return {};
  }

  // Runs one statement with text parameters; the result's rows as text.
  expected<std::vector<std::vector<std::optional<std::string>>>> query(
      const std::string& sql, const std::vector<std::string>& args, const std::string& what,
      clock_type::time_point deadline) {
    if (auto r = open(deadline); !r) return r.error();
    std::vector<const char*> values;
    for (const auto& a : args) values.push_back(a.c_str());
    if (PQsendQueryParams(c, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                          nullptr, nullptr, 0) != 1)
      return lost(what);
    for (;;) {
      int f = PQflush(c);
      if (f == 0) break;
      if (f < 0 || !wait_socket(c, true, deadline)) return f < 0 ? lost(what) : timeout(what);
    }
    std::vector<std::vector<std::optional<std::string>>> rows;
    error failed;
    for (;;) {
      while (PQisBusy(c)) {
        if (!wait_socket(c, false, deadline)) return timeout(what);
        if (PQconsumeInput(c) != 1) return lost(what);
      }
      PGresult* r = PQgetResult(c);
      if (!r) break;
      auto st = PQresultStatus(r);
      if (st == PGRES_TUPLES_OK) {
        for (int i = 0; i < PQntuples(r); ++i) {
          std::vector<std::optional<std::string>> row;
          for (int j = 0; j < PQnfields(r); ++j)
            row.push_back(PQgetisnull(r, i, j) ? std::nullopt
                                               : std::optional<std::string>(PQgetvalue(r, i, j)));
          rows.push_back(std::move(row));
        }
      } else if (st != PGRES_COMMAND_OK && !failed) {
        const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        std::string code = state ? state : "";
        std::string msg = trim(PQresultErrorMessage(r));
        if (code == "42P01" || code == "3F000")
          failed = error{errc::no_data_dir,
                         where + " has no cluster tables (" + msg + ")",
                         "start one ark-host with --backend postgres on this schema first: it "
                         "creates them"};
        else
          failed = error{errc::backend_failure, what + " on " + where + ": " + msg};
      }
      PQclear(r);
    }
    if (failed) return failed;
    return rows;
  }

  error lost(const std::string& what) {
    std::string why = c ? trim(PQerrorMessage(c)) : "";
    close();
    return error{errc::backend_failure,
                 what + " on " + where + ": the connection was lost (" + why + ")",
                 "check that the server runs and is reachable from this host"};
  }
};

namespace {

const std::string member_columns =
    "host, generation, cluster, address, status, (status = 'active' AND lease_expiry > "
    "clock_timestamp())::int, (extract(epoch FROM lease_expiry - clock_timestamp()) * "
    "1000)::bigint, (extract(epoch FROM joined) * 1000)::bigint, coalesce(pid, 0), actors, "
    "messages";

std::vector<member_row> to_members(
    const std::vector<std::vector<std::optional<std::string>>>& rows) {
  std::vector<member_row> out;
  auto num = [](const std::optional<std::string>& v) -> std::int64_t {
    return v ? std::stoll(*v) : 0;
  };
  for (const auto& r : rows) {
    member_row m;
    m.host = r[0].value_or("");
    m.generation = num(r[1]);
    m.cluster = r[2].value_or("");
    m.address = r[3].value_or("");
    m.status = r[4].value_or("");
    m.live = num(r[5]) != 0;
    m.lease_ms = num(r[6]);
    m.joined_ms = num(r[7]);
    m.pid = num(r[8]);
    m.actors = num(r[9]);
    m.messages = num(r[10]);
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace

pg_membership::pg_membership(options o) : opts_(std::move(o)), conn_(std::make_unique<conn>()) {}
pg_membership::~pg_membership() = default;

expected<std::unique_ptr<pg_membership>> pg_membership::join(const options& opts) {
  if (opts.cluster.empty() || opts.host.empty() || opts.address.empty())
    return error{errc::invalid_argument,
                 "a cluster member needs a cluster name, a host id and an advertised address"};
  if (opts.lease_ttl < std::chrono::milliseconds(100))
    return error{errc::invalid_argument, "the cluster lease must be at least 100 ms"};
  if (!pg_text::valid_schema_name(opts.schema)) return bad_schema(opts.schema);
  auto server = describe_conninfo(opts.conninfo);
  if (!server) return server.error();
  std::unique_ptr<pg_membership> m(new pg_membership(opts));
  m->conn_->conninfo = opts.conninfo;
  m->conn_->where = "PostgreSQL " + *server + " schema " + opts.schema;
  auto start = clock_type::now();
  auto deadline = start + opts.call_timeout;
  // One schema, one cluster name: a host started with another name is
  // pointed at the wrong schema or misconfigured.
  auto other = m->conn_->query(
      with_schema("SELECT cluster FROM {s}.members WHERE cluster <> $1 LIMIT 1", opts.schema),
      {opts.cluster}, "read the cluster's name", deadline);
  if (!other) return other.error();
  if (!other->empty())
    return error{errc::invalid_argument,
                 m->conn_->where + " belongs to cluster '" + (*other)[0][0].value_or("") +
                     "', not '" + opts.cluster + "'",
                 "use the same --cluster name on every host of a schema, or give this cluster "
                 "its own schema (--pg-schema)"};
  auto ttl = std::to_string(opts.lease_ttl.count());
  auto r = m->conn_->query(
      with_schema(
          "INSERT INTO {s}.members AS m (host, generation, cluster, address, status, "
          "lease_expiry, joined, pid) VALUES ($1, 1, $2, $3, 'active', clock_timestamp() + $4 * "
          "interval '1 millisecond', clock_timestamp(), $5) ON CONFLICT (host) DO UPDATE SET "
          "generation = m.generation + 1, cluster = excluded.cluster, address = "
          "excluded.address, status = 'active', lease_expiry = excluded.lease_expiry, joined = "
          "excluded.joined, pid = excluded.pid, actors = 0, messages = 0 WHERE m.status <> "
          "'active' OR m.lease_expiry <= clock_timestamp() RETURNING generation",
          opts.schema),
      {opts.host, opts.cluster, opts.address, ttl, std::to_string(::getpid())}, "join the cluster",
      deadline);
  if (!r) return r.error();
  if (r->empty()) {
    auto live = m->members();
    std::string who = "another process";
    if (live)
      for (const auto& row : *live)
        if (row.host == opts.host)
          who = "the host at " + row.address + " (pid " + std::to_string(row.pid) +
                ", lease for another " + std::to_string(row.lease_ms) + " ms)";
    return error{errc::locked,
                 "host id '" + opts.host + "' is a live member of cluster '" + opts.cluster +
                     "' in " + m->conn_->where + ": " + who,
                 "give this host another id (--host-id), or stop the other one and wait for its "
                 "lease to expire"};
  }
  m->generation_ = std::stoll(*(*r)[0][0]);
  m->deadline_ = start + opts.lease_ttl;
  return m;
}

expected<void> pg_membership::renew(std::int64_t actors, std::int64_t messages) {
  auto start = clock_type::now();
  auto r = conn_->query(
      with_schema("UPDATE {s}.members SET lease_expiry = clock_timestamp() + $3 * interval '1 "
                  "millisecond', actors = $4, messages = $5 WHERE host = $1 AND generation = $2 "
                  "AND status = 'active' AND lease_expiry > clock_timestamp() RETURNING 1",
                  opts_.schema),
      {opts_.host, std::to_string(generation_), std::to_string(opts_.lease_ttl.count()),
       std::to_string(actors), std::to_string(messages)},
      "renew the cluster lease", start + opts_.call_timeout);
  if (!r) return r.error();
  if (r->empty())
    return error{errc::lease_lost, "the lease of host '" + opts_.host + "' generation " +
                                       std::to_string(generation_) + " in cluster '" +
                                       opts_.cluster + "' expired before it was renewed"};
  deadline_ = start + opts_.lease_ttl;
  return {};
}

expected<void> pg_membership::leave() {
  auto r = conn_->query(
      with_schema("UPDATE {s}.members SET status = 'left', lease_expiry = clock_timestamp() "
                  "WHERE host = $1 AND generation = $2",
                  opts_.schema),
      {opts_.host, std::to_string(generation_)}, "leave the cluster",
      clock_type::now() + opts_.call_timeout);
  if (!r) return r.error();
  deadline_ = clock_type::now();
  return {};
}

expected<std::vector<member_row>> pg_membership::members() {
  auto r = conn_->query(
      with_schema("SELECT " + member_columns + " FROM {s}.members ORDER BY host", opts_.schema),
      {}, "read the cluster's members", clock_type::now() + opts_.call_timeout);
  if (!r) return r.error();
  return to_members(*r);
}

expected<std::vector<member_row>> read_members(const std::string& conninfo,
                                               const std::string& schema,
                                               std::chrono::milliseconds timeout) {
  if (!pg_text::valid_schema_name(schema)) return bad_schema(schema);
  auto server = describe_conninfo(conninfo);
  if (!server) return server.error();
  pg_membership::conn c;
  c.conninfo = conninfo;
  c.where = "PostgreSQL " + *server + " schema " + schema;
  auto deadline = clock_type::now() + timeout;
  auto exists = c.query("SELECT to_regclass($1) IS NOT NULL", {schema + ".members"},
                        "look for the members table", deadline);
  if (!exists) return exists.error();
  if (exists->empty() || (*exists)[0][0].value_or("f") != "t") return std::vector<member_row>{};
  auto r = c.query(with_schema("SELECT " + member_columns + " FROM {s}.members ORDER BY host",
                               schema),
                   {}, "read the cluster's members", deadline);
  if (!r) return r.error();
  return to_members(*r);
}

}  // namespace ark::kv
