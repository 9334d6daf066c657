#pragma once

// The verb groups of ark-dash. Each adds its subcommands to the top-level app;
// the selected verb stores its exit status in `state`. A new group (actors,
// state, stats, dump/load/verify, serve) is one more file and one more line
// here and in main.cpp.

#include <CLI/CLI.hpp>

#include "common.hpp"

namespace ark::dash {

/// `ark-dash key encode|decode`: the key codec, no data directory needed.
void add_key_commands(CLI::App& app, run_state& state);

/// `ark-dash kv put|get|list|count|delete|spaces`: browse and edit keyspaces.
void add_kv_commands(CLI::App& app, run_state& state);

/// `ark-dash verify`: check a whole data directory, report every damaged entry.
void add_verify_command(CLI::App& app, run_state& state);

/// What `ark-dash verify` does on an opened backend `db` (named `where` in
/// its output): prints every problem and a summary line; exit_ok when there
/// is none, exit_failure otherwise.
int verify_backend(kv::backend& db, const std::string& where, bool json_lines);

/// `ark-dash backup|restore|upgrade`: online copies of a data directory,
/// putting one back, and the storage format upgrade.
void add_backup_commands(CLI::App& app, run_state& state);

/// `ark-dash actors|state|alarms|stats|serve` and `ark-dash kv show`: actor views over a
/// data directory or a running host's admin API. Call after add_kv_commands.
void add_actor_commands(CLI::App& app, run_state& state);

/// `ark-dash dump|load`: a data directory as portable JSON lines, and back.
void add_dump_commands(CLI::App& app, run_state& state);

/// `ark-dash query TYPE --where ...`: filter actors on state fields.
void add_query_command(CLI::App& app, run_state& state);

/// `ark-dash migrate --module LIB.so (--dry-run | --apply)`: bring actor
/// snapshots to the schema versions of the modules' actor types.
void add_migrate_command(CLI::App& app, run_state& state);

/// `ark-dash handlers|tail|call --host URL`: a running host's handlers, the live
/// tail of one actor, and calling a handler (live_cmd.cpp).
void add_live_commands(CLI::App& app, run_state& state);

/// `ark-dash hosts --pg ...`: the members of a cluster.
void add_hosts_command(CLI::App& app, run_state& state);

}  // namespace ark::dash
