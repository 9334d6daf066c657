#include "ark/kv/open.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

#include "ark/kv/lmdb_backend.hpp"
#include "ark/kv/pg_backend.hpp"
#include "ark/kv/sqlite_backend.hpp"
#include "data_dir.hpp"

namespace ark::kv {
namespace fs = std::filesystem;

expected<backend_kind> parse_backend_kind(std::string_view text) {
  if (text == "lmdb") return backend_kind::lmdb;
  if (text == "sqlite") return backend_kind::sqlite;
  if (text == "postgres") return backend_kind::postgres;
  return error{errc::invalid_argument,
               "unknown backend '" + std::string(text) + "': choose lmdb, sqlite or postgres"};
}

std::string_view to_string(backend_kind kind) {
  switch (kind) {
    case backend_kind::lmdb:
      return "lmdb";
    case backend_kind::sqlite:
      return "sqlite";
    case backend_kind::postgres:
      return "postgres";
  }
  return "unknown";
}

expected<backend_kind> detect_backend(const std::string& dir) {
  std::error_code ec;
  const bool lmdb = fs::exists(fs::path(dir) / detail::lmdb_file_name, ec);
  const bool sqlite = fs::exists(fs::path(dir) / detail::sqlite_file_name, ec);
  if (lmdb && sqlite)
    return error{errc::invalid_argument,
                 "data directory " + dir + " holds both an LMDB database (" +
                     std::string(detail::lmdb_file_name) + ") and a SQLite one (" +
                     std::string(detail::sqlite_file_name) +
                     "); a data directory holds one backend's files: move one of them away"};
  if (lmdb) return backend_kind::lmdb;
  if (sqlite) return backend_kind::sqlite;
  return error{errc::not_found, dir + " holds no ark data (neither " +
                                    std::string(detail::lmdb_file_name) + " nor " +
                                    std::string(detail::sqlite_file_name) + ")"};
}

namespace {

expected<std::shared_ptr<backend>> open_kind(const std::string& dir, const open_options& opts,
                                             backend_kind kind) {
  if (kind == backend_kind::postgres) {
    pg_options po;
    po.conninfo = opts.pg_conninfo;
    po.schema = opts.pg_schema;
    po.read_only = opts.read_only;
    po.create_if_missing = opts.create_if_missing;
    po.mode = opts.mode;
    po.exclusive = opts.pg_exclusive;
    auto b = pg_backend::open(po);
    if (!b) return b.error();
    return std::shared_ptr<backend>(std::move(*b));
  }
  if (kind == backend_kind::sqlite) {
    sqlite_options so;
    so.read_only = opts.read_only;
    so.create_if_missing = opts.create_if_missing;
    so.mode = opts.mode;
    so.on_upgrade = opts.on_upgrade;
    auto b = sqlite_backend::open(dir, so);
    if (!b) return b.error();
    return std::shared_ptr<backend>(std::move(*b));
  }
  lmdb_options lo;
  lo.read_only = opts.read_only;
  lo.create_if_missing = opts.create_if_missing;
  lo.mode = opts.mode;
  lo.initial_map_size = opts.initial_map_size;
  lo.max_map_size = opts.max_map_size;
  lo.on_upgrade = opts.on_upgrade;
  auto b = lmdb_backend::open(dir, lo);
  if (!b) return b.error();
  return std::shared_ptr<backend>(std::move(*b));
}

// detect_backend, with a missing directory and an empty one as "neither".
expected<std::optional<backend_kind>> existing_kind(const std::string& dir,
                                                    const open_options& opts) {
  if (dir.empty()) return error{errc::invalid_argument, "empty data directory path"};
  auto held = detect_backend(dir);
  if (held) return std::optional<backend_kind>(*held);
  if (held.error() != errc::not_found) return held.error();
  std::error_code ec;
  if (opts.read_only && fs::is_directory(dir, ec))
    return error{errc::no_data_dir, dir + " is not an ark data directory (neither " +
                                        std::string(detail::lmdb_file_name) + " nor " +
                                        std::string(detail::sqlite_file_name) + ")"};
  return std::optional<backend_kind>{};
}

}  // namespace

expected<std::shared_ptr<backend>> open_backend(const std::string& dir, const open_options& opts) {
  if (opts.kind == backend_kind::postgres) return open_kind(dir, opts, backend_kind::postgres);
  auto held = existing_kind(dir, opts);
  if (!held) return held.error();
  if (!opts.kind) return open_kind(dir, opts, held->value_or(backend_kind::lmdb));
  if (*held && **held != *opts.kind)
    return error{errc::invalid_argument,
                 "data directory " + dir + " holds a " + std::string(to_string(**held)) +
                     " database, but the " + std::string(to_string(*opts.kind)) +
                     " backend was asked for: this directory was created with --backend " +
                     std::string(to_string(**held)) + "; pass --backend " +
                     std::string(to_string(**held)) +
                     " (or convert it: ark-dash dump, then ark-dash load --backend " +
                     std::string(to_string(*opts.kind)) + ")"};
  return open_kind(dir, opts, *opts.kind);
}

expected<std::shared_ptr<backend>> open_detected(const std::string& dir, open_options opts) {
  if (opts.kind == backend_kind::postgres) return open_kind(dir, opts, backend_kind::postgres);
  auto held = existing_kind(dir, opts);
  if (!held) return held.error();
  return open_kind(dir, opts, held->value_or(opts.kind.value_or(backend_kind::lmdb)));
}

expected<void> configure_postgres(open_options& opts, const std::string& pg,
                                  const std::string& pg_file) {
  if (pg.empty() && pg_file.empty()) return {};
  if (!pg.empty() && !pg_file.empty())
    return error{errc::invalid_argument, "--pg and --pg-file both given: pass one of them"};
  if (opts.kind && *opts.kind != backend_kind::postgres)
    return error{errc::invalid_argument, "--pg/--pg-file name a PostgreSQL server, but --backend " +
                                             std::string(to_string(*opts.kind)) +
                                             " was given: drop one of them"};
  std::string conninfo = pg;
  if (!pg.empty()) {
    if (conninfo_has_password(pg))
      return error{errc::invalid_argument,
                   "the --pg connection string holds a password, which every user of this "
                   "machine can read in the process list",
                   "remove it and put it in ~/.pgpass (or the file PGPASSFILE names), or put "
                   "the whole connection string in a file readable only by you (chmod 600) and "
                   "pass --pg-file FILE"};
  } else {
    struct stat st {};
    if (::stat(pg_file.c_str(), &st) != 0)
      return error{errc::invalid_argument, "--pg-file " + pg_file + ": " + std::strerror(errno)};
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
      return error{errc::invalid_argument,
                   "--pg-file " + pg_file +
                       " is readable by group or others, and may hold a password",
                   "chmod 600 " + pg_file};
    std::ifstream in(pg_file);
    std::stringstream text;
    text << in.rdbuf();
    if (!in && !in.eof())
      return error{errc::invalid_argument, "--pg-file " + pg_file + ": cannot read it"};
    conninfo = text.str();
    while (!conninfo.empty() && std::isspace(static_cast<unsigned char>(conninfo.back())))
      conninfo.pop_back();
    if (conninfo.empty())
      return error{errc::invalid_argument, "--pg-file " + pg_file + " is empty"};
  }
  if (auto d = describe_conninfo(conninfo); !d)
    return error{errc::invalid_argument, (pg.empty() ? "--pg-file " + pg_file : "--pg") + ": " +
                                             d.error().context()};
  opts.kind = backend_kind::postgres;
  opts.pg_conninfo = std::move(conninfo);
  return {};
}

expected<void> walk_raw(backend& b, const raw_visitor& visit) {
  if (auto* l = dynamic_cast<lmdb_backend*>(&b)) return l->walk_raw(visit);
  if (auto* s = dynamic_cast<sqlite_backend*>(&b)) return s->walk_raw(visit);
  if (auto* p = dynamic_cast<pg_backend*>(&b)) return p->walk_raw(visit);
  return error{errc::invalid_argument,
               "walk_raw reads durable backends (lmdb, sqlite, postgres), not a " +
                                           std::string(b.name()) + " backend"};
}

expected<dir_lock> dir_lock::take(const std::string& dir) {
  auto fd = detail::lock_data_dir(dir);
  if (!fd) return fd.error();
  return dir_lock(*fd);
}
dir_lock::dir_lock(dir_lock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
dir_lock& dir_lock::operator=(dir_lock&& o) noexcept {
  std::swap(fd_, o.fd_);
  return *this;
}
dir_lock::~dir_lock() {
  if (fd_ >= 0) ::close(fd_);
}

expected<void> copy_data_dir(backend& b, const std::string& to) {
  auto* l = dynamic_cast<lmdb_backend*>(&b);
  auto* s = dynamic_cast<sqlite_backend*>(&b);
  if (l == nullptr && s == nullptr)
    return error{errc::invalid_argument,
                 std::string("a copy is made of a data directory (lmdb, sqlite), not of a ") +
                     std::string(b.name()) + " backend" +
                     (b.name() == "postgres" ? " (back a server up with pg_dump or pg_basebackup)"
                                             : "")};
  std::error_code ec;
  if (fs::exists(to, ec) && !fs::is_empty(to, ec))
    return error{errc::invalid_argument,
                 to + " is not empty; a copy goes into a new (missing or empty) directory"};
  if (auto r = detail::prepare_data_dir(to, false, true); !r) return r;
  return l ? l->copy_to(to) : s->copy_to(to);
}

}  // namespace ark::kv
