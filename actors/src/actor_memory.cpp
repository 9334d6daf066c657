// An actor's memory-only part (ark::actor's Memory): never written, kept by
// the host across passivation within one process.

#include "ark/detail/actor_core.hpp"
#include "ark/detail/memory_slot.hpp"

namespace ark::detail {

void memory_slot::restore(host& h, const std::string& state_key) {
  if (!object_) return;
  auto m = h.take_memory(state_key);
  // The type check guards against a host that mixed up keys; a mismatch
  // keeps the fresh object.
  if (m && m.type && type_ && *m.type == *type_) object_ = std::move(m.object);
}

bool actor_core::leave_directory(bool force, std::size_t own_refs) {
  return memory_.leave_with(*act_.host, act_.id.encoded, [&] {
    return act_.host->try_passivate(act_.id, self_ctrl(), force, own_refs);
  });
}

}  // namespace ark::detail
