// ark-host: loads actor modules, opens a data directory and serves the
// actors to local and remote typed clients until SIGINT/SIGTERM.

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "ark/admin.hpp"
#include "ark/client.hpp"
#include "ark/kv/pg_backend.hpp"
#include "ark/registry.hpp"
#include "ark/runtime.hpp"

namespace {

/// Everything ark-host is told on its command line. The defaults are those of
/// the option structs (runtime_options, kv::open_options, serve_options,
/// admin_options): the flags bind to these fields, nothing repeats them.
struct host_config {
  ark::runtime_options runtime;
  ark::serve_options serve = [] {
    ark::serve_options so;
    so.port = ark::default_port;  // a host listens where clients look first
    return so;
  }();
  ark::admin_options admin;
  bool admin_on = false;  // --admin-port given
  std::vector<std::string> modules;
  std::string backend;  // --backend; empty: runtime.storage.kind stays unset
  std::string pg;       // --pg
  std::string pg_file;  // --pg-file
  std::string token_file;
  std::string admin_token_file;
  ark::tls_files tls;
  std::size_t threads = 0;  // CAF's default: one worker per hardware thread
  std::string log_level = "info";
};

// "1GiB" for 1 << 30, else the number of bytes.
std::string size_text(std::size_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (u < 4 && n >= 1024 && n % 1024 == 0) {
    n /= 1024;
    ++u;
  }
  return std::to_string(n) + units[u];
}

void bind_flags(CLI::App& app, host_config& c) {
  auto& rt = c.runtime;
  app.add_option("--data", rt.data_dir, "data directory (created when missing)")
      ->capture_default_str();
  app.add_option("--module", c.modules,
                 "shared library registering actor types (repeatable; see examples/ and "
                 "templates/module/)")
      ->check(CLI::ExistingFile);
  std::vector<std::string> modes;  // as ark::to_string spells them
  for (auto m : {ark::kv::durability::sync, ark::kv::durability::relaxed, ark::kv::durability::none})
    modes.emplace_back(ark::to_string(m));
  app.add_option_function<std::string>(
         "--durability",
         [&rt](const std::string& text) { rt.storage.mode = *ark::parse_durability(text); },
         "sync: reply after fsync; relaxed: no meta-page fsync; none: no fsync, periodic sync")
      ->check(CLI::IsMember(modes))
      ->default_str(std::string(ark::to_string(rt.storage.mode)));
  app.add_option("--backend", c.backend,
                 "storage engine of a new data directory: lmdb (the default) or sqlite "
                 "(doc/backends.md); an existing directory opens with the engine it holds, "
                 "and a different --backend is refused; postgres: a PostgreSQL server "
                 "(--pg or --pg-file), no data directory")
      ->check(CLI::IsMember({"lmdb", "sqlite", "postgres"}));
  app.add_option("--pg", c.pg,
                 "PostgreSQL connection string or URI (implies --backend postgres), e.g. "
                 "'postgresql://ark@db.internal/app'; no password here: use ~/.pgpass, "
                 "PGPASSFILE or --pg-file");
  app.add_option("--pg-file", c.pg_file,
                 "file holding the PostgreSQL connection string (chmod 600; may hold a "
                 "password)");
  app.add_option("--pg-schema", rt.storage.pg_schema,
                 "PostgreSQL schema of ark's tables (one host per schema)")
      ->capture_default_str();
  app.add_option("--port", c.serve.port,
                 "middleman port for remote typed clients (0: any free port)")
      ->capture_default_str();
  app.add_option("--bind", c.serve.bind,
                 "address the middleman port binds to; beyond loopback it needs --token-file "
                 "and TLS (doc/security.md)")
      ->capture_default_str();
  app.add_option("--token-file", c.token_file,
                 "file holding the access token clients must present (else $ARK_TOKEN; chmod "
                 "600; make one with: openssl rand -hex 32)");
  app.add_option("--tls-cert", c.tls.cert, "serve over TLS with this certificate chain (PEM)");
  app.add_option("--tls-key", c.tls.key, "the certificate's private key (PEM)");
  app.add_option("--tls-ca", c.tls.ca,
                 "CA certificate clients' certificates must chain to (PEM; TLS is mutual)");
  app.add_option_function<double>(
         "--idle-timeout",
         [&rt](double seconds) {
           rt.idle_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
         },
         "seconds after which an idle actor is passivated (0: never)")
      ->check(CLI::NonNegativeNumber)
      ->default_str(std::to_string(rt.idle_timeout.count() / 1000));
  auto& cl = rt.cluster;
  app.add_option("--cluster", cl.name,
                 "join cluster NAME: several hosts share one PostgreSQL schema, each actor "
                 "owned by one of them (doc/cluster.md); needs --backend postgres and --port");
  app.add_option("--advertise", cl.advertise,
                 "HOST:PORT where the other hosts reach this one's middleman port (default: "
                 "--bind:--port)");
  app.add_option("--host-id", cl.host_id,
                 "this host's id in the cluster, unique among live hosts (default: the "
                 "advertised address)");
  auto seconds_flag = [&app](const char* name, std::chrono::milliseconds& field,
                             const char* help) {
    app.add_option_function<double>(
           name,
           [&field](double seconds) {
             field = std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
           },
           help)
        ->check(CLI::PositiveNumber)
        ->default_str(std::to_string(field.count() / 1000.0).substr(0, 4));
  };
  seconds_flag("--lease-ttl", cl.lease_ttl,
               "seconds a cluster lease lasts: a host that cannot renew it stops serving, and "
               "its actors move once it expired");
  seconds_flag("--lease-renew", cl.renew_interval,
               "seconds between lease renewals (at most half of --lease-ttl)");
  app.add_option("--max-active", rt.max_active,
                 "activation cap: above it the oldest activations are passivated (0: none)")
      ->capture_default_str();
  app.add_option("--max-subscribers", rt.max_subscribers,
                 "most subscribers one actor may have (doc/subscriptions.md)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option_function<std::uint16_t>(
         "--admin-port",
         [&c](std::uint16_t port) {
           c.admin.port = port;
           c.admin_on = true;
         },
         "serve the admin API (HTTP, doc/admin_api.md) on this port (0: any free port); off "
         "when not given");
  app.add_option("--admin-bind", c.admin.bind,
                 "address of the admin API; beyond loopback it needs --admin-token-file")
      ->capture_default_str();
  app.add_option("--admin-token-file", c.admin_token_file,
                 "file with the bearer token the admin API requires (chmod 600, at least 16 "
                 "characters; default $ARK_ADMIN_TOKEN)");
  app.add_option("--admin-preview-limit", c.admin.preview_limit,
                 "cap of one actor's state preview in the admin API (e.g. 1MiB); larger "
                 "states are shown truncated")
      ->transform(CLI::AsSizeValue(false))
      ->default_str(size_text(c.admin.preview_limit));
  app.add_flag("--admin-read-only", c.admin.read_only,
               "refuse the admin API's actions (calling a handler from the dashboard); views "
               "stay available");
  app.add_flag("!--no-handler-stats", rt.handler_stats,
               "keep no per-handler statistics (calls, errors, handler time, commit wait)");
  app.add_option("--threads", c.threads,
                 "CAF scheduler worker threads (0: one per hardware thread)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{1024}))
      ->capture_default_str();
  app.add_option("--map-size", rt.storage.initial_map_size,
                 "initial LMDB map size (e.g. 64MiB, 1GiB); it doubles when full")
      ->transform(CLI::AsSizeValue(false))
      ->default_str(size_text(rt.storage.initial_map_size));
  app.add_option("--max-map-size", rt.storage.max_map_size,
                 "ceiling of the map's growth; beyond it writes fail with map_full")
      ->transform(CLI::AsSizeValue(false))
      ->default_str(size_text(rt.storage.max_map_size));
  app.add_option("--log-level", c.log_level, "error, warn, info or debug")
      ->check(CLI::IsMember({"error", "warn", "info", "debug"}))
      ->capture_default_str();
}

// Checks the flags together and resolves tokens and the backend. The error
// names the flag and the remedy.
ark::expected<void> validate(host_config& c) {
  using ark::errc;
  if (!c.backend.empty()) c.runtime.storage.kind = *ark::kv::parse_backend_kind(c.backend);
  if (auto r = ark::kv::configure_postgres(c.runtime.storage, c.pg, c.pg_file); !r) return r;
  if (c.runtime.storage.kind == ark::kv::backend_kind::postgres &&
      c.runtime.storage.pg_conninfo.empty())
    return ark::error{errc::invalid_argument,
                      "--backend postgres needs the server: --pg CONNINFO or --pg-file FILE"};
  auto token = ark::resolve_token(c.token_file);
  if (!token) return token.error();
  c.serve.token = std::move(*token);
  auto admin_token = ark::resolve_token(c.admin_token_file, "ARK_ADMIN_TOKEN");
  if (!admin_token)
    return ark::error{admin_token.error().code(), "admin API: " + admin_token.error().context()};
  c.admin.token = std::move(*admin_token);
  if (c.admin_on && !ark::is_loopback(c.admin.bind) && c.admin.token.empty())
    return ark::error{errc::invalid_argument,
                      "--admin-bind " + c.admin.bind +
                          " would expose the admin API beyond this machine without a token; "
                          "give --admin-token-file FILE (or $ARK_ADMIN_TOKEN), or bind it to "
                          "127.0.0.1"};
  c.serve.tls = !c.tls.cert.empty() || !c.tls.key.empty() || !c.tls.ca.empty();
  if (!ark::is_loopback(c.serve.bind) && (c.serve.token.empty() || !c.serve.tls))
    return ark::error{errc::invalid_argument,
                      "--bind " + c.serve.bind +
                          " makes the middleman port reachable from other machines, which "
                          "needs an access token (--token-file or $ARK_TOKEN) and TLS "
                          "(--tls-cert, --tls-key, --tls-ca); see doc/security.md. Or bind to "
                          "127.0.0.1 and tunnel (ssh -L)."};
  if (c.serve.tls) {
    if (auto ok = ark::check_tls_files(c.tls); !ok) return ok.error();
  }
  auto& cl = c.runtime.cluster;
  if (cl.enabled()) {
    if (c.runtime.storage.kind != ark::kv::backend_kind::postgres)
      return ark::error{errc::invalid_argument,
                        "--cluster keeps the actors in PostgreSQL: add --backend postgres and "
                        "--pg (the same server and schema on every host)"};
    if (c.serve.port == 0)
      return ark::error{errc::invalid_argument,
                        "--cluster needs a fixed --port (the other hosts reach this one there)"};
    if (cl.advertise.empty()) {
      if (c.serve.bind == "0.0.0.0" || c.serve.bind == "::")
        return ark::error{errc::invalid_argument,
                          "--bind " + c.serve.bind +
                              " listens on every address: say which one the other hosts use, "
                              "with --advertise HOST:PORT"};
      cl.advertise = c.serve.bind + ":" + std::to_string(c.serve.port);
    }
    auto colon = cl.advertise.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == cl.advertise.size())
      return ark::error{errc::invalid_argument,
                        "--advertise " + cl.advertise + " is not HOST:PORT"};
    if (!ark::is_loopback(cl.advertise.substr(0, colon)) && !c.serve.tls)
      return ark::error{errc::invalid_argument,
                        "--advertise " + cl.advertise +
                            ": hosts of a cluster beyond one machine talk over mutual TLS with "
                            "an access token (--tls-cert, --tls-key, --tls-ca, --token-file; "
                            "doc/cluster.md)"};
    if (cl.renew_interval * 2 > cl.lease_ttl)
      return ark::error{errc::invalid_argument,
                        "--lease-renew must be at most half of --lease-ttl"};
    cl.token = c.serve.token;
    cl.tls_cert = c.tls.cert;
    cl.tls_key = c.tls.key;
    cl.tls_ca = c.tls.ca;
  }
  const auto& st = c.runtime.storage;
  if (st.max_map_size < st.initial_map_size)
    return ark::error{errc::invalid_argument,
                      "--max-map-size (" + std::to_string(st.max_map_size) +
                          " bytes) is below --map-size (" + std::to_string(st.initial_map_size) +
                          " bytes); raise it"};
  return {};
}

int fail(const std::string& what) {
  spdlog::error("{}", what);
  return 1;
}

// Loads the modules, opens the data directory, serves until SIGINT/SIGTERM.
int run(host_config& c) {
  auto console = spdlog::stderr_color_mt("ark-host");
  spdlog::set_default_logger(console);
  spdlog::set_level(spdlog::level::from_str(c.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ ark-host: %v");

  // Signals go to sigwait() below, never to another thread.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto& registry = ark::actor_registry::global();
  for (const auto& m : c.modules) {
    auto path = std::filesystem::absolute(m).string();
    if (!dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL))
      return fail("cannot load module " + m + ": " + dlerror() +
                  " (remedy: build it against ark_actors, see examples/README.md)");
    spdlog::debug("loaded module {}", path);
  }
  auto conflicts = registry.take_errors();
  for (const auto& c : conflicts) spdlog::error("{}", c);
  if (!conflicts.empty()) return 1;
  auto names = registry.names();
  if (names.empty())
    spdlog::warn("no actor types registered: pass --module FILE.so (see examples/)");

  ark::client_config cfg(c.tls);  // the middleman (and OpenSSL), ark's types
  ark::configure_host_scheduler(cfg);
  if (c.threads > 0) cfg.set("scheduler.max-threads", c.threads);
  if (c.runtime.cluster.enabled()) {
    // CAF 0.17 sends no heartbeats by default: a frozen peer host would be
    // noticed only by TCP's timeouts. One per renewal interval (clients
    // built on ark::client_config send one a second), and a connection
    // silent for a lease (at least 4 client heartbeats) is dropped: calls
    // through it fail, and are retried on the actor's next owner.
    cfg.set("middleman.heartbeat-interval", caf::timespan{c.runtime.cluster.renew_interval});
    cfg.set("middleman.connection-timeout",
            caf::timespan{std::max(c.runtime.cluster.lease_ttl, 4 * ark::client_heartbeat)});
  }
  caf::actor_system sys{cfg};

  auto& opts = c.runtime;
  opts.log = [](const std::string& line) { spdlog::error("{}", line); };
  // The storage engine refuses every write from now on: stop like on
  // SIGTERM (callers of messages in flight get the error), exit status 3.
  static std::atomic<bool> storage_failed{false};
  opts.on_storage_failure = [](const ark::error& e) {
    storage_failed = true;
    spdlog::critical("{}; stopping", e.message());
    ::kill(::getpid(), SIGTERM);
  };
  // What the log calls the storage: the data directory, or the server.
  std::string where = opts.data_dir;
  if (opts.storage.kind == ark::kv::backend_kind::postgres)
    where = "PostgreSQL " + ark::kv::describe_conninfo(opts.storage.pg_conninfo).value_or("") +
            " schema " + opts.storage.pg_schema;
  auto rt = ark::runtime::open(sys, opts);
  if (!rt) {
    sys.await_actors_before_shutdown(false);
    if (opts.storage.kind == ark::kv::backend_kind::postgres) return fail(rt.error().message());
    return fail("cannot open " + where + ": " + rt.error().message());
  }
  auto served = ark::serve(*rt, c.serve);
  if (!served) {
    (*rt)->shutdown();
    sys.await_actors_before_shutdown(false);
    return fail(served.error().message());
  }
  std::unique_ptr<ark::admin_server> admin;
  if (c.admin_on) {
    c.admin.log = [](const std::string& line) { spdlog::info("{}", line); };
    auto a = ark::admin_server::start(*rt, c.admin);
    if (!a) {
      caf::anon_send_exit(served->directory, caf::exit_reason::user_shutdown);
      (*rt)->shutdown();
      sys.await_actors_before_shutdown(false);
      return fail("admin API: " + a.error().message());
    }
    admin = std::move(*a);
  }
  std::string admin_text = admin ? c.admin.bind + ":" + std::to_string(admin->port()) +
                                       (c.admin.read_only ? "(read-only)" : "")
                                 : "off";
  std::string types;
  for (const auto& n : names) types += (types.empty() ? "" : ", ") + n;
  // The ready line: scripts wait for it and read the port from it (the
  // first "port=": the storage's description may hold a server's port).
  std::string cluster_text =
      opts.cluster.enabled() ? " cluster=" + opts.cluster.name + " host-id=" +
                                   (opts.cluster.host_id.empty() ? opts.cluster.advertise
                                                                 : opts.cluster.host_id)
                             : std::string();
  std::printf(
      "ark-host ready: port=%u data=%s bind=%s durability=%s backend=%s tls=%s token=%s "
      "admin=%s%s types=[%s]\n",
      static_cast<unsigned>(served->port), where.c_str(), c.serve.bind.c_str(),
      std::string(ark::to_string(opts.storage.mode)).c_str(),
      std::string((*rt)->storage()->name()).c_str(), c.serve.tls ? "on" : "off",
      c.serve.token.empty() ? "none" : "required", admin_text.c_str(), cluster_text.c_str(),
      types.c_str());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  if (!storage_failed)
    spdlog::info("{} received: draining and committing", sig == SIGINT ? "SIGINT" : "SIGTERM");
  if (admin) admin->stop();  // before the runtime closes the data directory
  caf::anon_send_exit(served->directory, caf::exit_reason::user_shutdown);
  bool clean = (*rt)->shutdown();
  auto stats = (*rt)->stats();
  spdlog::info("stopped: {} commits, {} units", stats.commits, stats.units);
  if (!clean) {
    // Some actors never settled (the log names them). Everything that was
    // acknowledged is durable and the data directory is closed; tearing the
    // actor system down under live actors is not safe, so exit right here.
    spdlog::error("exiting with actors still busy (exit status 4): nothing acknowledged is lost");
    spdlog::shutdown();
    std::fflush(nullptr);
    std::_Exit(4);
  }
  rt->reset();
  sys.await_actors_before_shutdown(false);
  return storage_failed ? 3 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  host_config c;
  CLI::App app{"ark-host: runs persistent ark actors over one data directory"};
  bind_flags(app, c);
  CLI11_PARSE(app, argc, argv);
  if (auto ok = validate(c); !ok) {
    std::cerr << "ark-host: " << ok.error().message() << "\n";
    return 2;
  }
  return run(c);
}
