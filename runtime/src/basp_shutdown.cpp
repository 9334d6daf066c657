#include "basp_shutdown.hpp"

#include <thread>

#include <caf/actor_system.hpp>
#include <caf/detail/sync_request_bouncer.hpp>
#include <caf/io/basp_broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scheduled_actor.hpp>

namespace ark::detail {

void basp_shutdown_hook::init(caf::actor_system& sys) {
  sys_ = &sys;
}

void basp_shutdown_hook::thread_started() {
  // nop
}

void basp_shutdown_hook::thread_terminates() {
  // Only the multiplexer's thread, which ends inside middleman::stop: the
  // main thread waits in its join, so named_brokers_ is not being changed
  // and "BASP" is found, not spawned.
  if (sys_ == nullptr || !sys_->has_middleman()) return;
  auto& mm = sys_->middleman();
  if (mm.backend().thread_id() != std::this_thread::get_id()) return;
  auto hdl = mm.named_broker<caf::io::basp_broker>(caf::atom("BASP"));
  auto* self = static_cast<caf::scheduled_actor*>(caf::actor_cast<caf::abstract_actor*>(hdl));
  if (self == nullptr || !self->getf(caf::abstract_actor::is_terminated_flag)) return;
  auto& box = self->mailbox();
  if (box.closed()) return;
  // What scheduled_actor::cleanup does with a mailbox; this thread was the
  // broker's only reader.
  box.close();
  self->get_normal_queue().flush_cache();
  self->get_urgent_queue().flush_cache();
  caf::detail::sync_request_bouncer bounce{caf::make_error(caf::exit_reason::user_shutdown)};
  while (box.queue().new_round(1000, bounce).consumed_items) {
  }
}

}  // namespace ark::detail
