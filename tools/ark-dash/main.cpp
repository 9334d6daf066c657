// ark-dash: the ark dashboard. CLI verbs over a data directory (or a
// PostgreSQL schema); see
// `ark-dash --help` and the README.
//
// Exit status: 0 success, 1 runtime failure (missing data dir, locked, not
// found), 2 usage error (unknown verb, bad option, bad JSON or hex).

#include <exception>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "common.hpp"

namespace {

// When the command line stops at a verb group ("ark-dash kv"), names the
// verbs it offers and returns exit_usage; otherwise returns exit_ok. (CLI11's
// require_subcommand would report "A subcommand is required" even for a
// misspelt verb, hiding the typo; without it the typo is an "unexpected
// argument" error that names it.)
int check_verb_given(const CLI::App& app) {
  const CLI::App* at = &app;
  std::string path = app.get_name();
  while (!at->get_subcommands().empty()) {
    at = at->get_subcommands().front();
    path += " " + at->get_name();
  }
  auto verbs = at->get_subcommands([](const CLI::App*) { return true; });
  if (verbs.empty()) return ark::dash::exit_ok;
  std::string names;
  for (const auto* v : verbs) names += (names.empty() ? "" : ", ") + v->get_name();
  return ark::dash::report(
      "missing verb after '" + path + "', one of: " + names + " (see " + path + " --help)",
      ark::dash::exit_usage);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ark::dash;
  CLI::App app{
      "ark-dash: look inside ark data directories, PostgreSQL schemas (--pg) and running hosts"};
  app.name("ark-dash");
  app.footer(
      "Keys and space names are JSON ('[\"user\", 42]') or a bare word (visits = "
      "[\"visits\"]).\n"
      "Every verb taking --data DIR takes --pg CONNINFO (or --pg-file FILE) and --pg-schema "
      "NAME\ninstead, for a PostgreSQL schema (doc/backends.md).\n"
      "Exit status: 0 success, 1 runtime failure, 2 usage error. See doc/json_format.md.");

  run_state state;
  add_key_commands(app, state);
  add_kv_commands(app, state);
  add_verify_command(app, state);
  add_actor_commands(app, state);
  add_dump_commands(app, state);
  add_query_command(app, state);
  add_migrate_command(app, state);
  add_hosts_command(app, state);
  add_backup_commands(app, state);
  add_live_commands(app, state);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);  // prints help to stdout, errors to stderr
    return rc == 0 ? exit_ok : exit_usage;
  } catch (const std::exception& e) {
    std::cerr << "ark-dash: internal error: " << e.what() << "\n";
    return exit_failure;
  }
  if (int rc = check_verb_given(app); rc != exit_ok) return rc;
  return state.status;
}
