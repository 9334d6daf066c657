#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ark/kv/backend.hpp"
#include "ark/kv/durability.hpp"
#include "ark/kv/raw.hpp"

namespace ark::kv {

/// The holder of an owner's claim (pg_backend::claim_of).
struct claim_info {
  std::uint64_t epoch = 0;   ///< 0: never claimed
  std::string holder;        ///< the member's host id; empty: no member holds it
  std::int64_t generation = 0;
  std::string address;       ///< the holder's advertised address, if it is a member
};

struct pg_options {
  /// A libpq connection string: keyword/value ("host=/run/postgresql
  /// dbname=app") or URI ("postgresql://ark@db.internal/app"). The password
  /// comes from libpq's password file (PGPASSFILE, ~/.pgpass) or from a
  /// connection string read from a file; see doc/backends.md.
  std::string conninfo;
  /// The PostgreSQL schema holding ark's tables; one ark deployment per
  /// schema. Lowercase letters, digits and '_', starting with a letter.
  std::string schema = "ark";
  /// Reads only: no lock, no schema creation; writes fail with read_only.
  bool read_only = false;
  /// Create the schema and its tables when they are missing (ignored when
  /// read_only).
  bool create_if_missing = true;
  /// sync: every commit waits for the server's WAL flush
  /// (synchronous_commit=on); relaxed and none: synchronous_commit=off (the
  /// server flushes within wal_writer_delay; a server crash may lose the
  /// last commits, never half of one).
  durability mode = durability::sync;
  /// Writable opens hold a session advisory lock on the schema, so a second
  /// ark process on the same schema gets `locked` (as a second host on one
  /// data directory does). While the lock is held without a break no other
  /// process writes the schema, so commits skip the fence check. False:
  /// the lock is taken shared, so several such processes write one schema,
  /// each commit checking its fences (tests of fencing; the cluster), and
  /// none while an exclusive writer holds it.
  bool exclusive = true;
  /// At most this many connections to the server (one writer, the rest for
  /// reads, claims and open cursors).
  std::size_t max_connections = 16;
  /// How long an operation waits for a free connection before failing.
  std::chrono::milliseconds pool_wait{10000};
  /// Reconnection backoff after the server could not be reached: the first
  /// retry after `retry_min`, doubling up to `retry_max`. Meanwhile
  /// operations fail at once with backend_failure naming the server.
  std::chrono::milliseconds retry_min{100};
  std::chrono::milliseconds retry_max{5000};
  /// libpq's connect_timeout for each connection attempt, in seconds.
  int connect_timeout_s = 10;
};

/// The shared backend: ark's tables in one PostgreSQL schema (default `ark`):
/// `meta`, `spaces`, `kv` (the layout of the other backends, doc/
/// storage_format.md) plus `epochs` (an activation epoch per claimed owner,
/// for fencing). Keys and values are `bytea`, ordered bytewise like LMDB's
/// keys. doc/backends.md, "PostgreSQL".
///
/// A batch is one transaction sent in one round trip (libpq pipeline mode;
/// each kind of write is one statement over array parameters, whatever the
/// batch size). Fences are checked in the same transaction under a share
/// lock on the owners' epoch rows, so a concurrent claim waits for the
/// commit or the commit sees the claim. Reads and cursors use pooled
/// connections; a cursor reads pages by key within one REPEATABLE READ
/// transaction (one snapshot), never the whole range at once.
///
/// A lost connection is reopened on the next operation, with backoff while
/// the server stays unreachable; the operation that found it lost fails
/// (a commit whose outcome is unknown fails too: the caller reloads what is
/// stored). Thread-safe.
class pg_backend final : public backend {
 public:
  /// Connects and checks (or creates) the schema. Errors: invalid_argument
  /// (bad schema name, a connection string with a password when
  /// `refuse_password`), backend_failure (cannot connect: names the server
  /// and libpq's reason), locked (another process holds the schema),
  /// format_version, no_data_dir (read-only open of a schema ark never
  /// created).
  static expected<std::shared_ptr<pg_backend>> open(const pg_options& opts);

  ~pg_backend() override;

  std::string_view name() const override { return "postgres"; }
  expected<std::string> get(std::string_view space, std::string_view key) override;
  expected<std::vector<std::optional<std::string>>> get_batch(
      std::string_view space, const std::vector<std::string>& keys) override;
  expected<std::unique_ptr<backend_cursor>> scan(std::string_view space, const byte_range& range,
                                                 bool reverse) override;
  expected<std::uint64_t> apply(const backend_batch& batch) override;
  expected<std::vector<std::string>> spaces(std::string_view after, std::size_t limit) override;
  /// Waits until every commit made so far is flushed by the server (what
  /// relaxed and none leave to the server's WAL writer).
  expected<void> sync() override;

  bool shared() const override { return true; }
  expected<claim_result> claim(std::string_view space, std::string_view key) override;
  expected<apply_result> apply_fenced(const backend_batch& batch) override;

  /// The server and schema, for messages: "PostgreSQL host=... port=...
  /// dbname=... schema ark" (never a password).
  const std::string& location() const;

  /// Calls `visit` for every row of `meta`, `spaces` and `kv` in the form
  /// the other backends' walk_raw report (raw_db), from one snapshot,
  /// streamed through a server-side cursor.
  expected<void> walk_raw(const raw_visitor& visit);

  /// The current epoch of `owner` (0 when it was never claimed).
  expected<std::uint64_t> epoch(std::string_view owner);

  /// Makes every later claim() a cluster member's (doc/cluster.md): the claim
  /// succeeds only when no other member generation holds the owner with a
  /// live lease in `members`, and records (host, generation) as the holder;
  /// otherwise claim_result::held_by names the holder and nothing changes.
  /// An empty `host` goes back to plain claims.
  void set_claim_holder(std::string host, std::int64_t generation);
  /// Releases every claim member (host, generation) holds (after it
  /// committed its last write: a drain), so others claim them at once
  /// instead of waiting for its lease to expire. Returns how many.
  expected<std::uint64_t> release_claims(const std::string& host, std::int64_t generation);
  /// Releases the claims of `owners` that member (host, generation) still
  /// holds at exactly `epochs` (an activation that passivated: a newer
  /// claim of the same owner is left alone). Returns how many.
  expected<std::uint64_t> release_claims(const std::vector<std::string>& owners,
                                         const std::vector<std::uint64_t>& epochs,
                                         const std::string& host, std::int64_t generation);
  /// Who holds `owner`'s claim (epoch 0: never claimed).
  expected<claim_info> claim_of(std::string_view owner);

  /// Bytes the schema's tables take on the server, with their indexes and
  /// TOAST data (pg_total_relation_size): what a data directory's file sizes
  /// are for the embedded engines.
  expected<std::uint64_t> stored_bytes() const;

  /// Round trips to the server so far (statistics and tests: a batch costs a
  /// constant number, whatever its size).
  std::uint64_t round_trips() const;

  struct impl;

 private:
  explicit pg_backend(std::shared_ptr<impl> p);
  std::shared_ptr<impl> impl_;
};

/// A description of the server `conninfo` names, without secrets:
/// "host=... port=... dbname=... user=...". invalid_argument when libpq
/// cannot parse it.
expected<std::string> describe_conninfo(const std::string& conninfo);

/// True when `conninfo` carries a password (ark-host refuses it on the command
/// line: use ~/.pgpass, PGPASSFILE or --pg-file).
bool conninfo_has_password(const std::string& conninfo);

}  // namespace ark::kv
