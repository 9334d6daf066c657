#pragma once

// Subscriptions: an actor's subscribers receive its state after every durable
// commit that changed it, and the events it publishes (doc/subscriptions.md).
//
//   // a process holding a handle (a client of ark-host, or the host itself)
//   auto sub = ark::subscribe(sys, counter_handle, ark::subscription_mode::state,
//                             {[](const ark::state_changed& c) {
//                                auto s = ark::decode_state<counter_state>(c);
//                                if (s) std::cout << c.seq << ": " << s->value << "\n";
//                              }});
//   // ... until `sub` is destroyed (or the publisher's host goes away)
//
// Inside an ark actor, subscribe_to(handle) and publish(name, value) (see
// ark/actor.hpp); its interface takes the notifications by extending
// ark::subscriber_if.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "ark/errors.hpp"
#include "ark/expected.hpp"
#include "ark/kv/value.hpp"

namespace ark {

/// {subscribe_atom, caf::actor subscriber, subscription_mode} subscribes a CAF
/// actor (monitored: it is removed when it dies);
/// {subscribe_atom, std::string type, std::string encoded_key,
/// subscription_mode} subscribes an ark actor of the publisher's host by
/// identity (it is activated to receive a notification, so it may passivate).
/// The reply is a state_changed with the publisher's current state.
using subscribe_atom = caf::atom_constant<caf::atom("arksub")>;
/// {unsubscribe_atom, caf::actor} or {unsubscribe_atom, type, encoded_key}:
/// removes the subscriber; the reply is true when it was subscribed.
using unsubscribe_atom = caf::atom_constant<caf::atom("arkunsub")>;

/// What a subscriber receives. Every mode receives the publisher's events.
/// Wire values: never renumber.
enum class subscription_mode : std::uint8_t {
  state = 0,   ///< state_changed carries the state as msgpack (decode_state<State>)
  view = 1,    ///< state_changed carries inspect_state() as JSON text (decode_view)
  events = 2,  ///< no state_changed notifications, only events
  /// state_changed carries a change record as JSON text (decode_view): one
  /// per durable unit of the publisher, whatever it changed: the message's
  /// handler and duration, the state before and after, the KV keys written
  /// and deleted, the events published and the alarms set, cancelled or
  /// fired (doc/subscriptions.md, "Change records"; the dashboard's live
  /// tail).
  changes = 3,
};

/// "state", "view", "events" or "changes".
std::string to_string(subscription_mode mode);

// The notification types live in their own namespace for CAF's inspect()
// (found by argument-dependent lookup): ark::inspect is a namespace.
namespace notification {

/// The publisher's state after a durable commit that changed it (and, as the
/// reply to a subscribe request, its current state).
struct state_changed {
  std::string type;  ///< the publisher's actor type
  std::string key;   ///< its key as JSON text, e.g. ["lobby"]
  /// Counts the publisher's state notifications while it has subscribers in
  /// this host: the reply to a subscribe carries the current count, each later
  /// notification the next number. A gap means a change that never became
  /// durable (its commit failed); the count restarts at 0 when the host
  /// restarts or the actor's last subscriber leaves.
  std::uint64_t seq = 0;
  subscription_mode format = subscription_mode::state;  ///< the payload's form
  std::uint32_t schema = 0;                             ///< the publisher's schema_version()
  /// msgpack of the State (format state), JSON text (view), empty (events).
  std::string payload;
};

/// An event an actor published to its subscribers with publish(name, value).
struct event {
  std::string type;  ///< the publisher's actor type
  std::string key;   ///< its key as JSON text
  /// The publisher's events while it has subscribers in this host: 1, 2, ...
  std::uint64_t seq = 0;
  std::string name;     ///< the name given to publish()
  std::string payload;  ///< msgpack of the published value (decode_event<T>)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, state_changed& x) {
  return f(caf::meta::type_name("ark::state_changed"), x.type, x.key, x.seq, x.format, x.schema,
           x.payload);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event& x) {
  return f(caf::meta::type_name("ark::event"), x.type, x.key, x.seq, x.name, x.payload);
}

}  // namespace notification

using notification::event;
using notification::state_changed;

/// Registers state_changed, event and subscription_mode for remote use.
/// actor_registry::configure calls it (host and client configs).
void add_subscription_types(caf::actor_system_config& cfg);

/// The interface a subscribing ark actor (or typed CAF actor) extends:
///   using my_if = caf::typed_actor<...>::extend_with<ark::subscriber_if>;
using subscriber_if = caf::typed_actor<caf::reacts_to<state_changed>, caf::reacts_to<event>>;

/// The State in a notification of format `state`. Errors: type_mismatch (a
/// view or events notification, or a State that does not match the
/// publisher's), corrupt_value.
template <class State>
expected<State> decode_state(const state_changed& c) {
  if (c.format != subscription_mode::state)
    return error{errc::type_mismatch, "the notification of " + c.type + " " + c.key +
                                          " has format " + to_string(c.format) +
                                          ", not state; subscribe with subscription_mode::state"};
  return kv::value::from_msgpack(c.payload).as<State>();
}

/// The inspect_state() JSON in a notification of format `view`, or the change
/// record of one of format `changes`. Errors: type_mismatch (another format),
/// corrupt_value (not JSON).
expected<nlohmann::json> decode_view(const state_changed& c);

/// The value of an event published as a T. Errors: type_mismatch,
/// corrupt_value.
template <class T>
expected<T> decode_event(const event& e) {
  auto v = kv::value::from_msgpack(e.payload).as<T>();
  if (!v)
    return error{v.error().code(),
                 "event '" + e.name + "' of " + e.type + " " + e.key + ": " + v.error().context()};
  return v;
}

/// What a subscription made with subscribe() calls, one call at a time, in
/// the publisher's commit order, on a thread of the subscriber's actor system
/// (do not block in them; an exception ends the subscription).
struct subscription_callbacks {
  /// The current state first (the reply to the subscribe), then the state
  /// after each durable change. Not called in mode `events`.
  std::function<void(const state_changed&)> on_state;
  /// Each event the publisher published, once the message that published it
  /// is durable.
  std::function<void(const event&)> on_event;
  /// The subscription ended without cancel(): the publisher's host stopped or
  /// the connection to it dropped (unreachable), or a callback threw
  /// (handler_failed).
  std::function<void(const error&)> on_end;
};

/// A live subscription (move-only). Destroying it, or cancel(), unsubscribes.
/// It holds no strong handle to the publisher: the publisher may passivate,
/// and the subscription survives that inside its host.
class subscription {
 public:
  subscription() = default;
  subscription(caf::actor receiver, caf::weak_actor_ptr publisher)
      : receiver_(std::move(receiver)), publisher_(std::move(publisher)) {}
  subscription(subscription&& other) noexcept = default;
  subscription& operator=(subscription&& other) noexcept;
  subscription(const subscription&) = delete;
  subscription& operator=(const subscription&) = delete;
  ~subscription() { cancel(); }

  /// Unsubscribes and stops the callbacks (a callback running now completes).
  void cancel();
  /// False once cancelled (or moved from).
  bool active() const { return static_cast<bool>(receiver_); }
  /// The local actor that receives the notifications (the subscriber).
  const caf::actor& receiver() const { return receiver_; }

 private:
  caf::actor receiver_;
  caf::weak_actor_ptr publisher_;
};

/// Subscribes to the ark actor `publisher` (any handle to it: local, or from
/// ark::client::get_or_create) in `mode`. Spawns a receiver actor in `sys`,
/// waits (at most `timeout`) for the publisher's reply and calls
/// cbs.on_state with the current state before returning. Blocks: call it
/// from a plain thread, not from an actor (an ark actor uses subscribe_to).
/// Errors: the publisher's refusal (invalid_argument when it has
/// runtime_options::max_subscribers subscribers, shutting_down,
/// activation errors); unreachable (host gone, timeout).
expected<subscription> subscribe_actor(caf::actor_system& sys, const caf::actor& publisher,
                                       subscription_mode mode, subscription_callbacks cbs,
                                       std::chrono::milliseconds timeout);

template <class Handle>
expected<subscription> subscribe(caf::actor_system& sys, const Handle& publisher,
                                 subscription_mode mode, subscription_callbacks cbs,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  return subscribe_actor(sys, caf::actor_cast<caf::actor>(publisher), mode, std::move(cbs),
                         timeout);
}

}  // namespace ark
