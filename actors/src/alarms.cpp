// Durable alarms, the actor's side (doc/alarms.md): the alarm table rows of
// one actor, changed by its messages and committed with them.

#include <algorithm>

#include <caf/all.hpp>

#include "ark/alarm.hpp"
#include "ark/detail/actor_core.hpp"
#include "ark/detail/alarm_book.hpp"
#include "ark/kv/store.hpp"
#include "ark/migration.hpp"
#include "ark/errors.hpp"
#include "ark/kv/json.hpp"
#include "kv_overlay.hpp"

namespace ark {

namespace stored {

const std::string& alarm_space() {
  // On disk: never change this value (doc/alarms.md).
  static const std::string space = *encode_key(ark::key{nullptr, "alarms"});
  return space;
}

const std::string& alarm_due_space() {
  // On disk: never change this value (doc/alarms.md).
  static const std::string space = *encode_key(ark::key{nullptr, "alarm_due"});
  return space;
}

}  // namespace stored

namespace detail {

alarm to_alarm(std::string name, const stored_alarm& s) {
  alarm a;
  a.name = std::move(name);
  a.due = from_unix_ms(s.due_ms);
  a.attempt = s.attempt;
  a.options.max_attempts = s.max_attempts;
  a.options.first_backoff = std::chrono::milliseconds(s.backoff_ms);
  a.options.max_backoff = std::chrono::milliseconds(s.max_backoff_ms);
  a.payload = s.payload;
  return a;
}

std::int64_t alarm_backoff_ms(const stored_alarm& s, std::uint32_t failed) {
  std::int64_t wait = std::max<std::int64_t>(s.backoff_ms, 1);
  for (std::uint32_t i = 1; i < failed && wait < s.max_backoff_ms; ++i) wait *= 2;
  return std::min(wait, std::max<std::int64_t>(s.max_backoff_ms, 1));
}

namespace {

std::string encode_or_empty(const ark::key& k) {
  auto e = encode_key(k);
  return e ? std::move(*e) : std::string();
}

}  // namespace

// -- alarm_book ------------------------------------------------------------------

expected<void> alarm_book::load(std::shared_ptr<kv::backend> storage, const identity& id) {
  clear();
  if (!storage) return error{errc::shutting_down, describe(id) + ": the host is stopping"};
  auto table = kv::store::open(std::move(storage), ark::key{nullptr, "alarms"});
  if (!table) return table.error();
  kv::list_options opts;
  opts.prefix = ark::key{id.type, id.key};
  auto c = table->list(opts);
  for (; c.valid(); c.next()) {
    const auto& k = c.key();
    auto s = c.value().as<stored_alarm>();
    if (k.size() != 3 || k[2].kind() != key_element::type::string || !s)
      return error{errc::corrupt_value, describe(id) + ": alarm entry " + k.to_string() +
                                            " is damaged (remove it with `ark-dash kv delete "
                                            "--space '[null,\"alarms\"]'`)"};
    rows_.emplace(k[2].as_string(), std::move(*s));
  }
  if (c.status()) {
    rows_.clear();
    return c.status();
  }
  loaded_ = true;
  return {};
}

expected<void> alarm_book::schedule(const identity& id, std::string name,
                                    std::chrono::system_clock::time_point due,
                                    std::string payload, const alarm_options& opts) {
  auto who = [&] { return describe(id); };
  if (name.empty() || name.size() > max_alarm_name)
    return error{errc::invalid_argument, who() + ": an alarm name must have 1 to " +
                                             std::to_string(max_alarm_name) + " bytes"};
  if (payload.size() > max_alarm_payload)
    return error{errc::value_too_large,
                 who() + ": alarm '" + name + "' payload has " + std::to_string(payload.size()) +
                     " bytes, more than " + std::to_string(max_alarm_payload) +
                     "; keep the data in kv() and put its key in the payload"};
  if (opts.max_attempts == 0)
    return error{errc::invalid_argument,
                 who() + ": alarm '" + name + "': max_attempts must be at least 1"};
  // The row's key must fit: [type, key, name] and [due, type, key, name].
  auto due_key = encode_or_empty(ark::key{std::int64_t{0}, id.type, id.key, name});
  if (due_key.empty() || due_key.size() > kv::max_key_size)
    return error{errc::key_too_large, who() + ": alarm name '" + name +
                                          "' with the actor's identity does not fit a key "
                                          "(shorten the name)"};
  stored_alarm s;
  s.due_ms = to_unix_ms(due);
  s.max_attempts = opts.max_attempts;
  s.backoff_ms = std::max<std::int64_t>(opts.first_backoff.count(), 1);
  s.max_backoff_ms = std::max<std::int64_t>(opts.max_backoff.count(), s.backoff_ms);
  s.payload = std::move(payload);
  changes_[std::move(name)] = std::move(s);
  return {};
}

bool alarm_book::cancel(const std::string& name) {
  bool existed = find(name).has_value();
  if (existed) changes_[name] = std::nullopt;
  return existed;
}

std::optional<alarm> alarm_book::find(const std::string& name) const {
  if (auto it = changes_.find(name); it != changes_.end()) {
    if (!it->second) return std::nullopt;
    return to_alarm(name, *it->second);
  }
  if (auto it = rows_.find(name); it != rows_.end()) return to_alarm(name, it->second);
  return std::nullopt;
}

std::vector<alarm> alarm_book::list() const {
  std::vector<alarm> out;
  for (const auto& [name, s] : rows_)
    if (!changes_.count(name)) out.push_back(to_alarm(name, s));
  for (const auto& [name, s] : changes_)
    if (s) out.push_back(to_alarm(name, *s));
  std::sort(out.begin(), out.end(), [](const alarm& a, const alarm& b) {
    return a.due < b.due || (a.due == b.due && a.name < b.name);
  });
  return out;
}

const stored_alarm* alarm_book::submitted(const std::string& name) const {
  auto it = rows_.find(name);
  return it == rows_.end() ? nullptr : &it->second;
}

void alarm_book::take_writes(const identity& id, commit_unit& unit) {
  if (changes_.empty()) return;
  kv::space_writes rows{alarm_space(), {}};
  kv::space_writes due{alarm_due_space(), {}};
  auto due_key = [&](std::int64_t ms, const std::string& name) {
    return encode_or_empty(ark::key{ms, id.type, id.key, name});
  };
  for (auto& [name, change] : changes_) {
    auto row = encode_or_empty(ark::key{id.type, id.key, name});
    auto old = rows_.find(name);
    if (old != rows_.end() && (!change || change->due_ms != old->second.due_ms))
      due.ops.push_back({kv::write_op::kind::del, due_key(old->second.due_ms, name), {}});
    if (!change) {
      if (old != rows_.end()) {
        rows.ops.push_back({kv::write_op::kind::del, std::move(row), {}});
        rows_.erase(old);
      }
      continue;
    }
    rows.ops.push_back(
        {kv::write_op::kind::put, std::move(row), kv::value::pack(*change).stored()});
    due.ops.push_back(
        {kv::write_op::kind::put, due_key(change->due_ms, name), kv::value::raw({}).stored()});
    unit.earliest_alarm = std::min(unit.earliest_alarm, change->due_ms);
    rows_[name] = std::move(*change);
  }
  changes_.clear();
  if (!rows.ops.empty()) unit.extra.push_back(std::move(rows));
  if (!due.ops.empty()) unit.extra.push_back(std::move(due));
}

// -- actor_core: the alarm calls of ark::actor, and delivery -----------------------

expected<void> actor_core::load_alarms() const {
  if (alarms_.loaded()) return {};
  if (auto a = alarms_.load(act_.host->storage(), act_.id); !a)
    return error{a.error().code(), describe() + ": its alarms: " + a.error().context()};
  return {};
}

namespace {

// The calls without an error path of their own fail their message instead.
void need(const expected<void>& loaded) {
  if (!loaded) throw failed_call(loaded.error());
}

}  // namespace

expected<void> actor_core::schedule_alarm(std::string name,
                                          std::chrono::system_clock::time_point due,
                                          std::string payload, const alarm_options& opts) {
  if (auto r = load_alarms(); !r) return r.error();
  return alarms_.schedule(act_.id, std::move(name), due, std::move(payload), opts);
}

bool actor_core::cancel_alarm(const std::string& name) {
  need(load_alarms());
  return alarms_.cancel(name);
}

std::optional<alarm> actor_core::find_alarm(const std::string& name) const {
  need(load_alarms());
  return alarms_.find(name);
}

std::vector<alarm> actor_core::list_alarms() const {
  need(load_alarms());
  return alarms_.list();
}

bool actor_core::deliver_alarm(const std::string& name, std::int64_t due_ms, caf::message& reply) {
  if (auto err = begin_message()) {
    reply = caf::make_message(std::move(err));
    return true;
  }
  if (auto loaded = load_alarms(); !loaded) {
    // Its rows cannot be read (damage, storage away): the dispatcher retries.
    in_message_ = false;
    reply = caf::make_message(to_caf(loaded.error()));
    std::optional<commit_unit> none;
    return route(none, &reply);
  }
  const auto* row = alarms_.submitted(name);
  if (row == nullptr || row->due_ms != due_ms) {
    // Cancelled or moved meanwhile: nothing runs. The answer waits for the
    // commits in flight, so the dispatcher looks again only once the change
    // that made this delivery stale is durable.
    // An index entry no row backs (a row changed by a commit that then
    // failed, or damage) is removed, so the dispatcher does not send it
    // again; deleting an entry that is already gone is harmless.
    in_message_ = false;
    reply = caf::make_message(false);
    std::optional<commit_unit> unit;
    auto due_key = encode_or_empty(ark::key{due_ms, act_.id.type, act_.id.key, name});
    if (!due_key.empty()) {
      unit.emplace();
      start_unit(*unit);
      unit->extra.push_back(
          kv::space_writes{alarm_due_space(), {{kv::write_op::kind::del, std::move(due_key), {}}}});
    }
    return route(unit, &reply);
  }
  auto current = *row;
  alarms_.change(name, std::nullopt);  // delivered: gone, unless on_alarm schedules it again
  if (subs_ && subs_->wants_changes()) {
    auto& notes = change_notes_now();
    notes.label = "on_alarm('" + name + "')";
    notes.fired_alarm = name;
  }
  expected<void> outcome;
  try {
    outcome = run_on_alarm(to_alarm(name, current));
  } catch (const failed_call& e) {
    outcome = e.err;
  } catch (const std::exception& e) {
    outcome = error{errc::handler_failed, describe() + ": on_alarm('" + name + "') threw: " + e.what()};
  } catch (...) {
    outcome = error{errc::handler_failed, describe() + ": on_alarm('" + name + "') threw"};
  }
  if (outcome) {
    reply = caf::make_message(true);
    return end_message_ok(&reply);
  }
  // Roll the handler back, then reschedule (or drop) the alarm in a unit of
  // its own, which the dispatcher's answer waits for.
  end_message_failed(to_caf(outcome.error()));
  auto failed = current.attempt + 1;
  if (failed >= current.max_attempts) {
    act_.host->log(describe() + ": alarm '" + name + "' dropped after " + std::to_string(failed) +
                   " failed deliveries; the last error: " + outcome.error().message());
    alarms_.change(name, std::nullopt);
  } else {
    current.attempt = failed;
    current.due_ms = to_unix_ms(time().now()) + alarm_backoff_ms(current, failed);
    alarms_.change(name, current);
  }
  std::optional<commit_unit> unit;
  unit.emplace();
  if (!build_unit(*unit, false)) unit.reset();
  reply = caf::make_message(to_caf(outcome.error()));
  return route(unit, &reply);
}

}  // namespace detail

}  // namespace ark
