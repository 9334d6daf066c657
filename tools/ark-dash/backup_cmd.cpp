// `ark-dash backup`, `ark-dash restore` and `ark-dash upgrade`
// (doc/reliability.md, "Backups").
//
// backup copies a data directory while a host writes it (kv::copy_data_dir:
// one read snapshot, so every write acknowledged before it began is in the
// copy), then verifies the copy's every checksum. restore verifies a backup,
// copies it into a temporary sibling of the target and renames it into place:
// a failed restore leaves no half-written directory. It never deletes: a
// target that holds data is moved aside (--replace), under its writer lock,
// so a running host refuses it. upgrade brings a directory of an older
// storage format to the current one (what a writable open does anyway).

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <string>

#include "ark/kv/open.hpp"
#include "commands.hpp"

namespace ark::dash {

namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// Bytes of the files directly in `dir`.
std::uintmax_t dir_bytes(const std::string& dir) {
  std::uintmax_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file(ec)) n += e.file_size(ec);
  return n;
}

std::string human_bytes(std::uintmax_t n) {
  char buf[32];
  if (n < 10 * 1024)
    std::snprintf(buf, sizeof buf, "%ju bytes", n);
  else if (n < 10ull * 1024 * 1024)
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(n) / 1024);
  else
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(n) / (1024.0 * 1024));
  return buf;
}

bool holds_anything(const std::string& dir) {
  std::error_code ec;
  return fs::exists(dir, ec) && !fs::is_empty(dir, ec);
}

// A backup (or a fresh copy), read-only, with whichever backend it holds.
expected<std::shared_ptr<kv::backend>> open_copy(const std::string& dir) {
  data_source src;
  src.dir = dir;
  return open_data(src, access::read);
}

// -- backup ---------------------------------------------------------------------

struct backup_args {
  data_source data;
  std::string to;
};

int run_backup(const backup_args& a) {
  if (holds_anything(a.to))
    return report(a.to + " is not empty; a backup goes into a new directory (missing or empty)",
                  exit_failure);
  auto db = open_data(a.data, access::read);
  if (!db) return report(db.error());
  auto t0 = clock_type::now();
  if (auto r = kv::copy_data_dir(**db, a.to); !r) return report(r.error());
  auto took = seconds_since(t0);
  auto source = location(a.data, **db);
  db->reset();
  std::printf("backed up %s to %s: %s in %.2f s (one consistent snapshot)\n", source.c_str(),
              a.to.c_str(), human_bytes(dir_bytes(a.to)).c_str(), took);
  std::fflush(stdout);
  // Every record of the copy against its checksum: a backup is only worth
  // what it restores.
  auto copy = open_copy(a.to);
  if (!copy) return report(copy.error());
  int status = verify_backend(**copy, a.to, false);
  if (status != exit_ok)
    std::cerr << "ark-dash: the backup holds damaged records: they were damaged in "
              << a.data.dir << " already (`ark-dash verify --data " << a.data.dir
              << "` lists them)\n";
  return status;
}

// -- restore --------------------------------------------------------------------

struct restore_args {
  std::string from;
  std::string data;
  bool replace = false;
};

// `dir` with a UTC timestamp: where --replace moves the old directory.
std::string aside_name(const std::string& dir) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  std::string base = fs::path(dir).lexically_normal().string();
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  return base + ".before-restore-" + stamp;
}

int run_restore(const restore_args& a) {
  if (holds_anything(a.data) && !a.replace)
    return report(a.data + " holds data; restore into a new directory, or pass --replace to "
                           "move it aside first (nothing is deleted)",
                  exit_failure);
  // The backup first: a damaged one is refused before anything moves.
  auto backup = open_copy(a.from);
  if (!backup) return report(backup.error());
  std::printf("checking the backup %s\n", a.from.c_str());
  if (verify_backend(**backup, a.from, false) != exit_ok)
    return report("the backup " + a.from + " holds damaged records; restore another one",
                  exit_failure);
  std::string base = fs::path(a.data).lexically_normal().string();
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  const std::string temp = base + ".restoring-" + std::to_string(::getpid());
  if (fs::exists(temp))  // not ours: never removed below
    return report(temp + " exists; remove it or restore elsewhere", exit_failure);
  auto t0 = clock_type::now();
  if (auto r = kv::copy_data_dir(**backup, temp); !r) {
    std::error_code ec;
    fs::remove_all(temp, ec);  // created by the copy
    return report(r.error());
  }
  backup->reset();
  std::string aside;
  if (holds_anything(a.data)) {
    if (!a.replace) {  // filled meanwhile
      std::error_code ec;
      fs::remove_all(temp, ec);
      return report(a.data + " holds data now; restore into a new directory", exit_failure);
    }
    // Under its writer lock: a host running on it keeps it, and the restore
    // is refused.
    auto lock = kv::dir_lock::take(a.data);
    if (!lock) {
      std::error_code ec;
      fs::remove_all(temp, ec);
      return report(error{lock.error().code(),
                          lock.error().context() + "; stop the host before restoring over " +
                              a.data});
    }
    aside = aside_name(a.data);
    std::error_code ec;
    fs::rename(a.data, aside, ec);
    if (ec) {
      fs::remove_all(temp, ec);
      return report("cannot move " + a.data + " aside to " + aside + ": " + ec.message(),
                    exit_failure);
    }
  }
  // rename(2) replaces an empty directory, and nothing else.
  std::error_code ec;
  fs::rename(temp, a.data, ec);
  if (ec) {
    auto why = ec.message();
    fs::remove_all(temp, ec);
    return report("cannot move the restored copy into " + a.data + ": " + why, exit_failure);
  }
  std::printf("restored %s into %s: %s in %.2f s%s\n", a.from.c_str(), a.data.c_str(),
              human_bytes(dir_bytes(a.data)).c_str(), seconds_since(t0),
              aside.empty() ? "" : (" (its previous contents are in " + aside + ")").c_str());
  return exit_ok;
}

// -- upgrade --------------------------------------------------------------------

int run_upgrade(const data_source& src) {
  if (auto db = open_data(src, access::read)) {
    std::printf("%s is at the current storage format (%u); nothing to do\n",
                location(src, **db).c_str(),
                src.postgres() ? kv::pg_format_version : kv::storage_format_version);
    return exit_ok;
  } else if (db.error() != errc::format_version) {
    return report(db.error());
  }
  auto t0 = clock_type::now();
  auto db = open_data(src, access::write);  // the writable open upgrades it
  if (!db) return report(db.error());
  std::printf("upgraded %s to storage format %u (checksums on every record) in %.2f s\n",
              location(src, **db).c_str(), kv::storage_format_version, seconds_since(t0));
  return exit_ok;
}

}  // namespace

void add_backup_commands(CLI::App& app, run_state& state) {
  {
    auto a = std::make_shared<backup_args>();
    auto* cmd = app.add_subcommand(
        "backup", "Copy a data directory while a host runs on it, then verify the copy");
    add_data_option(*cmd, a->data, "Data directory to back up");
    cmd->add_option("--to", a->to, "the backup: a new directory (missing or empty)")->required();
    cmd->footer(
        "The copy is one consistent snapshot (LMDB: mdb_env_copy2, compacted; SQLite:\n"
        "the online backup API): every write acknowledged before the backup began is\n"
        "in it, and the host keeps serving meanwhile. The copy is a data directory:\n"
        "ark-host and ark-dash open it as it is. Its every record is checked against\n"
        "its checksum afterwards. Exit status 1 when the copy fails or holds damage.\n"
        "A PostgreSQL schema is backed up with the server's tools (pg_dump).\n"
        "Example:\n  ark-dash backup --data ./ark-data --to /backups/ark-$(date +%F)");
    cmd->callback([a, &state] { state.status = run_backup(*a); });
  }
  {
    auto a = std::make_shared<restore_args>();
    auto* cmd = app.add_subcommand(
        "restore", "Put a backup in place as a data directory (verified first; never deletes)");
    cmd->add_option("--from", a->from, "the backup (a directory ark-dash backup wrote)")
        ->required();
    cmd->add_option("--data", a->data, "the data directory to restore into")->required();
    cmd->add_flag("--replace", a->replace,
                  "When --data holds data: move it aside to DIR.before-restore-TIME first "
                  "(refused while a host runs on it)");
    cmd->footer(
        "The backup is verified, copied next to --data and renamed into place, so a\n"
        "failed restore leaves nothing half-written. The backup itself is unchanged.\n"
        "Examples:\n"
        "  ark-dash restore --from /backups/ark-2026-12-06 --data ./ark-data-restored\n"
        "  ark-dash restore --from /backups/ark-2026-12-06 --data ./ark-data --replace");
    cmd->callback([a, &state] { state.status = run_restore(*a); });
  }
  {
    auto a = std::make_shared<data_source>();
    auto* cmd = app.add_subcommand(
        "upgrade", "Upgrade a data directory of an older storage format to the current one");
    add_data_option(*cmd, *a, "Data directory to upgrade");
    cmd->footer(
        "Storage format 2 puts a checksum on every record. A data directory of format\n"
        "1 is upgraded in one transaction (all or nothing; progress on a terminal),\n"
        "by this command or by the first writable open (ark-host upgrades it when it\n"
        "starts). Read-only opens (the dashboard, verify, dump) refuse format 1 and\n"
        "name this command. Refused while a host runs on the directory.\n"
        "Example:\n  ark-dash upgrade --data ./ark-data");
    cmd->callback([a, &state] { state.status = run_upgrade(*a); });
  }
}

}  // namespace ark::dash
