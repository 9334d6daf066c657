#include "cluster.hpp"

#include <algorithm>

#include "ark/errors.hpp"

namespace ark::detail {

namespace {

using clock_type = std::chrono::steady_clock;

std::int64_t to_ns(clock_type::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

clock_type::time_point from_ns(std::int64_t ns) {
  return clock_type::time_point(std::chrono::nanoseconds(ns));
}

// 64-bit FNV-1a, then a finalizer (splitmix64) so that similar host ids
// spread.
std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

std::uint64_t rendezvous_score(const std::string& host, const std::string& encoded) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  auto feed = [&h](const std::string& s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 0x100000001b3ULL;
    }
  };
  feed(host);
  h ^= 0xff;  // separator: ("ab", "c") and ("a", "bc") differ
  h *= 0x100000001b3ULL;
  feed(encoded);
  return mix(h);
}

cluster_node::cluster_node(caf::actor_system& sys, cluster_options opts,
                           std::shared_ptr<kv::pg_backend> db, hooks h)
    : sys_(sys), opts_(std::move(opts)), db_(std::move(db)), hooks_(std::move(h)) {}

expected<std::unique_ptr<cluster_node>> cluster_node::start(caf::actor_system& sys,
                                                            const cluster_options& opts,
                                                            const kv::open_options& storage,
                                                            std::shared_ptr<kv::pg_backend> db,
                                                            hooks h) {
  if (opts.advertise.empty())
    return error{errc::invalid_argument,
                 "a cluster host needs the address other hosts reach it at (--advertise "
                 "HOST:PORT)"};
  if (opts.renew_interval.count() <= 0 || opts.renew_interval * 2 > opts.lease_ttl)
    return error{errc::invalid_argument,
                 "the lease renewal interval (" + std::to_string(opts.renew_interval.count()) +
                     " ms) must be positive and at most half the lease time (" +
                     std::to_string(opts.lease_ttl.count()) + " ms)"};
  std::unique_ptr<cluster_node> n(new cluster_node(sys, opts, std::move(db), std::move(h)));
  if (n->opts_.host_id.empty()) n->opts_.host_id = n->opts_.advertise;
  auto& m = n->member_opts_;
  m.conninfo = storage.pg_conninfo;
  m.schema = storage.pg_schema;
  m.cluster = n->opts_.name;
  m.host = n->opts_.host_id;
  m.address = n->opts_.advertise;
  m.lease_ttl = n->opts_.lease_ttl;
  // A call never runs past the next renewal, nor long into the lease.
  m.call_timeout = std::min(n->opts_.renew_interval, n->opts_.lease_ttl / 4);
  auto joined = kv::pg_membership::join(m);
  if (!joined) return joined.error();
  n->member_ = std::move(*joined);
  n->generation_ = n->member_->generation();
  n->deadline_ns_ = to_ns(n->member_->deadline());
  n->db_->set_claim_holder(n->opts_.host_id, n->member_->generation());
  if (auto rows = n->member_->members()) n->members_ = std::move(*rows);
  n->renewer_ = std::thread([p = n.get()] { p->renew_loop(); });
  n->watchdog_ = std::thread([p = n.get()] { p->watch_loop(); });
  return n;
}

cluster_node::~cluster_node() {
  stop(false);
}

void cluster_node::stop(bool leave) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !renewer_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (renewer_.joinable()) renewer_.join();
  if (watchdog_.joinable()) watchdog_.join();
  if (!leave || !member_ || !serving()) return;
  // Claims first: once this generation has left, its claims are dead anyway,
  // but released ones are taken without waiting for anything.
  if (auto r = db_->release_claims(opts_.host_id, generation_.load()); !r && hooks_.log)
    hooks_.log("cluster: releasing this host's claims failed: " + r.error().message());
  if (auto r = member_->leave(); !r && hooks_.log)
    hooks_.log("cluster: leaving failed (the lease expires by itself): " + r.error().message());
  serving_ = false;
}

void cluster_node::lose(const std::string& why) {
  if (!serving_.exchange(false, std::memory_order_acq_rel)) return;
  if (hooks_.log) hooks_.log("cluster: this host stops serving: " + why);
  if (hooks_.lose)
    hooks_.lose(to_caf(error{errc::lease_lost, "host '" + opts_.host_id + "' (" +
                                                   opts_.advertise + "): " + why}));
}

bool cluster_node::rejoin() {
  auto joined = kv::pg_membership::join(member_opts_);
  if (!joined) return false;
  member_ = std::move(*joined);
  generation_ = member_->generation();
  db_->set_claim_holder(opts_.host_id, member_->generation());
  deadline_ns_ = to_ns(member_->deadline());
  if (hooks_.log)
    hooks_.log("cluster: joined again as generation " + std::to_string(member_->generation()));
  serving_.store(true, std::memory_order_release);
  if (hooks_.regain) hooks_.regain();
  return true;
}

void cluster_node::renew_loop() {
  auto next = clock_type::now() + opts_.renew_interval;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (cv_.wait_until(lock, next, [this] { return stopping_; })) return;
    }
    next = clock_type::now() + opts_.renew_interval;
    if (!serving()) {
      // Lost: a new generation, once the database answers (the old one's
      // actors may have been taken over meanwhile).
      rejoin();
      continue;
    }
    std::vector<std::string> owners;
    std::vector<std::uint64_t> epochs;
    {
      std::lock_guard lock(mu_);
      owners.swap(release_owners_);
      epochs.swap(release_epochs_);
    }
    if (!owners.empty()) {
      auto released = db_->release_claims(owners, epochs, opts_.host_id, generation_.load());
      if (!released && hooks_.log)
        hooks_.log("cluster: releasing " + std::to_string(owners.size()) +
                   " passivated actors' claims failed (they stay with this host): " +
                   released.error().message());
    }
    auto [actors, messages] = hooks_.counters ? hooks_.counters() : std::pair<std::int64_t, std::int64_t>{0, 0};
    auto r = member_->renew(actors, messages);
    if (r) {
      deadline_ns_ = to_ns(member_->deadline());
      if (auto rows = member_->members()) {
        std::lock_guard lock(mu_);
        members_ = std::move(*rows);
      }
      continue;
    }
    if (r.error() == errc::lease_lost) {
      lose(r.error().context());
      continue;
    }
    if (hooks_.log) hooks_.log("cluster: renewing the lease failed: " + r.error().message());
    // Try again soon: the watchdog stops the host at the deadline.
    next = std::min(next, clock_type::now() + opts_.renew_interval / 4);
  }
}

void cluster_node::watch_loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    auto deadline = from_ns(deadline_ns_.load());
    if (serving() && clock_type::now() >= deadline) {
      lock.unlock();
      lose("its lease of " + std::to_string(opts_.lease_ttl.count()) +
           " ms could not be renewed in time (the database did not answer)");
      lock.lock();
      continue;
    }
    auto wake = serving() ? deadline : clock_type::now() + opts_.renew_interval;
    cv_.wait_until(lock, std::min(wake, clock_type::now() + opts_.renew_interval),
                   [this] { return stopping_; });
  }
}

kv::member_row cluster_node::preferred(const std::string& encoded) const {
  std::lock_guard lock(mu_);
  const kv::member_row* best = nullptr;
  std::uint64_t best_score = 0;
  for (const auto& m : members_) {
    if (!m.live) continue;
    auto s = rendezvous_score(m.host, encoded);
    if (!best || s > best_score || (s == best_score && m.host < best->host)) {
      best = &m;
      best_score = s;
    }
  }
  if (!best || best->host == opts_.host_id) return {};
  return *best;
}

std::vector<kv::member_row> cluster_node::members() const {
  std::lock_guard lock(mu_);
  return members_;
}

expected<directory_actor> cluster_node::peer(const std::string& address) {
  {
    std::lock_guard lock(mu_);
    if (auto it = peers_.find(address); it != peers_.end()) return it->second;
  }
  std::lock_guard connecting(peer_connect_mu_);
  {
    std::lock_guard lock(mu_);
    if (auto it = peers_.find(address); it != peers_.end()) return it->second;
  }
  auto colon = address.rfind(':');
  if (colon == std::string::npos)
    return error{errc::unreachable, "cluster member address '" + address + "' has no port"};
  connect_options co;
  co.host = address.substr(0, colon);
  if (!co.host.empty() && co.host.front() == '[' && co.host.back() == ']')
    co.host = co.host.substr(1, co.host.size() - 2);
  try {
    co.port = static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1)));
  } catch (...) {
    return error{errc::unreachable, "cluster member address '" + address + "' has a bad port"};
  }
  co.token = opts_.token;
  co.tls = tls_files{opts_.tls_cert, opts_.tls_key, opts_.tls_ca};
  auto c = connect(sys_, co);
  if (!c) return c.error();
  auto dir = c->directory();
  std::lock_guard lock(mu_);
  peers_[address] = dir;
  return dir;
}

void cluster_node::release_later(std::string owner, std::uint64_t epoch) {
  std::lock_guard lock(mu_);
  release_owners_.push_back(std::move(owner));
  release_epochs_.push_back(epoch);
}

void cluster_node::learn_peer(const std::string& address, const directory_actor& dir) {
  if (address.empty() || !dir || address == opts_.advertise) return;
  std::lock_guard lock(mu_);
  peers_.emplace(address, dir);
}

void cluster_node::set_directory(caf::actor dir) {
  std::lock_guard lock(mu_);
  own_directory_ = std::move(dir);
}

caf::actor cluster_node::directory() const {
  std::lock_guard lock(mu_);
  return own_directory_;
}

void cluster_node::drop_peer(const std::string& address) {
  std::lock_guard lock(mu_);
  peers_.erase(address);
}

}  // namespace ark::detail
