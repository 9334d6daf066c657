#pragma once

// Shared pieces of the ark-dash verbs: exit statuses, argument parsing,
// opening a data directory, and output helpers. Every verb group lives in its
// own file (key_cmd.cpp, kv_cmd.cpp, ...) and registers its subcommands
// through commands.hpp.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "ark/expected.hpp"
#include "ark/kv/key.hpp"
#include "ark/kv/open.hpp"

namespace ark::dash {

/// Process exit statuses, the same for every verb.
enum exit_status : int {
  exit_ok = 0,       ///< the verb did what was asked
  exit_failure = 1,  ///< a runtime failure: missing data dir, locked, not found, I/O
  exit_usage = 2,    ///< the command line is wrong: unknown verb, bad JSON, bad hex
};

/// What a verb callback reports back to main(): its exit status. CLI11 runs
/// the selected verb's callback while parsing; main returns `status`.
struct run_state {
  int status = exit_ok;
};

/// The data directory every verb that touches storage uses unless --data says
/// otherwise.
inline constexpr const char* default_data_dir = "./ark-data";

/// The PostgreSQL schema --pg and --pg-file use unless --pg-schema says
/// otherwise (ark-host's default too).
inline constexpr const char* default_pg_schema = "ark";

/// Where a verb's data lives: a data directory (--data), or a schema of a
/// PostgreSQL server (--pg CONNINFO or --pg-file FILE, with --pg-schema).
/// Filled by add_data_option (and add_backend_option); opened by open_data.
struct data_source {
  std::string dir = default_data_dir;    ///< --data
  std::string pg;                        ///< --pg: a libpq connection string or URI
  std::string pg_file;                   ///< --pg-file: a file holding one
  std::string pg_schema;                 ///< --pg-schema; empty: default_pg_schema
  std::optional<kv::backend_kind> kind;  ///< --backend, for verbs that take it

  /// True when the flags select PostgreSQL (--pg, --pg-file or --backend
  /// postgres).
  bool postgres() const;
  /// The schema --pg-schema names, or default_pg_schema.
  std::string schema() const;
};

/// Adds `--data DIR` (default ./ark-data, described as `what`) and the
/// PostgreSQL alternative to it, `--pg CONNINFO`, `--pg-file FILE` and
/// `--pg-schema NAME` (default ark), to `cmd`, stored in `src`. --data and
/// --pg/--pg-file exclude each other (a usage error).
void add_data_option(CLI::App& cmd, data_source& src,
                     const std::string& what = "Data directory of an ark host");

/// Parses a key given on the command line: JSON text (see doc/json_format.md),
/// or a bare word (text that is not valid JSON and does not start with `[`,
/// `{`, `"`, `-` or a digit), which is the one-element string key: `visits`
/// means `["visits"]`. `what` names the argument in errors ("KEY", "--space").
/// Errors are invalid_key / nesting_too_deep naming the argument.
expected<key> parse_key_arg(std::string_view text, std::string_view what);

/// How a verb opens its data (a directory or a PostgreSQL schema).
enum class access {
  read,         ///< read-only: no lock, works while a host writes; the data must exist
  write,        ///< exclusive writer; the data must exist (no_data_dir otherwise)
  write_create  ///< exclusive writer; creates the directory (or the schema) when missing
};

/// Opens what `src` names. A directory: without src.kind, with the backend it
/// holds (LMDB or SQLite, kv::open_detected), LMDB for a directory access::
/// write_create creates; with src.kind (the user passed --backend), that
/// backend, and a directory holding the other one is invalid_argument naming
/// both (kv::open_backend). PostgreSQL (src.postgres()): the schema
/// src.schema() on the server of --pg / --pg-file (kv::configure_postgres:
/// invalid_argument for a password in --pg, a --pg-file others may read, or
/// --backend postgres without either); read-only opens take no lock. Other
/// errors as those (no_data_dir, locked, format_version, io_error,
/// backend_failure naming an unreachable server, ...).
expected<std::shared_ptr<kv::backend>> open_data(const data_source& src, access mode);

/// How messages name the opened storage `db` of `src`: the data directory, or
/// "PostgreSQL host=... port=... dbname=... schema NAME" (pg_backend::
/// location(), never a password).
std::string location(const data_source& src, const kv::backend& db);

/// Adds `--backend lmdb|sqlite|postgres` to `cmd`, for verbs that may create
/// their data; src.kind stays empty unless it is given.
void add_backend_option(CLI::App& cmd, data_source& src);

/// Prints "ark-dash: <message>" to stderr and returns the exit status for
/// `e`: exit_usage when the user's arguments are at fault (invalid_key,
/// key_too_large, nesting_too_deep, invalid_argument, value_too_large),
/// exit_failure otherwise.
int report(const error& e);

/// Prints "ark-dash: <text>" to stderr and returns `status`.
int report(std::string_view text, int status);

/// Compact JSON text of `j` (never throws; see kv::json_text).
std::string dump(const nlohmann::json& j);

/// `text` cut to at most `width` code points, ending in "..." when cut.
std::string truncate(std::string_view text, std::size_t width);

/// The number of code points in UTF-8 `text` (its column count for the
/// table output; good enough for text without wide characters).
std::size_t columns(std::string_view text);

}  // namespace ark::dash
