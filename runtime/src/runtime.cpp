#include "ark/runtime.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <list>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <caf/all.hpp>

#include "ark/detail/actor_core.hpp"
#include "runtime_access.hpp"
#include "ark/kv/json.hpp"
#include "ark/kv/memory_backend.hpp"
#include "ark/kv/pg_backend.hpp"
#include "ark/registry.hpp"
#include "alarm_dispatcher.hpp"
#include "cluster.hpp"
#include "subscriptions.hpp"
#include "writer.hpp"

namespace ark {

namespace {

// Strong references an idle, unreferenced actor has while it runs its idle
// check: the directory's handle and the one the scheduler holds while the
// actor executes. More means a handle lives outside the host.
constexpr std::size_t unreferenced_strong_refs = 2;

}  // namespace

struct memory_host;

struct runtime::impl final : detail::host, std::enable_shared_from_this<runtime::impl> {
  caf::actor_system& sys;
  runtime_options opts;
  std::shared_ptr<kv::backend> db;
  std::shared_ptr<kv::lmdb_backend> lmdb;  // db, when it is LMDB (sync, map size)
  std::shared_ptr<detail::snapshot_journal> journal;  // null: no journal
  std::unique_ptr<detail::writer> writer;
  // Memory-only actor types (storage_location::memory) keep their snapshots
  // and KV here, committed by a writer of their own.
  std::shared_ptr<kv::backend> memory_db;
  std::unique_ptr<detail::writer> memory_writer;
  std::unique_ptr<detail::alarm_dispatcher> alarms;
  // Subscribers of actors, active or passivated (doc/subscriptions.md).
  std::shared_ptr<detail::subscription_registry> subs =
      detail::subscription_registry::make(sys, opts.max_subscribers);

  mutable std::mutex mtx;
  std::condition_variable gone_cv;
  std::unordered_map<std::string, caf::actor> directory;  // identity::encoded -> handle
  std::deque<std::string> activation_order;               // oldest first, for the activation cap
  // Every activation not yet gone, with its identity (for the shutdown log).
  struct live_actor {
    caf::weak_actor_ptr handle;
    std::string type;
    ark::key key;
  };
  std::unordered_map<caf::actor_id, live_actor> live;
  // Registered interfaces (caf message types), computed once per type.
  std::unordered_map<std::string, std::set<std::string>> interfaces;
  std::atomic<std::uint64_t> messages{0};
  // Per-handler statistics of each type activated so far (never erased:
  // activations keep a plain pointer). Guarded by mtx.
  std::map<std::string, std::unique_ptr<detail::type_stats>> type_stats;
  std::atomic<std::uint64_t> idle_checks{0};
  std::atomic<std::uint64_t> soft_passivations{0};
  bool accepting = true;
  bool stopped = false;
  bool clean_stop = true;  // false: actors were still busy at the shutdown timeout
  std::condition_variable sweep_cv;
  std::thread sweeper;
  // Memory-only parts of passive actors (identity::encoded -> object), least
  // recently stashed first; bounded by opts.memory_stash_limit, emptied and
  // closed at shutdown. Own mutex: actors stash on their way out of mtx.
  struct stash_entry {
    std::list<std::string>::iterator pos;
    detail::stashed_memory memory;
  };
  std::mutex memory_mtx;
  bool memory_closed = false;
  std::list<std::string> memory_order;
  std::unordered_map<std::string, stash_entry> memory_stash;

  // Membership in a cluster (runtime_options::cluster); null outside one.
  std::unique_ptr<detail::cluster_node> cluster;
  std::shared_ptr<kv::pg_backend> pg;  // db, when it is PostgreSQL
  // In a cluster: identities whose claim is in flight (one claim at a time
  // per identity on this host: a second would fence the first), and claims
  // won by a lookup, handed to the activation (claim_snapshot).
  std::unordered_set<std::string> claiming;
  std::condition_variable claim_cv;
  std::unordered_map<std::string, kv::claim_result> preclaimed;
  // The claim epoch of each activation here (released when it passivates).
  std::unordered_map<std::string, std::uint64_t> claim_epochs;

  impl(caf::actor_system& s, runtime_options o) : sys(s), opts(std::move(o)) {}

  std::shared_ptr<kv::backend> storage() override { return db; }
  std::string storage_location() const override { return opts.data_dir; }
  const ark::clock& time() const override { return *opts.clock; }
  void log(const std::string& line) override { opts.log(line); }

  expected<std::string> load_snapshot(const std::string& state_key) override {
    auto d = db;
    if (!d) return error{errc::shutting_down, "the host is stopping"};
    if (journal) return journal->get(*d, state_key);
    return d->get(detail::state_space(), state_key);
  }

  expected<std::string> claim_snapshot(const std::string& state_key,
                                       std::uint64_t& epoch) override {
    epoch = 0;
    auto d = db;
    if (!d) return error{errc::shutting_down, "the host is stopping"};
    if (!d->shared()) return load_snapshot(state_key);
    expected<kv::claim_result> c{kv::claim_result{}};
    bool won_by_lookup = false;
    {
      std::lock_guard<std::mutex> guard{mtx};
      if (auto it = preclaimed.find(state_key); it != preclaimed.end()) {
        c = std::move(it->second);
        preclaimed.erase(it);
        won_by_lookup = true;
      }
    }
    if (!won_by_lookup) c = d->claim(detail::state_space(), state_key);
    if (!c) return c.error();
    if (!c->held_by.empty())
      return error{errc::fenced, "host '" + c->held_by + "' (" + c->held_by_address +
                                     ") owns the actor now"};
    epoch = c->epoch;
    if (cluster) {
      std::lock_guard<std::mutex> guard{mtx};
      claim_epochs[state_key] = c->epoch;
    }
    if (!c->value) return error{errc::not_found, "no snapshot"};
    return std::move(*c->value);
  }

  void submit(detail::commit_unit unit) override { writer->submit(std::move(unit)); }

  bool try_passivate(const detail::identity& id, caf::actor_control_block* self, bool force,
                     std::size_t own_refs) override {
    std::lock_guard<std::mutex> guard{mtx};
    auto it = directory.find(id.encoded);
    if (it == directory.end() || caf::actor_cast<caf::actor_control_block*>(it->second) != self)
      return true;
    if (!force && self->strong_refs.load() > unreferenced_strong_refs + own_refs) {
      // Handles live outside the host: the actor stays addressable here but
      // drops its state (soft passivation). In a cluster its claim goes too:
      // its next message claims it again, unless another host took it over
      // meanwhile, in which case that message is fenced and the activation
      // leaves (the caller's next lookup reaches the new owner).
      release_claim(id);
      return false;
    }
    directory.erase(it);
    // Every commit of the activation is durable: its claim may go, so the
    // actor's next lookup activates it where it hashes to now.
    release_claim(id);
    return true;
  }

  // In a cluster, releases the claim of the activation of `id` here (soon,
  // batched), at the epoch it claimed. REQUIRES: mtx held.
  void release_claim(const detail::identity& id) {
    if (!cluster) return;
    if (auto e = claim_epochs.find(id.encoded); e != claim_epochs.end()) {
      cluster->release_later(id.encoded, e->second);
      claim_epochs.erase(e);
    }
  }

  void on_message() override { messages.fetch_add(1, std::memory_order_relaxed); }
  void idle_checked() override { idle_checks.fetch_add(1, std::memory_order_release); }
  void soft_passivated() override { soft_passivations.fetch_add(1, std::memory_order_release); }

  void stash_memory(const std::string& state_key, detail::stashed_memory m) override {
    detail::stashed_memory dropped;  // destroyed after the lock is released
    std::lock_guard<std::mutex> guard{memory_mtx};
    if (memory_closed || opts.memory_stash_limit == 0) {
      dropped = std::move(m);
      return;
    }
    if (auto it = memory_stash.find(state_key); it != memory_stash.end()) {
      dropped = std::move(it->second.memory);
      it->second.memory = std::move(m);
      memory_order.splice(memory_order.end(), memory_order, it->second.pos);
      return;
    }
    if (memory_stash.size() >= opts.memory_stash_limit) {
      auto oldest = memory_stash.find(memory_order.front());
      dropped = std::move(oldest->second.memory);
      memory_stash.erase(oldest);
      memory_order.pop_front();
    }
    memory_order.push_back(state_key);
    memory_stash.emplace(state_key, stash_entry{std::prev(memory_order.end()), std::move(m)});
  }

  detail::stashed_memory take_memory(const std::string& state_key) override {
    std::lock_guard<std::mutex> guard{memory_mtx};
    auto it = memory_stash.find(state_key);
    if (it == memory_stash.end()) return {};
    auto m = std::move(it->second.memory);
    memory_order.erase(it->second.pos);
    memory_stash.erase(it);
    return m;
  }

  // Drops every stashed memory part and refuses later ones (shutdown).
  void close_memory_stash() {
    std::unordered_map<std::string, stash_entry> dropped;
    std::lock_guard<std::mutex> guard{memory_mtx};
    memory_closed = true;
    dropped.swap(memory_stash);
    memory_order.clear();
  }

  void on_actor_gone(const detail::identity&, caf::actor_id aid) override {
    {
      std::lock_guard<std::mutex> guard{mtx};
      live.erase(aid);
    }
    gone_cv.notify_all();
  }

  std::chrono::milliseconds idle_timeout() const override { return opts.idle_timeout; }

  std::shared_ptr<detail::subscriber_list> subscribers(const detail::identity& id) override {
    return subs->find(id.encoded);
  }

  expected<std::shared_ptr<detail::subscriber_list>> subscribe(const detail::identity& id,
                                                               detail::subscriber who) override {
    // An ark actor subscriber is activated for each notification: its type
    // must exist.
    if (who.by_identity() && !actor_registry::global().find(who.type))
      return error{errc::unknown_actor_type,
                   "subscriber of " + id.type + " " + kv::key_to_json_text(id.key) +
                       ": no actor type '" + who.type + "' is registered"};
    return subs->add(id, std::move(who));
  }

  bool unsubscribe(const detail::identity& id, const detail::subscriber& who) override {
    return subs->remove(id.encoded, who);
  }

  expected<caf::actor> get_or_create(std::string_view type_name, const ark::key& key,
                                     caf::message init,
                                     const std::set<std::string>& iface) override {
    return lookup(type_name, key, std::move(init), iface, detail::lookup_mode::get_or_create);
  }

  // The registered type named `type_name`, if `iface` (the caller's
  // interface; empty: any) is part of its interface.
  expected<const actor_type*> check_type(std::string_view type_name,
                                         const std::set<std::string>& iface) {
    auto* type = actor_registry::global().find(type_name);
    if (!type) {
      std::string known;
      for (const auto& n : actor_registry::global().names())
        known += (known.empty() ? "" : ", ") + n;
      return error{errc::unknown_actor_type,
                   "no actor type '" + std::string(type_name) +
                       "' is registered (registered: " + (known.empty() ? "none" : known) + ")"};
    }
    if (!iface.empty()) {
      const auto& mine = interface_of(*type);
      if (!std::includes(mine.begin(), mine.end(), iface.begin(), iface.end())) {
        // A caller whose program lacks a message type (an older client)
        // sends CAF's placeholder name for it: say which type.
        if (auto e = unregistered_type_error(iface, "actor type '" + type->name + "'")) {
          std::string list;
          for (const auto& t : unregistered_types(iface)) list += (list.empty() ? "" : ", ") + t;
          return error{e.code(),
                       "the caller's interface of actor type '" + type->name + "' uses " + list +
                           ", which the caller's program has not registered as a message type "
                           "(a client built without the header's ARK_MESSAGE_TYPE)",
                       e.explicit_remedy()};
        }
        // The module's own interface names a type the host cannot name: the
        // module lacks the type's ARK_MESSAGE_TYPE.
        if (auto own = unregistered_types(mine); !own.empty())
          return error{errc::unregistered_type,
                       "actor type '" + type->name + "' uses " + own.front() +
                           ", which its module has not registered as a message type, so no "
                           "remote caller can reach it",
                       "add ARK_MESSAGE_TYPE(" + own.front() +
                           ", \"NAME\") to the header that declares it, and load that module"};
        std::string missing;
        for (const auto& sig : iface)
          if (!mine.count(sig)) missing += (missing.empty() ? "" : ", ") + sig;
        return error{errc::wrong_interface, "actor type '" + type->name +
                                                "' does not implement the requested interface "
                                                "(it lacks: " +
                                                missing + ")"};
      }
    }
    return type;
  }

  expected<caf::actor> lookup(std::string_view type_name, const ark::key& key, caf::message init,
                              const std::set<std::string>& iface,
                              detail::lookup_mode mode) override {
    auto checked = check_type(type_name, iface);
    if (!checked) return checked.error();
    const actor_type* type = *checked;
    auto id = detail::make_identity(type_name, key);
    if (!id) return id.error();
    if (cluster && !type->memory_only)
      return lookup_in_cluster(*type, type_name, *id, std::move(init), iface, mode);
    std::lock_guard<std::mutex> guard{mtx};
    if (!accepting) return error{errc::shutting_down, "the host is stopping"};
    if (auto it = directory.find(id->encoded); it != directory.end()) {
      // Active (perhaps created by a commit not yet durable): it exists.
      if (mode == detail::lookup_mode::create) return exists_error(*id);
      return it->second;
    }
    if (mode != detail::lookup_mode::get_or_create) {
      // Not active: it exists when it has a snapshot. Read under the
      // directory lock, so no activation of this identity can start between
      // the read and the decision; a passivated actor's commits were durable
      // before it left the directory.
      auto stored = stored_snapshot(*type, *id);
      if (!stored && stored.error() != errc::not_found)
        return error{stored.error().code(),
                     detail::describe(*id) + ": its snapshot: " + stored.error().context()};
      if (mode == detail::lookup_mode::create && stored) return exists_error(*id);
      if (mode == detail::lookup_mode::get && !stored)
        return error{errc::not_found,
                     detail::describe(*id) + " does not exist (get creates nothing)",
                     "create it with create or get_or_create, or check the type and key"};
      if (mode == detail::lookup_mode::get) init = caf::message{};
    }
    auto handle = activate(*type, *id, std::move(init));
    if (opts.max_active > 0) evict_oldest();
    return handle;
  }

  // lookup() in a cluster: routed, forwarded (blocking) when it lives or
  // belongs elsewhere. Out of line: lookup() outside a cluster stays small.
  [[gnu::noinline]] expected<caf::actor> lookup_in_cluster(const actor_type& type,
                                                           std::string_view type_name,
                                                           const detail::identity& id,
                                                           caf::message init,
                                                           const std::set<std::string>& iface,
                                                           detail::lookup_mode mode) {
    auto r = route_in_cluster(type, id, init, mode, true);
    if (!r) return r.error();
    if (r->local) return std::move(r->local);
    auto h = forward(*r, type_name, id, init, iface, mode);
    if (!h && h.error() == errc::unreachable)
      return after_failed_forward(*r, type, id, std::move(init), mode, h.error());
    return h;
  }

  // The host a lookup was forwarded to (route `r`) did not answer: its
  // connection is forgotten; a forward that only followed the placement
  // hint (the host died or left since this one last saw the members) claims
  // the actor here instead, else the lookup fails with owner_unreachable.
  // Both forwarding paths (forward() here, ark-host's directory) end here.
  expected<caf::actor> after_failed_forward(const detail::route& r, const actor_type& type,
                                            const detail::identity& id, caf::message init,
                                            detail::lookup_mode mode, const error& why) {
    cluster->drop_peer(r.forward_to);
    if (r.hint) {
      auto here = route_in_cluster(type, id, std::move(init), mode, false);
      if (!here) return here.error();
      return std::move(here->local);
    }
    return error{errc::owner_unreachable, detail::describe(id) + " lives on host '" + r.owner +
                                              "' (" + r.forward_to + "), which did not answer: " +
                                              why.context()};
  }

  // A lookup in a cluster (doc/cluster.md): the actor is active here; or
  // another live member holds its claim (forward there); or, with
  // `may_forward`, it hashes to another live member (forward there, which
  // claims it); else this host claims it and activates it. A lookup that
  // was forwarded here (may_forward false) is never forwarded again.
  [[gnu::noinline]] expected<detail::route> route_in_cluster(const actor_type& type,
                                                             const detail::identity& id,
                                           caf::message init, detail::lookup_mode mode,
                                           bool may_forward) {
    if (!cluster->serving())
      return error{errc::lease_lost, "host '" + cluster->host_id() +
                                         "' is not serving: its cluster lease ended"};
    std::unique_lock<std::mutex> lock{mtx};
    for (;;) {
      if (!accepting) return error{errc::shutting_down, "the host is stopping"};
      if (auto it = directory.find(id.encoded); it != directory.end()) {
        if (mode == detail::lookup_mode::create) return exists_error(id);
        // Passive here with its claim released, and it hashes to another
        // host now (one joined): let it move there (rebalancing). This
        // activation is fenced if it is ever used again.
        if (may_forward && !claim_epochs.count(id.encoded)) {
          auto pref = cluster->preferred(id.encoded);
          if (!pref.host.empty()) return detail::route{{}, pref.address, pref.host, true};
        }
        return detail::route{it->second, {}, {}};
      }
      if (!claiming.count(id.encoded)) break;
      claim_cv.wait(lock);
    }
    claiming.insert(id.encoded);
    lock.unlock();
    struct done_claiming {
      impl* self;
      const std::string& key;
      ~done_claiming() {
        {
          std::lock_guard<std::mutex> guard{self->mtx};
          self->claiming.erase(key);
        }
        self->claim_cv.notify_all();
      }
    } guard_claim{this, id.encoded};
    if (may_forward) {
      // Where it lives now (a read), else where it should live (the hint).
      auto held = pg->claim_of(id.encoded);
      if (!held) return held.error();
      if (!held->holder.empty() && held->holder != cluster->host_id()) {
        for (const auto& m : cluster->members())
          if (m.live && m.host == held->holder && m.generation == held->generation)
            return detail::route{{}, m.address, m.host};
      }
      if (held->holder != cluster->host_id()) {
        auto pref = cluster->preferred(id.encoded);
        if (!pref.host.empty()) return detail::route{{}, pref.address, pref.host, true};
      }
    }
    auto c = pg->claim(detail::state_space(), id.encoded);
    if (!c) return error{c.error().code(), detail::describe(id) + ": claim: " + c.error().context()};
    if (!c->held_by.empty()) {
      if (may_forward && !c->held_by_address.empty())
        return detail::route{{}, c->held_by_address, c->held_by};
      return error{errc::owner_unreachable,
                   detail::describe(id) + " is owned by host '" + c->held_by + "' (" +
                       c->held_by_address + "), which took it while this lookup was forwarded"};
    }
    if (mode == detail::lookup_mode::create && c->value) return exists_error(id);
    if (mode == detail::lookup_mode::get && !c->value)
      return error{errc::not_found, detail::describe(id) + " does not exist (get creates nothing)",
                   "create it with create or get_or_create, or check the type and key"};
    if (mode == detail::lookup_mode::get) init = caf::message{};
    lock.lock();
    if (!accepting) {
      lock.unlock();  // before guard_claim takes it
      return error{errc::shutting_down, "the host is stopping"};
    }
    claim_epochs[id.encoded] = c->epoch;
    preclaimed[id.encoded] = std::move(*c);
    auto handle = activate(type, id, std::move(init));
    if (opts.max_active > 0) evict_oldest();
    lock.unlock();
    return detail::route{std::move(handle), {}, {}};
  }

  // Asks the host `r` names for the actor (blocking: for in-process callers;
  // ark-host's directory forwards without blocking). unreachable when that
  // host did not answer (after_failed_forward says what that means).
  expected<caf::actor> forward(const detail::route& r, std::string_view type_name,
                               const detail::identity& id, caf::message init,
                               const std::set<std::string>& iface, detail::lookup_mode mode) {
    auto dir = cluster->peer(r.forward_to);
    if (!dir) return error{errc::unreachable, "cannot connect: " + dir.error().context()};
    // The other host's directory takes the key, encoded (as a client sends
    // it), not the identity.
    auto key_bytes = encode_key(id.key);
    if (!key_bytes) return key_bytes.error();
    auto h = call<caf::actor>(sys, *dir, cluster->options().forward_timeout,
                              directory_route_atom::value, cluster->options().token,
                              static_cast<std::int32_t>(mode), std::string(type_name),
                              std::move(*key_bytes), std::move(init), iface,
                              cluster->address(), cluster->directory());
    return h;
  }

  // Stops serving (a lost lease): every unit fails, every activation leaves.
  void disown_all(const caf::error& err) {
    writer->set_refusal(err);
    std::vector<caf::actor> handles;
    {
      std::lock_guard<std::mutex> guard{mtx};
      for (auto& [key, h] : directory) handles.push_back(h);
    }
    for (auto& h : handles) caf::anon_send(h, disown_atom::value, err);
  }

  static error exists_error(const detail::identity& id) {
    return error{errc::already_exists, detail::describe(id) +
                                           " already exists (create makes "
                                           "only new actors)"};
  }

  // The durable snapshot of `id` (memory-only types: in the memory store),
  // or not_found. One read.
  expected<std::string> stored_snapshot(const actor_type& type, const detail::identity& id) {
    if (!type.memory_only) return load_snapshot(id.encoded);
    auto d = memory_db;
    if (!d) return error{errc::shutting_down, "the host is stopping"};
    return d->get(detail::state_space(), id.encoded);
  }

  const std::set<std::string>& interface_of(const actor_type& type) {
    std::lock_guard<std::mutex> guard{mtx};
    auto it = interfaces.find(type.name);
    if (it == interfaces.end()) it = interfaces.emplace(type.name, type.interface(sys)).first;
    return it->second;  // entries are never erased: stable
  }

  // Spawns the activation of `id`. REQUIRES: mtx held.
  caf::actor activate(const actor_type& type, const detail::identity& id, caf::message init);
  // The per-handler statistics of `type`, made at its first activation.
  // REQUIRES: mtx held.
  detail::type_stats* stats_of(const actor_type& type);

  // Sends every active actor an idle tick; returns how many. REQUIRES: mtx held.
  std::size_t send_idle_ticks() {
    // Through the directory's own handles: a copy would count as an outside
    // reference and keep the actors from passivating.
    for (auto& [key, handle] : directory) caf::anon_send(handle, idle_atom::value);
    return directory.size();
  }


  // Over the cap: the oldest activations are asked to passivate (a few per
  // new activation, so the cost stays constant). The message goes through
  // the directory's own handle: a temporary copy would look like an outside
  // reference and keep the actor from passivating. REQUIRES: mtx held.
  void evict_oldest() {
    for (int budget = 4;
         budget > 0 && directory.size() > opts.max_active && activation_order.size() > 1;
         --budget) {
      auto key = std::move(activation_order.front());
      activation_order.pop_front();
      auto it = directory.find(key);
      if (it == directory.end()) {
        ++budget;  // already passivated: does not count
        continue;
      }
      caf::anon_send(it->second, evict_atom::value);
      activation_order.push_back(std::move(key));  // may stay (soft passivation)
    }
  }

  // Sends every active actor an idle tick every half idle timeout; an actor
  // idle for longer passivates. One thread instead of a timer per actor: a
  // pending CAF timer holds its actor (and its memory) until it fires.
  void start_sweeper() {
    if (opts.idle_timeout.count() <= 0 || opts.clock->is_virtual()) return;
    auto interval = std::max(opts.idle_timeout / 2, std::chrono::milliseconds(5));
    sweeper = std::thread([this, interval] {
      std::unique_lock<std::mutex> lock{mtx};
      while (!sweep_cv.wait_for(lock, interval, [this] { return !accepting; })) send_idle_ticks();
    });
  }

  bool shutdown(std::chrono::milliseconds timeout) {
    std::vector<caf::actor> running;
    std::unordered_map<std::string, caf::actor> handles;
    {
      std::lock_guard<std::mutex> guard{mtx};
      if (stopped) return clean_stop;
      accepting = false;
      for (auto& [aid, a] : live)
        if (auto strong = caf::actor_cast<caf::actor>(a.handle.lock())) running.push_back(strong);
      handles.swap(directory);
    }
    close_memory_stash();
    // Handles are released outside the lock: a last reference may end an
    // actor, which reports back through on_actor_gone.
    sweep_cv.notify_all();
    if (sweeper.joinable()) sweeper.join();
    alarms->stop();
    writer->resume();  // a paused writer would keep actors waiting forever
    for (auto& h : running) caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
    running.clear();
    handles.clear();
    {
      std::unique_lock<std::mutex> lock{mtx};
      clean_stop = gone_cv.wait_for(lock, timeout, [&] { return live.empty(); });
      if (!clean_stop && opts.log) {
        // Named, so a drain that hangs can be traced to its actors (each
        // waits for a commit in flight or for the reply to a request).
        std::string names;
        std::size_t listed = 0;
        for (const auto& [aid, a] : live) {
          if (++listed > 10) {
            names += ", ...";
            break;
          }
          names += (names.empty() ? "" : ", ") + a.type + " " + kv::key_to_json_text(a.key);
        }
        opts.log(std::to_string(live.size()) + " actor(s) did not stop within " +
                 std::to_string(timeout.count()) + " ms: " + names);
      }
      stopped = true;
    }
    subs->stop();
    writer->stop();
    memory_writer->stop();
    // Every commit is done: release the claims and leave, so other hosts
    // take this host's actors at once (a drain).
    if (cluster) cluster->stop(true);
    // Actor objects may outlive this (CAF frees them lazily); they no longer
    // touch storage, so the data directory is closed now.
    db.reset();
    lmdb.reset();
    memory_db.reset();
    return clean_stop;
  }
};

// The host of a memory-only actor type: the runtime's, except that snapshots
// and KV go to the memory backend and its writer.
struct memory_host final : detail::host {
  std::shared_ptr<runtime::impl> rt;
  explicit memory_host(std::shared_ptr<runtime::impl> r) : rt(std::move(r)) {}

  std::shared_ptr<kv::backend> storage() override { return rt->memory_db; }
  expected<std::string> load_snapshot(const std::string& state_key) override {
    auto d = rt->memory_db;
    if (!d) return error{errc::shutting_down, "the host is stopping"};
    return d->get(detail::state_space(), state_key);
  }
  void submit(detail::commit_unit unit) override { rt->memory_writer->submit(std::move(unit)); }
  bool try_passivate(const detail::identity& id, caf::actor_control_block* self, bool force,
                     std::size_t own_refs) override {
    return rt->try_passivate(id, self, force, own_refs);
  }
  void on_message() override { rt->on_message(); }
  void on_actor_gone(const detail::identity& id, caf::actor_id aid) override {
    rt->on_actor_gone(id, aid);
  }
  void idle_checked() override { rt->idle_checked(); }
  void soft_passivated() override { rt->soft_passivated(); }
  std::shared_ptr<detail::subscriber_list> subscribers(const detail::identity& id) override {
    return rt->subscribers(id);
  }
  expected<std::shared_ptr<detail::subscriber_list>> subscribe(const detail::identity& id,
                                                               detail::subscriber who) override {
    return rt->subscribe(id, std::move(who));
  }
  bool unsubscribe(const detail::identity& id, const detail::subscriber& who) override {
    return rt->unsubscribe(id, who);
  }
  void stash_memory(const std::string& state_key, detail::stashed_memory m) override {
    rt->stash_memory(state_key, std::move(m));
  }
  detail::stashed_memory take_memory(const std::string& state_key) override {
    return rt->take_memory(state_key);
  }
  const ark::clock& time() const override { return rt->time(); }
  void log(const std::string& line) override { rt->log(line); }
  detail::interface_cache& caller_interfaces() override { return rt->caller_interfaces(); }
  std::chrono::milliseconds idle_timeout() const override { return rt->idle_timeout(); }
  expected<caf::actor> get_or_create(std::string_view type, const ark::key& key, caf::message init,
                                     const std::set<std::string>& iface) override {
    return rt->get_or_create(type, key, std::move(init), iface);
  }
  expected<caf::actor> lookup(std::string_view type, const ark::key& key, caf::message init,
                              const std::set<std::string>& iface,
                              detail::lookup_mode mode) override {
    return rt->lookup(type, key, std::move(init), iface, mode);
  }
};

detail::type_stats* runtime::impl::stats_of(const actor_type& type) {
  auto& slot = type_stats[type.name];
  if (!slot) {
    std::vector<std::string> names;
    for (const auto& h : type.handlers) names.push_back(h.name);
    slot = std::make_unique<detail::type_stats>(type.name, std::move(names));
  }
  return slot.get();
}

caf::actor runtime::impl::activate(const actor_type& type, const detail::identity& id,
                                   caf::message init) {
  activation a;
  if (type.memory_only)
    a.host = std::make_shared<memory_host>(shared_from_this());
  else
    a.host = shared_from_this();
  a.id = id;
  a.init = std::move(init);
  a.initialize = type.initialize;
  if (opts.handler_stats) a.stats = stats_of(type);
  auto handle = type.spawn(sys, std::move(a));
  directory.emplace(id.encoded, handle);
  live.emplace(handle.id(),
               live_actor{caf::actor_cast<caf::weak_actor_ptr>(handle), id.type, id.key});
  if (opts.max_active > 0) activation_order.push_back(id.encoded);
  return handle;
}

expected<std::shared_ptr<runtime>> runtime::open(caf::actor_system& sys, runtime_options opts) {
  if (!opts.log) opts.log = [](const std::string& line) { std::cerr << "ark: " << line << '\n'; };
  if (!opts.clock) opts.clock = ark::system_clock();
  std::shared_ptr<kv::lmdb_backend> lmdb;
  std::shared_ptr<kv::backend> db = opts.backend;
  // Cluster members share the schema: each takes its lock shared and
  // fences every commit.
  if (opts.cluster.enabled()) opts.storage.pg_exclusive = false;
  if (!db) {
    kv::open_options oo = opts.storage;
    oo.read_only = false;
    oo.create_if_missing = true;
    if (!oo.on_upgrade) oo.on_upgrade = opts.log;
    auto opened = kv::open_backend(opts.data_dir, oo);
    if (!opened) return opened.error();
    db = std::move(*opened);
    lmdb = std::dynamic_pointer_cast<kv::lmdb_backend>(db);
  }
  // The journal is replayed even when it is turned off now: what the last
  // run left in it is the newest state.
  auto journal = detail::snapshot_journal::load(*db);
  if (!journal) {
    std::string why = journal.error().context();
    if (journal.error() == errc::corrupt_snapshot || journal.error() == errc::corrupt_value)
      why +=
          "; a journal record may hold the newest state of many actors, so the whole "
          "directory is refused (`ark-dash verify --data " +
          opts.data_dir + "` lists every damaged entry)";
    return error{journal.error().code(), "data directory " + opts.data_dir + ": " + why};
  }
  // A server has no directory: messages, the admin API and the dashboard
  // name the server and schema instead.
  if (auto* pg = dynamic_cast<kv::pg_backend*>(db.get())) opts.data_dir = pg->location();
  auto p = std::make_shared<impl>(sys, std::move(opts));
  p->db = std::move(db);
  p->lmdb = std::move(lmdb);
  // A shared backend keeps no journal: another process reading the state
  // space must find the newest snapshot there.
  if (p->opts.checkpoint_bytes > 0 && !p->db->shared()) {
    p->journal = std::move(*journal);
  } else if (!(*journal)->empty()) {
    // No journal from now on: what the last run left in it goes in place.
    kv::backend_batch batch;
    (*journal)->checkpoint_batch(batch);
    if (auto r = p->db->apply(batch); !r)
      return error{r.error().code(), "data directory " + p->opts.data_dir +
                                         ": checkpoint of the state journal: " +
                                         r.error().context()};
  }
  detail::writer::options wo;
  wo.backend = p->db;
  wo.journal = p->journal;
  wo.checkpoint_bytes = p->opts.checkpoint_bytes;
  wo.log = p->opts.log;
  wo.on_storage_failure = p->opts.on_storage_failure;
  std::weak_ptr<impl> weak = p;
  detail::alarm_dispatcher::options ao;
  ao.system = &sys;
  ao.clock = p->opts.clock;
  ao.log = p->opts.log;
  ao.ack_timeout = p->opts.alarm_ack_timeout;
  p->memory_db = kv::memory_backend::create();
  ao.tables = {p->db, p->memory_db};
  ao.activate = [weak](const std::string& type, const ark::key& key) -> expected<caf::actor> {
    auto rt = weak.lock();
    if (!rt) return error{errc::shutting_down, "the host is stopping"};
    return rt->get_or_create(type, key, caf::message{}, {});
  };
  p->alarms = std::make_unique<detail::alarm_dispatcher>(std::move(ao));
  wo.on_alarm_scheduled = [weak](std::int64_t due) {
    if (auto rt = weak.lock()) rt->alarms->scheduled(due);
  };
  if (p->opts.storage.mode == kv::durability::none && !p->opts.backend) {
    std::weak_ptr<kv::backend> weak_db = p->db;
    wo.periodic_sync = [weak_db]() -> expected<void> {
      if (auto d = weak_db.lock()) return d->sync();
      return {};
    };
    wo.sync_interval = p->opts.none_sync_interval;
  }
  detail::writer::options mo;
  mo.backend = p->memory_db;
  mo.journal = nullptr;
  mo.log = p->opts.log;
  mo.on_alarm_scheduled = wo.on_alarm_scheduled;
  p->writer = std::make_unique<detail::writer>(std::move(wo));
  p->memory_writer = std::make_unique<detail::writer>(std::move(mo));
  p->pg = std::dynamic_pointer_cast<kv::pg_backend>(p->db);
  if (p->opts.cluster.enabled()) {
    if (!p->pg || p->opts.backend)
      return error{errc::invalid_argument,
                   "a cluster keeps its actors in PostgreSQL: run every host with --backend "
                   "postgres on the same server and schema"};
    detail::cluster_node::hooks h;
    h.log = p->opts.log;
    h.lose = [weak](const caf::error& err) {
      if (auto rt = weak.lock()) rt->disown_all(err);
    };
    h.regain = [weak] {
      if (auto rt = weak.lock()) rt->writer->set_refusal(caf::error{});
    };
    h.counters = [weak]() -> std::pair<std::int64_t, std::int64_t> {
      auto rt = weak.lock();
      if (!rt) return {0, 0};
      std::lock_guard<std::mutex> guard{rt->mtx};
      return {static_cast<std::int64_t>(rt->live.size()),
              static_cast<std::int64_t>(rt->messages.load())};
    };
    auto node = detail::cluster_node::start(sys, p->opts.cluster, p->opts.storage, p->pg,
                                            std::move(h));
    if (!node) {
      p->writer->stop();
      p->memory_writer->stop();
      return node.error();
    }
    p->cluster = std::move(*node);
  }
  p->start_sweeper();
  p->alarms->start();
  return std::shared_ptr<runtime>(new runtime(std::move(p)));
}

runtime::runtime(std::shared_ptr<impl> p) : impl_(std::move(p)) {}

runtime::~runtime() {
  shutdown();
}

detail::interface_cache& runtime::caller_interfaces() {
  return impl_->caller_interfaces();
}

expected<caf::actor> runtime::get_or_create_actor(std::string_view type, const ark::key& k,
                                                  caf::message init,
                                                  const std::set<std::string>& iface) {
  return impl_->get_or_create(type, k, std::move(init), iface);
}

expected<caf::actor> runtime::get_actor(std::string_view type, const ark::key& k,
                                        const std::set<std::string>& iface) {
  return impl_->lookup(type, k, caf::message{}, iface, detail::lookup_mode::get);
}

expected<caf::actor> runtime::create_actor(std::string_view type, const ark::key& k,
                                           caf::message init, const std::set<std::string>& iface) {
  return impl_->lookup(type, k, std::move(init), iface, detail::lookup_mode::create);
}

bool runtime::shutdown(std::chrono::milliseconds timeout) {
  return impl_->shutdown(timeout);
}

runtime_stats runtime::stats() const {
  runtime_stats s;
  // The types' counters are summed outside the directory's lock, which
  // lookups and activations take: a type_stats is never erased, so the
  // pointers stay valid.
  std::vector<const detail::type_stats*> types;
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    s.active_actors = impl_->live.size();
    for (const auto& [name, t] : impl_->type_stats) types.push_back(t.get());
  }
  for (const auto* t : types) {
    s.active_by_type[t->type()] = t->active.load(std::memory_order_relaxed);
    for (auto& f : t->read()) s.handlers.push_back(std::move(f));
  }
  const auto& c = impl_->writer->counters();
  s.commits = c.commits.load();
  s.units = c.units.load();
  s.failed_units = c.failed_units.load();
  s.snapshots_written = c.snapshots.load();
  s.commit_us = c.commit_us.load();
  s.checkpoints = c.checkpoints.load();
  s.messages = impl_->messages.load();
  s.subscriptions = impl_->subs->total();
  for (const auto& b : c.latency) s.commit_latency.push_back(b.load());
  if (auto db = impl_->lmdb) s.map_size = db->map_size();
  if (auto* pg = dynamic_cast<kv::pg_backend*>(impl_->db.get()))
    s.data_bytes = pg->stored_bytes().value_or(0);  // the schema's tables on the server
  else if (impl_->db && !impl_->opts.backend)
    s.data_bytes = inspect::directory_bytes(impl_->opts.data_dir);
  s.alarms_in_flight = impl_->alarms->in_flight();
  s.alarms_answered = impl_->alarms->answered();
  return s;
}

inspect::reader runtime::inspector() const {
  return inspect::reader(impl_->db, impl_->journal, impl_->memory_db);
}

const std::string& runtime::data_dir() const {
  return impl_->opts.data_dir;
}

std::optional<caf::actor> runtime::active_actor(const std::string& encoded) const {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  auto it = impl_->directory.find(encoded);
  if (it == impl_->directory.end()) return std::nullopt;
  return it->second;
}

std::size_t runtime::subscriber_count(std::string_view type, const ark::key& k) const {
  auto id = detail::make_identity(type, k);
  return id ? impl_->subs->count(id->encoded) : 0;
}

caf::actor_system& runtime::system() const {
  return impl_->sys;
}
const runtime_options& runtime::options() const {
  return impl_->opts;
}
std::shared_ptr<kv::backend> runtime::storage() const {
  return impl_->db;
}

std::size_t runtime::sweep_idle() {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  return impl_->accepting ? impl_->send_idle_ticks() : 0;
}

bool runtime::passivate(const std::string& encoded) {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  auto it = impl_->directory.find(encoded);
  if (it == impl_->directory.end()) return false;
  caf::anon_send(it->second, evict_atom::value);
  return true;
}

std::uint64_t runtime::idle_checks() const {
  return impl_->idle_checks.load(std::memory_order_acquire);
}

std::optional<std::int64_t> runtime::next_alarm_ms() const {
  return impl_->alarms->earliest_due();
}

std::size_t runtime::run_due_alarms() {
  return impl_->alarms->run_due();
}

std::vector<caf::actor> runtime::active_actors() const {
  std::vector<caf::actor> out;
  std::lock_guard<std::mutex> guard{impl_->mtx};
  for (const auto& [key, handle] : impl_->directory) out.push_back(handle);
  return out;
}
void detail::runtime_access::pause_commits(runtime& rt) {
  rt.impl_->writer->pause();
}
void detail::runtime_access::resume_commits(runtime& rt) {
  rt.impl_->writer->resume();
}
bool detail::runtime_access::commits_idle(runtime& rt) {
  return rt.impl_->writer->idle();
}
std::uint64_t detail::runtime_access::soft_passivations(runtime& rt) {
  return rt.impl_->soft_passivations.load(std::memory_order_acquire);
}
void detail::runtime_access::skip_checkpoint_at_stop(runtime& rt) {
  rt.impl_->writer->skip_checkpoint_at_stop();
}

void configure_host_scheduler(caf::actor_system_config& cfg) {
  // Idle workers sleep on their condition variable at once: no aggressive
  // polling, no moderate phase (whose 50 us sleeps between polls cost
  // latency). Polling 1,000 times first (~10-16 us per idle gap) was tried:
  // CAF's 4 workers spinning on 2 cores took the writer's core, -6 to -11 %
  // durable messages/s over 10k actors in 10 of 10 pairs, and a lone remote
  // request 60-110 us slower; its remote gain (4 of 4 pairs once) did not
  // come back. bench/RESULTS.md, "Idle workers poll before they sleep" and
  // "... measured again".
  cfg.set("work-stealing.aggressive-poll-attempts", std::size_t{0});
  cfg.set("work-stealing.moderate-poll-attempts", std::size_t{0});
}

std::string_view to_string(kv::durability mode) {
  switch (mode) {
    case kv::durability::sync:
      return "sync";
    case kv::durability::relaxed:
      return "relaxed";
    case kv::durability::none:
      return "none";
  }
  return "unknown";
}

expected<kv::durability> parse_durability(std::string_view text) {
  if (text == "sync") return kv::durability::sync;
  if (text == "relaxed") return kv::durability::relaxed;
  if (text == "none") return kv::durability::none;
  return error{errc::invalid_argument,
               "durability '" + std::string(text) + "' is not one of sync, relaxed, none"};
}

}  // namespace ark

namespace ark::detail {

expected<route> runtime_access::route_lookup(runtime& rt, std::string_view type_name,
                                             const ark::key& k, caf::message init,
                                             const std::set<std::string>& iface, lookup_mode mode,
                                             bool may_forward) {
  auto& p = *rt.impl_;
  if (!p.cluster) {
    auto h = p.lookup(type_name, k, std::move(init), iface, mode);
    if (!h) return h.error();
    return route{std::move(*h), {}, {}};
  }
  auto type = p.check_type(type_name, iface);
  if (!type) return type.error();
  if ((*type)->memory_only) {
    // Memory-only actors live on the host asked.
    auto h = p.lookup(type_name, k, std::move(init), iface, mode);
    if (!h) return h.error();
    return route{std::move(*h), {}, {}};
  }
  auto id = make_identity(type_name, k);
  if (!id) return id.error();
  return p.route_in_cluster(**type, *id, std::move(init), mode, may_forward);
}

expected<caf::actor> runtime_access::after_failed_forward(runtime& rt, const route& r,
                                                         std::string_view type_name,
                                                         const ark::key& k, caf::message init,
                                                         lookup_mode mode, const error& why) {
  auto& p = *rt.impl_;
  auto type = p.check_type(type_name, {});
  if (!type) return type.error();
  auto id = make_identity(type_name, k);
  if (!id) return id.error();
  return p.after_failed_forward(r, **type, *id, std::move(init), mode, why);
}

cluster_node* runtime_access::cluster(runtime& rt) {
  return rt.impl_->cluster.get();
}

}  // namespace ark::detail
