#pragma once

// The logical layout of a data directory, shared by the durable backends
// (doc/storage_format.md): three tables `meta`, `spaces` and `kv`. LMDB keeps
// them as named databases, SQLite as tables; walk_raw (ark/kv/open.hpp)
// reports either in the same form, so tools that check or copy a whole
// directory (ark-dash verify, query, dump) work on both.

#include <cstdint>
#include <functional>
#include <string_view>

namespace ark::kv {

/// Version of the on-disk layout written to `meta` (format_version). A data
/// directory with a larger version is refused (format_version). Bump only
/// with a migration path; never reuse a number. One number for every backend.
inline constexpr std::uint32_t storage_format_version = 1;

/// The tables of a data directory, as walk_raw reports them.
enum class raw_db : std::uint8_t {
  meta,    ///< ASCII name -> value (format_version: u32 big-endian, next_space_id: u64 big-endian)
  spaces,  ///< encoded space key -> 8-byte big-endian space id
  kv,      ///< 8-byte big-endian space id ++ encoded user key -> stored value
};

/// Called by walk_raw for every entry; returns false to stop the walk.
using raw_visitor = std::function<bool(raw_db db, std::string_view key, std::string_view value)>;

}  // namespace ark::kv
