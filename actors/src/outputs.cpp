// Outputs released by whichever thread learns that they may leave: the actor
// itself when nothing it submitted is pending, else the host's writer right
// after the commit (doc/architecture.md, "Output gate").

#include <caf/all.hpp>

#include "ark/detail/handler_stats.hpp"
#include "ark/detail/host.hpp"
#include "ark/errors.hpp"

namespace ark::detail {

namespace {

// Turns request `o` into `e` as the response to its own sender (whose error
// callback runs).
void answer_requester(detached_output& o, caf::error e) {
  o.what = detached_output::kind::reply;
  o.dest = std::move(o.sender);
  o.mid = o.mid.response_id();
  o.stages.clear();
  o.content = caf::make_message(std::move(e));
}

// What a request's error callback gets when the message that made it was
// rolled back (its handler failed, or its commit did), so the request never
// left: rolled_back, naming the cause.
caf::error rolled_back_error(const caf::error& cause) {
  auto c = from_caf(cause);
  // A commit that failed (commit_failed names its cause; storage_failed is
  // the engine refusing every write) versus a handler that failed.
  std::string why = c == errc::commit_failed    ? "its commit failed: " + c.context()
                    : c == errc::storage_failed ? "its commit failed: " + c.summary()
                                                : c.summary();
  return to_caf(errc::rolled_back,
                "the request was not sent: the message that made it was rolled back (" + why + ")");
}

}  // namespace

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
    answer_requester(*this, caf::make_error(caf::sec::invalid_argument));
    release();
    return;
  }
  if (!dest) return;
  if (stats) stats->record_wait(handler, static_cast<std::uint64_t>(stats_clock_ns() - ready_ns));
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
      // A reply that carries an error already was counted when it was made.
      if (stats && !content.match_elements<caf::error>()) stats->record_error(handler, e);
      content = caf::make_message(e);
      return;
    case kind::request:
      // The requester's own response handler gets rolled_back (caused by `e`).
      answer_requester(*this, rolled_back_error(e));
      return;
  }
}

}  // namespace ark::detail
