#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>

#include "ark/kv/key.hpp"
#include "ark/subscription.hpp"

namespace ark::detail {

/// One subscriber of an actor: a CAF actor (a plain actor, a client's
/// receiver; the host monitors it), or an ark actor of the same host named by
/// its identity (activated when a notification is due, so it may passivate).
struct subscriber {
  caf::actor handle;    ///< a CAF actor; null for an ark actor
  std::string type;     ///< an ark actor: its type,
  ark::key key;         ///< its key,
  std::string encoded;  ///< and identity::encoded (empty for a CAF actor)
  subscription_mode mode = subscription_mode::state;

  bool by_identity() const { return !encoded.empty(); }
  /// Whether `other` names the same subscriber (the mode aside).
  bool same_as(const subscriber& other) const {
    if (by_identity() || other.by_identity()) return encoded == other.encoded;
    return handle.address() == other.handle.address();
  }
};

/// The subscribers of one actor. The host owns it (it survives passivation);
/// the activation holds a shared_ptr and reads it on its own thread. The host
/// changes it under the list's lock, from the publisher's thread (subscribe,
/// unsubscribe) or from its monitor (a subscriber died). empty() is one atomic
/// load: an actor without subscribers pays nothing else per message.
class subscriber_list {
 public:
  bool empty() const { return size_.load(std::memory_order_acquire) == 0; }
  std::size_t size() const { return size_.load(std::memory_order_acquire); }

  /// Whether some subscriber wants state_changed notifications (mode state or
  /// view); `view`: one wants the view form.
  bool wants_state() const { return wants_state_.load(std::memory_order_acquire) != 0; }
  bool wants_view() const { return wants_view_.load(std::memory_order_acquire) != 0; }
  /// Whether some subscriber wants change records (mode changes).
  bool wants_changes() const { return wants_changes_.load(std::memory_order_acquire) != 0; }

  /// Calls f(const subscriber&) for every subscriber, under the lock. `f` must
  /// not block nor take a host lock.
  template <class F>
  void for_each(F&& f) const {
    std::lock_guard<std::mutex> guard{mtx_};
    for (const auto& s : subs_) f(s);
  }

  enum class add_result { added, updated, full };
  /// Adds `s`, or changes the mode of the same subscriber; `full` when the
  /// list holds `limit` subscribers already.
  add_result add(subscriber s, std::size_t limit);
  /// Removes the subscriber `s` names; false when it is not in the list.
  bool remove(const subscriber& s);
  /// Removes every CAF-actor subscriber with address `addr`; how many.
  std::size_t remove_handle(const caf::actor_addr& addr);

  /// Sequence numbers of the notifications (written by the publisher's
  /// thread; see state_changed::seq and event::seq).
  std::atomic<std::uint64_t> state_seq{0};
  std::atomic<std::uint64_t> event_seq{0};
  std::atomic<std::uint64_t> change_seq{0};

 private:
  void count(const subscriber& s, int delta);

  mutable std::mutex mtx_;
  std::vector<subscriber> subs_;
  std::atomic<std::size_t> size_{0};
  std::atomic<std::size_t> wants_state_{0};
  std::atomic<std::size_t> wants_view_{0};
  std::atomic<std::size_t> wants_changes_{0};
};

}  // namespace ark::detail
