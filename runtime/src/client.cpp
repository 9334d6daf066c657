#include "ark/client.hpp"

#include <sys/stat.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <caf/openssl/all.hpp>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "ark/runtime.hpp"

namespace ark {

namespace {

std::string openssl_reason() {
  std::string out;
  while (auto e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out += (out.empty() ? "" : "; ") + std::string(buf);
  }
  return out.empty() ? "unknown reason" : out;
}

}  // namespace

expected<void> check_tls_files(const tls_files& f) {
  if (f.cert.empty() || f.key.empty() || f.ca.empty())
    return error{errc::invalid_argument,
                 "TLS needs three files: a certificate, its private key and the CA certificate "
                 "that signed the other side's (--tls-cert, --tls-key, --tls-ca)"};
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> ctx(SSL_CTX_new(TLS_method()), SSL_CTX_free);
  if (!ctx) return error{errc::invalid_argument, "OpenSSL: " + openssl_reason()};
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), f.cert.c_str()) != 1)
    return error{errc::invalid_argument,
                 "cannot load the TLS certificate " + f.cert + ": " + openssl_reason()};
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), f.key.c_str(), SSL_FILETYPE_PEM) != 1)
    return error{errc::invalid_argument,
                 "cannot load the TLS private key " + f.key + ": " + openssl_reason()};
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    return error{errc::invalid_argument, "the TLS private key " + f.key +
                                             " does not match the certificate " + f.cert};
  if (SSL_CTX_load_verify_locations(ctx.get(), f.ca.c_str(), nullptr) != 1)
    return error{errc::invalid_argument,
                 "cannot load the TLS CA certificate " + f.ca + ": " + openssl_reason()};
  return {};
}

expected<std::string> read_token_file(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return error{errc::invalid_argument, "cannot read the token file " + path};
  if (st.st_mode & S_IROTH)
    return error{errc::invalid_argument, "the token file " + path +
                                             " is readable by every user; run chmod 600 " + path};
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return error{errc::invalid_argument, "cannot read the token file " + path};
  std::string token = text.str();
  auto blank = [](unsigned char c) { return std::isspace(c) != 0; };
  while (!token.empty() && blank(token.back())) token.pop_back();
  std::size_t start = 0;
  while (start < token.size() && blank(token[start])) ++start;
  token.erase(0, start);
  if (token.size() < 16)
    return error{errc::invalid_argument,
                 "the token in " + path +
                     " is shorter than 16 characters; make one with: openssl rand -hex 32"};
  return token;
}

expected<std::string> resolve_token(const std::string& path, const char* env) {
  if (!path.empty()) return read_token_file(path);
  const char* value = std::getenv(env);
  if (value == nullptr || *value == '\0') return std::string{};
  std::string token = value;
  if (token.size() < 16)
    return error{errc::invalid_argument, "$" + std::string(env) +
                                             " is shorter than 16 characters; make one with: "
                                             "openssl rand -hex 32"};
  return token;
}

client_config::client_config(const tls_files& tls) {
  load<caf::io::middleman>();
  if (tls.enabled()) {
    load<caf::openssl::manager>();
    openssl_certificate = tls.cert;
    openssl_key = tls.key;
    openssl_cafile = tls.ca;
  }
  actor_registry::global().configure(*this);
}

error host_unreachable(const std::string& address, const std::string& context) {
  return error{errc::unreachable, "ark-host at " + address + ": " + context,
               "check that ark-host runs and listens on " + address +
                   " (the client's --host and --port, the host's --bind and --port); a call in "
                   "flight may or may not have been applied"};
}

error call_error(bool remote, error e) {
  if (!remote || e.code() != errc::unreachable || !e.explicit_remedy().empty()) return e;
  return error{e.code(), e.context(),
               "check that ark-host runs and listens on the --host and --port the client "
               "uses; the message may or may not have been applied"};
}

namespace {

// The answer of one directory request: errors name the host; a host that
// predates get/create says so.
expected<caf::actor> directory_answer(expected<caf::actor> out, const std::string& address,
                                      const char* what) {
  if (out) return out;
  const auto& e = out.error();
  if (e.code() == errc::unreachable) return host_unreachable(address, e.context());
  if (e.code() == errc::wrong_interface &&
      e.context().find("does not handle this message") != std::string::npos)
    return error{errc::wrong_interface,
                 "ark-host at " + address + " does not offer " + what +
                     " (it predates lookups without creation)",
                 "upgrade ark-host, or use get_or_create"};
  return out;
}

}  // namespace

namespace {

// One directory request for actor (type, k): refused before anything is sent
// when `iface` names a type this program has not registered; `what` names
// the request in errors (directory_answer); `init` (on_initialize's
// arguments, for get_or_create and create) goes between the key and iface.
template <class Atom, class... Ts>
expected<caf::actor> ask_directory(caf::actor_system& sys, const directory_actor& dir,
                                   std::chrono::milliseconds timeout, const std::string& token, const std::string& address,
                                   const char* what, std::string_view type, const ark::key& k,
                                   const std::set<std::string>& iface, Ts&&... init) {
  if (auto e = unregistered_type_error(iface, "actor type '" + std::string(type) + "'")) return e;
  auto encoded = encode_key(k);
  if (!encoded) return encoded.error();
  // Through call(): it sees the connection drop at once, where a blocking
  // receive would wait out the whole timeout for a host that died.
  return directory_answer(call<caf::actor>(sys, dir, timeout, Atom::value, token,
                                           std::string(type), std::move(*encoded),
                                           std::forward<Ts>(init)..., iface),
                          address, what);
}

}  // namespace

expected<caf::actor> client::get_or_create_actor(std::string_view type, const ark::key& k,
                                                 caf::message init,
                                                 const std::set<std::string>& iface) {
  return ask_directory<directory_get_atom>(*sys_, dir_, timeout, token_, address_, "get_or_create", type,
                                           k, iface, std::move(init));
}

expected<caf::actor> client::get_actor(std::string_view type, const ark::key& k,
                                       const std::set<std::string>& iface) {
  return ask_directory<directory_find_atom>(*sys_, dir_, timeout, token_, address_, "get", type, k, iface);
}

expected<caf::actor> client::create_actor(std::string_view type, const ark::key& k,
                                          caf::message init, const std::set<std::string>& iface) {
  return ask_directory<directory_create_atom>(*sys_, dir_, timeout, token_, address_, "create", type, k,
                                              iface, std::move(init));
}

expected<client> connect(caf::actor_system& sys, const connect_options& opts) {
  client c;
  c.sys_ = &sys;
  c.address_ = opts.host + ":" + std::to_string(opts.port);
  c.token_ = opts.token;
  // The get_or_create part of the interface: a host that predates get and
  // create publishes only that (it answers those with wrong_interface).
  caf::expected<directory_get_actor> h{caf::error{}};
  if (opts.tls.enabled()) {
    // CAF raises (and a TLS session would fail obscurely) on bad files:
    // check them first, and that the system has the OpenSSL manager.
    if (auto ok = check_tls_files(opts.tls); !ok) return ok.error();
    if (!sys.has_openssl_manager())
      return error{errc::invalid_argument,
                   "TLS needs an actor system built from client_config(tls files)"};
    h = caf::openssl::remote_actor<directory_get_actor>(sys, opts.host, opts.port);
  } else {
    h = sys.middleman().remote_actor<directory_get_actor>(opts.host, opts.port);
  }
  if (!h)
    return host_unreachable(c.address_, std::string("cannot connect") +
                                            (opts.tls.enabled() ? " over TLS: " : ": ") +
                                            sys.render(h.error()));
  c.dir_ = caf::actor_cast<directory_actor>(std::move(*h));
  return c;
}

expected<client> connect(caf::actor_system& sys, const std::string& host, std::uint16_t port) {
  connect_options opts;
  opts.host = host;
  opts.port = port;
  return connect(sys, opts);
}

bool same_token(const std::string& given, const std::string& expected) {
  if (given.size() != expected.size()) return false;
  return CRYPTO_memcmp(given.data(), expected.data(), given.size()) == 0;
}

namespace {

directory_actor::behavior_type directory_behavior(directory_actor::pointer self,
                                                  std::weak_ptr<runtime> rt_weak,
                                                  std::string token) {
  (void)self;
  // Checks the token, decodes the key and runs `f(runtime, key)`.
  auto serve = [rt_weak, token](const std::string& given, const std::string& key_bytes,
                                auto f) -> caf::result<caf::actor> {
    if (!token.empty() && !same_token(given, token))
      return to_caf(errc::unauthorized, given.empty() ? "this host requires an access token"
                                                      : "the access token is wrong");
    auto rt = rt_weak.lock();
    if (!rt) return to_caf(errc::shutting_down, "the host is stopping");
    auto k = decode_key(key_bytes);
    if (!k) return to_caf(k.error());
    expected<caf::actor> h = f(*rt, *k);
    if (!h) return to_caf(h.error());
    return std::move(*h);
  };
  return {
      [serve](directory_get_atom, const std::string& given, const std::string& type,
              const std::string& key_bytes, caf::message& init,
              const std::set<std::string>& iface) -> caf::result<caf::actor> {
        return serve(given, key_bytes, [&](runtime& rt, const ark::key& k) {
          return rt.get_or_create_actor(type, k, std::move(init), iface);
        });
      },
      [serve](directory_find_atom, const std::string& given, const std::string& type,
              const std::string& key_bytes,
              const std::set<std::string>& iface) -> caf::result<caf::actor> {
        return serve(given, key_bytes,
                     [&](runtime& rt, const ark::key& k) { return rt.get_actor(type, k, iface); });
      },
      [serve](directory_create_atom, const std::string& given, const std::string& type,
              const std::string& key_bytes, caf::message& init,
              const std::set<std::string>& iface) -> caf::result<caf::actor> {
        return serve(given, key_bytes, [&](runtime& rt, const ark::key& k) {
          return rt.create_actor(type, k, std::move(init), iface);
        });
      },
  };
}

}  // namespace

bool is_loopback(const std::string& address) {
  return address == "localhost" || address == "::1" || address.rfind("127.", 0) == 0;
}

expected<served> serve(const std::shared_ptr<runtime>& rt, const serve_options& opts) {
  auto& sys = rt->system();
  if (opts.tls && !sys.has_openssl_manager())
    return error{errc::invalid_argument,
                 "TLS needs an actor system with CAF's OpenSSL manager loaded"};
  // The directory holds the runtime weakly: the host owns it.
  auto dir = sys.spawn(directory_behavior, std::weak_ptr<runtime>(rt), opts.token);
  auto bound = opts.tls ? caf::openssl::publish(dir, opts.port, opts.bind.c_str(), true)
                        : sys.middleman().publish(dir, opts.port, opts.bind.c_str(), true);
  if (!bound) {
    caf::anon_send_exit(dir, caf::exit_reason::user_shutdown);
    return error{errc::io_error, "cannot listen on " + opts.bind + ":" +
                                     std::to_string(opts.port) + ": " + sys.render(bound.error())};
  }
  return served{*bound, caf::actor_cast<caf::actor>(dir)};
}

expected<served> serve(const std::shared_ptr<runtime>& rt, std::uint16_t port,
                       const std::string& bind) {
  serve_options opts;
  opts.port = port;
  opts.bind = bind;
  return serve(rt, opts);
}

}  // namespace ark
