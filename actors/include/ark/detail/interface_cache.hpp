#pragma once

#include <mutex>
#include <set>
#include <string>
#include <typeindex>
#include <typeinfo>
#include <unordered_map>

#include <caf/actor_system.hpp>

namespace ark::detail {

/// actor_system::message_types<I>() (the caller's interface that a lookup
/// checks against the actor type's), built once per owner and interface.
/// Building it joins a string for every signature: about 1 µs, which every
/// get_or_create paid before. An owner (a runtime, a client) serves one
/// actor system, so its entries cannot go stale; a process-wide cache could,
/// since two actor systems may name the same C++ type differently.
class interface_cache {
 public:
  template <class Interface>
  const std::set<std::string>& get(caf::actor_system& sys) {
    return get(std::type_index(typeid(Interface)), sys,
               [](caf::actor_system& s) { return s.message_types<Interface>(); });
  }

 private:
  using make_fn = std::set<std::string> (*)(caf::actor_system&);

  const std::set<std::string>& get(std::type_index t, caf::actor_system& sys, make_fn make) {
    std::lock_guard<std::mutex> guard{mtx_};
    auto it = sets_.find(t);
    if (it == sets_.end()) it = sets_.emplace(t, make(sys)).first;
    return it->second;  // never erased; unordered_map keeps references stable
  }

  std::mutex mtx_;
  std::unordered_map<std::type_index, std::set<std::string>> sets_;
};

}  // namespace ark::detail
