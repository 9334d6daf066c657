#pragma once

// A thread hook that keeps CAF 0.17's BASP broker from leaking at shutdown.
//
// CAF 0.17.6's abstract_broker::cleanup calls local_actor::cleanup and skips
// scheduled_actor::cleanup, so a broker's mailbox is never closed when it
// terminates. With `middleman.heartbeat-interval` set (ark::client_config sets
// it), the BASP broker schedules a tick to itself every interval, with itself
// as the sender. A tick that arrives between the broker's termination (in
// middleman::stop) and the clock's stop (in the scheduler's stop) stays in
// the dead broker's mailbox and holds a reference to the broker: a cycle that
// is never freed. LeakSanitizer reports it as indirect leaks of the broker
// and everything it owns (CAF 0.18.x has the same cleanup).
//
// When the multiplexer's thread ends (after middleman::stop terminated the
// broker, before the scheduler stops), this hook closes the broker's mailbox
// and drops what is in it, as scheduled_actor::cleanup would have: later
// ticks are refused by the closed mailbox, and the cycle never forms.
// scripts/caf-basp-leak.cpp (doc/reliability.md, "Sanitizers") reproduces the
// leak with plain CAF.

#include <caf/thread_hook.hpp>

namespace ark::detail {

class basp_shutdown_hook : public caf::thread_hook {
 public:
  void init(caf::actor_system& sys) override;
  void thread_started() override;
  void thread_terminates() override;

 private:
  caf::actor_system* sys_ = nullptr;
};

}  // namespace ark::detail
