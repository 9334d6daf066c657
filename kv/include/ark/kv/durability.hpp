#pragma once

#include <cstdint>

namespace ark::kv {

/// How a commit reaches the disk, for every durable backend
/// (doc/storage_format.md, doc/backends.md).
enum class durability : std::uint8_t {
  sync,     ///< a commit is on stable storage before it returns (default)
  relaxed,  ///< the database stays consistent, but a crash may lose the last commit(s)
  none,     ///< no fsync: the OS writes back; for caches and tests (backend::sync flushes)
};

}  // namespace ark::kv
