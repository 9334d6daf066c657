#pragma once

// HTTP requests to a real ark-host's admin API (tests/host): the port from its
// ready line, GET and POST with an optional bearer token.

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <fstream>
#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "support/host_process.hpp"
#include "test_util.hpp"

namespace ark::test {

// The admin port from the host's ready line ("admin=127.0.0.1:PORT").
inline int admin_port(const host_process& host) {
  auto out = host.output();
  auto p = out.find("admin=");
  REQUIRE_MESSAGE(p != std::string::npos, out);
  auto colon = out.find(':', p);
  REQUIRE(colon != std::string::npos);
  return std::stoi(out.substr(colon + 1));
}

// The admin API's base URL from the host's ready line: http://127.0.0.1:PORT.
inline std::string admin_url(const host_process& host) {
  return "http://127.0.0.1:" + std::to_string(admin_port(host));
}

/// The admin token the tests give hosts (--admin-token-file).
inline const std::string admin_token = "0123456789abcdef0123";

/// Writes admin_token to `dir`/admin-token (mode 600, as ark-host requires)
/// and returns the file's path.
inline std::string write_admin_token(const temp_dir& dir) {
  auto path = dir.sub("admin-token");
  std::ofstream(path) << admin_token << "\n";
  ::chmod(path.c_str(), 0600);
  return path;
}

struct http_result {
  int status = 0;
  nlohmann::json body;
  std::string text;
};

inline httplib::Headers bearer(const std::string& token) {
  httplib::Headers h;
  if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
  return h;
}

inline http_result get(int port, const std::string& path, const httplib::Params& params = {},
                       const std::string& token = {}) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(10);
  auto r = c.Get(path, params, bearer(token));
  REQUIRE_MESSAGE(r, "no HTTP answer from the admin API for " << path);
  return http_result{r->status, nlohmann::json::parse(r->body, nullptr, false), r->body};
}

inline http_result post(int port, const std::string& path, const nlohmann::json& body,
                        const std::string& token = {}) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(30);
  auto r = c.Post(path.c_str(), bearer(token), body.dump(), "application/json");
  REQUIRE_MESSAGE(r, "no HTTP answer from the admin API for POST " << path);
  return http_result{r->status, nlohmann::json::parse(r->body, nullptr, false), r->body};
}

}  // namespace ark::test
