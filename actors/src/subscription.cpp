// The subscriber's side: notification types, decoding, and subscribe() for
// any process holding a handle (doc/subscriptions.md).

#include "ark/subscription.hpp"

#include <atomic>
#include <future>

#include "ark/kv/json.hpp"

namespace ark {

std::string to_string(subscription_mode mode) {
  switch (mode) {
    case subscription_mode::state:
      return "state";
    case subscription_mode::view:
      return "view";
    case subscription_mode::events:
      return "events";
    case subscription_mode::changes:
      return "changes";
  }
  return "unknown(" + std::to_string(static_cast<unsigned>(mode)) + ")";
}

void add_subscription_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<subscription_mode>("ark::subscription_mode");
  cfg.add_message_type<state_changed>("ark::state_changed");
  cfg.add_message_type<event>("ark::event");
  // call_many's replies (ark/call_many.hpp): CAF does not know this type.
  cfg.add_message_type<std::vector<caf::message>>("ark::message_list");
}

expected<nlohmann::json> decode_view(const state_changed& c) {
  if (c.format != subscription_mode::view && c.format != subscription_mode::changes)
    return error{errc::type_mismatch, "the notification of " + c.type + " " + c.key +
                                          " has format " + to_string(c.format) +
                                          ", not view; subscribe with subscription_mode::view"};
  auto j = nlohmann::json::parse(c.payload, nullptr, false);
  if (j.is_discarded())
    return error{errc::corrupt_value, "the view of " + c.type + " " + c.key + " is not JSON text"};
  return j;
}

subscription& subscription::operator=(subscription&& other) noexcept {
  if (this != &other) {
    cancel();
    receiver_ = std::move(other.receiver_);
    publisher_ = std::move(other.publisher_);
  }
  return *this;
}

void subscription::cancel() {
  if (!receiver_) return;
  // The explicit unsubscribe is immediate; the receiver's exit would also
  // remove it (the host monitors its subscribers), a little later.
  if (auto p = caf::actor_cast<caf::actor>(publisher_.lock()))
    caf::anon_send(p, unsubscribe_atom::value, receiver_);
  caf::anon_send_exit(receiver_, caf::exit_reason::user_shutdown);
  receiver_ = nullptr;
  publisher_ = nullptr;
}

namespace {

// What the receiver shares with subscribe_actor, which waits for the reply.
struct receiver_shared {
  subscription_callbacks cbs;
  std::promise<expected<void>> subscribed;
  std::atomic<bool> settled{false};  // `subscribed` has its value

  void settle(expected<void> r) {
    if (settled.exchange(true)) return;
    subscribed.set_value(std::move(r));
  }
};
using shared_ptr_t = std::shared_ptr<receiver_shared>;

// The local subscriber: runs the callbacks in the order the notifications
// arrive (the publisher's commit order). Holds no strong handle to the
// publisher, so it does not keep it from passivating. Its inputs are spawn
// arguments (see ark::call for why).
caf::behavior receiver(caf::event_based_actor* self, caf::actor publisher, subscription_mode mode,
                       std::chrono::milliseconds timeout, shared_ptr_t sh) {
  // Runs a callback; an exception ends the subscription.
  auto guarded = [self, sh](auto&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      error err{errc::handler_failed, std::string("a subscription callback threw: ") + e.what()};
      if (!sh->settled) {
        sh->settle(err);
      } else if (sh->cbs.on_end) {
        sh->cbs.on_end(err);
      }
      self->quit(caf::exit_reason::user_shutdown);
    } catch (...) {
      error err{errc::handler_failed, "a subscription callback threw"};
      if (!sh->settled)
        sh->settle(err);
      else if (sh->cbs.on_end)
        sh->cbs.on_end(err);
      self->quit(caf::exit_reason::user_shutdown);
    }
  };
  // Killed before the reply (its actor system stops): subscribe_actor must
  // not wait forever.
  self->attach_functor([sh](const caf::error& reason) {
    sh->settle(error{errc::unreachable,
                     "the subscription's receiver stopped (" + caf::to_string(reason) + ")"});
  });
  auto publisher_addr = publisher.address();
  self->monitor(publisher);
  self->set_down_handler([self, sh, publisher_addr](caf::down_msg& m) {
    if (m.source != publisher_addr) return;
    // A local publisher that passivates exits normally: its subscription
    // lives on in the host (no strong handle is held, so none is lost).
    if (m.reason == caf::exit_reason::normal) return;
    error err{errc::unreachable,
              "the publisher or its host went away (" + caf::to_string(m.reason) + ")"};
    if (!sh->settled)
      sh->settle(err);
    else if (sh->cbs.on_end)
      sh->cbs.on_end(err);
    self->quit(caf::exit_reason::user_shutdown);
  });
  self->request(publisher, timeout, subscribe_atom::value, caf::actor_cast<caf::actor>(self), mode)
      .then(
          [sh, mode, guarded](state_changed& current) {
            guarded([&] {
              if (mode != subscription_mode::events && sh->cbs.on_state) sh->cbs.on_state(current);
            });
            sh->settle({});
          },
          [self, sh](caf::error& e) {
            sh->settle(from_caf(e));
            self->quit(caf::exit_reason::user_shutdown);
          });
  return {
      [sh, guarded](const state_changed& c) {
        guarded([&] {
          if (sh->cbs.on_state) sh->cbs.on_state(c);
        });
      },
      [sh, guarded](const event& e) {
        guarded([&] {
          if (sh->cbs.on_event) sh->cbs.on_event(e);
        });
      },
  };
}

}  // namespace

expected<subscription> subscribe_actor(caf::actor_system& sys, const caf::actor& publisher,
                                       subscription_mode mode, subscription_callbacks cbs,
                                       std::chrono::milliseconds timeout) {
  if (!publisher)
    return error{errc::invalid_argument, "subscribe: the publisher handle is invalid"};
  auto sh = std::make_shared<receiver_shared>();
  sh->cbs = std::move(cbs);
  auto done = sh->subscribed.get_future();
  auto recv = sys.spawn(receiver, publisher, mode, timeout, sh);
  auto r = done.get();
  if (!r) {
    caf::anon_send_exit(recv, caf::exit_reason::user_shutdown);
    return r.error();
  }
  return subscription{recv, caf::actor_cast<caf::weak_actor_ptr>(publisher)};
}

}  // namespace ark
