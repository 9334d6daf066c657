#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/actor_system.hpp>

#include "ark/detail/host.hpp"

namespace ark::detail {

/// The runtime's subscriptions: the subscriber list of every actor that has
/// subscribers, active or passivated (keyed by identity::encoded), and a
/// monitor actor that removes CAF-actor subscribers when they die (a remote
/// client's receiver dies, for the host, when its connection drops). Lists
/// hold no handle to their publisher, so a subscription never keeps an actor
/// from passivating. Thread-safe (doc/subscriptions.md).
///
/// Lock order: the directory's lock may be held when find() is called (an
/// activation takes its list in its constructor); this class never takes it.
class subscription_registry : public std::enable_shared_from_this<subscription_registry> {
 public:
  /// At most `max_per_actor` subscribers per actor.
  static std::shared_ptr<subscription_registry> make(caf::actor_system& sys,
                                                     std::size_t max_per_actor);
  ~subscription_registry();

  /// The list of `publisher`, or null when it has no subscribers.
  std::shared_ptr<subscriber_list> find(const std::string& publisher) const;
  /// Adds `who` (or updates its mode) and returns the publisher's list.
  /// Errors: invalid_argument when the actor has max_per_actor subscribers.
  expected<std::shared_ptr<subscriber_list>> add(const identity& publisher, subscriber who);
  /// Removes `who` from `publisher`'s list; false when it was not there.
  bool remove(const std::string& publisher, const subscriber& who);
  /// Removes the CAF-actor subscriber `dead` from every list (its monitor
  /// saw it die).
  void remove_dead(const caf::actor_addr& dead);

  /// Subscribers of `publisher`; of every actor.
  std::size_t count(const std::string& publisher) const;
  std::size_t total() const;

  /// Stops the monitor and drops every subscription (host shutdown).
  void stop();

 private:
  explicit subscription_registry(std::size_t max_per_actor);
  // One publisher fewer for the handle subscriber `addr`; the last one stops
  // its monitoring. REQUIRES: mtx_ held.
  void unwatch(const caf::actor_addr& addr, const caf::actor& handle, const std::string& publisher);

  const std::size_t max_;
  mutable std::mutex mtx_;
  std::unordered_map<std::string, std::shared_ptr<subscriber_list>> lists_;
  // CAF-actor subscribers -> the publishers they subscribe to.
  std::unordered_map<caf::actor_addr, std::vector<std::string>> watched_;
  std::size_t total_ = 0;
  // lists_.size(), read without the lock: an activation on a host without
  // subscriptions does not take it.
  std::atomic<std::size_t> publishers_{0};
  caf::actor monitor_;
  bool stopped_ = false;
};

}  // namespace ark::detail
