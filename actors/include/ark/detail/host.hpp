#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include <caf/actor.hpp>
#include <caf/message.hpp>

#include "ark/expected.hpp"
#include "ark/kv/backend.hpp"
#include "ark/kv/key.hpp"

namespace ark::detail {

/// An actor's identity: its type name and structured key. `encoded` is
/// encode_key({type, key}): the actor's KV space key and, in the state space,
/// the key of its snapshot (doc/state_format.md).
struct identity {
  std::string type;
  ark::key key;
  std::string encoded;
};

/// Builds an identity, or invalid_key / key_too_large naming the actor.
expected<identity> make_identity(std::string_view type, const ark::key& key);

/// The encoded space key under which snapshots live: [null, "state"]. No
/// actor's space can collide with it (a type name is a string, never null).
const std::string& state_space();

/// The durable effects of one or more messages of one actor: what the writer
/// commits atomically. Never change the meaning of a field without the
/// writer and doc/architecture.md.
struct commit_unit {
  caf::actor target;                    ///< notified once the unit is durable (or failed)
  std::uint64_t seq = 0;                ///< per activation, increasing
  std::uint64_t epoch = 0;              ///< bumped by the actor after a failed commit
  std::string state_key;                ///< identity::encoded
  std::optional<std::string> snapshot;  ///< the stored snapshot value, if the state changed
  kv::space_writes kv;                  ///< the actor's KV writes (ops may be empty)
};

/// What an actor needs from the process that hosts it. ark_runtime implements
/// it over the group-commit writer; a test kit may implement it in memory.
class host {
 public:
  virtual ~host() = default;

  /// The storage holding snapshots and KV spaces.
  virtual std::shared_ptr<kv::backend> storage() = 0;

  /// Hands a unit to the writer. When it is durable (or failed) the writer
  /// sends {commit_atom, seq, epoch, caf::error} to unit.target.
  virtual void submit(commit_unit unit) = 0;

  /// Called by an idle actor: removes `self` from the directory when nobody
  /// outside the host holds a handle to it (or always, with `force`).
  /// `own_refs`: strong references the actor knows it holds on itself (a
  /// pending timer). True: the entry is gone and the actor must quit now.
  virtual bool try_passivate(const identity& id, caf::actor_control_block* self, bool force,
                             std::size_t own_refs = 0) = 0;

  /// Called once when an activation terminates (quit, passivation, failure).
  virtual void on_actor_gone(const identity& id, caf::actor_id aid) = 0;

  /// Idle time after which an actor is passivated. The host sends every
  /// active actor an idle_atom from time to time (actors keep no timers: a
  /// pending CAF timer would hold the actor, and its memory, until it fires).
  virtual std::chrono::milliseconds idle_timeout() const = 0;

  /// The handle of actor (type, key), activating it if needed; `iface` is the
  /// caller's interface (caf message types), checked against the type's.
  virtual expected<caf::actor> get_or_create(std::string_view type, const ark::key& key,
                                             caf::message init,
                                             const std::set<std::string>& iface) = 0;
};

}  // namespace ark::detail
