// An actor's memory-only part (ark::actor's Memory): never written, kept by
// the host across passivation within one process.

#include "ark/detail/actor_core.hpp"

namespace ark::detail {

void actor_core::restore_memory() {
  if (!memory_) return;
  auto m = act_.host->take_memory(act_.id.encoded);
  // The type check guards against a host that mixed up keys; a mismatch
  // keeps the fresh object.
  if (m && m.type && memory_type_ && *m.type == *memory_type_) memory_ = std::move(m.object);
}

bool actor_core::leave_directory(bool force, std::size_t own_refs) {
  bool stash = memory_ && !memory_stashed_;
  // Stashed before the directory entry goes: an activation that follows at
  // once (another thread's get_or_create) must find it.
  if (stash) act_.host->stash_memory(act_.id.encoded, stashed_memory{memory_, memory_type_});
  if (act_.host->try_passivate(act_.id, self_ctrl(), force, own_refs)) {
    if (stash) memory_stashed_ = true;
    return true;
  }
  // Still in the directory (someone holds a handle): the memory stays here.
  if (stash) (void)act_.host->take_memory(act_.id.encoded);
  return false;
}

}  // namespace ark::detail
