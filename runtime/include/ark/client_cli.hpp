#pragma once

// The connection flags every ark command-line client takes (CLI11):
//   --host H --port P --token-file F --tls-cert C --tls-key K --tls-ca A
// and the ARK_TOKEN environment variable. Header-only, so that only programs
// that include it need CLI11.

#include <string>

#include <CLI/CLI.hpp>

#include "ark/client.hpp"

namespace ark {

struct connect_flags {
  connect_options opts;
  std::string token_file;

  /// Adds the flags to `app`.
  void add_to(CLI::App& app) {
    app.add_option("--host", opts.host, "ark-host address")->capture_default_str();
    app.add_option("--port", opts.port, "ark-host --port")->capture_default_str();
    app.add_option("--token-file", token_file,
                   "file holding the host's access token (else $ARK_TOKEN)");
    app.add_option("--tls-cert", opts.tls.cert, "client certificate (PEM), for a TLS host");
    app.add_option("--tls-key", opts.tls.key, "its private key (PEM)");
    app.add_option("--tls-ca", opts.tls.ca, "CA certificate that signed the host's (PEM)");
  }

  /// The options with the token read from --token-file or $ARK_TOKEN.
  expected<connect_options> resolve() const {
    auto token = resolve_token(token_file);
    if (!token) return token.error();
    connect_options out = opts;
    out.token = std::move(*token);
    return out;
  }
};

}  // namespace ark
