#pragma once

#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <tuple>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "ark/errors.hpp"
#include "ark/expected.hpp"
#include "ark/kv/key.hpp"
#include "ark/registry.hpp"

namespace ark {

using directory_get_atom = caf::atom_constant<caf::atom("arkget")>;

/// The actor ark-host publishes on its middleman port: resolves an identity
/// (type name, encoded key) to the actor's handle, activating it.
using directory_actor =
    caf::typed_actor<caf::replies_to<directory_get_atom, std::string, std::string, caf::message,
                                     std::set<std::string>>::with<caf::actor>>;

/// A CAF config for programs that talk to ark actors: loads the middleman,
/// registers every ARK_MESSAGE_TYPE linked into the program and ark's error
/// category.
class client_config : public caf::actor_system_config {
 public:
  client_config() {
    load<caf::io::middleman>();
    actor_registry::global().configure(*this);
  }
};

/// A connection to a running ark-host. Copyable; handles it returns stay
/// valid while the host runs.
class client {
 public:
  /// The typed handle of actor (type, key) on the host, activating it there
  /// (see runtime::get_or_create). Errors: unknown_actor_type,
  /// wrong_interface, invalid_key, unreachable (the host went away).
  template <class Interface, class... Ts>
  expected<Interface> get_or_create(std::string_view type, const ark::key& k, Ts&&... init) {
    auto h = get_or_create_actor(type, k, caf::make_message(std::forward<Ts>(init)...),
                                 sys_->message_types<Interface>());
    if (!h) return h.error();
    return caf::actor_cast<Interface>(std::move(*h));
  }

  expected<caf::actor> get_or_create_actor(std::string_view type, const ark::key& k,
                                           caf::message init, const std::set<std::string>& iface);

  caf::actor_system& system() const { return *sys_; }
  /// "host:port" of the connected host.
  const std::string& address() const { return address_; }

  /// Timeout of get_or_create's round trip.
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};

 private:
  friend expected<client> connect(caf::actor_system&, const std::string&, std::uint16_t);
  caf::actor_system* sys_ = nullptr;
  directory_actor dir_;
  std::string address_;
};

/// Connects to the ark-host listening on host:port (its --port). `sys` must
/// have the middleman loaded (use client_config). Errors: unreachable with
/// the address and CAF's reason.
expected<client> connect(caf::actor_system& sys, const std::string& host, std::uint16_t port);

class runtime;

/// A published directory: the bound port and the directory actor (send it
/// an exit message to stop serving).
struct served {
  std::uint16_t port = 0;
  caf::actor directory;
};

/// Publishes `rt`'s directory on `port` (0: any free port) bound to `bind`
/// (e.g. "127.0.0.1"). Errors: io_error naming the address (port in use).
expected<served> serve(const std::shared_ptr<runtime>& rt, std::uint16_t port,
                       const std::string& bind);

/// Sends `xs...` to `dest` and waits for the reply (at most `timeout`):
/// the blocking call a command-line client or a test makes. Errors: the
/// actor's error reply; unreachable when the actor or its host goes away
/// (noticed at once when the connection drops) or the timeout passes.
template <class R, class Handle, class... Ts>
expected<R> call(caf::actor_system& sys, const Handle& dest, std::chrono::milliseconds timeout,
                 Ts&&... xs) {
  auto done = std::make_shared<std::promise<expected<R>>>();
  auto result = done->get_future();
  auto args = std::make_tuple(std::decay_t<Ts>(std::forward<Ts>(xs))...);
  // An event-based helper: unlike a scoped_actor's blocking receive, it also
  // sees the down message CAF sends when the connection to the host drops.
  sys.spawn([dest, timeout, args, done](caf::event_based_actor* self) {
    auto finished = std::make_shared<bool>(false);
    auto finish = [self, done, finished](expected<R> r) {
      if (*finished) return;
      *finished = true;
      done->set_value(std::move(r));
      self->quit();
    };
    self->monitor(dest);
    self->set_down_handler([finish](caf::down_msg& m) {
      finish(error{errc::unreachable,
                   "the actor or its host went away (" + caf::to_string(m.reason) + ")"});
    });
    auto on_error = [finish](caf::error& e) { finish(from_caf(e)); };
    std::apply(
        [&](const auto&... a) {
          if constexpr (std::is_void_v<R>)
            self->request(dest, timeout, a...).then([finish]() { finish({}); }, on_error);
          else
            self->request(dest, timeout, a...)
                .then([finish](R& v) { finish(std::move(v)); }, on_error);
        },
        args);
  });
  return result.get();
}

}  // namespace ark
