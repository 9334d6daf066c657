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
#include "ark/registry.hpp"
#include "ark/runtime.hpp"

namespace {

int fail(const std::string& what) {
  spdlog::error("{}", what);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ark-host: runs persistent ark actors over one data directory"};
  std::string data = "./ark-data";
  std::vector<std::string> modules;
  std::string durability = "sync";
  std::string backend;
  int port = 4710;
  std::string bind = "127.0.0.1";
  double idle_seconds = 300;
  std::string log_level = "info";
  std::size_t max_active = 100000;
  std::size_t max_subscribers = 10000;
  std::size_t threads = 0;
  int admin_port = -1;
  std::string admin_bind = "127.0.0.1";
  std::string admin_token_file;
  std::size_t admin_preview_limit = ark::inspect::default_preview_limit;
  std::string token_file;
  ark::tls_files tls;
  std::size_t map_size = std::size_t{1} << 30;
  std::size_t max_map_size = std::size_t{1} << 40;
  app.add_option("--data", data, "data directory (created when missing)")->capture_default_str();
  app.add_option("--module", modules,
                 "shared library registering actor types (repeatable; see examples/)")
      ->check(CLI::ExistingFile);
  app.add_option("--durability", durability,
                 "sync: reply after fsync (default); relaxed: no meta-page fsync; none: no "
                 "fsync, periodic sync")
      ->check(CLI::IsMember({"sync", "relaxed", "none"}))
      ->capture_default_str();
  app.add_option("--backend", backend,
                 "storage engine of a new data directory: lmdb (the default) or sqlite "
                 "(doc/backends.md); an existing directory opens with the engine it holds, "
                 "and a different --backend is refused")
      ->check(CLI::IsMember({"lmdb", "sqlite"}));
  app.add_option("--port", port, "middleman port for remote typed clients (0: any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  app.add_option("--bind", bind,
                 "address the middleman port binds to; beyond loopback it needs --token-file "
                 "and TLS (doc/security.md)")
      ->capture_default_str();
  app.add_option("--token-file", token_file,
                 "file holding the access token clients must present (else $ARK_TOKEN; chmod "
                 "600; make one with: openssl rand -hex 32)");
  app.add_option("--tls-cert", tls.cert, "serve over TLS with this certificate chain (PEM)");
  app.add_option("--tls-key", tls.key, "the certificate's private key (PEM)");
  app.add_option("--tls-ca", tls.ca,
                 "CA certificate clients' certificates must chain to (PEM; TLS is mutual)");
  app.add_option("--idle-timeout", idle_seconds,
                 "seconds after which an idle actor is passivated (0: never)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--max-active", max_active,
                 "activation cap: above it the oldest activations are passivated (0: none)")
      ->capture_default_str();
  app.add_option("--max-subscribers", max_subscribers,
                 "most subscribers one actor may have (doc/subscriptions.md)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--admin-port", admin_port,
                 "serve the admin API (HTTP, doc/admin_api.md) on this port (0: any free "
                 "port); off when not given")
      ->check(CLI::Range(0, 65535));
  app.add_option("--admin-bind", admin_bind,
                 "address of the admin API; beyond loopback it needs --admin-token-file")
      ->capture_default_str();
  app.add_option("--admin-token-file", admin_token_file,
                 "file with the bearer token the admin API requires (chmod 600, at least 16 "
                 "characters; default $ARK_ADMIN_TOKEN)");
  app.add_option("--admin-preview-limit", admin_preview_limit,
                 "cap of one actor's state preview in the admin API (e.g. 1MiB); larger "
                 "states are shown truncated")
      ->transform(CLI::AsSizeValue(false))
      ->default_str("125MB");
  app.add_option("--threads", threads,
                 "CAF scheduler worker threads (0: one per hardware thread)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{1024}))
      ->capture_default_str();
  app.add_option("--map-size", map_size,
                 "initial LMDB map size (e.g. 64MiB, 1GiB); it doubles when full")
      ->transform(CLI::AsSizeValue(false))
      ->default_str("1GiB");
  app.add_option("--max-map-size", max_map_size,
                 "ceiling of the map's growth; beyond it writes fail with map_full")
      ->transform(CLI::AsSizeValue(false))
      ->default_str("1TiB");
  app.add_option("--log-level", log_level, "error, warn, info or debug")
      ->check(CLI::IsMember({"error", "warn", "info", "debug"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  auto resolved = ark::resolve_token(token_file);
  if (!resolved) {
    std::cerr << "ark-host: " << resolved.error().message() << "\n";
    return 2;
  }
  const std::string token = std::move(*resolved);
  auto admin_resolved = ark::resolve_token(admin_token_file, "ARK_ADMIN_TOKEN");
  if (!admin_resolved) {
    std::cerr << "ark-host: admin API: " << admin_resolved.error().message() << "\n";
    return 2;
  }
  const std::string admin_token = std::move(*admin_resolved);
  if (admin_port >= 0 && !ark::is_loopback(admin_bind) && admin_token.empty()) {
    std::cerr << "ark-host: --admin-bind " << admin_bind
              << " would expose the admin API beyond this machine without a token; give "
                 "--admin-token-file FILE (or $ARK_ADMIN_TOKEN), or bind it to 127.0.0.1\n";
    return 2;
  }
  bool tls_wanted = !tls.cert.empty() || !tls.key.empty() || !tls.ca.empty();
  if (!ark::is_loopback(bind) && (token.empty() || !tls_wanted)) {
    std::cerr << "ark-host: --bind " << bind
              << " makes the middleman port reachable from other machines, which needs an "
                 "access token (--token-file or $ARK_TOKEN) and TLS (--tls-cert, --tls-key, "
                 "--tls-ca); see doc/security.md. Or bind to 127.0.0.1 and tunnel (ssh -L).\n";
    return 2;
  }
  if (tls_wanted) {
    if (auto ok = ark::check_tls_files(tls); !ok) {
      std::cerr << "ark-host: " << ok.error().message() << "\n";
      return 2;
    }
  }
  if (max_map_size < map_size) {
    std::cerr << "ark-host: --max-map-size (" << max_map_size << " bytes) is below --map-size ("
              << map_size << " bytes); raise it\n";
    return 2;
  }

  auto console = spdlog::stderr_color_mt("ark-host");
  spdlog::set_default_logger(console);
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ ark-host: %v");

  // Signals go to sigwait() below, never to another thread.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto& registry = ark::actor_registry::global();
  for (const auto& m : modules) {
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

  ark::client_config cfg(tls);  // the middleman (and OpenSSL), ark's types
  ark::configure_host_scheduler(cfg);
  if (threads > 0) cfg.set("scheduler.max-threads", threads);
  caf::actor_system sys{cfg};

  ark::runtime_options opts;
  opts.data_dir = data;
  opts.durability = *ark::parse_durability(durability);
  if (!backend.empty()) opts.backend_kind = *ark::kv::parse_backend_kind(backend);
  opts.idle_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(idle_seconds * 1000));
  opts.max_active = max_active;
  opts.max_subscribers = max_subscribers;
  opts.initial_map_size = map_size;
  opts.max_map_size = max_map_size;
  opts.log = [](const std::string& line) { spdlog::error("{}", line); };
  // The storage engine refuses every write from now on: stop like on
  // SIGTERM (callers of messages in flight get the error), exit status 3.
  static std::atomic<bool> storage_failed{false};
  opts.on_storage_failure = [](const ark::error& e) {
    storage_failed = true;
    spdlog::critical("{}; stopping", e.message());
    ::kill(::getpid(), SIGTERM);
  };
  auto rt = ark::runtime::open(sys, opts);
  if (!rt) {
    sys.await_actors_before_shutdown(false);
    return fail("cannot open " + data + ": " + rt.error().message());
  }
  ark::serve_options so;
  so.port = static_cast<std::uint16_t>(port);
  so.bind = bind;
  so.token = token;
  so.tls = tls_wanted;
  auto served = ark::serve(*rt, so);
  if (!served) {
    (*rt)->shutdown();
    sys.await_actors_before_shutdown(false);
    return fail(served.error().message());
  }
  std::unique_ptr<ark::admin_server> admin;
  if (admin_port >= 0) {
    ark::admin_options ao;
    ao.bind = admin_bind;
    ao.port = static_cast<std::uint16_t>(admin_port);
    ao.token = admin_token;
    ao.preview_limit = admin_preview_limit;
    auto a = ark::admin_server::start(*rt, ao);
    if (!a) {
      caf::anon_send_exit(served->directory, caf::exit_reason::user_shutdown);
      (*rt)->shutdown();
      sys.await_actors_before_shutdown(false);
      return fail("admin API: " + a.error().message());
    }
    admin = std::move(*a);
  }
  std::string admin_text = admin ? admin_bind + ":" + std::to_string(admin->port()) : "off";
  std::string types;
  for (const auto& n : names) types += (types.empty() ? "" : ", ") + n;
  // The ready line: scripts wait for it (and read the port from it).
  std::printf(
      "ark-host ready: data=%s port=%u bind=%s durability=%s backend=%s tls=%s token=%s "
      "admin=%s types=[%s]\n",
      data.c_str(), static_cast<unsigned>(served->port), bind.c_str(), durability.c_str(),
      std::string((*rt)->storage()->name()).c_str(),
      tls_wanted ? "on" : "off", token.empty() ? "none" : "required", admin_text.c_str(),
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
