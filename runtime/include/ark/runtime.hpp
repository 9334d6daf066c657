#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/typed_actor.hpp>

#include "ark/clock.hpp"
#include "ark/detail/handler_stats.hpp"
#include "ark/detail/interface_cache.hpp"
#include "ark/errors.hpp"
#include "ark/expected.hpp"
#include "ark/inspect.hpp"
#include "ark/kv/key.hpp"
#include "ark/kv/lmdb_backend.hpp"
#include "ark/kv/open.hpp"

namespace ark {

namespace detail {
struct runtime_access;
}

/// A runtime's membership in a cluster of hosts sharing one PostgreSQL
/// schema (doc/cluster.md). Empty `name`: not in a cluster.
struct cluster_options {
  /// The cluster's name; every host of a schema uses the same one.
  std::string name;
  /// This host's id, unique among the live members (default: `advertise`).
  std::string host_id;
  /// Where other hosts reach this host's middleman port: "host:port".
  std::string advertise;
  /// How long a lease lasts (by the database's clock); a host that could
  /// not renew it within this time stops serving, and other hosts may take
  /// its actors over once it expired.
  std::chrono::milliseconds lease_ttl{std::chrono::seconds(5)};
  /// How often the lease is renewed.
  std::chrono::milliseconds renew_interval{std::chrono::seconds(1)};
  /// The access token other hosts' directories require (the cluster's hosts
  /// share one), and the TLS files for connections to them.
  std::string token;
  std::string tls_cert, tls_key, tls_ca;
  /// How long a lookup forwarded to another host may take.
  std::chrono::milliseconds forward_timeout{std::chrono::seconds(10)};
  bool enabled() const { return !name.empty(); }
};

/// Options of a runtime (ark-host's flags map onto these).
struct runtime_options {
  /// The data directory; created when missing. Unused with storage.kind
  /// postgres (the runtime then reports the server and schema as its
  /// data_dir()).
  std::string data_dir = "./ark-data";
  /// How `data_dir` is opened (kv::open_options, doc/backends.md):
  ///   storage.kind: the engine. Unset: an existing directory opens with the
  ///     engine it holds, a new one with LMDB. Set: a new directory is
  ///     created with it, and an existing one of the other engine is refused
  ///     (invalid_argument naming both).
  ///   storage.mode: sync (default): a reply leaves after an fsync'd commit.
  ///     relaxed: after a commit whose meta page is not fsync'd (a crash may
  ///     undo the last commit). none: no fsync (the OS writes back; a crash
  ///     may lose recent commits); the writer syncs every
  ///     `none_sync_interval`.
  ///   storage.pg_conninfo / pg_schema: with kind postgres, the server and
  ///     schema (doc/backends.md, "PostgreSQL").
  ///   storage.initial_map_size / max_map_size: LMDB's initial map and the
  ///     ceiling it doubles up to on MDB_MAP_FULL (a commit that hits a full
  ///     map grows it and succeeds; beyond the ceiling it fails with
  ///     map_full).
  /// storage.read_only and storage.create_if_missing are ignored: a runtime
  /// writes, and creates a missing directory.
  kv::open_options storage;
  /// Idle time after which an actor is passivated (0: never).
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(5)};
  std::chrono::milliseconds none_sync_interval{std::chrono::seconds(1)};
  /// Activation cap (0: none; ark-host's --max-active binds here). Above it, each new activation asks the
  /// oldest activations to passivate (they do once their commits are
  /// durable; an actor someone outside the host holds a handle to drops its
  /// state from memory instead), so memory is bounded by the cap, not by the
  /// number of actors ever touched.
  std::size_t max_active = 100000;
  /// How many passive actors' memory-only parts (ark::actor's Memory) the
  /// host keeps for their next activation. Beyond it the part stashed
  /// longest ago is dropped (that actor's memory() starts anew); 0 keeps
  /// none. Everything stashed is dropped at shutdown.
  std::size_t memory_stash_limit = 100000;
  /// Most subscribers one actor may have (doc/subscriptions.md); beyond it a
  /// subscribe request gets invalid_argument.
  std::size_t max_subscribers = 10000;
  /// State journal (doc/architecture.md): snapshots up to 1 KiB are appended
  /// to a journal, and written in place by a checkpoint once this many bytes
  /// of journal accumulated (or when the writer is idle for a second).
  /// 0: no journal, every snapshot is written in place by its commit.
  std::size_t checkpoint_bytes = 16u << 20;
  /// Where the runtime reports problems no caller can see (a failed commit,
  /// a failed periodic sync). Default: stderr.
  std::function<void(const std::string&)> log;
  /// Called once when the storage engine stops after a failed write
  /// (errc::storage_failed: LMDB refuses every later transaction). From then
  /// on every commit fails with that error and the callers of the messages
  /// are told; nothing acknowledged is lost. The process should stop and be
  /// restarted (ark-host does: exit status 3). Called on the committing
  /// thread: do not block in it.
  std::function<void(const error&)> on_storage_failure;
  /// Storage to use instead of opening `data_dir` (which then only names it
  /// in messages): ark::testing runs a runtime over a memory backend. Not
  /// locked, not synced: the caller owns it.
  std::shared_ptr<kv::backend> backend;
  /// The clock idle timeouts and alarms read (default: the system's). With a
  /// virtual clock the runtime runs no timers: call sweep_idle() and
  /// run_due_alarms() after moving it (ark::testing::world does).
  std::shared_ptr<ark::clock> clock;
  /// An alarm delivery not answered within this time is sent again.
  std::chrono::milliseconds alarm_ack_timeout{std::chrono::minutes(1)};
  /// Membership in a cluster (needs storage.kind postgres); off by default.
  cluster_options cluster;
  /// Per-handler statistics (runtime_stats::handlers, the admin API's
  /// handler table): calls, errors by code, handler time and commit wait of
  /// every handler of every actor type. On by default; its cost is measured
  /// in bench/RESULTS.md ("Per-handler statistics").
  bool handler_stats = true;
};

/// What one handler of one actor type did since the host started.
using handler_figures = detail::handler_figures;

/// Counters of a running runtime.
struct runtime_stats {
  std::uint64_t active_actors = 0;  ///< activations alive now
  std::uint64_t commits = 0;        ///< write transactions committed
  std::uint64_t units = 0;          ///< units (message effects) committed
  std::uint64_t failed_units = 0;   ///< units whose commit failed
  std::uint64_t snapshots_written = 0;
  std::uint64_t commit_us = 0;      ///< time spent in write transactions (sum)
  std::uint64_t checkpoints = 0;    ///< state journal checkpoints
  std::uint64_t messages = 0;       ///< messages actors started handling
  std::uint64_t subscriptions = 0;  ///< subscribers, summed over all actors
  /// Commit latency histogram: commit_latency[i] counts write transactions
  /// that took [2^i, 2^(i+1)) microseconds.
  std::vector<std::uint64_t> commit_latency;
  std::uint64_t map_size = 0;       ///< the LMDB map's current size in bytes
  std::uint64_t data_bytes = 0;     ///< bytes of the data directory's files
  std::uint64_t alarms_in_flight = 0;  ///< alarm deliveries sent, not yet answered
  std::uint64_t alarms_answered = 0;   ///< alarm deliveries answered (ok or failed)
  /// Per handler of every actor type activated so far, by type name then
  /// interface order (empty with runtime_options::handler_stats off).
  std::vector<handler_figures> handlers;
  /// Activations alive now, per actor type activated so far.
  std::map<std::string, std::int64_t> active_by_type;
};

/// Hosts persistent actors in one process over one data directory: the
/// actor directory (at most one activation per identity), the group-commit
/// writer and the output gate's notifications. Thread-safe.
///
/// The runtime must outlive every actor it activated: call shutdown() (or
/// destroy it) before the actor_system goes away.
class runtime {
 public:
  /// Opens `opts.data_dir` (taking its writer lock) and starts the writer.
  /// Errors: locked (another host uses the directory), no_data_dir, io_error,
  /// format_version, each naming the directory and the remedy.
  static expected<std::shared_ptr<runtime>> open(caf::actor_system& sys, runtime_options opts);

  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  /// The typed handle of actor (type, key), activating it if needed: its
  /// snapshot is loaded, or, for a new actor, on_initialize(init...) runs
  /// and its result is persisted before the first reply. `init` is ignored
  /// for an actor that exists. Errors: unknown_actor_type, wrong_interface
  /// (Interface is not the registered type's), invalid_key, key_too_large,
  /// shutting_down.
  template <class Interface, class... Ts>
  expected<Interface> get_or_create(std::string_view type, const ark::key& k, Ts&&... init) {
    auto h = get_or_create_actor(type, k, caf::make_message(std::forward<Ts>(init)...),
                                 caller_interfaces().template get<Interface>(system()));
    if (!h) return h.error();
    return caf::actor_cast<Interface>(std::move(*h));
  }

  /// The typed handle of actor (type, key) if it exists, activating it: a
  /// stored actor (its snapshot, in the state journal or the state space; for
  /// a memory-only type, in the host's memory) or an active one (even one
  /// whose creation is not yet durable). Cheap when it does not exist: one
  /// read, nothing activated, nothing written. Errors: not_found naming the
  /// actor; unknown_actor_type, wrong_interface, invalid_key, key_too_large,
  /// shutting_down as get_or_create.
  template <class Interface>
  expected<Interface> get(std::string_view type, const ark::key& k) {
    auto h = get_actor(type, k, caller_interfaces().template get<Interface>(system()));
    if (!h) return h.error();
    return caf::actor_cast<Interface>(std::move(*h));
  }

  /// Creates actor (type, key): on_initialize(init...) runs and its result is
  /// persisted before the first reply, as get_or_create does for a new actor.
  /// Atomic against concurrent lookups of the same identity: of two creates,
  /// one gets the handle and the other already_exists. Errors:
  /// already_exists (stored or active, even not yet durable) naming the actor;
  /// the errors of get_or_create.
  template <class Interface, class... Ts>
  expected<Interface> create(std::string_view type, const ark::key& k, Ts&&... init) {
    auto h = create_actor(type, k, caf::make_message(std::forward<Ts>(init)...),
                          caller_interfaces().template get<Interface>(system()));
    if (!h) return h.error();
    return caf::actor_cast<Interface>(std::move(*h));
  }

  /// The untyped forms: `iface` is the caller's interface (caf message types);
  /// empty skips the check.
  expected<caf::actor> get_or_create_actor(std::string_view type, const ark::key& k,
                                           caf::message init, const std::set<std::string>& iface);
  expected<caf::actor> get_actor(std::string_view type, const ark::key& k,
                                 const std::set<std::string>& iface);
  expected<caf::actor> create_actor(std::string_view type, const ark::key& k, caf::message init,
                                    const std::set<std::string>& iface);

  /// Stops accepting work, lets every actor finish the commits in flight and
  /// release their replies, commits the rest and stops the writer. Waits at
  /// most `timeout` for actors to finish. Idempotent. Returns false when some
  /// actors were still busy at the timeout (they are named in the log): the
  /// data directory is closed anyway, and their unfinished messages were
  /// never acknowledged, but those actors still exist, so a process should
  /// then exit without tearing its actor system down.
  bool shutdown(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  runtime_stats stats() const;

  /// A reader over this host's data (its backend and live state journal, and
  /// the memory backend's alarms), for the admin API and tools in the same
  /// process (ark/inspect.hpp).
  inspect::reader inspector() const;

  /// The data directory this runtime serves (on PostgreSQL: "PostgreSQL
  /// host=... port=... dbname=... schema ...").
  const std::string& data_dir() const;

  /// How many subscribers actor (type, k) has now (0 for a bad identity).
  std::size_t subscriber_count(std::string_view type, const ark::key& k) const;

  /// The activation of `encoded` (an identity), if it is active now.
  std::optional<caf::actor> active_actor(const std::string& encoded) const;
  caf::actor_system& system() const;
  const runtime_options& options() const;
  /// The durable storage (LMDB unless options().backend says otherwise).
  std::shared_ptr<kv::backend> storage() const;

  /// Sends every active actor an idle check now (a virtual clock's owner
  /// calls it after moving time; with a real clock a thread does it);
  /// returns how many it sent.
  std::size_t sweep_idle();
  /// Asks actor `encoded` (an identity) to passivate now, as an idle one
  /// would; false when it is not active.
  bool passivate(const std::string& encoded);
  /// Idle checks and passivation requests actors have handled so far.
  std::uint64_t idle_checks() const;
  /// The earliest due time (ms since the epoch) of any stored alarm.
  std::optional<std::int64_t> next_alarm_ms() const;
  /// Delivers the alarms due now (by the runtime's clock); returns how many
  /// it sent. With a real clock a thread does this by itself.
  std::size_t run_due_alarms();
  /// The handles of every active actor (for tests and tools).
  std::vector<caf::actor> active_actors() const;

  struct impl;

 private:
  // The callers' interfaces of typed lookups, built once each.
  detail::interface_cache& caller_interfaces();
  friend struct detail::runtime_access;  // ark::testing's hooks (runtime/src)
  explicit runtime(std::shared_ptr<impl> p);
  std::shared_ptr<impl> impl_;
};

/// CAF scheduler settings for a process that hosts ark actors: idle workers
/// sleep instead of spinning (work-stealing aggressive and moderate polling
/// off), so the group-commit writer thread gets a core the moment a batch is
/// ready. On 2 cores this halves the latency of a lone durable request
/// against CAF's defaults (bench/RESULTS.md). ark-host applies it; call it
/// on your config before creating the actor_system when you embed a runtime.
void configure_host_scheduler(caf::actor_system_config& cfg);

/// Parses "sync" | "relaxed" | "none".
expected<kv::durability> parse_durability(std::string_view text);
/// "sync", "relaxed" or "none".
std::string_view to_string(kv::durability mode);

}  // namespace ark
