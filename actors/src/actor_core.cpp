#include "ark/detail/actor_core.hpp"

#include <caf/all.hpp>

#include "ark/errors.hpp"
#include "ark/kv/json.hpp"
#include "ark/kv/value.hpp"
#include "kv_overlay.hpp"

namespace ark::detail {

namespace {

// The smallest pause between idle checks, so a tiny timeout cannot spin.
constexpr std::chrono::milliseconds min_idle_tick{10};

}  // namespace

actor_core::actor_core(activation a)
    : act_(std::move(a)), last_activity_(std::chrono::steady_clock::now()) {}

actor_core::~actor_core() {
  exited();
}

void actor_core::exited() {
  if (exited_ || !act_.host) return;
  exited_ = true;
  // Drop every reference to storage: the runtime closes the data directory
  // once all actors are gone, even if CAF frees this object later.
  kv_.reset();
  overlay_.reset();
  act_.host->on_actor_gone(act_.id, caf_id_);
}

std::string actor_core::describe() const {
  return "actor " + act_.id.type + " " + kv::key_to_json_text(act_.id.key);
}

kv::store& actor_core::kv_store() {
  // activate() opens the store before any handler runs.
  return *kv_;
}

expected<void> actor_core::load_from_storage(bool& found) {
  found = false;
  auto stored = act_.host->storage()->get(state_space(), act_.id.encoded);
  if (!stored) {
    if (stored.error() == errc::not_found) return {};
    return error{stored.error().code(), describe() + ": " + stored.error().context()};
  }
  auto snap = parse_snapshot(*stored);
  if (!snap) return error{snap.error().code(), describe() + ": " + snap.error().context()};
  if (snap->schema > state_schema())
    return error{errc::format_version,
                 describe() + ": snapshot schema " + std::to_string(snap->schema) +
                     " is newer than this code's schema " + std::to_string(state_schema())};
  ARK_TRY(load_state(snap->state));
  pack_state(last_snapshot_);
  found = true;
  return {};
}

void actor_core::activate() {
  caf_id_ = self_ctrl()->id();
  overlay_ = std::make_shared<kv_overlay>(act_.host->storage(), act_.id.encoded);
  auto store = kv::store::open(overlay_, ark::key{act_.id.type, act_.id.key});
  if (!store) {
    activation_error_ =
        to_caf(errc::activation_failed, describe() + ": " + store.error().message());
  } else {
    kv_.emplace(std::move(*store));
    bool found = false;
    auto loaded = load_from_storage(found);
    if (!loaded) {
      activation_error_ = to_caf(errc::activation_failed, loaded.error().message());
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
        overlay_->discard();
        outputs_.clear();
        activation_error_ = to_caf(init.error().code() == errc::bad_init_args
                                       ? init.error()
                                       : error{errc::activation_failed, init.error().message()});
      } else {
        checkpoint(true);
      }
    }
  }
  act_.init = caf::message{};
  if (activation_error_) {
    // Leave the directory now, so the next get_or_create tries again.
    act_.host->try_passivate(act_.id, self_ctrl(), true);
    // Out of the directory, so no sweep reaches it: answer what is queued,
    // then quit on its own timer.
    schedule_idle(std::max(act_.host->idle_timeout(), std::chrono::milliseconds(1000)));
    return;
  }
  if (begin_message()) return;
  try {
    run_on_activate();
    end_message_ok();
  } catch (const std::exception& e) {
    end_message_failed(
        to_caf(errc::handler_failed, describe() + ": on_activate threw: " + e.what()));
  }
}

caf::error actor_core::begin_message(bool callback) {
  if (activation_error_) return activation_error_;
  // While draining, only completions of work already accepted still run.
  if (draining_ && !callback) return to_caf(errc::shutting_down, describe() + " is stopping");
  last_activity_ = std::chrono::steady_clock::now();
  if (auto err = reload_if_passive()) return err;
  in_message_ = true;
  return {};
}

caf::error actor_core::reload_if_passive() {
  if (!passive_) return {};
  bool found = false;
  auto loaded = load_from_storage(found);
  if (!loaded) return to_caf(errc::activation_failed, loaded.error().message());
  if (!found) return to_caf(errc::activation_failed, describe() + ": its snapshot vanished");
  passive_ = false;
  return {};
}

void actor_core::checkpoint(bool force) {
  pack_state(scratch_);
  bool changed = scratch_ != last_snapshot_;
  bool kv_dirty = overlay_->dirty();
  if (!changed && !kv_dirty && !force) return;
  commit_unit unit;
  unit.target = self_handle();
  unit.seq = ++submitted_seq_;
  unit.epoch = epoch_;
  unit.state_key = act_.id.encoded;
  if (changed || force) {
    unit.snapshot = make_snapshot(state_schema(), scratch_);
    last_snapshot_.swap(scratch_);
  }
  if (kv_dirty) unit.kv = overlay_->take(unit.seq);
  act_.host->submit(std::move(unit));
}

void actor_core::end_message_ok() {
  checkpoint();
  in_message_ = false;
  auto outs = std::move(outputs_);
  outputs_.clear();
  for (auto& o : outs) gate(std::move(o.release), std::move(o.fail));
}

void actor_core::end_message_failed(const caf::error& e) {
  overlay_->discard();
  // Back to the last snapshot (the one submitted last, or saved mid-handler).
  auto restored = kv::value::from_msgpack(last_snapshot_).unpack();
  if (restored) {
    if (!load_state(restored->get())) reset_state();
  } else {
    reset_state();
  }
  in_message_ = false;
  auto outs = std::move(outputs_);
  outputs_.clear();
  for (auto& o : outs)
    if (o.fail) gate([f = std::move(o.fail), e]() { f(e); }, nullptr);
}

void actor_core::add_output(std::function<void()> release,
                            std::function<void(const caf::error&)> fail) {
  if (in_message_)
    outputs_.push_back(output{std::move(release), std::move(fail)});
  else
    gate(std::move(release), std::move(fail));
}

void actor_core::gate(std::function<void()> release, std::function<void(const caf::error&)> fail) {
  if (reply_now()) {
    release();
    return;
  }
  gate_.push_back(gated{submitted_seq_, std::move(release), std::move(fail)});
}

void actor_core::on_commit(std::uint64_t seq, std::uint64_t epoch, const caf::error& err) {
  if (epoch != epoch_) return;  // a unit of a generation that already failed
  if (!err) {
    if (seq > durable_seq_) durable_seq_ = seq;
    overlay_->committed(seq);
    while (!gate_.empty() && gate_.front().dep <= durable_seq_) {
      auto g = std::move(gate_.front());
      gate_.pop_front();
      g.release();
    }
  } else {
    // Everything not yet durable is lost: fail what waits on it and go back
    // to the durable state. Later units of this epoch are refused by the
    // writer, and their notifications ignored here.
    ++epoch_;
    auto waiting = std::move(gate_);
    gate_.clear();
    overlay_->reset();
    durable_seq_ = submitted_seq_;
    for (auto& g : waiting)
      if (g.fail) g.fail(err);
    bool found = false;
    auto loaded = load_from_storage(found);
    if (!loaded) {
      activation_error_ = to_caf(errc::activation_failed, loaded.error().message());
    } else if (!found) {
      // The creation itself failed to commit: the actor does not exist.
      activation_error_ = to_caf(errc::commit_failed, describe() + ": its creation failed");
      act_.host->try_passivate(act_.id, self_ctrl(), true);
    }
  }
  if (evict_requested_ && settled()) on_idle();
  maybe_finish_drain();
}

bool actor_core::handle_internal(const caf::message& msg, caf::message& reply) {
  if (msg.match_elements<commit_atom, std::uint64_t, std::uint64_t, caf::error>()) {
    on_commit(msg.get_as<std::uint64_t>(1), msg.get_as<std::uint64_t>(2),
              msg.get_as<caf::error>(3));
    return true;
  }
  if (msg.match_elements<idle_atom>()) {
    idle_scheduled_ = false;
    on_idle();
    return true;
  }
  if (msg.match_elements<evict_atom>()) {
    evict_requested_ = true;
    on_idle();
    return true;
  }
  if (msg.match_elements<inspect_atom>()) {
    if (activation_error_)
      reply = caf::make_message(activation_error_);
    else if (auto err = reload_if_passive())
      reply = caf::make_message(std::move(err));
    else
      reply = caf::make_message(kv::json_text(inspect_json()));
    return true;
  }
  return false;
}

void actor_core::schedule_idle(std::chrono::milliseconds after) {
  if (idle_scheduled_ || (after.count() <= 0 && !evict_requested_)) return;
  idle_scheduled_ = true;
  caf::delayed_anon_send(self_handle(), std::max(after, min_idle_tick), idle_atom::value);
}

void actor_core::on_idle() {
  auto timeout = act_.host->idle_timeout();
  auto idle_for = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - last_activity_);
  bool settled = this->settled();
  if (activation_error_ && settled) {
    quit_now(caf::exit_reason::normal);
    return;
  }
  // Not settled: an eviction is retried by on_commit, idleness by the
  // runtime's next sweep.
  if (!settled) return;
  if (!evict_requested_ && (timeout.count() <= 0 || idle_for < timeout)) return;
  evict_requested_ = false;
  // A pending idle timer holds a reference to this actor (CAF's clock).
  if (act_.host->try_passivate(act_.id, self_ctrl(), false, idle_scheduled_ ? 1 : 0)) {
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
  reset_state();
  std::string().swap(last_snapshot_);
  std::string().swap(scratch_);
  overlay_->reset();
}

void actor_core::drain(caf::error reason) {
  draining_ = true;
  drain_reason_ = std::move(reason);
  maybe_finish_drain();
}

void actor_core::maybe_finish_drain() {
  if (draining_ && settled()) {
    act_.host->try_passivate(act_.id, self_ctrl(), true);
    quit_now(drain_reason_);
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
