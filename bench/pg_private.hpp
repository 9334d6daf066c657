#pragma once

// The PostgreSQL server a scenario measures: --pg, or a private one started
// for the run on the scratch disk (the tests' fixture, tests/support/
// pg_server.hpp), stopped when `server` goes away.

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <random>
#include <string>

#include "bench.hpp"
#include "support/pg_server.hpp"

namespace ark::bench {

/// "PREFIX_XXXXXXXX" with 8 random hex digits: a schema name for one run.
inline std::string random_schema_name(const char* prefix = "ark_bench") {
  std::random_device rd;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s_%08x", prefix, static_cast<unsigned>(rd()));
  return buf;
}

/// The connection string to measure, or nullopt (the reason printed).
inline std::optional<std::string> pg_for_run(const context& ctx,
                                             std::optional<ark::test::pg_server>& server) {
  if (!ctx.pg_conninfo.empty()) return ctx.pg_conninfo;
  // On the disk being measured (the fixture would pick /dev/shm, where a
  // WAL flush costs nothing): the scratch directory, which the server's
  // user must be able to enter.
  if (std::getenv("ARK_PG_TMPDIR") == nullptr) {
    ::chmod(ctx.scratch.c_str(), 0711);
    ::setenv("ARK_PG_TMPDIR", ctx.scratch.c_str(), 1);
  }
  try {
    server.emplace();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ark-bench: cannot start a private PostgreSQL server: %s\n", e.what());
    return std::nullopt;
  }
  std::printf("  private server in %s (stopped at the end)\n", server->socket_dir().c_str());
  return server->conninfo();
}

}  // namespace ark::bench
