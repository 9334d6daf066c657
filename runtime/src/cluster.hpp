#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ark/client.hpp"
#include "ark/kv/pg_backend.hpp"
#include "ark/kv/pg_membership.hpp"
#include "ark/runtime.hpp"

namespace ark {

namespace detail {

/// Where a lookup goes: an activation on this host, or another host.
struct route {
  caf::actor local;        ///< set: the actor is here
  std::string forward_to;  ///< else: the address of the host to ask
  std::string owner;       ///< that host's id (for messages)
  /// The forward follows the placement hint (nobody holds the actor): if
  /// that host cannot be reached, this host may claim the actor itself.
  bool hint = false;
};

/// A runtime's cluster membership (doc/cluster.md): joins, renews the lease
/// on a thread of its own, stops the host serving by its local deadline when
/// it could not renew, joins again as a new generation once the database
/// answers, and knows the live members for placement (rendezvous hashing).
class cluster_node {
 public:
  struct hooks {
    /// Stop serving: fail every output, drop every activation.
    std::function<void(const caf::error&)> lose;
    /// Serve again (after a new generation joined).
    std::function<void()> regain;
    /// (activations, messages handled) for the members table.
    std::function<std::pair<std::int64_t, std::int64_t>()> counters;
    std::function<void(const std::string&)> log;
  };

  /// Joins (errors of pg_membership::join) and starts renewing.
  static expected<std::unique_ptr<cluster_node>> start(caf::actor_system& sys,
                                                       const cluster_options& opts,
                                                       const kv::open_options& storage,
                                                       std::shared_ptr<kv::pg_backend> db,
                                                       hooks h);
  ~cluster_node();

  /// Stops renewing; with `leave`, releases this generation's claims and
  /// marks it left (a drain: call after the last commit).
  void stop(bool leave);

  /// Whether this host may serve now (its lease holds).
  bool serving() const { return serving_.load(std::memory_order_acquire); }
  /// The live member an identity hashes to (rendezvous hashing over the
  /// live members' ids); empty when that is this host or none is known.
  kv::member_row preferred(const std::string& encoded) const;
  /// The members as of the last renewal.
  std::vector<kv::member_row> members() const;
  const std::string& host_id() const { return opts_.host_id; }
  const std::string& address() const { return opts_.advertise; }
  std::int64_t generation() const { return generation_.load(); }
  const cluster_options& options() const { return opts_; }

  /// The directory of the host at `address` (connected on first use).
  expected<directory_actor> peer(const std::string& address);
  /// Forgets a peer whose connection failed.
  void drop_peer(const std::string& address);
  /// The directory of the host at `address`, as that host sent it with a
  /// lookup it forwarded here: later forwards to it go over that same
  /// connection instead of opening a second one between the two hosts
  /// (with TLS, CAF 0.17 then loses the route). Kept unless one is known.
  void learn_peer(const std::string& address, const directory_actor& dir);
  /// This host's own directory (ark-host's, once it serves), sent with the
  /// lookups it forwards.
  void set_directory(caf::actor dir);
  caf::actor directory() const;
  /// Releases the claim of `owner` at `epoch` soon (its activation here
  /// passivated, every commit of it durable), so the actor may move to the
  /// host it hashes to. Batched, on the renewal thread.
  void release_later(std::string owner, std::uint64_t epoch);

 private:
  cluster_node(caf::actor_system& sys, cluster_options opts, std::shared_ptr<kv::pg_backend> db,
               hooks h);
  void renew_loop();
  void watch_loop();
  void lose(const std::string& why);
  bool rejoin();

  caf::actor_system& sys_;
  cluster_options opts_;
  kv::pg_membership::options member_opts_;
  std::shared_ptr<kv::pg_backend> db_;
  hooks hooks_;
  std::unique_ptr<kv::pg_membership> member_;  // the renew thread's
  std::atomic<std::int64_t> generation_{0};
  std::atomic<bool> serving_{true};
  std::atomic<std::int64_t> deadline_ns_{0};  // steady clock

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<kv::member_row> members_;
  std::map<std::string, directory_actor> peers_;
  caf::actor own_directory_;
  std::vector<std::string> release_owners_;  // release_later, not yet sent
  std::vector<std::uint64_t> release_epochs_;
  std::mutex peer_connect_mu_;

  std::thread renewer_, watchdog_;
};

/// The rendezvous score of (host id, identity): the live member with the
/// highest score is an identity's preferred host.
std::uint64_t rendezvous_score(const std::string& host, const std::string& encoded);

}  // namespace detail
}  // namespace ark
