#pragma once

// The admin API of a running host: HTTP + JSON (cpp-httplib), the documents of
// ark/inspect.hpp plus live views (which actors are active, what their
// inspect_state() shows, host statistics, Prometheus metrics). Endpoints and
// formats: doc/admin_api.md. Security: bound to 127.0.0.1 by default; a token
// is required beyond loopback (doc/security.md).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "ark/expected.hpp"
#include "ark/inspect.hpp"
#include "ark/runtime.hpp"

namespace ark {

struct admin_options {
  std::string bind = "127.0.0.1";
  std::uint16_t port = 0;  ///< 0: any free port (see admin_server::port())
  /// Bearer token every request must carry ("Authorization: Bearer T").
  /// Required when `bind` is not a loopback address; empty: no check.
  std::string token;
  /// Cap of a state preview (the JSON text of one actor's state).
  std::size_t preview_limit = inspect::default_preview_limit;
  /// Refuse the admin actions (POST /api/v1/call) with read_only (HTTP
  /// 403); every view stays available.
  bool read_only = false;
  /// Where admin actions are logged (one line per handler call, naming the
  /// caller's address); default: nowhere.
  std::function<void(const std::string&)> log;
  /// Live tails (GET /api/v1/tail) served at once; more are refused (503).
  std::size_t max_tails = 4;
};

/// An HTTP server thread serving the admin API of `rt`. Stop it (or destroy
/// it) before the runtime shuts down.
class admin_server {
 public:
  /// Binds and starts serving. Errors: invalid_argument (a non-loopback bind
  /// without a token), io_error (the address cannot be bound, naming it).
  static expected<std::unique_ptr<admin_server>> start(std::shared_ptr<runtime> rt,
                                                       admin_options opts);
  ~admin_server();
  admin_server(const admin_server&) = delete;
  admin_server& operator=(const admin_server&) = delete;

  /// The bound port.
  std::uint16_t port() const;
  /// Stops accepting requests and joins the server thread. Idempotent.
  void stop();

  struct impl;

 private:
  explicit admin_server(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// The Prometheus text exposition of `s` (metric names ark_*), with
/// ark_alarms_pending when `alarms_pending` is given.
std::string prometheus_text(const runtime_stats& s,
                            std::optional<std::uint64_t> alarms_pending = std::nullopt);

/// The HTTP status the admin API answers `e` with: 400 bad parameters, 401
/// unauthorized, 403 read_only, 404 not found, 503 shutting down, 504
/// unreachable (no reply in time), 500 otherwise.
int http_status(const error& e);

/// The admin API's error document: {"error": {"code", "context", "message"}}
/// (message = the full text with the remedy; code + context rebuild `e`).
nlohmann::json error_document(const error& e);

}  // namespace ark
