// Outputs released by whichever thread learns that they may leave: the actor
// itself when nothing it submitted is pending, else the host's writer right
// after the commit (doc/architecture.md, "Output gate").

#include <caf/all.hpp>

#include "ark/detail/host.hpp"

namespace ark::detail {

detached_output detached_output::send(caf::strong_actor_ptr dest, caf::message content) {
  detached_output o;
  o.what = kind::send;
  o.dest = std::move(dest);
  o.mid = caf::make_message_id(caf::message_priority::normal);
  o.content = std::move(content);
  return o;
}

detached_output detached_output::request(caf::strong_actor_ptr dest, caf::strong_actor_ptr self,
                                         caf::message_id req_id, caf::message content) {
  detached_output o;
  o.what = kind::request;
  o.dest = std::move(dest);
  o.sender = std::move(self);
  o.mid = req_id;
  o.content = std::move(content);
  return o;
}

void detached_output::release() {
  if (what == kind::request && !dest) {
    // As CAF does for a request to an invalid handle.
    fail(caf::make_error(caf::sec::invalid_argument));
    return;
  }
  if (!dest) return;
  // As CAF: no empty reply to a message that was not a request.
  if (what == kind::reply && mid.is_async() && content.empty()) return;
  auto receiver = std::move(dest);
  // No execution unit: the enqueue may run on any thread (the writer's).
  receiver->enqueue(caf::make_mailbox_element(std::move(sender), mid, std::move(stages),
                                              std::move(content)),
                    nullptr);
}

void detached_output::make_failure(const caf::error& e) {
  switch (what) {
    case kind::send:
      dest = nullptr;
      content = caf::message{};
      return;
    case kind::reply:
      content = caf::make_message(e);
      return;
    case kind::request:
      // The requester's own response handler gets `e`.
      what = kind::reply;
      dest = std::move(sender);
      mid = mid.response_id();
      stages.clear();
      content = caf::make_message(e);
      return;
  }
}

}  // namespace ark::detail
