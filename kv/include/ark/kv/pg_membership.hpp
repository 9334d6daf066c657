#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ark/error.hpp"
#include "ark/expected.hpp"

namespace ark::kv {

/// One row of a cluster's membership table (doc/cluster.md).
struct member_row {
  std::string host;         ///< the host id (unique in the schema)
  std::int64_t generation = 0;  ///< +1 each time the id joins again
  std::string cluster;      ///< the cluster's name
  std::string address;      ///< its middleman address, "host:port"
  std::string status;       ///< "active" or "left"
  bool live = false;        ///< active with a lease not expired (by the server's clock)
  std::int64_t lease_ms = 0;  ///< lease left (negative: expired that long ago)
  std::int64_t joined_ms = 0;  ///< when this generation joined, ms since the epoch
  std::int64_t pid = 0;
  std::int64_t actors = 0;    ///< activations, as of its last renewal
  std::int64_t messages = 0;  ///< messages handled by this generation, as of its last renewal
};

/// A host's membership in a cluster: its row in the `members` table of the
/// PostgreSQL schema its actors live in (pg_backend creates the table). Its
/// own connection, separate from the backend's, and every call bounded by a
/// deadline: a renewal never waits past the lease it is trying to keep.
///
/// The lease is computed with the server's clock (now() + ttl); the host's
/// own deadline is the steady-clock time when it sent the renewal that the
/// server accepted, plus the ttl. The server's expiry is at least that late,
/// so the host stops serving before any other member may take its actors
/// over (as long as the two clocks run at the same rate). Not thread-safe:
/// one thread (the runtime's cluster thread) uses it.
class pg_membership {
 public:
  struct options {
    std::string conninfo;
    std::string schema = "ark";
    std::string cluster;  ///< every member of a schema uses the same name
    std::string host;     ///< this host's id
    std::string address;  ///< its advertised middleman address
    std::chrono::milliseconds lease_ttl{5000};
    /// Each call (connecting included) gives up after this long.
    std::chrono::milliseconds call_timeout{2000};
  };

  /// Joins: a new generation of `host` (1, or one more than the last). Errors:
  /// locked (a live member already uses this host id: it names its address
  /// and lease), invalid_argument (the schema belongs to another cluster
  /// name, or an empty cluster/host/address), backend_failure (the server
  /// is unreachable, or did not answer within call_timeout), no_data_dir
  /// (the schema has no `members` table: open it writable with ark first).
  static expected<std::unique_ptr<pg_membership>> join(const options& opts);
  ~pg_membership();

  /// Extends the lease to ttl from now (the server's clock) and records the
  /// host's counters. Errors: lease_lost (the lease had expired, or another
  /// process took the host id: this generation is over, join again),
  /// backend_failure (no answer in time: the lease runs on; try again).
  expected<void> renew(std::int64_t actors, std::int64_t messages);
  /// Marks this generation as left (its lease ends now).
  expected<void> leave();
  /// Every member row, live or not, by host id.
  expected<std::vector<member_row>> members();

  std::int64_t generation() const { return generation_; }
  const options& opts() const { return opts_; }
  /// The steady-clock time until which this host may serve: the send time
  /// of the last accepted join or renewal plus the lease ttl.
  std::chrono::steady_clock::time_point deadline() const { return deadline_; }

  struct conn;

 private:
  explicit pg_membership(options o);
  options opts_;
  std::int64_t generation_ = 0;
  std::chrono::steady_clock::time_point deadline_{};
  std::unique_ptr<conn> conn_;
};

/// Every member row of schema `schema` (for tools that are not members:
/// ark-dash, the admin API of a host outside a cluster). Empty when the
/// schema has no members table.
expected<std::vector<member_row>> read_members(const std::string& conninfo,
                                               const std::string& schema,
                                               std::chrono::milliseconds timeout);

}  // namespace ark::kv
