// KV groups (ark::kv_group): declared per actor type, cleared together on
// an event, as part of the message's writes.

#include <exception>
#include <set>

#include "ark/detail/actor_core.hpp"
#include "ark/detail/kv_group_set.hpp"
#include "ark/errors.hpp"
#include "ark/kv/json.hpp"
#include "ark/kv_group.hpp"
#include "kv_overlay.hpp"

namespace ark {

expected<void> validate_kv_groups(const std::vector<kv_group>& groups) {
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const auto& g = groups[i];
    if (g.name.empty())
      return error{errc::invalid_argument,
                   "kv group #" + std::to_string(i + 1) + " (prefix " +
                       kv::key_to_json_text(g.prefix) +
                       ") has no name; give every group in kv_groups() a name"};
    if (!names.insert(g.name).second)
      return error{errc::invalid_argument, "kv group '" + g.name +
                                               "' is declared twice in kv_groups(); give each "
                                               "group its own name"};
    if (auto k = kv::encode_user_key(g.prefix); !k)
      return error{k.error().code(),
                   "kv group '" + g.name + "' has an unusable prefix: " + k.error().context()};
    for (const auto& event : g.clear_on)
      if (event.empty())
        return error{errc::invalid_argument,
                     "kv group '" + g.name +
                         "' lists an empty event name in clear_on; name the event (e.g. "
                         "\"logout\") or remove it"};
  }
  return {};
}

namespace detail {

// -- kv_group_set ------------------------------------------------------------------

expected<void> kv_group_set::load(std::vector<kv_group> declared) {
  if (auto r = validate_kv_groups(declared); !r) return r.error();
  groups_ = std::move(declared);
  return {};
}

std::vector<const kv_group*> kv_group_set::for_event(std::string_view event) const {
  std::vector<const kv_group*> hit;
  for (const auto& g : groups_)
    for (const auto& e : g.clear_on)
      if (e == event) {
        hit.push_back(&g);
        break;
      }
  return hit;
}

const kv_group* kv_group_set::named(std::string_view name) const {
  for (const auto& g : groups_)
    if (g.name == name) return &g;
  return nullptr;
}

std::string kv_group_set::names() const {
  std::string out;
  for (const auto& g : groups_) out += (out.empty() ? "" : ", ") + g.name;
  return out;
}

// -- actor_core ----------------------------------------------------------------------

expected<void> actor_core::load_kv_groups() {
  std::vector<kv_group> groups;
  try {
    groups = declared_kv_groups();
  } catch (const std::exception& e) {
    return error{errc::activation_failed, describe() + ": kv_groups() threw: " + e.what()};
  }
  if (auto r = kv_groups_.load(std::move(groups)); !r)
    return error{errc::activation_failed, describe() + ": " + r.error().context()};
  return {};
}

expected<std::uint64_t> actor_core::clear_groups(const std::vector<const kv_group*>& groups) {
  // Encoded keys, deduplicated (groups may overlap); no value is decoded.
  if (groups.empty()) return std::uint64_t{0};
  if (auto r = open_kv(); !r) return r.error();  // the store and overlay, at their first use
  std::set<std::string> doomed;
  for (const auto* g : groups) {
    kv::list_options opts;
    opts.prefix = g->prefix;
    auto range = kv_->range_of(opts);
    if (!range) return range.error();
    if (!*range) continue;
    auto c = overlay_->scan(kv_->encoded_space(), **range, false);
    if (!c) return c.error();
    for (auto& it = *c; it->valid(); it->next()) doomed.emplace(it->key());
    if ((*c)->status())
      return error{(*c)->status().code(), describe() + ": clearing kv group '" + g->name +
                                              "': " + (*c)->status().context()};
  }
  if (doomed.empty()) return std::uint64_t{0};
  kv::backend_batch batch;
  auto& ops = batch.for_space(kv_->encoded_space()).ops;
  ops.reserve(doomed.size());
  while (!doomed.empty()) {
    auto node = doomed.extract(doomed.begin());
    ops.push_back(kv::write_op{kv::write_op::kind::del, std::move(node.value()), {}});
  }
  return overlay_->apply(batch);
}

expected<std::uint64_t> actor_core::clear_kv_event(std::string_view event) {
  return clear_groups(kv_groups_.for_event(event));
}

expected<std::uint64_t> actor_core::clear_kv_group(std::string_view name) {
  if (const auto* g = kv_groups_.named(name)) return clear_groups({g});
  auto declared = kv_groups_.names();
  return error{errc::invalid_argument,
               describe() + " has no kv group '" + std::string(name) + "' (declared: " +
                   (declared.empty() ? std::string("none; override kv_groups()") : declared) + ")"};
}

void actor_core::handle_clear_message(const std::string& event, caf::message& reply) {
  if (auto err = begin_message()) {
    // Gated like any reply when earlier units are pending.
    auto o = take_reply(caf::make_message(err));
    if (o.empty())
      reply = caf::make_message(std::move(err));
    else
      add_output(std::move(o));
    return;
  }
  auto removed = clear_kv_event(event);
  if (!removed) {
    auto err = to_caf(removed.error());
    if (end_message_failed(err, true)) reply = caf::make_message(std::move(err));
    return;
  }
  auto ok = caf::make_message(*removed);
  if (end_message_ok(&ok)) reply = std::move(ok);
}

}  // namespace detail
}  // namespace ark
