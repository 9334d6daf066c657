// The publisher's side of subscriptions: subscribe and unsubscribe requests,
// state notifications appended to commit units, published events
// (doc/subscriptions.md).

#include <algorithm>
#include <iterator>

#include <caf/all.hpp>

#include "ark/detail/actor_core.hpp"
#include "ark/errors.hpp"
#include "ark/kv/json.hpp"
#include "ark/registry.hpp"

namespace ark::detail {

// -- subscriber_list ----------------------------------------------------------

void subscriber_list::count(const subscriber& s, int delta) {
  auto apply = [delta](std::atomic<std::size_t>& n) {
    if (delta > 0)
      n.fetch_add(1, std::memory_order_acq_rel);
    else
      n.fetch_sub(1, std::memory_order_acq_rel);
  };
  if (s.mode == subscription_mode::state || s.mode == subscription_mode::view) apply(wants_state_);
  if (s.mode == subscription_mode::view) apply(wants_view_);
  if (s.mode == subscription_mode::changes) apply(wants_changes_);
}

subscriber_list::add_result subscriber_list::add(subscriber s, std::size_t limit) {
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& x : subs_) {
    if (!x.same_as(s)) continue;
    count(x, -1);
    x.mode = s.mode;
    count(x, +1);
    return add_result::updated;
  }
  if (subs_.size() >= limit) return add_result::full;
  count(s, +1);
  subs_.push_back(std::move(s));
  size_.store(subs_.size(), std::memory_order_release);
  return add_result::added;
}

bool subscriber_list::remove(const subscriber& s) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto it =
      std::find_if(subs_.begin(), subs_.end(), [&](const subscriber& x) { return x.same_as(s); });
  if (it == subs_.end()) return false;
  count(*it, -1);
  *it = std::move(subs_.back());
  subs_.pop_back();
  size_.store(subs_.size(), std::memory_order_release);
  return true;
}

std::size_t subscriber_list::remove_handle(const caf::actor_addr& addr) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto gone = std::stable_partition(subs_.begin(), subs_.end(), [&](const subscriber& x) {
    return x.by_identity() || x.handle.address() != addr;
  });
  std::size_t n = static_cast<std::size_t>(std::distance(gone, subs_.end()));
  for (auto it = gone; it != subs_.end(); ++it) count(*it, -1);
  subs_.erase(gone, subs_.end());
  size_.store(subs_.size(), std::memory_order_release);
  return n;
}

// -- actor_core ---------------------------------------------------------------

namespace {

// inspect_state() is user code: an exception becomes the view's error text
// instead of escaping from the commit path.
std::string view_text(const std::function<nlohmann::json()>& inspect) {
  try {
    return kv::json_text(inspect());
  } catch (const std::exception& e) {
    return kv::json_text(
        nlohmann::json{{"error", std::string("inspect_state threw: ") + e.what()}});
  } catch (...) {
    return kv::json_text(nlohmann::json{{"error", "inspect_state threw"}});
  }
}

}  // namespace

std::string actor_core::encoded_key() const {
  // The identity was built from this key, so it encodes.
  auto k = encode_key(act_.id.key);
  return k ? std::move(*k) : std::string();
}

void actor_core::reply_gated(caf::message content) {
  // take_reply marks the request answered: CAF drops what the default
  // handler returns, and the reply leaves once everything submitted is durable.
  auto o = take_reply(std::move(content));
  add_output(std::move(o));
}

caf::message actor_core::current_state(subscription_mode mode) const {
  state_changed c;
  c.type = act_.id.type;
  c.key = kv::key_to_json_text(act_.id.key);
  c.seq = subs_ ? subs_->state_seq.load(std::memory_order_relaxed) : 0;
  c.format = mode;
  c.schema = state_schema();
  // Between messages last_snapshot_ is the state as last submitted: the
  // state this reply reveals once it leaves the output gate.
  if (mode == subscription_mode::state)
    c.payload = last_snapshot_;
  else if (mode == subscription_mode::view)
    c.payload = view_text([this] { return inspect_json(); });
  else if (mode == subscription_mode::changes)
    c.payload = kv::json_text(nlohmann::json{{"state", state_json(last_snapshot_)}});
  return caf::make_message(std::move(c));
}

std::vector<detached_output> actor_core::subscriber_outputs(
    const std::function<const caf::message*(subscription_mode)>& pick) {
  std::vector<detached_output> out;
  std::vector<std::pair<const caf::message*, subscriber>> by_identity;
  subs_->for_each([&](const subscriber& s) {
    const caf::message* msg = pick(s.mode);
    if (msg == nullptr) return;
    if (s.by_identity())
      by_identity.emplace_back(msg, s);
    else
      out.push_back(detached_output::send(caf::actor_cast<caf::strong_actor_ptr>(s.handle), *msg));
  });
  // Outside the list's lock: activating a subscriber takes the directory's.
  for (auto& [msg, s] : by_identity) {
    auto h = act_.host->get_or_create(s.type, s.key, caf::message{}, {});
    if (h) out.push_back(detached_output::send(caf::actor_cast<caf::strong_actor_ptr>(*h), *msg));
  }
  return out;
}

void actor_core::notify_state(commit_unit& unit) {
  state_changed c;
  c.type = act_.id.type;
  c.key = kv::key_to_json_text(act_.id.key);
  c.seq = subs_->state_seq.fetch_add(1, std::memory_order_relaxed) + 1;
  c.schema = state_schema();
  caf::message view_msg;
  if (subs_->wants_view()) {
    // inspect_state() is user code: run it before taking the list's lock.
    auto view = c;
    view.format = subscription_mode::view;
    view.payload = view_text([this] { return inspect_json(); });
    view_msg = caf::make_message(std::move(view));
  }
  caf::message state_msg;
  auto outs = subscriber_outputs([&](subscription_mode mode) -> const caf::message* {
    if (mode == subscription_mode::view) return &view_msg;
    if (mode != subscription_mode::state) return nullptr;
    if (state_msg.empty()) {
      c.format = subscription_mode::state;
      c.payload = last_snapshot_;
      state_msg = caf::make_message(std::move(c));
    }
    return &state_msg;
  });
  unit.outputs.insert(unit.outputs.end(), std::make_move_iterator(outs.begin()),
                      std::make_move_iterator(outs.end()));
}

std::string actor_core::handler_name(std::size_t h) const {
  if (act_.stats && h < act_.stats->handler_count()) return act_.stats->handler_names()[h];
  // Without statistics: the registry has the names (a lookup under its lock,
  // for change records only).
  if (const auto* t = actor_registry::global().find(act_.id.type); t && h < t->handlers.size())
    return t->handlers[h].name;
  return "handler #" + std::to_string(h);
}

nlohmann::json actor_core::state_json(const std::string& packed) {
  if (packed.empty()) return nullptr;
  auto v = kv::value::from_msgpack(packed).unpack();
  if (!v) return nlohmann::json{{"error", v.error().summary()}};
  return kv::msgpack_to_json(v->get());
}

void actor_core::notify_change(commit_unit& unit, const std::string& before, bool changed,
                               nlohmann::json alarms) {
  using json = nlohmann::json;
  json record{{"type", act_.id.type},
              {"key", kv::key_to_json(act_.id.key)},
              {"seq", subs_->change_seq.fetch_add(1, std::memory_order_relaxed) + 1}};
  if (handler_ != no_handler)
    record["handler"] = handler_name(handler_);
  else
    record["handler"] = change_ && !change_->label.empty() ? json(change_->label) : json(nullptr);
  if (handler_ != no_handler && ready_ns_ != 0)
    record["duration_us"] = static_cast<double>(handler_ns_) / 1000.0;
  else
    record["duration_us"] = nullptr;
  if (changed)
    record["state"] = json{{"before", state_json(before)}, {"after", state_json(last_snapshot_)}};
  else
    record["state"] = nullptr;
  json writes = json::array();
  for (const auto& op : unit.kv.ops) {
    if (op.op == kv::write_op::kind::clear) {
      writes.push_back(json{{"op", "clear"}});
      continue;
    }
    auto k = decode_key(op.key);
    json w{{"op", op.op == kv::write_op::kind::put ? "put" : "delete"},
           {"key", k ? kv::key_to_json(*k) : json(nullptr)}};
    if (op.op == kv::write_op::kind::put) w["bytes"] = op.value.size();
    writes.push_back(std::move(w));
  }
  record["kv"] = std::move(writes);
  record["events"] = change_ ? json(change_->events) : json::array();
  record["alarms"] = std::move(alarms);
  if (change_) *change_ = {};
  state_changed c;
  c.type = act_.id.type;
  c.key = kv::key_to_json_text(act_.id.key);
  c.seq = record["seq"].get<std::uint64_t>();
  c.format = subscription_mode::changes;
  c.schema = state_schema();
  c.payload = kv::json_text(record);
  auto msg = caf::make_message(std::move(c));
  auto outs = subscriber_outputs([&](subscription_mode mode) -> const caf::message* {
    return mode == subscription_mode::changes ? &msg : nullptr;
  });
  unit.outputs.insert(unit.outputs.end(), std::make_move_iterator(outs.begin()),
                      std::make_move_iterator(outs.end()));
}

void actor_core::publish_packed(std::string name, std::string payload) {
  if (!subscribed()) return;
  event e;
  e.type = act_.id.type;
  e.key = kv::key_to_json_text(act_.id.key);
  e.seq = subs_->event_seq.fetch_add(1, std::memory_order_relaxed) + 1;
  e.name = std::move(name);
  e.payload = std::move(payload);
  if (subs_->wants_changes()) change_notes_now().events.push_back(e.name);
  auto msg = caf::make_message(std::move(e));
  // Outputs of the current message: they leave once its effects are durable
  // and are dropped if it fails.
  for (auto& o : subscriber_outputs([&](subscription_mode) { return &msg; }))
    add_output(std::move(o));
}

void actor_core::on_subscribe(subscriber who) {
  caf::error err;
  if (static_cast<std::uint8_t>(who.mode) > static_cast<std::uint8_t>(subscription_mode::changes))
    err = to_caf(errc::invalid_argument,
                 "subscribe to " + describe() + ": unknown subscription mode " +
                     std::to_string(static_cast<unsigned>(who.mode)) +
                     " (use subscription_mode::state, view, events or changes)");
  else if (!who.by_identity() && !who.handle)
    err = to_caf(errc::invalid_argument,
                 "subscribe to " + describe() + ": the subscriber handle is invalid");
  else if (activation_error_)
    err = activation_error_;
  else if (draining_)
    err = to_caf(errc::shutting_down, describe() + " is stopping");
  else
    err = reload_if_passive();
  if (!err) {
    auto mode = who.mode;
    auto list = act_.host->subscribe(act_.id, std::move(who));
    if (list) {
      subs_ = std::move(*list);
      // Registered before any later unit is built: the subscriber gets every
      // change after the state in this reply, and the reply leaves after the
      // units that made that state durable.
      reply_gated(current_state(mode));
      return;
    }
    err = to_caf(list.error());
  }
  reply_gated(caf::make_message(std::move(err)));
}

void actor_core::on_unsubscribe(const subscriber& who) {
  reply_gated(caf::make_message(act_.host->unsubscribe(act_.id, who)));
}

bool actor_core::handle_subscription(const caf::message& msg) {
  // An ark actor subscriber names itself by type and encoded key.
  auto by_identity = [&](const std::string& type, const std::string& key_bytes,
                         subscriber& out) -> caf::error {
    auto k = decode_key(key_bytes);
    if (!k)
      return to_caf(errc::invalid_key, "subscriber of " + describe() + ": " + k.error().context());
    auto id = make_identity(type, *k);
    if (!id) return to_caf(id.error());
    out.type = id->type;
    out.key = std::move(id->key);
    out.encoded = std::move(id->encoded);
    return {};
  };
  if (msg.match_elements<subscribe_atom, caf::actor, subscription_mode>()) {
    subscriber s;
    s.handle = msg.get_as<caf::actor>(1);
    s.mode = msg.get_as<subscription_mode>(2);
    on_subscribe(std::move(s));
    return true;
  }
  if (msg.match_elements<subscribe_atom, std::string, std::string, subscription_mode>()) {
    subscriber s;
    s.mode = msg.get_as<subscription_mode>(3);
    if (auto err = by_identity(msg.get_as<std::string>(1), msg.get_as<std::string>(2), s))
      reply_gated(caf::make_message(std::move(err)));
    else
      on_subscribe(std::move(s));
    return true;
  }
  if (msg.match_elements<unsubscribe_atom, caf::actor>()) {
    subscriber s;
    s.handle = msg.get_as<caf::actor>(1);
    on_unsubscribe(s);
    return true;
  }
  if (msg.match_elements<unsubscribe_atom, std::string, std::string>()) {
    subscriber s;
    if (auto err = by_identity(msg.get_as<std::string>(1), msg.get_as<std::string>(2), s))
      reply_gated(caf::make_message(std::move(err)));
    else
      on_unsubscribe(s);
    return true;
  }
  return false;
}

}  // namespace ark::detail
