#include "ark/client.hpp"

#include "ark/runtime.hpp"

namespace ark {

expected<caf::actor> client::get_or_create_actor(std::string_view type, const ark::key& k,
                                                 caf::message init,
                                                 const std::set<std::string>& iface) {
  auto encoded = encode_key(k);
  if (!encoded) return encoded.error();
  caf::scoped_actor self{*sys_};
  expected<caf::actor> out = error{errc::unreachable, "no reply from " + address_};
  self->request(dir_, timeout, directory_get_atom::value, std::string(type), std::move(*encoded),
                std::move(init), iface)
      .receive([&](caf::actor& h) { out = std::move(h); },
               [&](caf::error& e) {
                 auto err = from_caf(e);
                 if (err.code() == errc::unreachable)
                   err = error{errc::unreachable, "ark-host at " + address_ + ": " + err.context()};
                 out = std::move(err);
               });
  return out;
}

expected<client> connect(caf::actor_system& sys, const std::string& host, std::uint16_t port) {
  client c;
  c.sys_ = &sys;
  c.address_ = host + ":" + std::to_string(port);
  auto h = sys.middleman().remote_actor<directory_actor>(host, port);
  if (!h)
    return error{errc::unreachable,
                 "cannot connect to ark-host at " + c.address_ + ": " + sys.render(h.error())};
  c.dir_ = std::move(*h);
  return c;
}

namespace {

directory_actor::behavior_type directory_behavior(directory_actor::pointer self,
                                                  std::weak_ptr<runtime> rt_weak) {
  (void)self;
  return {
      [rt_weak](directory_get_atom, const std::string& type, const std::string& key_bytes,
                caf::message& init, const std::set<std::string>& iface) -> caf::result<caf::actor> {
        auto rt = rt_weak.lock();
        if (!rt) return to_caf(errc::shutting_down, "the host is stopping");
        auto k = decode_key(key_bytes);
        if (!k) return to_caf(k.error());
        auto h = rt->get_or_create_actor(type, *k, std::move(init), iface);
        if (!h) return to_caf(h.error());
        return std::move(*h);
      },
  };
}

}  // namespace

expected<served> serve(const std::shared_ptr<runtime>& rt, std::uint16_t port,
                       const std::string& bind) {
  auto& sys = rt->system();
  // The directory holds the runtime weakly: the host owns it.
  auto dir = sys.spawn(directory_behavior, std::weak_ptr<runtime>(rt));
  auto bound = sys.middleman().publish(dir, port, bind.c_str(), true);
  if (!bound) {
    caf::anon_send_exit(dir, caf::exit_reason::user_shutdown);
    return error{errc::io_error, "cannot listen on " + bind + ":" + std::to_string(port) + ": " +
                                     sys.render(bound.error())};
  }
  return served{*bound, caf::actor_cast<caf::actor>(dir)};
}

}  // namespace ark
