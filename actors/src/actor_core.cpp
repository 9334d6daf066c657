#include "ark/detail/actor_core.hpp"

#include <algorithm>
#include <cctype>
#include <iterator>

#include <caf/all.hpp>

#include "ark/errors.hpp"
#include "ark/inspect.hpp"
#include "ark/kv/json.hpp"
#include "ark/kv/value.hpp"
#include "ark/migration.hpp"
#include "kv_overlay.hpp"

namespace ark::detail {

namespace {

// The smallest pause between idle checks, so a tiny timeout cannot spin.
constexpr std::chrono::milliseconds min_idle_tick{10};

// `text` as one word for a POSIX shell: unchanged when it needs no quoting,
// else in single quotes.
std::string shell_word(std::string_view text) {
  bool plain = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
           c == '/' || c == ':' || c == '=' || c == '+' || c == ',';
  });
  if (plain) return std::string(text);
  std::string out = "'";
  for (char c : text) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

// What the callers of an actor get when it cannot load its snapshot. A
// damaged, too new or unmigratable snapshot keeps its code
// (corrupt_snapshot, corrupt_value for one that fails its checksum,
// format_version, migration_failed), and so does a
// migration whose commit failed (commit_failed), so a caller can tell them
// from other failures.
caf::error activation_error(const error& e) {
  if (e == errc::corrupt_snapshot || e == errc::corrupt_value || e == errc::format_version ||
      e == errc::migration_failed || e == errc::commit_failed)
    return to_caf(e);
  return to_caf(errc::activation_failed, e.summary());
}

// True when the state in `stored` (a snapshot of `schema`) is byte for byte
// `state` (the common case: the same code wrote it), so nothing can have
// been dropped. make_snapshot writes the state last, after a fixed prefix.
bool same_state_bytes(std::string_view stored, std::uint32_t schema, std::string_view state) {
  auto prefix = make_snapshot(schema, {});
  return stored.size() == prefix.size() + state.size() &&
         stored.substr(0, prefix.size()) == prefix && stored.substr(prefix.size()) == state;
}

}  // namespace

actor_core::actor_core(activation a)
    : act_(std::move(a)), gate_(act_.id.encoded), last_activity_(act_.host->time().monotonic()) {
  if (act_.host) subs_ = act_.host->subscribers(act_.id);
  if (act_.stats) act_.stats->active.fetch_add(1, std::memory_order_relaxed);
}

actor_core::~actor_core() {
  exited();
}

void actor_core::exited() {
  if (exited_ || !act_.host) return;
  exited_ = true;
  if (act_.stats) act_.stats->active.fetch_sub(1, std::memory_order_relaxed);
  // Nothing can deliver them any more: their callers get an error now
  // rather than their timeout.
  fail_promises(
      to_caf(errc::unreachable, describe() + " stopped before delivering a promised reply"));
  // Drop every reference to storage: the runtime closes the data directory
  // once all actors are gone, even if CAF frees this object later.
  kv_.reset();
  overlay_.reset();
  memory_.stash_at_exit(*act_.host, act_.id.encoded);
  act_.host->on_actor_gone(act_.id, caf_id_);
}

std::string actor_core::describe() const {
  return "actor " + act_.id.type + " " + kv::key_to_json_text(act_.id.key);
}

kv::store& actor_core::kv_store() {
  if (!kv_) {
    if (auto r = open_kv(); !r) throw failed_call(r.error());
  }
  return *kv_;
}

expected<void> actor_core::open_kv() {
  // At the first use of kv() (or a migration, or a KV group's clearing), not
  // at activation: an actor without KV allocates and reads nothing for it,
  // and its messages never touch the overlay. The identity was checked to
  // fit a key (make_identity), so a space key: opening cannot fail but for
  // a host that closed its storage.
  if (kv_) return {};
  auto storage = act_.host->storage();
  if (!storage) return error{errc::shutting_down, describe() + ": the host is stopping"};
  auto overlay = std::make_shared<kv_overlay>(std::move(storage), act_.id.encoded);
  auto store = kv::store::open(overlay, ark::key{act_.id.type, act_.id.key});
  if (!store) return error{store.error().code(), describe() + ": " + store.error().context()};
  kv_.emplace(std::move(*store));
  kv_->set_owner(describe());
  overlay_ = std::move(overlay);
  return {};
}

std::uint32_t actor_core::state_schema() const {
  return act_.schema ? act_.schema->current : 1;
}

expected<void> actor_core::load_from_storage(bool& found, bool* migrated) {
  found = false;
  alarms_.clear();  // read again from storage at their next use
  if (migrated) *migrated = false;
  std::uint64_t claim = 0;
  auto stored = act_.host->claim_snapshot(act_.id.encoded, claim);
  // Units started from now on are fenced by this claim (a later claim by
  // another process makes their commits fail with `fenced`).
  gate_.set_fence_epoch(claim);
  if (!stored) {
    if (stored.error() == errc::not_found) return {};
    // The backend found its bytes changed on disk: never load them.
    if (stored.error() == errc::corrupt_value)
      return damaged_snapshot(
          "fails its checksum (its bytes changed on disk after ark wrote them)",
          errc::corrupt_value);
    return error{stored.error().code(), describe() + ": " + stored.error().context()};
  }
  auto snap = parse_snapshot(*stored);
  if (!snap) return damaged_snapshot("is damaged (" + snap.error().context() + ")");
  auto current = state_schema();
  if (snap->schema > current) return newer_snapshot(act_.id, snap->schema, current);
  const msgpack::object* state = &snap->state;
  std::optional<msgpack::object_handle> upgraded;
  if (snap->schema < current) {
    if (!migrated)
      return error{errc::commit_failed,
                   describe() + ": the migration of its snapshot from schema " +
                       std::to_string(snap->schema) + " to " + std::to_string(current) +
                       " was not committed; the next activation migrates it again"};
    // No schema: current is 1, so the snapshot claims schema 0.
    static const type_schema no_steps;
    if (auto r = open_kv(); !r) return r.error();  // the steps may use the actor's KV
    auto bytes = run_migrations(act_.schema ? *act_.schema : no_steps, act_.id, snap->schema,
                                snap->state, *kv_);
    if (!bytes) {
      overlay_->discard();
      return bytes.error();
    }
    auto h = kv::value::from_msgpack(*bytes).unpack();
    if (!h) {
      overlay_->discard();
      return error{errc::migration_failed, describe() + ": " + h.error().context()};
    }
    upgraded = std::move(*h);
    state = &upgraded->get();
  }
  if (auto r = load_state(*state); !r) {
    if (r.error() != errc::corrupt_snapshot) return r.error();
    if (upgraded) {
      overlay_->discard();  // the migration opened the store
      return error{errc::migration_failed,
                   describe() + ": the migrated state does not convert into the state type"};
    }
    return damaged_snapshot(
        "does not convert into the state type (it is damaged, or was written by incompatible "
        "code)");
  }
  pack_state(last_snapshot_);
  if (!upgraded && !same_state_bytes(*stored, snap->schema, last_snapshot_)) {
    // A field the state type lacks would vanish at the next write: refuse
    // rather than lose it silently (a rename without a migration step).
    if (auto lost = dropped_field(*state, last_snapshot_))
      return dropped_field_error(act_.id, snap->schema, *lost,
                                 act_.schema ? act_.schema->state_type : "the state type");
  }
  if (migrated) *migrated = upgraded.has_value();
  found = true;
  return {};
}

error actor_core::damaged_snapshot(const std::string& what, errc code) const {
  auto dir = act_.host->storage_location();
  auto identity = kv::key_to_json_text(ark::key{act_.id.type, act_.id.key});
  return error{code,
               describe() + ": its state snapshot " + what +
                   ". The actor cannot be activated until the snapshot is repaired: restore the "
                   "data directory from a backup, or stop the host and remove the snapshot with "
                   "`ark-dash kv delete --data " +
                   (dir.empty() ? std::string("DIR") : shell_word(dir)) +
                   " --space '[null,\"state\"]' " + shell_word(identity) +
                   "` (the actor then starts anew with on_initialize; its KV entries stay)"};
}

void actor_core::activate() {
  caf_id_ = self_ctrl()->id();
  memory_.restore(*act_.host, act_.id.encoded);
  if (auto groups = load_kv_groups(); !groups) {
    activation_error_ = to_caf(groups.error());
  } else {
    bool found = false, migrated = false;
    auto loaded = load_from_storage(found, &migrated);
    if (!loaded) {
      activation_error_ = activation_error(loaded.error());
    } else if (migrated) {
      // The migrated state and the steps' KV writes, as one unit, before any
      // message: every reply is gated behind its commit.
      checkpoint(true);
    } else if (!found) {
      // A new actor: on_initialize runs once, and its result is persisted
      // (even if it equals the default state) before any reply leaves.
      reset_state();
      in_message_ = true;
      expected<void> init;
      try {
        init = act_.initialize ? act_.initialize(this, act_.init) : expected<void>{};
      } catch (const std::exception& e) {
        init = error{errc::activation_failed, describe() + ": on_initialize threw: " + e.what()};
      }
      in_message_ = false;
      if (!init) {
        if (overlay_) overlay_->discard();
        gate_.drop_outputs();
        activation_error_ = to_caf(init.error().code() == errc::bad_init_args
                                       ? init.error()
                                       : error{errc::activation_failed, init.error().summary()});
      } else {
        checkpoint(true);
      }
    }
  }
  act_.init = caf::message{};
  if (activation_error_) {
    // Leave the directory now, so the next get_or_create tries again.
    leave_directory(true);
    // Out of the directory, so no sweep reaches it: answer what is queued,
    // then quit on its own timer.
    schedule_idle(std::max(act_.host->idle_timeout(), std::chrono::milliseconds(1000)));
    return;
  }
  last_activity_ = act_.host->time().monotonic();
  act_.host->on_message();
  run_activate_hook();
}

void actor_core::run_activate_hook() {
  // A message of its own: its changes are one unit, submitted before any
  // later message's, so every later reply waits until it is durable.
  reactivate_ = false;
  forget_committed_kv();
  in_message_ = true;
  if (subs_ && subs_->wants_changes()) change_notes_now().label = "on_activate";
  try {
    run_on_activate();
  } catch (const failed_call& e) {
    end_message_failed(to_caf(e.err));
    return;
  } catch (const std::exception& e) {
    end_message_failed(
        to_caf(errc::handler_failed, describe() + ": on_activate threw: " + e.what()));
    return;
  } catch (...) {
    end_message_failed(
        to_caf(errc::handler_failed, describe() + ": on_activate threw an unknown exception"));
    return;
  }
  end_message_ok();
}

caf::error actor_core::begin_message(bool callback) {
  if (activation_error_) return activation_error_;
  // While draining, only completions of work already accepted still run.
  if (draining_ && !callback) return to_caf(errc::shutting_down, describe() + " is stopping");
  last_activity_ = act_.host->time().monotonic();
  act_.host->on_message();
  // A request callback completes the work of an earlier message: it sees the
  // state as it is (after a failed commit, the durable snapshot), and
  // on_activate waits for the next message. (So a hook whose request keeps
  // being rolled back cannot run itself again through its callback.)
  if (!callback || passive_) {
    if (auto err = reload_if_passive()) return err;
  }
  forget_committed_kv();
  in_message_ = true;
  return {};
}

caf::error actor_core::reload_if_passive() {
  if (passive_) {
    bool found = false, migrated = false;
    auto loaded = load_from_storage(found, &migrated);
    if (!loaded && loaded.error() == errc::fenced) {
      // Another host claimed the actor while this activation was passive:
      // it lives there now.
      auto err = to_caf(loaded.error());
      abandon(err);
      return err;
    }
    if (!loaded) return activation_error(loaded.error());
    if (!found) return to_caf(errc::activation_failed, describe() + ": its snapshot vanished");
    passive_ = false;
    if (migrated) checkpoint(true);
    reactivate_ = true;
  }
  // The state came back from storage (here, or after a failed commit): as at
  // activation, on_activate runs before anything else sees it.
  if (reactivate_) run_activate_hook();
  return {};
}

void actor_core::forget_committed_kv() {
  if (!overlay_ || !overlay_->has_inflight()) return;
  auto durable = gate_.durable();
  if (durable > overlay_seen_) {
    overlay_seen_ = durable;
    overlay_->committed(durable);
  }
}

void actor_core::start_unit(commit_unit& unit) {
  gate_.start_unit(unit, self_handle());
}

bool actor_core::build_unit(commit_unit& unit, bool force) {
  pack_state(scratch_);
  bool changed = scratch_ != last_snapshot_;
  bool kv_dirty = overlay_ && overlay_->dirty();
  if (!changed && !kv_dirty && !alarms_.changed() && !force) {
    if (change_) *change_ = {};
    return false;
  }
  start_unit(unit);
  if (subs_ && subs_->wants_changes()) {
    build_unit_with_change(unit, changed || force, kv_dirty);
    return true;
  }
  alarms_.take_writes(act_.id, unit);
  if (changed || force) {
    unit.snapshot = make_snapshot(state_schema(), scratch_);
    last_snapshot_.swap(scratch_);
    if (subs_ && subs_->wants_state()) notify_state(unit);
  }
  if (kv_dirty) unit.kv = overlay_->take(unit.seq);
  return true;
}

void actor_core::build_unit_with_change(commit_unit& unit, bool changed, bool kv_dirty) {
  // As build_unit, keeping what the change record shows: the state before,
  // and the alarm changes before they become writes.
  nlohmann::json alarms = nlohmann::json::array();
  for (const auto& [name, row] : alarms_.changes()) {
    if (row)
      alarms.push_back({{"op", "set"}, {"name", name}, {"due", inspect::iso8601_utc(row->due_ms)}});
    else
      alarms.push_back({{"op", change_ && name == change_->fired_alarm ? "fired" : "cancel"},
                        {"name", name}});
  }
  std::string before = last_snapshot_;
  alarms_.take_writes(act_.id, unit);
  if (changed) {
    unit.snapshot = make_snapshot(state_schema(), scratch_);
    last_snapshot_.swap(scratch_);
    if (subs_->wants_state()) notify_state(unit);
  }
  if (kv_dirty) unit.kv = overlay_->take(unit.seq);
  notify_change(unit, before, changed, std::move(alarms));
}

void actor_core::checkpoint(bool force) {
  commit_unit unit;
  if (build_unit(unit, force)) act_.host->submit(std::move(unit));
}

bool actor_core::end_message_ok(caf::message* reply) {
  std::optional<commit_unit> unit;
  unit.emplace();
  if (!build_unit(*unit, false)) unit.reset();
  in_message_ = false;
  return route(unit, reply);
}

bool actor_core::end_message_failed(const caf::error& e, bool reply) {
  if (overlay_) overlay_->discard();
  alarms_.discard_changes();
  if (change_) *change_ = {};
  // Back to the last snapshot (the one submitted last, or saved mid-handler).
  auto restored = kv::value::from_msgpack(last_snapshot_).unpack();
  if (restored) {
    if (!load_state(restored->get())) reset_state();
  } else {
    reset_state();
  }
  in_message_ = false;
  gate_.fail_outputs(e);
  std::optional<commit_unit> none;
  if (!reply) return route(none, nullptr);
  auto msg = caf::make_message(e);
  return route(none, &msg);
}

bool actor_core::route(std::optional<commit_unit>& unit, caf::message* reply) {
  if (!unit && !gate_.pending()) {
    // Nothing to wait for: outputs leave now, in order, and so may the reply.
    gate_.release_outputs();
    return true;
  }
  if (reply) {
    auto o = take_reply(std::move(*reply));
    if (ready_ns_ != 0 && handler_ != no_handler) {  // a timed call's reply
      o.stats = act_.stats;
      o.handler = handler_;
      o.ready_ns = ready_ns_;
    }
    gate_.add(std::move(o));
  }
  if (!unit) {
    if (!gate_.has_outputs()) return false;
    // An output-only unit keeps them in line behind the pending ones.
    unit.emplace();
    start_unit(*unit);
  }
  gate_.attach_outputs(*unit);
  act_.host->submit(std::move(*unit));
  return false;
}

void actor_core::add_output(detached_output o) {
  if (o.empty()) return;
  gate_.add(std::move(o));
  if (in_message_) return;  // leaves with the message's other outputs
  // Outside a message (an error reply before the message started): on its own.
  std::optional<commit_unit> none;
  route(none, nullptr);
}

detached_output actor_core::take_reply(caf::message content) {
  detached_output o;
  o.what = detached_output::kind::reply;
  auto* e = current_element();
  if (e == nullptr || e->mid.is_answered()) return o;
  auto mid = e->mid;
  e->mid.mark_as_answered();
  if (!e->stages.empty()) {
    // A forwarding chain: the next stage gets the result (as CAF does).
    o.dest = std::move(e->stages.back());
    e->stages.pop_back();
    o.sender = std::move(e->sender);
    o.mid = mid;
    o.stages = std::move(e->stages);
  } else {
    o.dest = std::move(e->sender);
    o.sender = self_ptr();
    o.mid = mid.response_id();
  }
  o.content = std::move(content);
  return o;
}

void actor_core::request_wake() {
  if (!gate_.wake_wanted()) return;
  commit_unit unit;
  start_unit(unit);
  gate_.mark_wake(unit);
  act_.host->submit(std::move(unit));
}

void actor_core::abandon(const caf::error& err) {
  if (activation_error_) return;  // already abandoned (or never activated)
  // Another process claimed the actor, or this host may no longer serve it:
  // this activation no longer owns it. Reloading would claim it back; leave
  // instead, answer what is queued with `err` and quit (the next lookup
  // activates it anew, where its owner is then).
  gate_.fail_epoch();
  if (overlay_) overlay_->reset();
  activation_error_ = err;
  leave_directory(true);
  schedule_idle(std::max(act_.host->idle_timeout(), std::chrono::milliseconds(1000)));
  fail_promises(activation_error_);
}

void actor_core::on_commit(std::uint64_t /*seq*/, std::uint64_t epoch, const caf::error& err) {
  if (epoch != gate_.epoch()) return;  // a unit of a generation that already failed
  if (err && (from_caf(err) == errc::fenced || from_caf(err) == errc::lease_lost)) {
    abandon(err);
  } else if (err) {
    // Everything not yet durable is lost: the writer fails the outputs that
    // wait on it and refuses later units of this epoch. Back to the durable
    // state.
    gate_.fail_epoch();
    if (overlay_) overlay_->reset();
    bool found = false;
    auto loaded = load_from_storage(found, nullptr);
    if (loaded && found) {
      // The next message runs on_activate first (not here, nor before a
      // callback: a hook whose own commit keeps failing would spin).
      reactivate_ = true;
    } else if (!loaded) {
      // The durable state cannot be read back now (its migration failed to
      // commit, or the storage is unreachable: a database server that went
      // away). Leave the directory so the next lookup activates it afresh
      // (migrating again, or once the storage answers), and quit once
      // settled; until then messages get the error.
      activation_error_ = activation_error(loaded.error());
      act_.host->try_passivate(act_.id, self_ctrl(), true);
      schedule_idle(std::max(act_.host->idle_timeout(), std::chrono::milliseconds(1000)));
    } else if (!found) {
      // The creation itself failed to commit: the actor does not exist.
      activation_error_ = to_caf(errc::commit_failed, describe() + ": its creation failed");
      leave_directory(true);
    }
    // No message or callback runs any more: no promise could be delivered.
    if (activation_error_) fail_promises(activation_error_);
  } else {
    forget_committed_kv();
  }
  if (evict_requested_) on_idle();
  maybe_finish_drain();
}

bool actor_core::handle_internal(const caf::message& msg, caf::message& reply,
                                 bool& delegated) {
  delegated = false;
  if (msg.match_elements<alarm_atom, std::string, std::int64_t>()) {
    delegated = !deliver_alarm(msg.get_as<std::string>(1), msg.get_as<std::int64_t>(2), reply);
    return true;
  }
  if (msg.match_elements<ping_atom>()) {
    reply = caf::make_message(ping_atom::value);
    return true;
  }
  if (msg.match_elements<sync_atom>()) {
    // Behind every unit submitted so far (an error if one of them failed).
    reply_gated(caf::make_message(sync_atom::value));
    return true;
  }
  if (msg.match_elements<commit_atom, std::uint64_t, std::uint64_t, caf::error>()) {
    on_commit(msg.get_as<std::uint64_t>(1), msg.get_as<std::uint64_t>(2),
              msg.get_as<caf::error>(3));
    return true;
  }
  if (msg.match_elements<disown_atom, caf::error>()) {
    abandon(msg.get_as<caf::error>(1));
    return true;
  }
  if (msg.match_elements<idle_atom>()) {
    idle_scheduled_ = false;
    on_idle();
    act_.host->idle_checked();
    return true;
  }
  if (msg.match_elements<evict_atom>()) {
    evict_requested_ = true;
    on_idle();
    act_.host->idle_checked();
    return true;
  }
  if (msg.match_elements<clear_atom, std::string>()) {
    handle_clear_message(msg.get_as<std::string>(1), reply);
    return true;
  }
  if (msg.match_elements<inspect_atom>()) {
    if (activation_error_)
      reply = caf::make_message(activation_error_);
    else if (auto err = reload_if_passive())
      reply = caf::make_message(std::move(err));
    else
    {
      // The view plus what only the live actor knows (doc/admin_api.md).
      auto last = gate_.last_commit_ms();
      reply = caf::make_message(kv::json_text(nlohmann::json{
          {"state", inspect_json()},
          {"last_commit_ms", last == 0 ? nlohmann::json() : nlohmann::json(last)}}));
    }
    return true;
  }
  return handle_subscription(msg);
}

void actor_core::schedule_idle(std::chrono::milliseconds after) {
  if (idle_scheduled_ || (after.count() <= 0 && !evict_requested_)) return;
  idle_scheduled_ = true;
  caf::delayed_anon_send(self_handle(), std::max(after, min_idle_tick), idle_atom::value);
}

void actor_core::on_idle() {
  auto timeout = act_.host->idle_timeout();
  auto idle_for = std::chrono::duration_cast<std::chrono::milliseconds>(
      act_.host->time().monotonic() - last_activity_);
  bool settled = this->settled();
  if (activation_error_ && settled) {
    quit_now(caf::exit_reason::normal);
    return;
  }
  // Not settled: an eviction is retried once the writer wakes the actor,
  // idleness by the runtime's next sweep.
  if (!settled) {
    if (evict_requested_) request_wake();
    return;
  }
  if (!evict_requested_ && (timeout.count() <= 0 || idle_for < timeout)) return;
  evict_requested_ = false;
  // A pending idle timer holds a reference to this actor (CAF's clock).
  if (leave_directory(false, idle_scheduled_ ? 1 : 0)) {
    quit_now(caf::exit_reason::normal);
    return;
  }
  // A handle may have been a transient copy: the next sweep looks again.
  soft_passivate();
}

void actor_core::soft_passivate() {
  // Handles to this actor live outside the host, so it stays addressable,
  // but its state leaves memory until the next message reloads it.
  if (passive_) return;
  passive_ = true;
  act_.host->soft_passivated();
  reset_state();
  std::string().swap(last_snapshot_);
  std::string().swap(scratch_);
  if (overlay_) overlay_->reset();
  alarms_.clear();
}

void actor_core::drain(caf::error reason) {
  draining_ = true;
  drain_reason_ = std::move(reason);
  maybe_finish_drain();
}

void actor_core::maybe_finish_drain() {
  if (!draining_) {
    // An eviction that waited for requests in flight goes ahead now.
    if (evict_requested_ && settled()) on_idle();
    return;
  }
  if (settled()) {
    leave_directory(true);
    quit_now(drain_reason_);
    return;
  }
  request_wake();  // no-op unless units are pending
}

void actor_core::track_promise(const std::shared_ptr<detached_output>& target) {
  promises_.erase(std::remove_if(promises_.begin(), promises_.end(),
                                 [](const std::weak_ptr<detached_output>& p) {
                                   auto t = p.lock();
                                   return !t || t->empty();
                                 }),
                  promises_.end());
  promises_.push_back(target);
}

void actor_core::fail_promises(const caf::error& e) {
  auto all = std::move(promises_);
  promises_.clear();
  for (auto& p : all) {
    auto t = p.lock();
    if (!t || t->empty()) continue;
    // As promise::deliver_error, but at once: nothing of this actor can be
    // pending that an error could reveal.
    auto o = std::move(*t);
    t->dest = nullptr;
    o.content = caf::make_message(e);
    o.release();
  }
}

nlohmann::json actor_core::generic_state_json() const {
  std::string packed;
  pack_state(packed);
  auto v = kv::value::from_msgpack(packed);
  auto j = kv::value_to_json(v);
  if (!j) return nlohmann::json{{"error", j.error().message()}};
  return *j;
}

}  // namespace ark::detail
