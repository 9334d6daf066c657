#pragma once

#include <memory>
#include <string>
#include <typeinfo>

#include "ark/detail/host.hpp"

namespace ark::detail {

/// The memory-only part of one activation (ark::actor's Memory) and its
/// hand-over to the host across passivation: stashed when the actor leaves
/// the directory, taken back by the next activation in the same process.
/// Empty (get() is null) for a type without a Memory. Actor thread only.
class memory_slot {
 public:
  /// A fresh object of `type` (the constructor of ark::actor).
  void init(std::shared_ptr<void> object, const std::type_info& type) {
    object_ = std::move(object);
    type_ = &type;
  }
  void* get() const { return object_.get(); }

  /// At activation: the object a previous activation stashed, if the host
  /// kept one of the same type; else the fresh one stays.
  void restore(host& h, const std::string& state_key);

  /// Runs `leave` (removing the actor from the directory) with the object
  /// stashed first, so an activation that follows at once finds it; takes
  /// it back when `leave` returns false (the actor stays). Returns `leave`'s
  /// result.
  template <class F>
  bool leave_with(host& h, const std::string& state_key, F&& leave) {
    bool stash = object_ && !stashed_;
    if (stash) h.stash_memory(state_key, stashed_memory{object_, type_});
    if (leave()) {
      if (stash) stashed_ = true;
      return true;
    }
    if (stash) (void)h.take_memory(state_key);
    return false;
  }

  /// At exit: stashes the object unless it already was.
  void stash_at_exit(host& h, const std::string& state_key) {
    if (!object_ || stashed_) return;
    stashed_ = true;
    h.stash_memory(state_key, stashed_memory{object_, type_});
  }

 private:
  std::shared_ptr<void> object_;
  const std::type_info* type_ = nullptr;
  bool stashed_ = false;  // handed to the host when leaving the directory
};

}  // namespace ark::detail
