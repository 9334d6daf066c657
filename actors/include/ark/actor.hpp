#pragma once

// The ark actor SDK: derive from ark::actor<Interface, State[, Memory]>, write
// handlers that return plain values, register the class with ARK_ACTOR.
//
//   using counter_if = caf::typed_actor<
//       caf::replies_to<add_atom, std::int64_t>::with<std::int64_t>,
//       caf::replies_to<get_atom>::with<std::int64_t>>;
//   struct counter_state { std::int64_t value = 0; MSGPACK_DEFINE_MAP(value) };
//
//   class counter : public ark::actor<counter_if, counter_state> {
//    public:
//     using actor::actor;
//     void on_initialize(std::int64_t start) { state().value = start; }
//     handlers_type make_handlers() override {
//       return handlers([this](add_atom, std::int64_t n) { return state().value += n; },
//                       [this](get_atom) { return state().value; });
//     }
//   };
//   ARK_ACTOR("counter", counter);
//
// After every message the runtime snapshots state() (when its bytes changed)
// and the message's kv() writes in one atomic commit; the reply, and every
// send or request the handler made, leaves only once that commit is durable.

#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "ark/detail/actor_core.hpp"
#include "ark/errors.hpp"
#include "ark/kv/value.hpp"
#include "ark/kv_group.hpp"
#include "ark/migration.hpp"
#include "ark/subscription.hpp"

namespace ark {

template <class R>
class promise;
template <class Interface, class State, class Memory>
class actor;
template <class T>
struct actor_registrar;

namespace detail {

template <class T>
struct is_promise : std::false_type {};
template <class R>
struct is_promise<ark::promise<R>> : std::true_type {};

template <class T>
struct is_expected : std::false_type {};
template <class T>
struct is_expected<ark::expected<T>> : std::true_type {};
template <class T>
struct is_expected<caf::expected<T>> : std::true_type {};

// The reply type of a handler returning Y.
template <class Y>
struct reply_of {
  using type = Y;
};
template <class T>
struct reply_of<ark::expected<T>> {
  using type = T;
};
template <class T>
struct reply_of<caf::expected<T>> {
  using type = T;
};
template <class R>
struct reply_of<ark::promise<R>> {
  using type = R;
};

template <class T>
caf::error error_of(const ark::expected<T>& x) {
  return to_caf(x.error());
}
template <class T>
caf::error error_of(const caf::expected<T>& x) {
  return x.error();
}

template <class D, class Tuple, std::size_t... Is>
auto invoke_init(D* self, const caf::message& m, std::index_sequence<Is...>) {
  return self->on_initialize(m.get_as<std::tuple_element_t<Is, Tuple>>(Is)...);
}

template <class D, class... Ts>
expected<void> apply_init(D* self, const caf::message& args, caf::detail::type_list<Ts...>) {
  using tuple = std::tuple<std::decay_t<Ts>...>;
  if (!args.match_elements<std::decay_t<Ts>...>()) {
    return error{errc::bad_init_args,
                 self->describe() + ": on_initialize takes " + std::to_string(sizeof...(Ts)) +
                     " argument(s), get_or_create passed " + caf::to_string(args)};
  }
  using result = decltype(invoke_init<D, tuple>(self, args, std::index_sequence_for<Ts...>{}));
  if constexpr (std::is_void_v<result>) {
    invoke_init<D, tuple>(self, args, std::index_sequence_for<Ts...>{});
    return {};
  } else {
    static_assert(std::is_same_v<result, expected<void>>,
                  "on_initialize returns void or ark::expected<void>");
    return invoke_init<D, tuple>(self, args, std::index_sequence_for<Ts...>{});
  }
}

/// Runs D::on_initialize with the arguments in `args` (type-checked).
/// `self` is the D object itself (ark::actor::initialize_thunk casts it).
template <class D>
expected<void> run_initialize(D* self, const caf::message& args) {
  using trait = caf::detail::get_callable_trait<decltype(&D::on_initialize)>;
  return apply_init(self, args, typename trait::arg_types{});
}

// -- handler signature checks (ark::actor::handlers) ---------------------------

/// Fails to compile when the handler at position `Pos` (0-based, in the order
/// given to handlers(...)) has a signature the interface does not declare.
/// The compiler's "required from" note names `Found` (the handler's
/// signature, as caf::typed_mpi<inputs, outputs>) and `Expected` (the
/// interface signatures no earlier handler implemented).
template <int Pos, class Found, class Expected>
struct handler_signature_check {
  static_assert(Pos < 0,
                "ark::actor::handlers(...): the handler at the position given by Pos "
                "(0-based) has a signature that is not in the actor's interface: compare "
                "'Found' with 'Expected' below");
};
template <class Found, class Expected>
struct handler_signature_check<-1, Found, Expected> {
  static_assert(sizeof(Found) == 0,
                "ark::actor::handlers(...): too few handlers: the interface signatures "
                "listed in 'Expected' below have no handler. Add one handler per "
                "replies_to<...> of the interface.");
};
template <class Found, class Expected>
struct handler_signature_check<-2, Found, Expected> {
  static_assert(sizeof(Found) == 0,
                "ark::actor::handlers(...): too many handlers: those in 'Found' below "
                "implement no signature of the actor's interface (or one twice).");
};
#define ARK_HANDLER_SIGNATURE_CHECK(n)                                                        \
  template <class Found, class Expected>                                                     \
  struct handler_signature_check<n, Found, Expected> {                                       \
    static_assert(sizeof(Found) == 0,                                                        \
                  "ark::actor::handlers(...): handler #" #n " (0-based) does not match the " \
                  "actor's interface. Its arguments and reply are 'Found' below; the "       \
                  "signatures still unimplemented are 'Expected' "                           \
                  "(replies_to<Args...>::with<Reply>). Check each argument type exactly "    \
                  "(std::int64_t is not int) and the type the handler returns.");            \
  }
ARK_HANDLER_SIGNATURE_CHECK(0);
ARK_HANDLER_SIGNATURE_CHECK(1);
ARK_HANDLER_SIGNATURE_CHECK(2);
ARK_HANDLER_SIGNATURE_CHECK(3);
ARK_HANDLER_SIGNATURE_CHECK(4);
ARK_HANDLER_SIGNATURE_CHECK(5);
ARK_HANDLER_SIGNATURE_CHECK(6);
ARK_HANDLER_SIGNATURE_CHECK(7);
ARK_HANDLER_SIGNATURE_CHECK(8);
ARK_HANDLER_SIGNATURE_CHECK(9);
ARK_HANDLER_SIGNATURE_CHECK(10);
ARK_HANDLER_SIGNATURE_CHECK(11);
ARK_HANDLER_SIGNATURE_CHECK(12);
ARK_HANDLER_SIGNATURE_CHECK(13);
ARK_HANDLER_SIGNATURE_CHECK(14);
ARK_HANDLER_SIGNATURE_CHECK(15);
#undef ARK_HANDLER_SIGNATURE_CHECK

}  // namespace detail

/// A reply that a handler promises to deliver later (typically from the
/// callback of a request to another actor). Return it from the handler; call
/// deliver() once. Delivery is gated like any reply: it leaves once the state
/// changes made before it are durable. A promise is never left hanging by
/// the runtime: if the actor can no longer run the code that would deliver
/// it (its creation failed to commit, so the actor does not exist; or it
/// stopped), the caller gets that error (commit_failed, unreachable) at once.
template <class R>
class promise {
 public:
  /// An empty promise (pending() is false); handlers get theirs from
  /// ark::actor::make_promise.
  promise() = default;

  template <class T = R, class = std::enable_if_t<!std::is_void_v<T>>>
  void deliver(T value) {
    settle(caf::make_message(std::move(value)));
  }
  template <class T = R, class = std::enable_if_t<std::is_void_v<T>>>
  void deliver() {
    settle(caf::message{});
  }
  /// Fails the request with `e` (ark::error or caf::error).
  void deliver_error(const ark::error& e) { deliver_error(to_caf(e)); }
  void deliver_error(const caf::error& e) { settle(caf::make_message(e)); }

  /// False once delivered (copies share one target: the first delivery wins).
  bool pending() const { return target_ && !target_->empty(); }

 private:
  template <class, class, class>
  friend class actor;

  promise(detail::actor_core* self, detail::detached_output target)
      : self_(self), target_(std::make_shared<detail::detached_output>(std::move(target))) {
    self_->track_promise(target_);
  }

  void settle(caf::message content) {
    if (!pending()) return;
    auto o = std::move(*target_);
    target_->dest = nullptr;
    o.content = std::move(content);
    self_->add_output(std::move(o));
  }

  detail::actor_core* self_ = nullptr;
  std::shared_ptr<detail::detached_output> target_;
};

/// Where an actor type keeps its state and KV (Bitwarden's state locations):
/// `disk` (default) commits them durably; `memory` keeps them in the host's
/// memory only: they survive passivation, never reach the disk and are gone
/// when the host stops. Declare it in the class:
///   static constexpr ark::storage_location location = ark::storage_location::memory;
enum class storage_location { disk, memory };
/// The default Memory of ark::actor: no memory-only part.
struct no_memory {};

/// Base class of a persistent actor with typed interface `Interface` (a
/// caf::typed_actor<...>) and native state `State` (a default-constructible
/// struct made serializable with MSGPACK_DEFINE_MAP, so its fields keep their
/// names on disk and in the dashboard).
///
/// `Memory` (optional) is a default-constructible struct for the actor's
/// memory-only part, memory(): never serialized or written, kept across
/// passivation within one host process, lost when the host restarts.
///
/// Override make_handlers() and return handlers(...): every handler may
/// return a plain value, void, ark::expected<T> (an error reply), or
/// ark::promise<T> (a reply delivered later). A handler that throws or
/// returns an error commits nothing: its KV writes are dropped and state()
/// goes back to the last snapshot; the caller gets the error.
///
/// Optional members a subclass may declare:
///   void on_initialize(Args...)   runs once in the actor's life, at creation,
///                                 with get_or_create's arguments
///   void on_activate()            runs every time the state is loaded:
///                                 at activation (after load or
///                                 on_initialize, and any migration), on
///                                 reload after a passivation, and after a
///                                 failed commit reset the state (before
///                                 the next message); see on_activate()
///   nlohmann::json inspect_state() const   the dashboard's view of the state
///   static constexpr std::uint32_t schema = N;   the state schema version
///                                 recorded in every snapshot (default 1)
///   static void migrations(ark::migration_chain<Self>& m)   the steps that
///                                 bring older snapshots to `schema`
///                                 (ark/migration.hpp, doc/migrations.md)
///   std::vector<kv_group> kv_groups() const   KV keys cleared together on
///                                 an event (clear_on_event, clear_group)
///
/// What a handler may call is exactly the members below; each has its
/// contract where it is declared:
///   identity     key(), type_name(), describe(), time()
///   state        state(), kv(), memory(), save_state()
///   KV groups    kv_groups(), clear_on_event(), clear_group(), send_clear_event()
///   alarms       schedule_at(), schedule_after(), cancel_alarm(), alarms(),
///                find_alarm(), on_alarm()
///   messaging    send(), request(...).then(), make_promise(), get_or_create()
///   subscriptions  publish(), has_subscribers(), subscribe_to(), unsubscribe_from()
///   schema       schema, schema_version(), migrations()
/// The runtime's machinery (message lifecycle, output gate, checkpoints,
/// passivation) is a private base, out of reach of a derived class. Of CAF's
/// typed event-based actor (the public base) use system() and quit() only:
/// its own send/request/delayed_send bypass the output gate (ark's send()
/// and request() hide them), and become() would replace ark's handlers.
template <class Interface, class State, class Memory = no_memory>
class actor : public Interface::base, private detail::actor_core {
 public:
  using interface_type = Interface;
  using state_type = State;
  using memory_type = Memory;
  using behavior_type = typename Interface::behavior_type;
  using super = typename Interface::base;
  /// Hide it with storage_location::memory for a memory-only actor type.
  static constexpr storage_location location = storage_location::disk;

  /// What make_handlers returns; only handlers() builds one.
  class handlers_type {
   public:
    behavior_type& get() { return bhvr_; }

   private:
    friend class actor;
    explicit handlers_type(behavior_type b) : bhvr_(std::move(b)) {}
    behavior_type bhvr_;
  };

  actor(caf::actor_config& cfg, activation a) : super(cfg), detail::actor_core(std::move(a)) {
    this->set_default_handler(
        [this](caf::scheduled_actor*, caf::message_view& x) -> caf::result<caf::message> {
          // The content is not used again once this handler answers.
          auto msg = x.move_content_to_message();
          caf::message reply;
          bool delegated = false;
          if (handle_internal(msg, reply, delegated)) {
            if (delegated) return caf::delegated<caf::message>{};
            return reply;
          }
          return to_caf(errc::wrong_interface,
                        describe() + " does not handle the message " + caf::to_string(msg));
        });
    this->set_exit_handler([this](caf::exit_msg& m) { drain(m.reason); });
    if constexpr (!std::is_same_v<Memory, no_memory>) {
      static_assert(std::is_default_constructible_v<Memory>,
                    "the Memory type of ark::actor must be default-constructible");
      init_memory(std::make_shared<Memory>(), typeid(Memory));
    }
  }

  // -- identity ----------------------------------------------------------------

  /// The actor's key (the structured key get_or_create was given). Stable for
  /// the actor's whole life; valid from the constructor on.
  const ark::key& key() const { return actor_core::key(); }
  /// The actor's registered type name (ARK_ACTOR's first argument).
  const std::string& type_name() const { return actor_core::type_name(); }
  /// A printable name for messages and logs: `type [key...]`, e.g.
  /// `counter ["a"]`. Errors built by the runtime start with it.
  std::string describe() const { return actor_core::describe(); }
  /// The runtime's clock: the system clock on a host, the virtual clock of
  /// ark::testing::world in tests. Use it (not std::chrono::system_clock)
  /// for anything compared with alarm times, so tests can move time.
  const ark::clock& time() const { return actor_core::time(); }

  // -- state, KV, memory -------------------------------------------------------

  /// The actor's own native state.
  State& state() { return state_; }
  const State& state() const { return state_; }

  /// The actor's private ordered key-value store. Reads see the writes of the
  /// current message and of earlier ones not yet committed. Its update()
  /// (read-modify-write of one key) is atomic with the message's other
  /// writes: all of them commit together, or none (a failing handler).
  kv::store& kv() { return kv_store(); }

  /// The actor's memory-only part: never serialized or written to disk. It
  /// survives passivation and reactivation within the same host process
  /// (the host keeps it while the actor is passive, up to
  /// runtime_options::memory_stash_limit actors) and is default-constructed
  /// again after a host restart, or when the host dropped it. Not
  /// transactional: a failing handler's changes to it stay (unlike state()
  /// and kv()), so keep in it what may be recomputed or lost (caches,
  /// decrypted keys, session tokens).
  Memory& memory() {
    static_assert(!std::is_same_v<Memory, no_memory>,
                  "memory() needs a Memory type: derive from ark::actor<Interface, State, Memory>");
    return *static_cast<Memory*>(memory_object());
  }
  const Memory& memory() const {
    static_assert(!std::is_same_v<Memory, no_memory>,
                  "memory() needs a Memory type: derive from ark::actor<Interface, State, Memory>");
    return *static_cast<const Memory*>(memory_object());
  }

  /// The actor type's KV groups: named key prefixes cleared together on
  /// events (Bitwarden's clearOn). Read once per activation; a declaration
  /// that validate_kv_groups refuses (a duplicate name, an empty name or
  /// event, a bad prefix) fails the activation with activation_failed.
  virtual std::vector<kv_group> kv_groups() const { return {}; }

  /// Deletes every key of every KV group whose clear_on lists `event`, as
  /// part of the current message's writes (so atomically with them: a
  /// failing handler keeps the keys). Returns how many keys it removed; an
  /// event no group lists removes nothing. Outside the actor, the same runs
  /// as a message of its own: ark::clear_event (client.hpp) or
  /// send_clear_event. Cost: one delete per key of the groups.
  expected<std::uint64_t> clear_on_event(std::string_view event) { return clear_kv_event(event); }

  /// Deletes every key of the KV group `name`, as clear_on_event does.
  /// invalid_argument when the type declares no such group.
  expected<std::uint64_t> clear_group(std::string_view name) { return clear_kv_group(name); }

  /// Sends `dest` (any ark actor) the event `event`: it clears its KV groups
  /// that list it, as a message of its own. Gated like send().
  template <class Handle>
  void send_clear_event(const Handle& dest, std::string event) {
    if (!dest) return;
    add_output(
        detail::detached_output::send(caf::actor_cast<caf::strong_actor_ptr>(dest),
                                      caf::make_message(clear_atom::value, std::move(event))));
  }

  /// Commits what the handler did so far (state and KV writes) as its own
  /// atomic unit: a later failure of the same handler rolls back only to here.
  /// Does not block; outputs stay gated on durability.
  void save_state() { checkpoint(); }

  /// Runs once in the actor's life, when it is created. Hide it with your own
  /// signature to take get_or_create's arguments.
  void on_initialize() {}

  /// Runs every time the actor's state is loaded, before any message sees
  /// it: at activation (after the snapshot is loaded, or on_initialize ran,
  /// and after any migration), when a passivated actor that kept a live
  /// handle reloads its snapshot (also ark::testing::world::restart_actor),
  /// and after a failed commit brought state() back to the last durable
  /// snapshot (then before the next message; request callbacks do not wait
  /// for it, they see the durable state as it is). Resume
  /// work here (re-send an outbox, re-subscribe). It runs as a message of
  /// its own: its state and KV changes, sends and requests are one unit,
  /// committed before any later message's, so the reply to the message
  /// that follows leaves only once they are durable. If it throws, its
  /// changes are rolled back (as a failing handler's) and the actor goes on.
  virtual void on_activate() {}

  /// The dashboard's view of the state; the default decodes the snapshot's
  /// msgpack generically (field names come from MSGPACK_DEFINE_MAP).
  virtual nlohmann::json inspect_state() const { return generic_state_json(); }

  /// The state schema version of this actor type; hide it in the subclass
  /// (`static constexpr std::uint32_t schema = 2;`) when the state layout
  /// changes, and register the steps from older versions in a static
  /// migrations(ark::migration_chain<Self>&) (doc/migrations.md). Recorded
  /// in every snapshot.
  static constexpr std::uint32_t schema = 1;

  /// The schema version this activation writes (the registered class's
  /// `schema`).
  std::uint32_t schema_version() const { return state_schema(); }

  // -- durable alarms (doc/alarms.md) -----------------------------------------

  /// Schedules alarm `name` at wall-clock time `when` (a time in the past
  /// fires at once), replacing a pending alarm of the same name. It is
  /// stored with the current message's other effects (so a failing handler
  /// schedules nothing) and delivered to on_alarm() as a message, at least
  /// once, even across host restarts. Errors: invalid_argument (empty or
  /// over-long name, max_attempts 0), value_too_large (payload over 64 KiB).
  expected<void> schedule_at(std::string name, std::chrono::system_clock::time_point when,
                             const alarm_options& opts = {}) {
    return schedule_alarm(std::move(name), when, {}, opts);
  }
  /// As schedule_at, with a payload on_alarm reads with alarm::payload_as<T>().
  template <class T>
  expected<void> schedule_at(std::string name, std::chrono::system_clock::time_point when,
                             const T& payload, const alarm_options& opts = {}) {
    return schedule_alarm(std::move(name), when, std::string(kv::value::pack(payload).payload()), opts);
  }
  /// Schedules alarm `name` `delay` from now (the runtime's clock).
  template <class Rep, class Period>
  expected<void> schedule_after(std::string name, std::chrono::duration<Rep, Period> delay,
                                const alarm_options& opts = {}) {
    return schedule_at(std::move(name), time().now() + std::chrono::duration_cast<std::chrono::system_clock::duration>(delay), opts);
  }
  template <class Rep, class Period, class T>
  expected<void> schedule_after(std::string name, std::chrono::duration<Rep, Period> delay,
                                const T& payload, const alarm_options& opts = {}) {
    return schedule_at(std::move(name), time().now() + std::chrono::duration_cast<std::chrono::system_clock::duration>(delay), payload, opts);
  }
  /// Cancels alarm `name` (with the current message); false if none is pending.
  bool cancel_alarm(const std::string& name) { return actor_core::cancel_alarm(name); }
  /// The pending alarms, soonest first, including this message's changes.
  std::vector<alarm> alarms() const { return list_alarms(); }
  /// The pending alarm `name` (including this message's changes: one this
  /// message scheduled is found, one it cancelled is not), or nullopt.
  /// Typical use: schedule a recurring alarm only if it is not pending yet.
  std::optional<alarm> find_alarm(const std::string& name) const {
    return actor_core::find_alarm(name);
  }
  /// Runs when an alarm is due, as a message of this actor: its state and KV
  /// changes commit with the alarm's removal. Return an error (or throw) to
  /// have it retried after a backoff (alarm_options). The default fails:
  /// override it in an actor that schedules alarms.
  virtual expected<void> on_alarm(const alarm& a) {
    return error{errc::handler_failed, describe() + " got alarm '" + a.name +
                                           "' but does not override on_alarm"};
  }

  /// A promise for the reply of the current request (return it from the
  /// handler; deliver later).
  template <class R>
  promise<R> make_promise() {
    promise<R> p(this, take_reply(caf::message{}));
    // If the handler fails after this, the error goes through the promise.
    promise_fail_ = [p](const caf::error& e) mutable { p.deliver_error(e); };
    return p;
  }

  /// Sends a fire-and-forget message (any reply is dropped; use request() for
  /// replies) that leaves once the state changes made before it are durable.
  /// Dropped if the handler fails.
  template <class Handle, class... Ts>
  void send(const Handle& dest, Ts&&... xs) {
    static_assert(sizeof...(Ts) > 0, "no message to send");
    using token = caf::detail::type_list<caf::detail::strip_and_convert_t<Ts>...>;
    static_assert(caf::response_type_unbox<caf::signatures_of_t<Handle>, token>::valid,
                  "receiver does not accept given message");
    if (!dest) return;
    add_output(detail::detached_output::send(caf::actor_cast<caf::strong_actor_ptr>(dest),
                                             caf::make_message(std::forward<Ts>(xs)...)));
  }

  /// A request to another actor, gated like send(); call .then(on_value,
  /// on_error) on the result. The callbacks run as messages of this actor:
  /// their state and KV changes are committed and gated the same way. The
  /// timeout runs from the call (it includes the wait for durability).
  ///
  /// A request leaves only with the effects of the message that made it. If
  /// that message is rolled back (its handler throws or returns an error, or
  /// its commit fails), the request is never sent, and on_error runs (as a
  /// later message) with errc::rolled_back, whose context reads "the request
  /// was not sent: the message that made it was rolled back (its commit
  /// failed: <cause>)" (or "(<code>: <cause>)" for a failed handler). By
  /// then state() is back at the last durable snapshot: none of that
  /// message's changes are there, so decide again from the state as it is
  /// (on_activate runs before the next message, not before this callback):
  ///   [this](caf::error& e) {
  ///     if (ark::from_caf(e) == ark::errc::rolled_back) return;  // nothing happened
  ///     ...                                    // the request failed remotely
  ///   }
  /// Every other error (the receiver's, request_timeout, ...) means the
  /// request did leave. If the failed commit was the actor's creation, the
  /// actor does not exist: no callback runs, and its promises get the error.
  template <class Handle, class Duration, class... Ts>
  auto request(const Handle& dest, Duration timeout, Ts&&... xs) {
    using args_t = std::tuple<std::decay_t<Ts>...>;
    return pending_request<Handle, args_t>{this, dest, caf::duration{timeout},
                                           args_t(std::forward<Ts>(xs)...)};
  }

  /// True when some actor or client is subscribed to this actor now (one
  /// atomic load; publish() checks it itself).
  bool has_subscribers() const { return subscribed(); }

  /// Sends `value` (packed with msgpack, like a KV value) to every subscriber
  /// as an ark::event named `name`. It is an output of the current message:
  /// it leaves once the message's effects are durable, after the state
  /// notification of the same message, and is dropped if the handler fails.
  /// Nothing happens (not even the packing) without subscribers.
  template <class T>
  void publish(std::string name, const T& value) {
    if (!subscribed()) return;
    std::string packed;
    kv::detail::string_writer w{&packed};
    msgpack::pack(w, value);
    publish_packed(std::move(name), std::move(packed));
  }

  /// Subscribes this actor to the ark actor `publisher` of the same host, by
  /// identity: the host activates this actor to deliver a notification, so it
  /// may passivate meanwhile. Its interface must extend ark::subscriber_if:
  /// each durable change arrives as an ark::state_changed message, each event
  /// as an ark::event, handled (and committed) like any message. The request
  /// leaves, like any output, once this actor's changes are durable; call
  /// .then(on_current, on_error) on the result: on_current gets the
  /// publisher's current state (an ark::state_changed&). Subscribing again
  /// changes the mode. Subscriptions live as long as the host process: an
  /// actor that must always follow another subscribes in on_activate().
  /// No timeout by default: the publisher is an actor of this host, which
  /// answers (or CAF bounces the request if it stops), and a pending CAF
  /// request timer would keep this actor in memory until it fires.
  template <class Handle, class Duration = caf::infinite_t>
  auto subscribe_to(const Handle& publisher, subscription_mode mode = subscription_mode::state,
                    Duration timeout = caf::infinite) {
    static_assert(accepts<state_changed>() && accepts<ark::event>(),
                  "a subscriber's interface must extend ark::subscriber_if "
                  "(caf::typed_actor<...>::extend_with<ark::subscriber_if>)");
    return request(caf::actor_cast<caf::actor>(publisher), timeout, subscribe_atom::value,
                   this->type_name(), encoded_key(), mode);
  }

  /// Ends this actor's subscription to `publisher` (a gated send; nothing
  /// happens when it was not subscribed).
  template <class Handle>
  void unsubscribe_from(const Handle& publisher) {
    send(caf::actor_cast<caf::actor>(publisher), unsubscribe_atom::value, this->type_name(),
         encoded_key());
  }

  /// The handle of another actor of this host, activating it if needed.
  template <class I, class... Ts>
  expected<I> get_or_create(std::string_view type, const ark::key& k, Ts&&... init) {
    return lookup<I>(type, k, detail::lookup_mode::get_or_create, std::forward<Ts>(init)...);
  }

  /// The handle of another actor that exists (runtime::get): not_found when
  /// it was never created, and then nothing is activated.
  template <class I>
  expected<I> get(std::string_view type, const ark::key& k) {
    return lookup<I>(type, k, detail::lookup_mode::get);
  }

  /// Creates another actor (runtime::create): already_exists when it exists.
  template <class I, class... Ts>
  expected<I> create(std::string_view type, const ark::key& k, Ts&&... init) {
    return lookup<I>(type, k, detail::lookup_mode::create, std::forward<Ts>(init)...);
  }

  template <class Handle, class Args>
  struct [[nodiscard]] pending_request {
    actor* self;
    Handle dest;
    caf::duration timeout;
    Args args;

    /// on_value(reply...) or on_error(caf::error&) runs once, as a message of
    /// this actor. If on_value throws, its effects are rolled back and
    /// on_error runs with the exception as a handler_failed error.
    template <class F, class G>
    void then(F on_value, G on_error) {
      then_impl(std::move(on_value), std::move(on_error), caf::detail::tl_from_t<Args>{});
    }
    template <class F>
    void then(F on_value) {
      then(std::move(on_value), [](caf::error&) {});
    }

   private:
    template <class F, class G, class... Xs>
    void then_impl(F on_value, G on_error, caf::detail::type_list<Xs...>) {
      using token = caf::detail::type_list<typename caf::detail::implicit_conversions<Xs>::type...>;
      static_assert(caf::response_type_unbox<caf::signatures_of_t<Handle>, token>::valid,
                    "receiver does not accept given message");
      using output = caf::response_type_t<typename Handle::signatures,
                                          typename caf::detail::implicit_conversions<Xs>::type...>;
      auto error_direct = self->wrap_callback(on_error, false, nullptr);
      auto error_cb = self->wrap_callback(std::move(on_error), true, nullptr);
      auto value_cb = self->wrap_callback(std::move(on_value), true, error_direct);
      // The response handler is installed now; the request itself leaves
      // with the message's other outputs, once they may. If it never leaves
      // (the handler or the commit failed), the error comes back as its
      // response, so exactly one callback runs.
      auto* base = static_cast<super*>(self);
      auto req_id = base->new_request_id(caf::message_priority::normal);
      base->request_response_timeout(timeout, req_id);
      caf::response_handle<super, output, false>{req_id.response_id(), base}.then(
          std::move(value_cb), std::move(error_cb));
      self->request_started();
      self->add_output(detail::detached_output::request(
          caf::actor_cast<caf::strong_actor_ptr>(dest), self->self_ptr(), req_id,
          std::apply([](auto&... a) { return caf::make_message(std::move(a)...); }, args)));
    }
  };

 protected:
  /// Wraps handlers so each message is committed and its reply gated. Give
  /// one handler per signature of the interface (in any order). A handler
  /// whose arguments or reply do not match fails to compile with
  /// detail::handler_signature_check naming its position.
  template <class... Fs>
  handlers_type handlers(Fs... fs) {
    using found = caf::detail::type_list<caf::deduce_mpi_t<decltype(wrap(std::declval<Fs>()))>...>;
    using mismatch = caf::interface_mismatch_t<found, typename Interface::signatures>;
    if constexpr (mismatch::value == static_cast<int>(sizeof...(Fs))) {
      return handlers_type{behavior_type{wrap(std::move(fs))...}};
    } else {
      using xs = typename mismatch::xs;
      using found_at = std::conditional_t<(caf::detail::tl_size<xs>::value > 0),
                                          caf::detail::tl_head_t<xs>, xs>;
      detail::handler_signature_check<mismatch::value, found_at, typename mismatch::ys> check;
      (void) check;
      return handlers_type{behavior_type{typename behavior_type::unsafe_init{},
                                         caf::behavior{wrap(std::move(fs))...}}};
    }
  }

  /// Implement: return handlers(...).
  virtual handlers_type make_handlers() = 0;

 private:
  template <class>
  friend struct actor_registrar;

  // The registry's init_function for class D (derived from this class).
  template <class D>
  static expected<void> initialize_thunk(detail::actor_core* core, const caf::message& args) {
    return detail::run_initialize(static_cast<D*>(static_cast<actor*>(core)), args);
  }

  // Whether the interface takes a message of type T (a subscriber's check).
  template <class T>
  static constexpr bool accepts() {
    return caf::response_type_unbox<caf::signatures_of_t<Interface>,
                                    caf::detail::type_list<T>>::valid;
  }

  void on_exit() override {
    exited();
    super::on_exit();
  }

  template <class I, class... Ts>
  expected<I> lookup(std::string_view type, const ark::key& k, detail::lookup_mode mode,
                     Ts&&... init) {
    auto* host = host_of();
    auto h = host->lookup(type, k, caf::make_message(std::forward<Ts>(init)...),
                          host->caller_interfaces().template get<I>(this->system()), mode);
    if (!h) return h.error();
    return caf::actor_cast<I>(std::move(*h));
  }

  behavior_type make_behavior() final {
    activate();
    return make_handlers().get();
  }

  template <class F>
  auto wrap(F f) {
    using trait = caf::detail::get_callable_trait<F>;
    using reply = typename detail::reply_of<typename trait::result_type>::type;
    return wrap_impl<reply>(std::move(f), typename trait::arg_types{});
  }

  template <class R, class F, class... Xs>
  auto wrap_impl(F f, caf::detail::type_list<Xs...>) {
    // The handler's index in the interface: statistics and the change feed
    // name it by that signature (a mismatch fails to compile in handlers()).
    using mpi = typename caf::detail::dmi<caf::result<R>(Xs...)>::type;
    constexpr int index = caf::detail::tl_index_of<typename Interface::signatures, mpi>::value;
    constexpr std::size_t h = index < 0 ? no_handler : static_cast<std::size_t>(index);
    return [this, f](Xs... xs) mutable -> caf::result<R> {
      return dispatch<R>(h, [&]() -> decltype(auto) { return f(std::forward<Xs>(xs)...); });
    };
  }

  template <class R, class Call>
  caf::result<R> dispatch(std::size_t h, Call&& call) {
    promise_fail_ = nullptr;
    if (auto err = begin_message()) {
      handler_refused(h, err);
      return reply_error<R>(std::move(err));
    }
    auto started = handler_clock(h);
    using Y = decltype(call());
    std::optional<std::conditional_t<std::is_void_v<R>, caf::unit_t, R>> value;
    bool delegated = false;
    caf::error failure = guarded([&]() -> caf::error {
      if constexpr (std::is_void_v<Y>) {
        call();
        value.emplace();
      } else if constexpr (detail::is_promise<std::decay_t<Y>>::value) {
        call();
        delegated = true;
      } else if constexpr (detail::is_expected<std::decay_t<Y>>::value) {
        auto y = call();
        if (!y) {
          auto err = detail::error_of(y);
          return err ? err : to_caf(errc::handler_failed, describe());
        }
        if constexpr (std::is_void_v<R>)
          value.emplace();
        else
          value.emplace(std::move(*y));
      } else {
        value.emplace(call());
      }
      return {};
    });
    handler_returned(h, started, failure);
    if (failure) {
      if (promise_fail_) {  // the request is answered through the promise
        auto f = std::move(promise_fail_);
        promise_fail_ = nullptr;
        f(failure);
        end_message_failed(failure);
        handler_finished(false);
        return caf::result<R>(caf::delegated<R>{});
      }
      bool now = end_message_failed(failure, true);
      handler_finished(now);
      if (now) return caf::result<R>(std::move(failure));
      return caf::result<R>(caf::delegated<R>{});
    }
    promise_fail_ = nullptr;
    if (delegated) {
      end_message_ok();
      handler_finished(false);
      return caf::result<R>(caf::delegated<R>{});
    }
    // The reply as CAF would build it; it leaves now if nothing is pending,
    // else with the message's unit once that is durable.
    caf::message reply;
    if constexpr (!std::is_void_v<R>) reply = caf::make_message(std::move(*value));
    bool now = end_message_ok(&reply);
    handler_finished(now);
    if (now) {
      caf::result<R> r{caf::delegated<R>{}};
      r.flag = caf::rt_value;
      r.value = std::move(reply);
      return r;
    }
    return caf::result<R>(caf::delegated<R>{});
  }

  // Runs `f`; an exception becomes a handler_failed error naming the actor.
  template <class F>
  caf::error guarded(F&& f) {
    try {
      return f();
    } catch (const ::ark::detail::failed_call& e) {
      return to_caf(e.err);
    } catch (const std::exception& e) {
      return to_caf(errc::handler_failed, describe() + ": " + e.what());
    } catch (...) {
      return to_caf(errc::handler_failed, describe() + ": unknown exception");
    }
  }

  // An error reply outside a message (the actor cannot take it), gated like
  // any reply when units are pending.
  template <class R>
  caf::result<R> reply_error(caf::error err) {
    auto o = take_reply(caf::make_message(err));
    if (o.empty()) return caf::result<R>(std::move(err));
    add_output(std::move(o));
    return caf::result<R>(caf::delegated<R>{});
  }

  // Wraps a request callback so it runs as a message of this actor.
  // `counted`: it completes an outstanding request (drain waits for those).
  // `on_fail`: runs with the error when the callback throws.
  template <class F>
  auto wrap_callback(F f, bool counted, std::function<void(caf::error&)> on_fail) {
    using trait = caf::detail::get_callable_trait<F>;
    return wrap_callback_impl(std::move(f), counted, std::move(on_fail),
                              typename trait::arg_types{});
  }

  template <class F, class... Xs>
  auto wrap_callback_impl(F f, bool counted, std::function<void(caf::error&)> on_fail,
                          caf::detail::type_list<Xs...>) {
    return [this, f, counted, on_fail](Xs... xs) mutable {
      if (counted) request_finished();
      if (auto err = begin_message(true)) {
        // The actor cannot run messages (its creation failed to commit): no
        // promise it made can be delivered any more.
        fail_promises(err);
        maybe_finish_drain();
        return;
      }
      caf::error failure = guarded([&]() -> caf::error {
        f(std::forward<Xs>(xs)...);
        return {};
      });
      if (failure) {
        end_message_failed(failure);
        if (on_fail) on_fail(failure);
      } else {
        end_message_ok();
      }
      maybe_finish_drain();
    };
  }

  // -- actor_core hooks ---------------------------------------------------------

  void pack_state(std::string& out) const override {
    out.clear();
    kv::detail::string_writer w{&out};
    msgpack::pack(w, state_);
  }
  expected<void> load_state(const msgpack::object& obj) override {
    State fresh{};
    if (!kv::detail::convert(obj, fresh))
      return error{errc::corrupt_snapshot,
                   describe() + ": the snapshot does not convert into the state type"};
    state_ = std::move(fresh);
    return {};
  }
  void reset_state() override { state_ = State{}; }
  caf::actor self_handle() override { return caf::actor_cast<caf::actor>(this); }
  caf::actor_control_block* self_ctrl() override { return this->ctrl(); }
  caf::mailbox_element* current_element() override { return this->current_mailbox_element(); }
  void quit_now(caf::error reason) override { this->quit(std::move(reason)); }
  void run_on_activate() override { on_activate(); }
  expected<void> run_on_alarm(const alarm& a) override { return on_alarm(a); }
  std::vector<kv_group> declared_kv_groups() const override { return kv_groups(); }
  nlohmann::json inspect_json() const override { return inspect_state(); }

  State state_{};
  std::function<void(const caf::error&)> promise_fail_;
};

}  // namespace ark
