#pragma once

#include <chrono>
#include <cstdint>
#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/message.hpp>
#include <msgpack.hpp>
#include <nlohmann/json.hpp>

#include "ark/alarm.hpp"
#include "ark/detail/alarm_book.hpp"
#include "ark/detail/handler_stats.hpp"
#include "ark/detail/kv_group_set.hpp"
#include "ark/detail/memory_slot.hpp"
#include "ark/detail/output_gate.hpp"
#include "ark/detail/host.hpp"
#include "ark/kv/store.hpp"
#include "ark/kv_group.hpp"

namespace ark {

using commit_atom = caf::atom_constant<caf::atom("arkcommit")>;
using idle_atom = caf::atom_constant<caf::atom("arkidle")>;
using inspect_atom = caf::atom_constant<caf::atom("arkinspect")>;
using evict_atom = caf::atom_constant<caf::atom("arkevict")>;

namespace detail {
/// Thrown out of an actor call that has no error path of its own (kv(),
/// alarms(), find_alarm(), cancel_alarm()) when the storage behind it fails:
/// the message (handler, hook or callback) fails with `err`, its code kept.
struct failed_call : std::exception {
  explicit failed_call(ark::error e) : err(std::move(e)), text(err.message()) {}
  const char* what() const noexcept override { return text.c_str(); }
  ark::error err;
  std::string text;
};
}  // namespace detail

/// {alarm_atom, name, due_ms}: the dispatcher delivers a due alarm.
using alarm_atom = caf::atom_constant<caf::atom("arkalarm")>;
/// {ping_atom}: answered once everything queued before it was handled.
using ping_atom = caf::atom_constant<caf::atom("arkping")>;
/// {sync_atom}: answered (with sync_atom, or the error of a failed commit)
/// once everything queued before it was handled and every unit the actor
/// submitted before it is durable; ark::testing::world waits with it.
using sync_atom = caf::atom_constant<caf::atom("arksync")>;
/// {clear_atom, std::string event}: clears the actor's KV groups that list
/// `event` (ark::actor::clear_on_event) as a message of its own; the reply
/// is the number of keys removed (std::uint64_t), sent once durable.
using clear_atom = caf::atom_constant<caf::atom("arkclear")>;
/// {disown_atom, caf::error}: the host no longer owns the actor (a cluster
/// host that lost its lease): the activation drops what is not durable,
/// answers what is queued with the error, leaves the directory and quits.
using disown_atom = caf::atom_constant<caf::atom("arkdisown")>;

namespace detail {
class actor_core;
class kv_overlay;
struct type_schema;
/// Runs an actor type's on_initialize with get_or_create's arguments.
using init_function = expected<void> (*)(actor_core* self, const caf::message& args);
}  // namespace detail

/// What the runtime passes to an actor's constructor: who hosts it, who it
/// is, and the arguments for on_initialize (used only at creation).
struct activation {
  std::shared_ptr<detail::host> host;
  detail::identity id;
  caf::message init;
  detail::init_function initialize = nullptr;
  /// The type's schema version and migration steps (detail::schema_of<T>());
  /// null: schema 1, no migrations.
  const detail::type_schema* schema = nullptr;
  /// The host's per-handler statistics of the type (detail::type_stats);
  /// null: none are kept.
  detail::type_stats* stats = nullptr;
};

namespace detail {

// The snapshot value is a stored format (ark/stored_format.hpp).
using stored::make_snapshot;
using stored::parse_snapshot;
using stored::snapshot;

/// The part of ark::actor that does not depend on the interface or state
/// type, and a private base of it. It owns the message lifecycle (begin,
/// end, roll back), checkpoints, activation and passivation, and composes
/// one part per further concept, each a small class of its own:
///   output_gate     units submitted, the durable watermark, outputs held
///   alarm_book      durable alarms
///   kv_group_set    KV groups
///   memory_slot     the memory-only part and its stash
///   subscriber_list subscriptions (shared with the host)
/// One instance per activation; every member is used from the actor's own
/// thread only, except the gate's commit_channel (shared with the host's
/// writer).
class actor_core {
 public:
  explicit actor_core(activation a);
  virtual ~actor_core();
  actor_core(const actor_core&) = delete;
  actor_core& operator=(const actor_core&) = delete;

  /// The actor's identity (type name and key).
  const detail::identity& identity() const { return act_.id; }
  const std::string& type_name() const { return act_.id.type; }
  const ark::key& key() const { return act_.id.key; }

  /// A printable name of the actor for messages: type [key...].
  std::string describe() const;

  // -- used by ark::actor and ark::promise (not by user code) -----------------

  // The actor's KV store, opened at its first use (open_kv). Throws
  // failed_call (shutting_down) once the host closed its storage.
  kv::store& kv_store();
  // Queues an output (send, request, promise delivery) of the current message:
  // it leaves once everything the actor did before is durable.
  void add_output(detached_output o);
  // The reply target of the current request (its sender, id and forwarding
  // stages), with `content`; the request counts as answered from now on.
  // empty() when nobody waits for a reply.
  detached_output take_reply(caf::message content);
  // Starts a message: reloads a passivated state; returns the error to answer
  // with when the actor cannot handle messages (activation failed, draining).
  caf::error begin_message(bool callback = false);
  // Ends a message: submits its snapshot and KV writes (if anything changed)
  // with its outputs. With `reply`: true means nothing is pending and the
  // caller may return the reply to CAF at once; false means the reply went
  // with the outputs (the caller returns caf::delegated).
  bool end_message_ok(caf::message* reply = nullptr);
  // Ends a failed message: drops its writes, restores the last snapshot,
  // turns its outputs into their failure form (error replies, error
  // responses for requests, no sends). `reply` as for end_message_ok, with
  // the error as the reply.
  bool end_message_failed(const caf::error& e, bool reply = false);
  // Snapshot + KV writes so far, submitted as one unit if anything changed.
  void checkpoint(bool force = false);
  // Requests sent and not yet answered: drain and passivation wait for them.
  void request_started() { ++outstanding_requests_; }
  void request_finished() {
    if (outstanding_requests_ > 0) --outstanding_requests_;
  }
  // Quits if draining and nothing is in flight any more.
  void maybe_finish_drain();
  caf::strong_actor_ptr self_ptr() { return caf::strong_actor_ptr{self_ctrl()}; }
  // Deletes every key of every KV group that lists `event` (or of the group
  // `name`) through kv(): part of the current message's writes.
  expected<std::uint64_t> clear_kv_event(std::string_view event);
  expected<std::uint64_t> clear_kv_group(std::string_view name);
  // The memory-only part (ark::actor's Memory), or nullptr without one.
  void* memory_object() const { return memory_.get(); }
  // A promise made by this actor (its reply target): should the actor become
  // unable to run the callbacks that would deliver it (its creation failed
  // to commit, it stopped), its caller gets that error at once.
  void track_promise(const std::shared_ptr<detached_output>& target);
  // Fails every promise of this actor still pending with `e`.
  void fail_promises(const caf::error& e);

  // -- alarms (actors/src/alarms.cpp) -----------------------------------------

  // Schedules (or replaces) alarm `name` as part of the current message.
  expected<void> schedule_alarm(std::string name, std::chrono::system_clock::time_point due,
                                std::string payload, const alarm_options& opts);
  bool cancel_alarm(const std::string& name);
  std::vector<alarm> list_alarms() const;
  std::optional<alarm> find_alarm(const std::string& name) const;
  // Loads the alarm rows at their first use in this activation (an actor
  // that never uses alarms reads nothing for them). Errors: the alarm
  // table's (corrupt_value naming the damaged row, the backend's).
  expected<void> load_alarms() const;
  const ark::clock& time() const { return act_.host->time(); }
  // The schema version this activation writes (its type's).
  std::uint32_t state_schema() const;
  // True when the actor has subscribers now (one atomic load).
  bool subscribed() const { return subs_ && !subs_->empty(); }
  // Sends the event `name` with msgpack `payload` to every subscriber, as an
  // output of the current message (doc/subscriptions.md).
  void publish_packed(std::string name, std::string payload);
  // Where the actor's subscription requests come from: its type and encoded key.
  std::string encoded_key() const;

  // -- handler statistics and the change feed (used by ark::actor's dispatch) --

  // Counts a call of handler `h` (its index in the interface) and returns
  // the clock reading it starts at when the call is timed, else 0: a sample
  // of the calls (type_stats::record_call), and every call while the actor
  // has a change-record subscriber (the live tail shows each duration).
  std::int64_t handler_clock(std::size_t h) {
    if (!act_.stats) return 0;
    bool timed = act_.stats->record_call(h, last_activity_.count());
    if (!timed && !(subs_ && subs_->wants_changes())) return 0;
    return stats_clock_ns();
  }
  // Handler `h` returned now, with `failure` (or none); `t0` is what
  // handler_clock returned. From here until handler_finished, the unit the
  // message builds and its reply are the handler's.
  void handler_returned(std::size_t h, std::int64_t t0, const caf::error& failure) {
    handler_ = h;
    if (!act_.stats) return;
    if (failure) act_.stats->record_error(h, failure);
    if (t0 == 0) return;
    ready_ns_ = stats_clock_ns();
    handler_ns_ = ready_ns_ - t0;
    act_.stats->record_time(h, static_cast<std::uint64_t>(handler_ns_));
  }
  // Handler `h` could not run: `err` answers it.
  void handler_refused(std::size_t h, const caf::error& err) {
    if (!act_.stats) return;
    act_.stats->record_call(h, last_activity_.count());
    act_.stats->record_error(h, err);
  }
  // The message of the last handler_returned ended; `replied_now`: its reply
  // left at once (nothing was pending), else it waits in a unit.
  void handler_finished(bool replied_now) {
    if (replied_now && ready_ns_ != 0) act_.stats->record_wait(handler_, 0);
    handler_ = no_handler;
    ready_ns_ = 0;
  }

 protected:
  host* host_of() const { return act_.host.get(); }

  static constexpr std::size_t no_handler = static_cast<std::size_t>(-1);

  // Hooks implemented by ark::actor<Interface, State>.
  virtual void pack_state(std::string& out) const = 0;
  virtual expected<void> load_state(const msgpack::object& obj) = 0;
  virtual void reset_state() = 0;
  virtual caf::actor self_handle() = 0;
  virtual caf::actor_control_block* self_ctrl() = 0;
  virtual caf::mailbox_element* current_element() = 0;
  virtual void quit_now(caf::error reason) = 0;
  virtual void run_on_activate() = 0;
  // Runs the actor's on_alarm; an error (or exception) fails the delivery.
  virtual expected<void> run_on_alarm(const alarm& a) = 0;
  virtual std::vector<kv_group> declared_kv_groups() const { return {}; }

  // Called by the constructor of an actor with a memory-only part: a fresh
  // object, replaced at activation by the one a previous activation stashed.
  void init_memory(std::shared_ptr<void> m, const std::type_info& type) {
    memory_.init(std::move(m), type);
  }

  // Activation: load the snapshot, or create (on_initialize) and persist.
  void activate();
  // The actor terminated (CAF on_exit).
  void exited();
  // Internal messages (commit notifications, idle ticks, inspection) seen by
  // the default handler; false when `msg` is none of them.
  // `delegated`: the reply goes out later (gated), answer caf::delegated.
  bool handle_internal(const caf::message& msg, caf::message& reply, bool& delegated);
  // Subscribe and unsubscribe requests (part of handle_internal); they answer
  // through the output gate, so a reply never shows a state a crash could undo.
  bool handle_subscription(const caf::message& msg);
  // exit_msg: stop taking messages, release what is in flight, then quit.
  void drain(caf::error reason);
  // The state as the dashboard shows it by default: msgpack decoded to JSON.
  nlohmann::json generic_state_json() const;
  virtual nlohmann::json inspect_json() const = 0;

 private:
  // Loads the snapshot into the state; found: there was one. A snapshot that
  // does not decode or convert is corrupt_snapshot (see damaged_snapshot).
  // An older snapshot is migrated (its steps' KV writes wait in the overlay)
  // and *migrated set: the caller persists it with checkpoint(true). Without
  // `migrated`, an older snapshot is an error (a migration that was not
  // committed). A newer one is format_version; a failed migration, or a
  // stored field the state type lacks, migration_failed.
  expected<void> load_from_storage(bool& found, bool* migrated);
  // corrupt_snapshot naming the actor, what is wrong with its snapshot
  // (`what`, e.g. "is damaged (...)") and the ark-dash command that removes it.
  error damaged_snapshot(const std::string& what, errc code = errc::corrupt_snapshot) const;
  // After a soft passivation: the state back from the snapshot. Then, after
  // that or a failed commit's reload, on_activate (run_activate_hook).
  caf::error reload_if_passive();
  // Runs on_activate as a message of its own (one unit, ahead of every later
  // reply); an exception rolls its changes back.
  void run_activate_hook();
  // Fills `unit` with what changed since the last unit; false: nothing did.
  bool build_unit(commit_unit& unit, bool force);
  void start_unit(commit_unit& unit);
  // Validates declared_kv_groups() into kv_groups_ (at activation).
  expected<void> load_kv_groups();
  // {clear_atom, event} from outside: clear_kv_event as a message, with the
  // reply gated like a handler's.
  void handle_clear_message(const std::string& event, caf::message& reply);
  // Deletes the keys of `groups` (kv_groups_ entries) in one write batch.
  expected<std::uint64_t> clear_groups(const std::vector<const kv_group*>& groups);
  // Every removal from the directory goes through here: the memory-only
  // part is stashed first (so an activation that follows finds it), and
  // taken back when the actor stays (try_passivate returned false).
  bool leave_directory(bool force, std::size_t own_refs = 0);
  // Appends a state_changed notification for every subscriber that wants one
  // to `unit` (whose snapshot is last_snapshot_): it leaves once the unit is
  // durable.
  void notify_state(commit_unit& unit);
  // Appends a change record (subscription_mode::changes) for every
  // subscriber that wants one to `unit` (built: its KV writes are in it):
  // the state `before` and after (last_snapshot_) when `changed`, the
  // message's handler, events and `alarms` (the changes it made to them).
  void notify_change(commit_unit& unit, const std::string& before, bool changed,
                     nlohmann::json alarms);
  // build_unit for an actor with a change-record subscriber.
  void build_unit_with_change(commit_unit& unit, bool changed, bool kv_dirty);
  // The name of handler `h` of the actor's interface ("add(int64) -> int64").
  std::string handler_name(std::size_t h) const;
  // A packed state as JSON (null when empty; {"error": ...} when damaged).
  static nlohmann::json state_json(const std::string& packed);
  // One output per subscriber, with the message pick(its mode) (none when
  // null). Ark actor subscribers are activated (outside the list's lock).
  std::vector<detached_output> subscriber_outputs(
      const std::function<const caf::message*(subscription_mode)>& pick);
  // Answers the current request through the output gate.
  void reply_gated(caf::message content);
  // The reply to a subscribe in `mode`: the current state.
  caf::message current_state(subscription_mode mode) const;
  void on_subscribe(subscriber who);
  void on_unsubscribe(const subscriber& who);
  // The KV overlay forgets in-flight writes the base holds now.
  void forget_committed_kv();
  // Sends the ended message's outputs (and reply) on their way: at once when
  // nothing is pending, else with `unit` (or an output-only unit).
  bool route(std::optional<commit_unit>& unit, caf::message* reply);
  void on_commit(std::uint64_t seq, std::uint64_t epoch, const caf::error& err);
  // This activation lost the actor (fenced by another claim, or its host's
  // cluster lease ended): see disown_atom.
  void abandon(const caf::error& err);
  void on_idle();
  void schedule_idle(std::chrono::milliseconds after);
  void soft_passivate();
  // Units submitted and neither durable nor known to have failed.
  bool pending() const { return gate_.pending(); }
  // Asks the writer for a notification once everything submitted is durable
  // (drain and eviction wait for that; ordinary commits send none).
  void request_wake();
  bool settled() const { return !pending() && outstanding_requests_ == 0; }
  // A due alarm delivered (false: answer `reply` now).
  bool deliver_alarm(const std::string& name, std::int64_t due_ms, caf::message& reply);

  // Who the actor is and who hosts it.
  activation act_;

  // The parts, one concept each (declared in their own headers):
  output_gate gate_;        // units submitted, the durable watermark, outputs held
  mutable alarm_book alarms_;  // durable alarms, loaded at first use (alarms.cpp)
  kv_group_set kv_groups_;  // KV groups of the type, validated at activation (kv_groups.cpp)
  memory_slot memory_;      // the memory-only part, if the type has one (actor_memory.cpp)
  std::shared_ptr<subscriber_list> subs_;  // null: no subscribers (actor_subscriptions.cpp)

  // State and KV as submitted (checkpoints).
  // Opens kv_ and overlay_ unless open. Errors: shutting_down (the host
  // closed its storage).
  expected<void> open_kv();
  std::shared_ptr<kv_overlay> overlay_;  // null until the store is first used
  std::optional<kv::store> kv_;
  std::string last_snapshot_;  // msgpack of the state as last submitted
  std::string scratch_;
  std::uint64_t overlay_seen_ = 0;  // durable seq the KV overlay last forgot up to

  // Message lifecycle.
  bool in_message_ = false;
  std::size_t handler_ = no_handler;  // the interface handler whose message is ending
  std::int64_t ready_ns_ = 0;         // when it returned (stats_clock_ns), if timed; else 0
  std::int64_t handler_ns_ = 0;       // how long it ran, if timed
  // What the change feed notes about the current message, made only while
  // the actor has a change-record subscriber (an activation without one
  // carries a null pointer, not the strings).
  struct change_notes {
    std::string label;                // the message when not a handler's: on_alarm('x'), on_activate
    std::vector<std::string> events;  // the events it published
    std::string fired_alarm;          // the alarm it delivers
  };
  std::unique_ptr<change_notes> change_;
  change_notes& change_notes_now() {
    if (!change_) change_ = std::make_unique<change_notes>();
    return *change_;
  }
  std::uint64_t outstanding_requests_ = 0;
  std::vector<std::weak_ptr<detached_output>> promises_;  // see track_promise
  caf::error activation_error_;
  caf::actor_id caf_id_ = 0;
  std::chrono::nanoseconds last_activity_;  // CLOCK_MONOTONIC_COARSE

  // Passivation and drain.
  bool passive_ = false;
  bool reactivate_ = false;  // the state was reloaded: on_activate runs next
  bool draining_ = false;
  bool idle_scheduled_ = false;
  bool exited_ = false;
  bool evict_requested_ = false;  // the runtime is over its activation cap
  caf::error drain_reason_;
};

}  // namespace detail
}  // namespace ark
