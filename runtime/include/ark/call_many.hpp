#pragma once

// Many calls in one message: ark::call_batch and ark::call_many.
//
// A remote call costs a round trip through CAF's middleman (serialization,
// the BASP broker, a socket write and read on each side), whatever the call
// does. A client with many calls to make at once (a fan-out, a bulk import,
// a request that touches several actors) sends them together instead: the
// host dispatches them to their actors in parallel, each as the message it
// would be alone (each commits, and is durable, on its own: a batch is not
// a transaction), and answers once with every reply. README, "Calling
// actors from another process"; doc/architecture.md, "A batch of calls is
// one message each way".
//
//   ark::call_batch batch;
//   auto a = batch.add(counter_a, counter::add_atom::value, std::int64_t{1});
//   auto b = batch.add(counter_b, counter::get_atom::value);
//   auto replies = ark::call_many(sys, client, batch);   // one round trip
//   if (!replies) ...                                    // the batch failed
//   expected<std::int64_t> x = replies->get(a);          // each call's own outcome

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "ark/client.hpp"
#include "ark/errors.hpp"
#include "ark/expected.hpp"

namespace ark {

/// The most calls one batch may carry; a longer batch is refused whole
/// (invalid_argument), before any call is made.
inline constexpr std::size_t max_calls_per_batch = 10000;

namespace detail {

// The reply of a call to a handle of type Handle with arguments Ts: its
// output types (a type_list), or caf::message for an untyped caf::actor.
template <class Handle, class... Ts>
using reply_types_t = caf::response_type_t<
    typename Handle::signatures,
    typename caf::detail::implicit_conversions<std::decay_t<Ts>>::type...>;

template <class Outputs>
struct reply_value;  // what call_replies::get returns, for Outputs
template <>
struct reply_value<caf::detail::type_list<>> {
  using type = void;
};
template <class T>
struct reply_value<caf::detail::type_list<T>> {
  using type = T;
};
template <class T1, class T2, class... Ts>
struct reply_value<caf::detail::type_list<T1, T2, Ts...>> {
  using type = std::tuple<T1, T2, Ts...>;
};
template <>
struct reply_value<caf::message> {
  using type = caf::message;
};

// The error call i of a batch ended with: call_error with the reply's
// error, or type_mismatch for a reply that is not `expected_types`.
error batch_call_error(std::size_t i, const caf::message& reply, bool remote,
                       const char* expected_types);
// True when the reply is an error (CAF delivers a failed call's error as
// the reply's only element).
bool is_error_reply(const caf::message& reply);

}  // namespace detail

/// Names one call of a call_batch, and the type of its reply (R: void, one
/// type, a std::tuple of several, or caf::message for an untyped handle).
template <class R>
struct call_ticket {
  std::size_t index = 0;
};

/// Calls to send together (call_many). Each call names its actor (a handle
/// from get_or_create, of any type and any actor of the host) and its
/// message, checked against the handle's interface at compile time as a
/// single request is.
class call_batch {
 public:
  /// Adds a call of `xs...` to `dest`; the ticket reads its reply.
  template <class Handle, class... Ts>
  auto add(const Handle& dest, Ts&&... xs) {
    static_assert(sizeof...(Ts) > 0, "a call needs a message");
    using outputs = detail::reply_types_t<Handle, Ts...>;
    static_assert(caf::response_type<typename Handle::signatures,
                                     typename caf::detail::implicit_conversions<
                                         std::decay_t<Ts>>::type...>::valid,
                  "the actor's interface does not accept this message");
    dests_.push_back(caf::actor_cast<caf::actor>(dest));
    msgs_.push_back(caf::make_message(std::forward<Ts>(xs)...));
    return call_ticket<typename detail::reply_value<outputs>::type>{dests_.size() - 1};
  }

  std::size_t size() const { return dests_.size(); }
  bool empty() const { return dests_.empty(); }
  /// Forgets every call (tickets of this batch become meaningless).
  void clear() {
    dests_.clear();
    msgs_.clear();
  }

  /// What goes on the wire (directory_many_atom's arguments).
  const std::vector<caf::actor>& destinations() const { return dests_; }
  const std::vector<caf::message>& messages() const { return msgs_; }

 private:
  std::vector<caf::actor> dests_;
  std::vector<caf::message> msgs_;
};

/// The replies of a call_batch, in the order of its calls.
class call_replies {
 public:
  call_replies() = default;
  /// `remote`: the calls went to another process (errors get the remote
  /// remedy, as call()'s do).
  explicit call_replies(std::vector<caf::message> replies, bool remote = true)
      : replies_(std::move(replies)), remote_(remote) {}

  std::size_t size() const { return replies_.size(); }

  /// Call `t`'s outcome: its reply, or the error it ended with (the actor's
  /// error reply, wrong_interface, unreachable, ...; type_mismatch when the
  /// reply is not R). Each call succeeds or fails on its own.
  template <class R>
  expected<R> get(call_ticket<R> t) const {
    if (t.index >= replies_.size())
      return error{errc::invalid_argument, "ticket " + std::to_string(t.index) +
                                               " is not a call of this batch (" +
                                               std::to_string(replies_.size()) + " replies)"};
    auto& reply = replies_[t.index];
    if constexpr (std::is_same_v<R, caf::message>) {
      if (detail::is_error_reply(reply))
        return detail::batch_call_error(t.index, reply, remote_, "");
      return reply;
    } else if constexpr (std::is_void_v<R>) {
      if (reply.empty()) return {};
      return detail::batch_call_error(t.index, reply, remote_, "an empty reply");
    } else {
      return get_value<R>(t.index, reply);
    }
  }

  /// The raw reply of call i (a caf::error for a failed call).
  const caf::message& raw(std::size_t i) const { return replies_.at(i); }

 private:
  template <class T>
  struct reader {
    static bool matches(const caf::message& m) { return m.match_elements<T>(); }
    static T read(const caf::message& m) { return m.get_as<T>(0); }
  };
  template <class... Ts>
  struct reader<std::tuple<Ts...>> {
    static bool matches(const caf::message& m) { return m.match_elements<Ts...>(); }
    static std::tuple<Ts...> read(const caf::message& m) {
      return read(m, std::index_sequence_for<Ts...>{});
    }
    template <std::size_t... Is>
    static std::tuple<Ts...> read(const caf::message& m, std::index_sequence<Is...>) {
      return std::tuple<Ts...>(m.get_as<Ts>(Is)...);
    }
  };

  template <class R>
  expected<R> get_value(std::size_t i, const caf::message& reply) const {
    if (!reader<R>::matches(reply)) return detail::batch_call_error(i, reply, remote_, "");
    return reader<R>::read(reply);
  }

  std::vector<caf::message> replies_;
  bool remote_ = true;
};

/// Sends every call of `batch` to `c`'s host in one message and waits (at
/// most `timeout`) for all their replies, which come back in one message.
/// The host makes the calls in parallel, each exactly as a single request
/// (each commits on its own; their order is not defined). Errors of the
/// whole batch: unauthorized, invalid_argument (more than
/// max_calls_per_batch calls), wrong_interface (a host that predates
/// call_many), unreachable (the host went away or the timeout passed: the
/// calls may or may not have been applied). An empty batch costs nothing.
expected<call_replies> call_many(caf::actor_system& sys, const client& c, const call_batch& batch,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// For event-based actors, which must not block: the request call_many
/// sends. The reply is a std::vector<caf::message> for call_replies:
///
///   self->request(c.directory(), timeout, ark::directory_many_atom::value, c.token(),
///                 batch.destinations(), batch.messages())
///       .then([](std::vector<caf::message>& r) { ark::call_replies replies{std::move(r)}; ... },
///             [](caf::error& e) { ... });

}  // namespace ark
