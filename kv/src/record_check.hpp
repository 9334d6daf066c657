#pragma once

// The checksum every record of an embedded data directory carries (storage
// format 2, doc/storage_format.md "Checksums"): LMDB and SQLite keep none of
// their own, so a flipped bit on disk would otherwise be served as data.
//
// A record's check is the low 32 bits of XXH3-64 of its value, seeded with
// XXH3-64 of its key seeded with its space id: a value that moved to another
// key or space fails too. It is stored big-endian after the value (LMDB, the
// SQLite `kv` table) or next to it (SQLite `spaces.sum`). XXH3 is inlined
// from libxxhash-dev's header: no library to link, for ark or its users.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "ark/expected.hpp"

namespace ark::kv::detail {

/// Bytes of the check appended to a stored value.
inline constexpr std::size_t check_size = 4;

/// The space "id" the checks of `spaces` entries and of LMDB's
/// next_space_id use (real space ids start at 1).
inline constexpr std::uint64_t meta_check_space = 0;

inline std::uint32_t record_check(std::uint64_t space_id, std::string_view key,
                                  std::string_view value) {
  auto seed = XXH3_64bits_withSeed(key.data(), key.size(), space_id);
  return static_cast<std::uint32_t>(XXH3_64bits_withSeed(value.data(), value.size(), seed));
}

/// Writes `value` followed by its check to `out` (which has room for
/// value.size() + check_size bytes).
inline void seal_into(char* out, std::uint64_t space_id, std::string_view key,
                      std::string_view value) {
  if (!value.empty()) std::memcpy(out, value.data(), value.size());
  auto c = record_check(space_id, key, value);
  out += value.size();
  out[0] = static_cast<char>(c >> 24);
  out[1] = static_cast<char>(c >> 16);
  out[2] = static_cast<char>(c >> 8);
  out[3] = static_cast<char>(c);
}

/// `value` followed by its check.
inline std::string sealed(std::uint64_t space_id, std::string_view key, std::string_view value) {
  std::string out(value.size() + check_size, '\0');
  seal_into(out.data(), space_id, key, value);
  return out;
}

/// The value of a stored record, or nullopt when its check fails (or it is
/// too short to hold one).
inline std::optional<std::string_view> unseal(std::uint64_t space_id, std::string_view key,
                                              std::string_view stored) {
  if (stored.size() < check_size) return std::nullopt;
  auto value = stored.substr(0, stored.size() - check_size);
  const auto* t = reinterpret_cast<const unsigned char*>(stored.data() + value.size());
  std::uint32_t c = (std::uint32_t{t[0]} << 24) | (std::uint32_t{t[1]} << 16) |
                    (std::uint32_t{t[2]} << 8) | std::uint32_t{t[3]};
  if (c != record_check(space_id, key, value)) return std::nullopt;
  return value;
}

/// A stored record as walk_raw reports it: its value when its check holds,
/// else the stored bytes without the check's room (untrusted) and intact
/// false.
struct checked_value {
  std::string_view value;
  bool intact;
};
inline checked_value check_record(std::uint64_t space_id, std::string_view key,
                                  std::string_view stored) {
  if (auto v = unseal(space_id, key, stored)) return {*v, true};
  return {stored.substr(0, stored.size() - std::min(stored.size(), check_size)), false};
}

/// The error of a record of `space` that fails its check: names the key,
/// the space (as JSON when it decodes), the data directory and the remedy.
error damaged_record(const std::string& dir, std::string_view space, std::string_view key);

/// The same for an entry of the `spaces` table (a keyspace's id).
error damaged_space(const std::string& dir, std::string_view space);

/// A read-only open of a directory of an older storage format: names the
/// command that upgrades it.
error needs_upgrade(const std::string& dir, std::uint64_t version);

/// The line a finished upgrade reports (lmdb_options::on_upgrade).
std::string upgraded_line(const std::string& dir, std::uint64_t records,
                          std::chrono::steady_clock::time_point started);

/// Progress of a format upgrade, on stderr when it is a terminal (at most
/// once a second); silent otherwise.
class upgrade_progress {
 public:
  upgrade_progress(std::string dir, std::uint64_t total);
  ~upgrade_progress();
  void step() {
    if (++done_ % 4096 == 0) show(false);
  }

 private:
  void show(bool last);
  std::string dir_;
  std::uint64_t total_, done_ = 0;
  bool tty_;
  bool shown_ = false;
  std::int64_t last_ms_ = 0;
};

}  // namespace ark::kv::detail
