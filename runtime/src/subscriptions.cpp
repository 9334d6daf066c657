#include "subscriptions.hpp"

#include <algorithm>

#include <caf/all.hpp>

#include "ark/kv/json.hpp"

namespace ark::detail {

namespace {

using watch_atom = caf::atom_constant<caf::atom("arkwatch")>;
using unwatch_atom = caf::atom_constant<caf::atom("arkunwatch")>;

// Monitors CAF-actor subscribers; a down message (the actor died, or the
// connection to its node dropped) removes it from every list.
caf::behavior monitor_behavior(caf::event_based_actor* self,
                               std::weak_ptr<subscription_registry> registry) {
  self->set_down_handler([registry](caf::down_msg& m) {
    if (auto r = registry.lock()) r->remove_dead(m.source);
  });
  return {
      [self](watch_atom, const caf::actor& who) { self->monitor(who); },
      [self](unwatch_atom, const caf::actor& who) { self->demonitor(who); },
  };
}

}  // namespace

subscription_registry::subscription_registry(std::size_t max_per_actor) : max_(max_per_actor) {}

std::shared_ptr<subscription_registry> subscription_registry::make(caf::actor_system& sys,
                                                                   std::size_t max_per_actor) {
  std::shared_ptr<subscription_registry> r(new subscription_registry(max_per_actor));
  r->monitor_ = sys.spawn<caf::hidden>(monitor_behavior, std::weak_ptr<subscription_registry>(r));
  return r;
}

subscription_registry::~subscription_registry() {
  stop();
}

std::shared_ptr<subscriber_list> subscription_registry::find(const std::string& publisher) const {
  // A list added concurrently is not missed: lists are only added by
  // add(), which runs on the publisher's activation (this one, once it runs).
  if (publishers_.load(std::memory_order_acquire) == 0) return nullptr;
  std::lock_guard<std::mutex> guard{mtx_};
  auto it = lists_.find(publisher);
  return it == lists_.end() ? nullptr : it->second;
}

expected<std::shared_ptr<subscriber_list>> subscription_registry::add(const identity& publisher,
                                                                      subscriber who) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (stopped_) return error{errc::shutting_down, "the host is stopping"};
  auto& list = lists_[publisher.encoded];
  if (!list) list = std::make_shared<subscriber_list>();
  publishers_.store(lists_.size(), std::memory_order_release);
  caf::actor handle = who.by_identity() ? caf::actor{} : who.handle;
  switch (list->add(std::move(who), max_)) {
    case subscriber_list::add_result::full: {
      auto n = list->size();
      if (list->empty()) {
        lists_.erase(publisher.encoded);
        publishers_.store(lists_.size(), std::memory_order_release);
      }
      return error{errc::invalid_argument,
                   "actor " + publisher.type + " " + kv::key_to_json_text(publisher.key) + " has " +
                       std::to_string(n) +
                       " subscribers, the most this host allows (runtime_options::max_subscribers, "
                       "ark-host --max-subscribers);"
                       " unsubscribe those no longer needed, or fan out through actors that "
                       "subscribe to it and have subscribers of their own"};
    }
    case subscriber_list::add_result::added:
      ++total_;
      if (handle) {
        auto& publishers = watched_[handle.address()];
        if (publishers.empty()) caf::anon_send(monitor_, watch_atom::value, handle);
        publishers.push_back(publisher.encoded);
      }
      break;
    case subscriber_list::add_result::updated:
      break;
  }
  return list;
}

void subscription_registry::unwatch(const caf::actor_addr& addr, const caf::actor& handle,
                                    const std::string& publisher) {
  auto it = watched_.find(addr);
  if (it == watched_.end()) return;
  auto& publishers = it->second;
  auto p = std::find(publishers.begin(), publishers.end(), publisher);
  if (p != publishers.end()) publishers.erase(p);
  if (!publishers.empty()) return;
  watched_.erase(it);
  if (handle) caf::anon_send(monitor_, unwatch_atom::value, handle);
}

bool subscription_registry::remove(const std::string& publisher, const subscriber& who) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto it = lists_.find(publisher);
  if (it == lists_.end() || !it->second->remove(who)) return false;
  --total_;
  if (!who.by_identity()) unwatch(who.handle.address(), who.handle, publisher);
  // The activation may keep the empty list: it swaps to a new one on its
  // next subscribe.
  if (it->second->empty()) {
    lists_.erase(it);
    publishers_.store(lists_.size(), std::memory_order_release);
  }
  return true;
}

void subscription_registry::remove_dead(const caf::actor_addr& dead) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto it = watched_.find(dead);
  if (it == watched_.end()) return;
  for (const auto& publisher : it->second) {
    auto l = lists_.find(publisher);
    if (l == lists_.end()) continue;
    total_ -= l->second->remove_handle(dead);
    if (l->second->empty()) lists_.erase(l);
  }
  watched_.erase(it);
  publishers_.store(lists_.size(), std::memory_order_release);
}

std::size_t subscription_registry::count(const std::string& publisher) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto it = lists_.find(publisher);
  return it == lists_.end() ? 0 : it->second->size();
}

std::size_t subscription_registry::total() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return total_;
}

void subscription_registry::stop() {
  std::unordered_map<std::string, std::shared_ptr<subscriber_list>> lists;
  std::unordered_map<caf::actor_addr, std::vector<std::string>> watched;
  caf::actor monitor;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (stopped_) return;
    stopped_ = true;
    lists.swap(lists_);
    publishers_.store(0, std::memory_order_release);
    watched.swap(watched_);
    monitor.swap(monitor_);
    total_ = 0;
  }
  // Handles are released outside the lock (a last reference ends an actor).
  if (monitor) caf::anon_send_exit(monitor, caf::exit_reason::user_shutdown);
}

}  // namespace ark::detail
