// Security defaults of ark-host: loopback unless told otherwise, an access
// token, and mutual TLS when the middleman port is exposed (doc/security.md).

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <fstream>

#include <ark/client.hpp>

#include "counter/counter.hpp"
#include "support/host_process.hpp"
#include "support/pki.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

using ark::test::pki;

namespace {

const std::string counter_module = std::string(ARK_MODULE_DIR) + "/libark_counter.so";
const std::string good_token = "0123456789abcdef0123456789abcdef";

std::string write_file(const std::string& path, const std::string& text, mode_t mode = 0600) {
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
  return path;
}

std::pair<int, std::string> host_command(const std::string& args) {
  return ark::test::run_command(std::string(ARK_HOST_PATH) + " --port 0 --module " +
                                counter_module + " " + args);
}

// A client with its own actor system, connected with `opts`.
struct tls_client {
  ark::client_config cfg;
  caf::actor_system sys{cfg};
  ark::expected<ark::client> c;

  explicit tls_client(const ark::connect_options& opts)
      : cfg(opts.tls), c(ark::connect(sys, opts)) {}

  ark::expected<std::int64_t> add(const std::string& key) {
    if (!c) return c.error();
    c->timeout = 5s;
    auto h = c->get_or_create<counter::counter_if>("counter", key);
    if (!h) return h.error();
    return ark::call<std::int64_t>(sys, *h, 5s, counter::add_atom::value, std::int64_t{1});
  }
};

// The value of a call that must succeed.
std::int64_t value(const ark::expected<std::int64_t>& r) {
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
  return *r;
}

}  // namespace

TEST_CASE("ark-host binds to loopback by default and refuses to expose the port unprotected") {
  ark::test::temp_dir dir;
  auto data = " --data " + dir.sub("data");
  auto [rc, out] = host_command(data + " --bind 0.0.0.0");
  CHECK(rc == 2);
  CHECK(out.find("access token") != std::string::npos);
  CHECK(out.find("TLS") != std::string::npos);
  CHECK(out.find("doc/security.md") != std::string::npos);
  // A token alone is not enough beyond loopback.
  auto token = write_file(dir.sub("token"), good_token);
  std::tie(rc, out) = host_command(data + " --bind 0.0.0.0 --token-file " + token);
  CHECK(rc == 2);
  CHECK(out.find("TLS") != std::string::npos);

  ark::test::host_process host(dir.sub("data"), {counter_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  CHECK(host.output().find("bind=127.0.0.1") != std::string::npos);
  CHECK(host.stop() == 0);
}

TEST_CASE("token files must be private and long enough") {
  ark::test::temp_dir dir;
  auto data = " --data " + dir.sub("data");
  auto open = write_file(dir.sub("open-token"), good_token, 0644);
  auto [rc, out] = host_command(data + " --token-file " + open);
  CHECK(rc == 2);
  CHECK(out.find("chmod 600") != std::string::npos);
  auto shorty = write_file(dir.sub("short-token"), "secret\n");
  std::tie(rc, out) = host_command(data + " --token-file " + shorty);
  CHECK(rc == 2);
  CHECK(out.find("shorter than 16") != std::string::npos);
  std::tie(rc, out) = host_command(data + " --token-file " + dir.sub("missing"));
  CHECK(rc == 2);
  CHECK(out.find("cannot read the token file") != std::string::npos);
}

TEST_CASE("a host with a token refuses clients without it or with a wrong one") {
  ark::test::temp_dir dir;
  auto token = write_file(dir.sub("token"), good_token + "\n");
  ark::test::host_process host(dir.sub("data"), {counter_module}, {"--token-file", token});
  REQUIRE_MESSAGE(host.start(), host.output());
  CHECK(host.output().find("token=required") != std::string::npos);
  CHECK(host.output().find(good_token) == std::string::npos);  // never printed
  ark::connect_options opts;
  opts.port = host.port();
  {
    tls_client none(opts);
    auto v = none.add("a");
    REQUIRE_FALSE(v);
    CHECK(v.error() == ark::errc::unauthorized);
    CHECK(v.error().message().find("requires an access token") != std::string::npos);
  }
  {
    opts.token = good_token.substr(1) + "X";  // same length, wrong
    tls_client wrong(opts);
    auto v = wrong.add("a");
    REQUIRE_FALSE(v);
    CHECK(v.error() == ark::errc::unauthorized);
    CHECK(v.error().message().find("wrong") != std::string::npos);
  }
  opts.token = good_token;
  tls_client right(opts);
  CHECK(value(right.add("a")) == 1);
  CHECK(value(right.add("a")) == 2);
  CHECK(host.stop() == 0);
}

TEST_CASE("exposed with a token and mutual TLS: only CA-signed clients with the token get in") {
  pki certs;
  ark::test::temp_dir dir;
  auto token = write_file(dir.sub("token"), good_token);
  auto host_tls = certs.files("host");
  ark::test::host_process host(dir.sub("data"), {counter_module},
                               {"--bind", "0.0.0.0", "--token-file", token, "--tls-cert",
                                host_tls.cert, "--tls-key", host_tls.key, "--tls-ca", host_tls.ca});
  REQUIRE_MESSAGE(host.start(), host.output());
  CHECK(host.output().find("tls=on") != std::string::npos);

  ark::connect_options opts;
  opts.port = host.port();
  opts.token = good_token;
  opts.tls = certs.files("client");
  {
    tls_client good(opts);
    REQUIRE_MESSAGE(good.c, (good.c ? "" : good.c.error().message()));
    CHECK(value(good.add("a")) == 1);
  }
  {
    auto no_token = opts;
    no_token.token.clear();
    tls_client c(no_token);
    auto v = c.add("a");
    REQUIRE_FALSE(v);
    CHECK(v.error() == ark::errc::unauthorized);
  }
  {
    auto plain = opts;
    plain.tls = {};
    tls_client c(plain);  // speaks plain BASP to a TLS port
    CHECK_FALSE(c.c);
  }
  {
    auto rogue = opts;
    rogue.tls = certs.files("rogue", "ca");  // a certificate the host's CA did not sign
    tls_client c(rogue);
    CHECK_FALSE(c.c);
  }
  {
    auto distrust = opts;
    distrust.tls = certs.files("client", "rogue-ca");  // does not trust the host's certificate
    tls_client c(distrust);
    CHECK_FALSE(c.c);
  }
  // The host survived all of it.
  tls_client again(opts);
  CHECK(value(again.add("a")) == 2);
  CHECK(host.stop() == 0);
}

TEST_CASE("unusable TLS files are refused at start, naming the file") {
  pki certs;
  ark::test::temp_dir dir;
  auto data = " --data " + dir.sub("data") + " --tls-ca " + certs.path("ca.pem");
  auto [rc, out] = host_command(data + " --tls-cert " + certs.path("host.pem") + " --tls-key " +
                                certs.path("client.key"));  // the wrong key
  CHECK(rc == 2);
  CHECK(out.find("client.key") != std::string::npos);
  CHECK(out.find("mismatch") != std::string::npos);
  std::tie(rc, out) = host_command(data + " --tls-cert " + dir.sub("nope.pem") + " --tls-key " +
                                   certs.path("host.key"));
  CHECK(rc == 2);
  CHECK(out.find("nope.pem") != std::string::npos);
  std::tie(rc, out) = host_command(" --data " + dir.sub("data") + " --tls-cert " +
                                   certs.path("host.pem"));
  CHECK(rc == 2);
  CHECK(out.find("three files") != std::string::npos);
}
