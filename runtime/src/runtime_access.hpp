#pragma once

// ark::testing's hooks into a runtime (declared in ark/testing.hpp). Not part
// of the public runtime header: production code has no use for them.

#include <set>
#include <string_view>

#include <caf/actor.hpp>
#include <caf/message.hpp>

#include "ark/detail/host.hpp"
#include "ark/expected.hpp"
#include "ark/kv/key.hpp"

namespace ark {
class runtime;
namespace detail {

struct route;
class cluster_node;

struct runtime_access {
  // While paused the writer commits nothing (units queue up).
  static void pause_commits(runtime& rt);
  static void resume_commits(runtime& rt);
  // No commit runs or waits (writer::idle).
  static bool commits_idle(runtime& rt);
  // How many idle actors dropped their state but stayed (detail::host::
  // soft_passivated).
  static std::uint64_t soft_passivations(runtime& rt);
  // The next shutdown leaves the state journal un-checkpointed.
  static void skip_checkpoint_at_stop(runtime& rt);
  // A lookup for ark-host's directory (cluster.hpp): the local actor, or
  // the cluster host to forward it to (never with may_forward false).
  static expected<route> route_lookup(runtime& rt, std::string_view type, const ark::key& k,
                                      caf::message init, const std::set<std::string>& iface,
                                      lookup_mode mode, bool may_forward);
  // The host a lookup was forwarded to along `r` did not answer (`why`):
  // claims the actor here when `r` only followed the placement hint, else
  // owner_unreachable naming that host.
  static expected<caf::actor> after_failed_forward(runtime& rt, const route& r,
                                                   std::string_view type, const ark::key& k,
                                                   caf::message init, lookup_mode mode,
                                                   const error& why);
  // The runtime's cluster membership, or null.
  static cluster_node* cluster(runtime& rt);
};

}  // namespace detail
}  // namespace ark
