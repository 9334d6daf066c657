#pragma once

// A client process's view of a running ark-host, for end-to-end tests.

#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include <ark/client.hpp>

namespace ark::test {

/// An actor system with the middleman, connected to the host on `port`.
struct remote_client {
  ark::client_config cfg;
  caf::actor_system sys{cfg};
  ark::client c;

  explicit remote_client(std::uint16_t port) {
    auto r = ark::connect(sys, "127.0.0.1", port);
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
    c = *r;
  }

  /// The typed handle of actor (type, key); fails the test on error.
  template <class Interface>
  Interface handle(const std::string& type, const ark::key& key) {
    auto h = c.get_or_create<Interface>(type, key);
    REQUIRE_MESSAGE(h, (h ? "" : h.error().message()));
    return *h;
  }
};

}  // namespace ark::test
