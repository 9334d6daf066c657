#include "ark/registry.hpp"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

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

std::vector<std::string> unregistered_types(const std::set<std::string>& message_types) {
  // CAF names a type it does not know "<invalid-type[typeid MANGLED]>"
  // (caf/actor_system.hpp, mpi_field_access).
  static const std::string open = "<invalid-type[typeid ";
  std::vector<std::string> out;
  for (const auto& sig : message_types) {
    for (auto pos = sig.find(open); pos != std::string::npos; pos = sig.find(open, pos)) {
      pos += open.size();
      auto end = sig.find("]>", pos);
      if (end == std::string::npos) break;
      auto mangled = sig.substr(pos, end - pos);
      int status = 0;
      std::unique_ptr<char, void (*)(void*)> name(
          abi::__cxa_demangle(mangled.c_str(), nullptr, nullptr, &status), std::free);
      std::string readable = status == 0 && name ? std::string(name.get()) : mangled;
      if (std::find(out.begin(), out.end(), readable) == out.end()) out.push_back(readable);
      pos = end;
    }
  }
  return out;
}

error unregistered_type_error(const std::set<std::string>& message_types, const std::string& what) {
  auto types = unregistered_types(message_types);
  if (types.empty()) return {};
  std::string list;
  for (const auto& t : types) list += (list.empty() ? "" : ", ") + t;
  const auto& t = types.front();
  return error{errc::unregistered_type,
               "the interface of " + what + " uses " + list +
                   ", which this program has not registered as a message type, so it can "
                   "neither send nor receive " +
                   (types.size() == 1 ? "it" : "them") +
                   " (even a message that uses only built-in types is refused, as the whole "
                   "interface is checked)",
               "link into this program the header that declares " + t + " with ARK_MESSAGE_TYPE(" +
                   t +
                   ", \"NAME\") and build its actor system from "
                   "ark::client_config, or call cfg.add_message_type<" +
                   t + ">(\"NAME\") with the name the actor's module registered"};
}

}  // namespace ark
