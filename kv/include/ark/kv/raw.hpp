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

/// Version of the on-disk layout of a data directory (LMDB, SQLite) written
/// to `meta` (format_version). A directory with a larger version is refused
/// (format_version). Bump only with a migration path; never reuse a number.
/// 2: every record carries a checksum (doc/storage_format.md "Checksums");
/// a writable open upgrades a version-1 directory in place, a read-only open
/// refuses it naming `ark-dash upgrade`.
inline constexpr std::uint32_t storage_format_version = 2;

/// Version of the layout of a PostgreSQL schema (doc/backends.md): its
/// records carry no checksum of ark's; the server checks its own pages
/// (initdb --data-checksums).
inline constexpr std::uint32_t pg_format_version = 1;

/// The tables of a data directory, as walk_raw reports them.
enum class raw_db : std::uint8_t {
  meta,    ///< ASCII name -> value (format_version: u32 big-endian, next_space_id: u64 big-endian)
  spaces,  ///< encoded space key -> 8-byte big-endian space id
  kv,      ///< 8-byte big-endian space id ++ encoded user key -> stored value
};

/// Called by walk_raw for every entry, with its value without the checksum;
/// `intact` is false when the entry fails its checksum (its `value` is then
/// what is stored, minus the check's bytes, and must not be trusted).
/// Returns false to stop the walk.
using raw_visitor = std::function<bool(raw_db db, std::string_view key, std::string_view value,
                                       bool intact)>;

}  // namespace ark::kv
