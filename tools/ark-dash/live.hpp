#pragma once

// A running host's admin API as ark-dash reaches it (--host URL, --token-file):
// requests that carry the bearer token, the live tail's event stream, and the
// admin actions. Shared by the verbs (stats, tail, call) and by `serve`,
// which passes them on to the page.

#include <functional>
#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "ark/expected.hpp"

namespace ark::dash {

/// A running host's admin API: its base URL and the file holding its token.
struct live_host {
  std::string url;         ///< e.g. http://127.0.0.1:4711
  std::string token_file;  ///< empty: $ARK_ADMIN_TOKEN, or none

  /// A client for `url` (timeouts: connect 5 s, read `read_timeout_s`) and the
  /// headers every request carries. Errors: invalid_argument (not a URL),
  /// the token file's.
  expected<std::pair<std::unique_ptr<httplib::Client>, httplib::Headers>> connect(
      int read_timeout_s = 30) const;

  /// unreachable naming the URL, for a request that got no answer.
  error unreachable(httplib::Error e) const;
};

/// An answer of the host as it came: HTTP status and body.
struct raw_answer {
  int status = 0;
  std::string body;
};

/// GET `path` with `params`.
expected<raw_answer> get_raw(const live_host& h, const std::string& path,
                             const httplib::Params& params);

/// GET `path` with `params`, as a JSON document (answer_of).
expected<nlohmann::json> get_json(const live_host& h, const std::string& path,
                                  const httplib::Params& params);

/// The host's answer as a JSON document: its error document (code, context)
/// becomes that error, naming the host.
expected<nlohmann::json> answer_of(const live_host& h, int status, const std::string& body);

/// POST `path` with the JSON `body`; the host's JSON answer.
expected<nlohmann::json> post_live(const live_host& h, const std::string& path,
                                   const nlohmann::json& body);

/// GET /api/v1/tail with `params`, passing every chunk of the event stream to
/// `on_chunk` until it returns false or the stream ends. A refusal (an error
/// document instead of a stream) is returned as that error.
expected<void> stream_tail(const live_host& h, const httplib::Params& params,
                           const std::function<bool(const char*, std::size_t)>& on_chunk);

}  // namespace ark::dash
