#include "ark/registry.hpp"

#include <algorithm>

#include "ark/errors.hpp"

namespace ark {

actor_registry& actor_registry::global() {
  static actor_registry instance;
  return instance;
}

void actor_registry::add(actor_type t) {
  std::lock_guard<std::mutex> guard{mtx_};
  for (const auto& existing : types_) {
    if (existing.name == t.name) {
      errors_.push_back("actor type '" + t.name +
                        "' is registered twice (two modules, or ARK_ACTOR twice); the first "
                        "registration stays");
      return;
    }
  }
  if (t.schema)
    for (const auto& e : t.schema->errors) errors_.push_back("actor type '" + t.name + "': " + e);
  types_.push_back(std::move(t));
}

const actor_type* actor_registry::find(std::string_view name) const {
  std::lock_guard<std::mutex> guard{mtx_};
  for (const auto& t : types_)
    if (t.name == name) return &t;
  return nullptr;
}

std::vector<std::string> actor_registry::names() const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<std::string> out;
  for (const auto& t : types_) out.push_back(t.name);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> actor_registry::take_errors() {
  std::lock_guard<std::mutex> guard{mtx_};
  return std::exchange(errors_, {});
}

void actor_registry::add_message_type(std::function<void(caf::actor_system_config&)> hook) {
  std::lock_guard<std::mutex> guard{mtx_};
  message_types_.push_back(std::move(hook));
}

void actor_registry::configure(caf::actor_system_config& cfg) const {
  std::lock_guard<std::mutex> guard{mtx_};
  for (const auto& hook : message_types_) hook(cfg);
  add_subscription_types(cfg);
  add_error_category(cfg);
}

}  // namespace ark
