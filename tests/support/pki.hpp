#pragma once

// Test certificates made with openssl(1): a CA, a host and a client
// certificate signed by it, and a certificate of another CA (doc/security.md).

#include <doctest/doctest.h>

#include <string>

#include <ark/client.hpp>

#include "support/host_process.hpp"
#include "test_util.hpp"

namespace ark::test {

// A CA, a host certificate and a client certificate signed by it, and a
// client certificate signed by another CA; EC keys, made with openssl(1).
struct pki {
  ark::test::temp_dir dir;
  std::string path(const std::string& name) const { return dir.sub(name); }

  void make_ca(const std::string& name) {
    auto [rc, out] = ark::test::run_command(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
        "-subj /CN=" + name + " -keyout " + path(name + ".key") + " -out " + path(name + ".pem"));
    REQUIRE_MESSAGE(rc == 0, out);
  }
  void make_cert(const std::string& name, const std::string& ca) {
    auto [rc, out] = ark::test::run_command(
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=" + name +
        " -keyout " + path(name + ".key") + " -out " + path(name + ".csr") +
        " && openssl x509 -req -days 2 -in " + path(name + ".csr") + " -CA " + path(ca + ".pem") +
        " -CAkey " + path(ca + ".key") + " -CAcreateserial -out " + path(name + ".pem"));
    REQUIRE_MESSAGE(rc == 0, out);
  }
  pki() {
    make_ca("ca");
    make_cert("host", "ca");
    make_cert("client", "ca");
    make_ca("rogue-ca");
    make_cert("rogue", "rogue-ca");
  }
  ark::tls_files files(const std::string& name, const std::string& ca = "ca") const {
    return {path(name + ".pem"), path(name + ".key"), path(ca + ".pem")};
  }
};

}  // namespace ark::test
