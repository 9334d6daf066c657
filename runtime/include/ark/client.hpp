#pragma once

#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "ark/detail/interface_cache.hpp"
#include "ark/errors.hpp"
#include "ark/expected.hpp"
#include "ark/kv/key.hpp"
#include "ark/registry.hpp"
#include "ark/subscription.hpp"

namespace ark {

/// get_or_create (every ark version).
using directory_get_atom = caf::atom_constant<caf::atom("arkget")>;
/// get: an existing actor only.
using directory_find_atom = caf::atom_constant<caf::atom("arkfind")>;
/// create: a new actor only.
using directory_create_atom = caf::atom_constant<caf::atom("arkcreate")>;

/// The actor ark-host publishes on its middleman port: resolves an identity
/// (access token, type name, encoded key, the caller's interface) to the
/// actor's handle, as runtime::get_or_create (directory_get_atom, with
/// on_initialize's arguments), runtime::get (directory_find_atom) or
/// runtime::create (directory_create_atom). A host with a token answers
/// unauthorized to a request without it. Clients connect with the
/// get_or_create part only (directory_get_actor), so they also reach a host
/// that predates get and create (those then fail with wrong_interface).
using directory_get_actor =
    caf::typed_actor<caf::replies_to<directory_get_atom, std::string, std::string, std::string,
                                     caf::message, std::set<std::string>>::with<caf::actor>>;
/// Between the hosts of a cluster only (doc/cluster.md): a lookup another
/// host forwarded, resolved where it arrives and never forwarded again:
/// {token, mode (0 get_or_create, 1 get, 2 create), type, encoded key,
/// on_initialize's arguments, the caller's interface, the forwarding host's
/// advertised address and its directory (or an invalid handle)} -> the
/// actor. The receiver keeps that directory to forward the other way over
/// the same connection.
using directory_route_atom = caf::atom_constant<caf::atom("arkroute")>;
/// call_many (ark/call_many.hpp): {token, the actors, their messages} ->
/// every reply, in order (a failed call's reply is its caf::error).
using directory_many_atom = caf::atom_constant<caf::atom("arkmany")>;
using directory_actor = directory_get_actor::extend<
    caf::replies_to<directory_find_atom, std::string, std::string, std::string,
                    std::set<std::string>>::with<caf::actor>,
    caf::replies_to<directory_create_atom, std::string, std::string, std::string, caf::message,
                    std::set<std::string>>::with<caf::actor>,
    caf::replies_to<directory_route_atom, std::string, std::int32_t, std::string, std::string,
                    caf::message, std::set<std::string>, std::string, caf::actor>::with<caf::actor>,
    caf::replies_to<directory_many_atom, std::string, std::vector<caf::actor>,
                    std::vector<caf::message>>::with<std::vector<caf::message>>>;

/// TLS files (PEM). With a certificate, CAF's TLS is mutual: each side shows
/// a certificate that the other's `ca` signed (doc/security.md).
struct tls_files {
  std::string cert;  ///< this side's certificate chain
  std::string key;   ///< its private key
  std::string ca;    ///< the CA certificate(s) the other side's certificate must chain to
  bool enabled() const { return !cert.empty(); }
};

/// Checks that `files` are complete, readable, that the key matches the
/// certificate and the CA file loads. Errors: invalid_argument naming the
/// file and OpenSSL's reason.
expected<void> check_tls_files(const tls_files& files);

/// The middleman port ark-host listens on, and clients connect to, unless
/// told otherwise.
inline constexpr std::uint16_t default_port = 4710;

/// How a client reaches an ark-host.
struct connect_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = default_port;
  /// The host's access token (ark-host --token-file); empty when it has none.
  std::string token;
  /// Connect over TLS (the host runs with --tls-cert).
  tls_files tls;
};

/// Reads an access token from `path` (surrounding whitespace dropped).
/// Errors: invalid_argument when the file cannot be read, is empty, is
/// shorter than 16 characters, or is readable by other users (chmod 600).
expected<std::string> read_token_file(const std::string& path);

/// The access token a program was given: read from `path` when not empty
/// (read_token_file), else the environment variable `env` (ARK_TOKEN for the
/// middleman, ARK_ADMIN_TOKEN for the admin API), else none (empty). Errors:
/// invalid_argument as read_token_file, or a variable shorter than 16
/// characters.
expected<std::string> resolve_token(const std::string& path, const char* env = "ARK_TOKEN");

/// How often a program built on client_config sends CAF heartbeats on its
/// middleman connections. Cluster hosts drop a connection that stays silent
/// for their connection timeout (at least 4 of these, doc/cluster.md): a
/// client written with plain CAF must set `middleman.heartbeat-interval`
/// to talk to a cluster.
inline constexpr std::chrono::milliseconds client_heartbeat{1000};

/// A CAF config for programs that talk to ark actors: loads the middleman
/// (and CAF's OpenSSL manager with `tls` when it is enabled), registers every
/// ARK_MESSAGE_TYPE linked into the program and ark's error category, and
/// sends heartbeats every client_heartbeat.
class client_config : public caf::actor_system_config {
 public:
  explicit client_config(const tls_files& tls = {});
};

/// unreachable for the ark-host at `address` ("host:port"): the context
/// names it, the remedy says to check that ark-host runs and listens there.
/// Only a remote client knows that a host and a port are involved; errors of
/// in-process calls keep unreachable's generic remedy.
error host_unreachable(const std::string& address, const std::string& context);

/// A connection to a running ark-host. Copyable; handles it returns stay
/// valid while the host runs.
class client {
 public:
  /// The typed handle of actor (type, key) on the host, activating it there
  /// (see runtime::get_or_create). Errors: unknown_actor_type,
  /// wrong_interface, invalid_key, unreachable (the host went away),
  /// unregistered_type (Interface uses a type this program did not register
  /// with ARK_MESSAGE_TYPE; checked before anything is sent).
  template <class Interface, class... Ts>
  expected<Interface> get_or_create(std::string_view type, const ark::key& k, Ts&&... init) {
    auto h = get_or_create_actor(type, k, caf::make_message(std::forward<Ts>(init)...),
                                 ifaces_->get<Interface>(*sys_));
    if (!h) return h.error();
    return caf::actor_cast<Interface>(std::move(*h));
  }

  /// The typed handle of actor (type, key) if it exists (runtime::get): a
  /// status query that must not create. Errors: not_found (nothing was
  /// created or activated); those of get_or_create; wrong_interface from a
  /// host that predates get.
  template <class Interface>
  expected<Interface> get(std::string_view type, const ark::key& k) {
    auto h = get_actor(type, k, ifaces_->get<Interface>(*sys_));
    if (!h) return h.error();
    return caf::actor_cast<Interface>(std::move(*h));
  }

  /// Creates actor (type, key) on the host (runtime::create). Errors:
  /// already_exists; those of get_or_create; wrong_interface from a host
  /// that predates create.
  template <class Interface, class... Ts>
  expected<Interface> create(std::string_view type, const ark::key& k, Ts&&... init) {
    auto h = create_actor(type, k, caf::make_message(std::forward<Ts>(init)...),
                          ifaces_->get<Interface>(*sys_));
    if (!h) return h.error();
    return caf::actor_cast<Interface>(std::move(*h));
  }

  /// The untyped forms: `iface` is the caller's interface (caf message types).
  expected<caf::actor> get_or_create_actor(std::string_view type, const ark::key& k,
                                           caf::message init, const std::set<std::string>& iface);
  expected<caf::actor> get_actor(std::string_view type, const ark::key& k,
                                 const std::set<std::string>& iface);
  expected<caf::actor> create_actor(std::string_view type, const ark::key& k, caf::message init,
                                    const std::set<std::string>& iface);

  /// Subscribes to the actor `publisher` (a handle from get_or_create):
  /// cbs.on_state gets its current state, then its state after each durable
  /// change, cbs.on_event its events, in commit order (ark/subscription.hpp,
  /// doc/subscriptions.md). Destroying the result unsubscribes; the host also
  /// drops the subscription when this process's connection to it drops.
  /// Errors: as ark::subscribe (the round trip is bounded by `timeout`).
  template <class Handle>
  expected<subscription> subscribe(const Handle& publisher, subscription_mode mode,
                                   subscription_callbacks cbs) {
    auto r = subscribe_actor(*sys_, caf::actor_cast<caf::actor>(publisher), mode, std::move(cbs),
                             timeout);
    if (!r && r.error().code() == errc::unreachable)
      return host_unreachable(address_, r.error().context());
    return r;
  }

  caf::actor_system& system() const { return *sys_; }
  /// The host's directory actor (what the lookups above ask).
  const directory_actor& directory() const { return dir_; }
  /// The access token sent with every get_or_create.
  const std::string& token() const { return token_; }
  /// "host:port" of the connected host.
  const std::string& address() const { return address_; }

  /// Timeout of get_or_create's round trip.
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};
  /// In a cluster (doc/cluster.md): how long get_or_create and get keep
  /// asking again when the actor's owner did not answer (owner_unreachable)
  /// or the host asked is between leases (lease_lost). 0: never again.
  std::chrono::milliseconds lookup_retry{std::chrono::seconds(15)};

 private:
  friend expected<client> connect(caf::actor_system&, const connect_options&);
  caf::actor_system* sys_ = nullptr;
  std::shared_ptr<detail::interface_cache> ifaces_ = std::make_shared<detail::interface_cache>();
  directory_actor dir_;
  std::string address_;
  std::string token_;
};

/// `e` as a remote call's caller shows it: an unreachable error gets the
/// remote remedy (check that ark-host runs and listens on --host/--port)
/// when `remote`; anything else is returned unchanged.
error call_error(bool remote, error e);

/// Connects to the ark-host listening on opts.host:opts.port (its --port).
/// `sys` must come from a client_config (built with opts.tls when TLS is
/// used). Errors: unreachable with the address and CAF's reason;
/// invalid_argument for unusable TLS files.
expected<client> connect(caf::actor_system& sys, const connect_options& opts);

/// connect() to host:port without token or TLS.
expected<client> connect(caf::actor_system& sys, const std::string& host, std::uint16_t port);

class runtime;

/// A published directory: the bound port and the directory actor (send it
/// an exit message to stop serving).
struct served {
  std::uint16_t port = 0;
  caf::actor directory;
};

/// Where and how a host serves its directory.
struct serve_options {
  std::uint16_t port = 0;  ///< 0: any free port
  std::string bind = "127.0.0.1";
  /// Required from every client when not empty (compared in constant time).
  std::string token;
  /// Publish over TLS. The actor system must have CAF's OpenSSL manager
  /// loaded with these files (see client_config).
  bool tls = false;
};

/// True for addresses that only this machine can reach: 127.0.0.0/8, ::1,
/// localhost.
bool is_loopback(const std::string& address);

/// Compares a presented access token with the expected one in time that does
/// not depend on where they differ.
bool same_token(const std::string& given, const std::string& expected);

/// Publishes `rt`'s directory. Errors: io_error naming the address (port in
/// use, address not local).
expected<served> serve(const std::shared_ptr<runtime>& rt, const serve_options& opts);

/// serve() on `port` bound to `bind`, without token or TLS.
expected<served> serve(const std::shared_ptr<runtime>& rt, std::uint16_t port,
                       const std::string& bind);

/// Sends `xs...` to `dest` and waits for the reply (at most `timeout`):
/// the blocking call a command-line client or a test makes. Errors: the
/// actor's error reply; unreachable when the actor or its host goes away
/// (noticed at once when the connection drops) or the timeout passes.
template <class R, class Handle, class... Ts>
expected<R> call(caf::actor_system& sys, const Handle& dest, std::chrono::milliseconds timeout,
                 Ts&&... xs) {
  using promise_ptr = std::shared_ptr<std::promise<expected<R>>>;
  using args_tuple = std::tuple<std::decay_t<Ts>...>;
  auto done = std::make_shared<std::promise<expected<R>>>();
  auto result = done->get_future();
  auto args = args_tuple(std::forward<Ts>(xs)...);
  // An event-based helper: unlike a scoped_actor's blocking receive, it also
  // sees the down message CAF sends when the connection to the host drops.
  // Its inputs are spawn arguments, not captures: spawned without arguments,
  // CAF 0.17 binds a reference to a null tuple (undefined behaviour).
  auto helper = [](caf::event_based_actor* self, Handle dest, std::chrono::milliseconds timeout,
                   args_tuple args, promise_ptr done) {
    // The caller wakes only once the helper is gone (attachables run at its
    // cleanup): until then the reply it handles holds a reference to `dest`
    // (its sender), and an actor with references outside its host does not
    // passivate when asked to (ark::testing::world relies on this).
    // (The result waits in a promise of its own: moving it into a shared
    // slot trips gcc 12's -Wmaybe-uninitialized on std::variant.)
    auto finished = std::make_shared<bool>(false);
    auto staged = std::make_shared<std::promise<expected<R>>>();
    self->attach_functor([done, staged, finished] {
      if (*finished)
        done->set_value(staged->get_future().get());
      else
        done->set_value(
            expected<R>(error{errc::unreachable, "the call was abandoned: its actor system shut down"}));
    });
    auto finish = [self, staged, finished](expected<R> r) {
      if (*finished) return;
      *finished = true;
      staged->set_value(std::move(r));
      self->quit();
    };
    // Only a remote handle's failure is about a host and a port.
    auto ptr = caf::actor_cast<caf::strong_actor_ptr>(dest);
    bool remote = ptr && ptr->node() != self->node();
    self->monitor(dest);
    self->set_down_handler([finish, remote](caf::down_msg& m) {
      finish(call_error(remote, error{errc::unreachable, "the actor or its host went away (" +
                                                             caf::to_string(m.reason) + ")"}));
    });
    auto on_error = [finish, remote](caf::error& e) { finish(call_error(remote, from_caf(e))); };
    std::apply(
        [&](const auto&... a) {
          if constexpr (std::is_void_v<R>)
            self->request(dest, timeout, a...).then([finish]() { finish({}); }, on_error);
          else
            self->request(dest, timeout, a...)
                .then([finish](R& v) { finish(std::move(v)); }, on_error);
        },
        args);
  };
  sys.spawn(helper, dest, timeout, std::move(args), done);
  return result.get();
}

/// Tells actor `dest` (any ark actor's handle, local or remote) that `event`
/// happened: it deletes the keys of its KV groups whose clear_on lists the
/// event (ark::actor::clear_on_event) as a message of its own, and replies
/// with how many keys it removed once that is durable. An event none of its
/// groups lists removes nothing (0). Errors: as call().
template <class Handle>
expected<std::uint64_t> clear_event(caf::actor_system& sys, const Handle& dest, std::string event,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  return call<std::uint64_t>(sys, caf::actor_cast<caf::actor>(dest), timeout, clear_atom::value,
                             std::move(event));
}

}  // namespace ark
