#include "record_check.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "ark/kv/json.hpp"
#include "ark/kv/key.hpp"

namespace ark::kv::detail {

namespace {

// A key or space as JSON text when it decodes, else as hex.
std::string readable(std::string_view encoded) {
  if (auto k = decode_key(encoded)) return key_to_json_text(*k);
  return "0x" + to_hex(encoded);
}

std::string remedy(const std::string& dir) {
  return ": its bytes changed on disk after ark wrote them (a failing disk, a stray write), so "
         "ark refuses to serve them. Restore the data directory from a backup (`ark-dash "
         "restore`, doc/reliability.md); `ark-dash verify --data " +
         (dir.empty() ? std::string("DIR") : dir) + "` lists every damaged record";
}

}  // namespace

error damaged_record(const std::string& dir, std::string_view space, std::string_view key) {
  return error{errc::corrupt_value, "the stored value of key " + readable(key) + " in space " +
                                        readable(space) + " of " +
                                        (dir.empty() ? std::string("the data directory") : dir) +
                                        " fails its checksum" + remedy(dir)};
}

error damaged_space(const std::string& dir, std::string_view space) {
  return error{errc::corrupt_value, "the id of space " + readable(space) + " in " +
                                        (dir.empty() ? std::string("the data directory") : dir) +
                                        " fails its checksum" + remedy(dir)};
}

error needs_upgrade(const std::string& dir, std::uint64_t version) {
  return error{errc::format_version,
               "data directory " + dir + " has storage format version " + std::to_string(version) +
                   " (written by an older ark, without checksums); a read-only open cannot "
                   "upgrade it. Upgrade it once with `ark-dash upgrade --data " + dir +
                   "` (or start ark-host on it, which upgrades it when it opens it)"};
}

std::string upgraded_line(const std::string& dir, std::uint64_t records,
                          std::chrono::steady_clock::time_point started) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - started)
                .count();
  return "upgraded data directory " + dir +
         " from storage format 1 to 2 (a checksum on every record): " +
         std::to_string(records) + " records in " + std::to_string(ms) + " ms";
}

namespace {
std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

upgrade_progress::upgrade_progress(std::string dir, std::uint64_t total)
    : dir_(std::move(dir)), total_(total), tty_(::isatty(STDERR_FILENO) == 1), last_ms_(now_ms()) {}

upgrade_progress::~upgrade_progress() {
  show(true);
}

void upgrade_progress::show(bool last) {
  if (!tty_) return;
  if (last) {
    if (!shown_) return;  // quick enough to need no progress
  } else {
    auto now = now_ms();
    if (now - last_ms_ < 1000) return;
    last_ms_ = now;
    shown_ = true;
  }
  std::fprintf(stderr, "\rark: upgrading %s to storage format 2 (checksums): %llu of %llu records%s",
               dir_.c_str(), static_cast<unsigned long long>(done_),
               static_cast<unsigned long long>(total_), last ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace ark::kv::detail
