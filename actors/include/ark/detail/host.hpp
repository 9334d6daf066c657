#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <typeinfo>
#include <vector>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/message.hpp>
#include <caf/message_id.hpp>

#include "ark/clock.hpp"
#include "ark/detail/interface_cache.hpp"
#include "ark/detail/journal.hpp"
#include "ark/detail/subscribers.hpp"
#include "ark/expected.hpp"
#include "ark/kv/backend.hpp"
#include "ark/kv/key.hpp"
#include "ark/stored_format.hpp"

namespace ark::detail {

class type_stats;

// The identity and the state space are stored formats (ark/stored_format.hpp).
using stored::identity;
using stored::make_identity;
using stored::state_space;

/// An output of a message that any thread may release: a reply, a one-way
/// message, or a request whose response handler the actor already installed.
/// The writer releases the outputs of a unit right after the unit is durable,
/// so a gated reply costs no extra message to the actor
/// (doc/architecture.md, "Output gate").
struct detached_output {
  enum class kind : std::uint8_t { reply, send, request };
  kind what = kind::send;
  caf::strong_actor_ptr dest;
  caf::strong_actor_ptr sender;
  caf::message_id mid;
  std::vector<caf::strong_actor_ptr> stages;  ///< CAF forwarding stack (replies)
  caf::message content;
  /// A handler's reply: release() records its commit wait (now - ready_ns)
  /// under handler `handler` of `stats`, make_failure its error. Null: none.
  type_stats* stats = nullptr;
  std::size_t handler = 0;
  std::int64_t ready_ns = 0;

  /// A one-way message (no sender, like caf::anon_send).
  static detached_output send(caf::strong_actor_ptr dest, caf::message content);
  /// Request `req_id` from `self` to `dest`; its response handler is already
  /// installed on `self`.
  static detached_output request(caf::strong_actor_ptr dest, caf::strong_actor_ptr self,
                                 caf::message_id req_id, caf::message content);

  /// True when there is nothing to deliver (an anonymous request's reply).
  bool empty() const { return !dest && what != kind::request; }
  /// Enqueues the output into its receiver's mailbox. Thread-safe.
  void release();
  /// Turns the output into its failure form when the message that made it was
  /// rolled back (its handler or its commit failed with `e`): a reply carries
  /// `e`, a request (never sent) becomes errc::rolled_back naming `e` as the
  /// response to its sender (whose error handler runs), a send becomes empty
  /// (dropped).
  void make_failure(const caf::error& e);
  /// make_failure(e), then release(). Thread-safe.
  void fail(const caf::error& e) {
    make_failure(e);
    release();
  }
};

/// What an activation shares with the host's writer. `durable` is written by
/// the writer only after the outputs of the units up to it were released, so
/// an actor that reads durable >= its last submitted unit may reply at once
/// without overtaking a gated output. The rest is bookkeeping of the host's
/// writer thread (never read by the actor).
struct commit_channel {
  std::atomic<std::uint64_t> durable{0};
  /// Wall-clock time (ms since the epoch) of the commit that last settled
  /// one of the actor's units; 0 before the first (the dashboard shows it).
  std::atomic<std::int64_t> last_commit_ms{0};
  std::string state_key;  ///< identity::encoded, set at activation
  // -- host writer thread only --
  /// The actor's entry in the state journal's index (snapshot_journal::
  /// publish).
  snapshot_journal::slot journal_slot;
  std::uint64_t last_in_batch = 0;
  std::uint64_t last_snapshot_in_batch = 0;
  std::uint64_t failed_epoch = 0;
  bool notify_in_batch = false;
  bool failed = false;
};

/// The durable effects of one or more messages of one actor, and the outputs
/// that wait for them: what the writer commits atomically. A unit may carry
/// outputs only (no writes): it keeps them in line behind earlier units.
/// Never change the meaning of a field without the writer and
/// doc/architecture.md.
struct commit_unit {
  caf::actor target;                    ///< the actor; keeps `channel` alive
  commit_channel* channel = nullptr;    ///< owned by the activation
  std::uint64_t seq = 0;                ///< per activation, increasing
  std::uint64_t epoch = 0;              ///< bumped by the actor after a failed commit
  /// The claim epoch of the activation on a shared backend (host::
  /// claim_snapshot): the writer fences the unit's writes with it. 0: none.
  std::uint64_t fence_epoch = 0;
  std::optional<std::string> snapshot;  ///< the stored snapshot value, if the state changed
  kv::space_writes kv;                  ///< the actor's KV writes (ops may be empty)
  /// Writes to the runtime's own spaces that belong to this unit (an actor's
  /// alarms and their due index), committed in the same transaction.
  std::vector<kv::space_writes> extra;
  /// The earliest due time (ms since the epoch) of an alarm this unit
  /// schedules; the writer tells the alarm dispatcher once it is durable.
  std::int64_t earliest_alarm = INT64_MAX;
  std::vector<detached_output> outputs; ///< released once durable, failed otherwise
  bool notify = false;                  ///< tell the actor when durable (failures always)

  bool has_writes() const {
    if (snapshot.has_value() || !kv.ops.empty()) return true;
    for (const auto& e : extra)
      if (!e.ops.empty()) return true;
    return false;
  }
};

/// An actor's memory-only part (ark::actor's Memory) while the actor is not
/// active: the object and its type, checked when an activation takes it back.
struct stashed_memory {
  std::shared_ptr<void> object;
  const std::type_info* type = nullptr;
  explicit operator bool() const { return object != nullptr; }
};

/// How a lookup treats an actor that does (not) exist yet. An actor exists
/// when it has a stored snapshot or an activation (even one whose creation is
/// not yet durable).
enum class lookup_mode : std::uint8_t {
  get_or_create,  ///< activate it, creating it when it does not exist
  get,            ///< activate it only when it exists (else not_found)
  create,         ///< create it only when it does not exist (else already_exists)
};

/// What an actor needs from the process that hosts it. ark_runtime implements
/// it over the group-commit writer; a test kit may implement it in memory.
class host {
 public:
  virtual ~host() = default;

  /// The storage holding snapshots and KV spaces.
  virtual std::shared_ptr<kv::backend> storage() = 0;

  /// Where that storage lives (the data directory), for messages that tell
  /// the user what to run; empty when it has no path (an in-memory host).
  virtual std::string storage_location() const { return {}; }

  /// The latest durable snapshot of the actor whose identity::encoded is
  /// `state_key` (the state journal's or the state space's), or not_found.
  virtual expected<std::string> load_snapshot(const std::string& state_key) = 0;

  /// load_snapshot for an activation that will write: on a shared backend
  /// (kv::backend::shared) it claims the actor (kv::backend::claim) and sets
  /// `epoch` to the claim's epoch, which fences the activation's units
  /// (commit_unit::fence_epoch); elsewhere `epoch` is 0. A failed claim
  /// fails like a failed read.
  virtual expected<std::string> claim_snapshot(const std::string& state_key,
                                               std::uint64_t& epoch) {
    epoch = 0;
    return load_snapshot(state_key);
  }

  /// Hands a unit to the writer. Once it is durable the writer releases its
  /// outputs, then stores its seq in channel->durable, then (if unit.notify)
  /// sends {commit_atom, seq, epoch, caf::error{}} to unit.target. If it
  /// fails, the writer sends {commit_atom, seq, epoch, error} (once per
  /// failed epoch), fails its outputs and refuses later units of that epoch.
  virtual void submit(commit_unit unit) = 0;

  /// Called by an idle actor: removes `self` from the directory when nobody
  /// outside the host holds a handle to it (or always, with `force`).
  /// `own_refs`: strong references the actor knows it holds on itself (a
  /// pending timer). True: the entry is gone and the actor must quit now.
  virtual bool try_passivate(const identity& id, caf::actor_control_block* self, bool force,
                             std::size_t own_refs = 0) = 0;

  /// Called for every message an actor starts handling (statistics).
  virtual void on_message() {}

  /// Called after an actor handled an idle check or an eviction request
  /// (passivated or not): lets a test wait for a sweep to settle.
  virtual void idle_checked() {}

  /// Called when an idle actor could not leave because handles to it live
  /// outside the host, and dropped its state instead (soft passivation).
  /// A reference may be a moment's (CAF's scheduler drops its own after the
  /// actor's turn): ark::testing::world sweeps again when this happened.
  virtual void soft_passivated() {}

  /// Called once when an activation terminates (quit, passivation, failure).
  virtual void on_actor_gone(const identity& id, caf::actor_id aid) = 0;

  /// The clock idle timeouts and alarms read (a virtual one in ark::testing).
  virtual const ark::clock& time() const { return *ark::system_clock(); }

  /// Reports a problem no caller can see (an alarm dropped after its last
  /// retry). Default: stderr.
  virtual void log(const std::string& line);

  /// Idle time after which an actor is passivated. The host sends every
  /// active actor an idle_atom from time to time (actors keep no timers: a
  /// pending CAF timer would hold the actor, and its memory, until it fires).
  virtual std::chrono::milliseconds idle_timeout() const = 0;

  /// Keeps an actor's memory-only part for its next activation in this
  /// process (see ark::actor's Memory). Called before the actor leaves the
  /// directory, so an activation that follows finds it. A host may drop it:
  /// at shutdown, over its limit, or always (this default). Thread-safe.
  virtual void stash_memory(const std::string& /*state_key*/, stashed_memory /*m*/) {}

  /// The memory stashed for the actor whose identity::encoded is
  /// `state_key`, removed from the stash; empty when there is none.
  /// Thread-safe.
  virtual stashed_memory take_memory(const std::string& /*state_key*/) { return {}; }

  /// The handle of actor (type, key), activating it if needed; `iface` is the
  /// caller's interface (caf message types), checked against the type's.
  virtual expected<caf::actor> get_or_create(std::string_view type, const ark::key& key,
                                             caf::message init,
                                             const std::set<std::string>& iface) = 0;

  /// As get_or_create, by `mode` (lookup_mode): get activates an existing
  /// actor only (not_found otherwise, activating nothing); create makes a new
  /// one only (already_exists when it is stored or active). Atomic against
  /// every other lookup of the same identity.
  virtual expected<caf::actor> lookup(std::string_view type, const ark::key& key, caf::message init,
                                      const std::set<std::string>& iface, lookup_mode mode) {
    if (mode == lookup_mode::get_or_create) return get_or_create(type, key, std::move(init), iface);
    return error{errc::invalid_argument, "this host offers get_or_create only"};
  }

  /// The callers' interfaces (the `iface` of lookups from this host's
  /// actors), built once per interface.
  virtual interface_cache& caller_interfaces() { return interfaces_; }

  // -- subscriptions (doc/subscriptions.md) -------------------------------------

  /// The subscribers of actor `publisher`, or null when it has none. An
  /// activation takes it when it is constructed; the list outlives it.
  virtual std::shared_ptr<subscriber_list> subscribers(const identity& publisher) {
    (void)publisher;
    return nullptr;
  }

  /// Adds `who` to the subscribers of `publisher` (or changes its mode) and
  /// returns the list the publisher uses from now on. Called by the
  /// publisher's activation. Errors: invalid_argument when the actor has the
  /// most subscribers the host allows.
  virtual expected<std::shared_ptr<subscriber_list>> subscribe(const identity& publisher,
                                                               subscriber who) {
    (void)who;
    return error{errc::invalid_argument,
                 "the host of " + publisher.type + " does not support subscriptions"};
  }

  /// Removes `who` from the subscribers of `publisher`; false when it was not
  /// one.
  virtual bool unsubscribe(const identity& publisher, const subscriber& who) {
    (void)publisher;
    (void)who;
    return false;
  }

 private:
  interface_cache interfaces_;
};

}  // namespace ark::detail
