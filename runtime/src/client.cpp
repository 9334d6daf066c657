#include "ark/client.hpp"
#include "ark/call_many.hpp"

#include <sys/stat.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <caf/openssl/all.hpp>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "ark/kv/json.hpp"
#include "ark/runtime.hpp"
#include "basp_shutdown.hpp"
#include "cluster.hpp"
#include "runtime_access.hpp"

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
  set("middleman.heartbeat-interval", caf::timespan{client_heartbeat});
  // With heartbeats on, CAF 0.17 can leak its BASP broker at shutdown; the
  // hook closes the broker's mailbox when the multiplexer stops.
  add_thread_hook<detail::basp_shutdown_hook>();
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
// predates the request (`what`, added with `feature`) says so, with
// `instead` as the remedy's alternative.
template <class T>
expected<T> directory_answer(expected<T> out, const std::string& address, const char* what,
                             const char* feature = "lookups without creation",
                             const char* instead = "use get_or_create") {
  if (out) return out;
  const auto& e = out.error();
  if (e.code() == errc::unreachable) return host_unreachable(address, e.context());
  if (e.code() == errc::wrong_interface &&
      e.context().find("does not handle this message") != std::string::npos)
    return error{errc::wrong_interface,
                 "ark-host at " + address + " does not offer " + what + " (it predates " +
                     feature + ")",
                 std::string("upgrade ark-host, or ") + instead};
  return out;
}

// A batch of more calls than one may carry (call_many and the host alike).
error batch_too_large(std::size_t calls) {
  return error{errc::invalid_argument,
               "a batch of " + std::to_string(calls) + " calls; at most " +
                   std::to_string(max_calls_per_batch) + " go in one",
               "split the batch"};
}

}  // namespace

namespace {

// One directory request for actor (type, k): refused before anything is sent
// when `iface` names a type this program has not registered; `what` names
// the request in errors (directory_answer); `init` (on_initialize's
// arguments, for get_or_create and create) goes between the key and iface.
template <class Atom, class... Ts>
expected<caf::actor> ask_directory(caf::actor_system& sys, const directory_actor& dir,
                                   std::chrono::milliseconds timeout,
                                   std::chrono::milliseconds retry_for, const std::string& token,
                                   const std::string& address,
                                   const char* what, std::string_view type, const ark::key& k,
                                   const std::set<std::string>& iface, Ts&&... init) {
  if (auto e = unregistered_type_error(iface, "actor type '" + std::string(type) + "'")) return e;
  auto encoded = encode_key(k);
  if (!encoded) return encoded.error();
  // Through call(): it sees the connection drop at once, where a blocking
  // receive would wait out the whole timeout for a host that died. In a
  // cluster, a lookup whose owner did not answer (or that reached a host
  // without a lease) is asked again until `retry_for` passes: the owner's
  // actors move once its lease expired. Lookups are idempotent; create is
  // not, and is not retried.
  auto deadline = std::chrono::steady_clock::now() + retry_for;
  auto pause = std::chrono::milliseconds(100);
  for (;;) {
    auto r = directory_answer(call<caf::actor>(sys, dir, timeout, Atom::value, token,
                                               std::string(type), *encoded, init..., iface),
                              address, what);
    bool again = !r && !std::is_same_v<Atom, directory_create_atom> &&
                 (r.error() == errc::owner_unreachable || r.error() == errc::lease_lost) &&
                 std::chrono::steady_clock::now() + pause < deadline;
    if (!again) return r;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(1000));
  }
}

}  // namespace

expected<caf::actor> client::get_or_create_actor(std::string_view type, const ark::key& k,
                                                 caf::message init,
                                                 const std::set<std::string>& iface) {
  return ask_directory<directory_get_atom>(*sys_, dir_, timeout, lookup_retry, token_, address_, "get_or_create", type,
                                           k, iface, std::move(init));
}

expected<caf::actor> client::get_actor(std::string_view type, const ark::key& k,
                                       const std::set<std::string>& iface) {
  return ask_directory<directory_find_atom>(*sys_, dir_, timeout, lookup_retry, token_, address_, "get", type, k, iface);
}

expected<caf::actor> client::create_actor(std::string_view type, const ark::key& k,
                                          caf::message init, const std::set<std::string>& iface) {
  return ask_directory<directory_create_atom>(*sys_, dir_, timeout, lookup_retry, token_, address_, "create", type, k,
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

using forward_atom = caf::atom_constant<caf::atom("arkfwd")>;
using forward_actor = caf::typed_actor<caf::replies_to<forward_atom>::with<caf::actor>>;

// Asks the directory `dest` of another cluster host with `request` and
// answers the lookup that was delegated to it; then quits. If that host
// cannot be reached and the forward only followed the placement hint, the
// actor is claimed here instead.
forward_actor::behavior_type forward_behavior(forward_actor::pointer self, directory_actor dest,
                                              std::chrono::milliseconds timeout,
                                              caf::message request, detail::route route,
                                              std::weak_ptr<runtime> rt_weak, std::string type,
                                              ark::key k, caf::message init,
                                              detail::lookup_mode mode) {
  return {
      [=](forward_atom) -> caf::result<caf::actor> {
        struct pending {
          caf::typed_response_promise<caf::actor> rp;
          bool finished = false;
        };
        auto st = std::make_shared<pending>(pending{self->make_response_promise<caf::actor>()});
        auto finish = [self, st, route, rt_weak, type, k, init, mode](expected<caf::actor> answer) {
          if (st->finished) return;
          st->finished = true;
          self->quit();
          auto& rp = st->rp;
          if (answer) {
            rp.deliver(std::move(*answer));
            return;
          }
          const auto& err = answer.error();
          auto rt = rt_weak.lock();
          if (!rt || err.code() != errc::unreachable || !err.explicit_remedy().empty()) {
            rp.deliver(to_caf(err));
            return;
          }
          auto r = detail::runtime_access::after_failed_forward(*rt, route, type, k, init, mode,
                                                                err);
          if (r)
            rp.deliver(std::move(*r));
          else
            rp.deliver(to_caf(r.error()));
        };
        self->monitor(dest);
        self->set_down_handler([finish](caf::down_msg& m) {
          finish(error{errc::unreachable,
                       "its connection closed (" + caf::to_string(m.reason) + ")"});
        });
        self->request(caf::actor_cast<caf::actor>(dest), timeout, request)
            .then([finish](caf::actor& a) { finish(std::move(a)); },
                  [finish](caf::error& e) { finish(from_caf(e)); });
        return st->rp;
      },
  };
}

// -- call_many on the host ---------------------------------------------------

using gather_actor =
    caf::typed_actor<caf::replies_to<directory_many_atom>::with<std::vector<caf::message>>>;

struct gather_state {
  std::vector<caf::message> replies;
  std::size_t pending = 0;
  caf::typed_response_promise<std::vector<caf::message>> rp;
};
using gather_pointer = gather_actor::stateful_pointer<gather_state>;

// The response handler of one call of a batch: takes any reply (CAF's typed
// handlers would need its type), stores it in its slot, and answers the
// batch once the last reply came.
class reply_slot final : public caf::detail::behavior_impl {
 public:
  reply_slot(gather_pointer self, std::size_t index) : self_(self), index_(index) {}

  caf::match_case::result invoke(caf::detail::invoke_result_visitor& v,
                                 caf::type_erased_tuple& xs) override {
    auto& st = self_->state;
    st.replies[index_] = caf::message::copy(xs);
    if (--st.pending == 0) {
      st.rp.deliver(std::move(st.replies));
      self_->quit();
    }
    v();
    return caf::match_case::match;
  }

 private:
  gather_pointer self_;
  std::size_t index_;
};

// One batch: sends every call (as its own request, each actor answers it as
// it would a single one), collects the replies in order, answers the
// request delegated to it, and quits.
gather_actor::behavior_type gather_behavior(gather_pointer self, std::vector<caf::actor> dests,
                                            std::vector<caf::message> msgs) {
  return {
      [=](directory_many_atom) mutable -> caf::result<std::vector<caf::message>> {
        auto& st = self->state;
        st.rp = self->make_response_promise<std::vector<caf::message>>();
        st.replies.resize(dests.size());
        st.pending = dests.size();
        for (std::size_t i = 0; i < dests.size(); ++i) {
          auto h = self->request(dests[i], caf::infinite, std::move(msgs[i]));
          self->add_multiplexed_response_handler(
              h.id(), caf::behavior{caf::behavior::impl_ptr{new reply_slot(self, i), false}});
        }
        dests.clear();  // the handles: held by the requests in flight only
        return st.rp;
      },
  };
}

caf::result<std::vector<caf::message>> serve_many(directory_actor::pointer self,
                                                  const std::string& token,
                                                  const std::string& given,
                                                  std::vector<caf::actor>& dests,
                                                  std::vector<caf::message>& msgs) {
  if (!token.empty() && !same_token(given, token))
    return to_caf(errc::unauthorized, given.empty() ? "this host requires an access token"
                                                    : "the access token is wrong");
  if (dests.size() != msgs.size())
    return to_caf(errc::invalid_argument, "a batch of " + std::to_string(dests.size()) +
                                              " actors and " + std::to_string(msgs.size()) +
                                              " messages");
  if (dests.size() > max_calls_per_batch) return to_caf(batch_too_large(dests.size()));
  for (std::size_t i = 0; i < dests.size(); ++i)
    if (!dests[i])
      return to_caf(errc::invalid_argument,
                    "call " + std::to_string(i) + " of the batch names no actor");
  if (dests.empty()) return std::vector<caf::message>{};
  // Hidden: a batch whose replies never all come must not hold up the
  // actor system's shutdown; linked: it ends with the directory.
  auto g = self->spawn<caf::linked + caf::hidden>(gather_behavior, std::move(dests),
                                                   std::move(msgs));
  return self->delegate(g, directory_many_atom::value);
}

directory_actor::behavior_type directory_behavior(directory_actor::pointer self,
                                                  std::weak_ptr<runtime> rt_weak,
                                                  std::string token) {
  // Checks the token, decodes the key and resolves the lookup: here, or (in
  // a cluster) by asking the host that owns the actor, without blocking
  // this actor meanwhile. A lookup forwarded here (`may_forward` false) is
  // resolved here.
  auto serve = [self, rt_weak, token](const std::string& given, detail::lookup_mode mode,
                                      const std::string& type, const std::string& key_bytes,
                                      caf::message init, const std::set<std::string>& iface,
                                      bool may_forward) -> caf::result<caf::actor> {
    if (!token.empty() && !same_token(given, token))
      return to_caf(errc::unauthorized, given.empty() ? "this host requires an access token"
                                                      : "the access token is wrong");
    auto rt = rt_weak.lock();
    if (!rt) return to_caf(errc::shutting_down, "the host is stopping");
    auto k = decode_key(key_bytes);
    if (!k) return to_caf(k.error());
    auto r = detail::runtime_access::route_lookup(*rt, type, *k, init, iface, mode, may_forward);
    if (!r) return to_caf(r.error());
    if (r->local) return std::move(r->local);
    auto* cluster = detail::runtime_access::cluster(*rt);
    auto peer = cluster->peer(r->forward_to);
    if (!peer) {
      auto h = detail::runtime_access::after_failed_forward(
          *rt, *r, type, *k, init, mode,
          error{errc::unreachable, "cannot connect: " + peer.error().context()});
      if (!h) return to_caf(h.error());
      return std::move(*h);
    }
    // A helper actor asks the other host and answers the caller (this
    // actor delegates the request to it): it sees that host's connection
    // drop (a monitor), where a plain request would wait out its timeout.
    auto helper = self->spawn(forward_behavior, *peer, cluster->options().forward_timeout,
                              caf::make_message(directory_route_atom::value,
                                                cluster->options().token,
                                                static_cast<std::int32_t>(mode), type, key_bytes,
                                                init, iface, cluster->address(),
                                                caf::actor_cast<caf::actor>(self)),
                              *r, rt_weak, type, *k, init, mode);
    return self->delegate(helper, forward_atom::value);
  };
  using mode = detail::lookup_mode;
  return {
      [serve](directory_get_atom, const std::string& given, const std::string& type,
              const std::string& key_bytes, caf::message& init,
              const std::set<std::string>& iface) -> caf::result<caf::actor> {
        return serve(given, mode::get_or_create, type, key_bytes, std::move(init), iface, true);
      },
      [serve](directory_find_atom, const std::string& given, const std::string& type,
              const std::string& key_bytes,
              const std::set<std::string>& iface) -> caf::result<caf::actor> {
        return serve(given, mode::get, type, key_bytes, caf::message{}, iface, true);
      },
      [serve](directory_create_atom, const std::string& given, const std::string& type,
              const std::string& key_bytes, caf::message& init,
              const std::set<std::string>& iface) -> caf::result<caf::actor> {
        return serve(given, mode::create, type, key_bytes, std::move(init), iface, true);
      },
      [serve, rt_weak, token](directory_route_atom, const std::string& given, std::int32_t m,
                              const std::string& type, const std::string& key_bytes,
                              caf::message& init, const std::set<std::string>& iface,
                              const std::string& from, const caf::actor& from_dir)
          -> caf::result<caf::actor> {
        if (m < 0 || m > static_cast<std::int32_t>(mode::create))
          return to_caf(errc::invalid_argument, "a forwarded lookup with an unknown mode");
        // A host that presents the token is a member: its directory serves
        // the forwards the other way, over this connection.
        if (token.empty() || same_token(given, token))
          if (auto rt = rt_weak.lock())
            if (auto* c = detail::runtime_access::cluster(*rt))
              c->learn_peer(from, caf::actor_cast<directory_actor>(from_dir));
        return serve(given, static_cast<mode>(m), type, key_bytes, std::move(init), iface, false);
      },
      [self, token](directory_many_atom, const std::string& given, std::vector<caf::actor>& dests,
                    std::vector<caf::message>& msgs) -> caf::result<std::vector<caf::message>> {
        return serve_many(self, token, given, dests, msgs);
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
  if (auto* c = detail::runtime_access::cluster(*rt)) c->set_directory(caf::actor_cast<caf::actor>(dir));
  return served{*bound, caf::actor_cast<caf::actor>(dir)};
}

expected<served> serve(const std::shared_ptr<runtime>& rt, std::uint16_t port,
                       const std::string& bind) {
  serve_options opts;
  opts.port = port;
  opts.bind = bind;
  return serve(rt, opts);
}

// -- call_many on the client -------------------------------------------------

namespace detail {

bool is_error_reply(const caf::message& reply) {
  return reply.match_elements<caf::error>();
}

error batch_call_error(std::size_t i, const caf::message& reply, bool remote,
                       const char* expected_types) {
  if (is_error_reply(reply)) {
    auto e = call_error(remote, from_caf(reply.get_as<caf::error>(0)));
    return error{e.code(), "call " + std::to_string(i) + " of the batch: " + e.context(),
                 e.explicit_remedy()};
  }
  return error{errc::type_mismatch,
               "call " + std::to_string(i) + " of the batch was answered with " +
                   (reply.empty() ? std::string("nothing") : caf::to_string(reply)) + ", not " +
                   (*expected_types ? std::string(expected_types)
                                    : std::string("the reply type of its ticket")),
               "read each reply with the ticket call_batch::add returned for it"};
}

}  // namespace detail

expected<call_replies> call_many(caf::actor_system& sys, const client& c, const call_batch& batch,
                                 std::chrono::milliseconds timeout) {
  if (batch.empty()) return call_replies{};
  if (batch.size() > max_calls_per_batch) return batch_too_large(batch.size());
  auto r = directory_answer(
      call<std::vector<caf::message>>(sys, c.directory(), timeout, directory_many_atom::value,
                                      c.token(), batch.destinations(), batch.messages()),
      c.address(), "call_many", "call_many", "make the calls one by one");
  if (!r) return r.error();
  if (r->size() != batch.size())
    return error{errc::backend_failure, "ark-host at " + c.address() + " answered a batch of " +
                                            std::to_string(batch.size()) + " calls with " +
                                            std::to_string(r->size()) + " replies"};
  return call_replies{std::move(*r), true};
}

}  // namespace ark
