#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/error.hpp>

#include "ark/detail/host.hpp"

namespace ark::detail {

/// The output gate of one activation (doc/architecture.md, "Output gate"):
/// numbers the units the actor submits, knows which are durable (the
/// commit_channel the writer updates), and holds the current message's
/// outputs (replies, sends, requests, promise deliveries) until they may
/// leave: at once when nothing is pending, else with a unit behind the
/// pending ones. After a failed commit the epoch moves on and every unit
/// submitted until then counts as resolved. Used from the actor's thread,
/// except the channel (shared with the host's writer).
class output_gate {
 public:
  explicit output_gate(std::string state_key) { channel_.state_key = std::move(state_key); }
  output_gate(const output_gate&) = delete;
  output_gate& operator=(const output_gate&) = delete;

  /// Queues an output of the current message (an empty one is ignored).
  void add(detached_output o) {
    if (!o.empty()) outputs_.push_back(std::move(o));
  }
  bool has_outputs() const { return !outputs_.empty(); }
  /// Turns the queued outputs into their failure form: error replies and
  /// error responses for requests; sends are dropped.
  void fail_outputs(const caf::error& e);
  /// Drops the queued outputs (a creation that failed before any left).
  void drop_outputs() { outputs_.clear(); }
  /// Releases the queued outputs now, in order (nothing is pending).
  void release_outputs();
  /// Moves the queued outputs into `unit`, after the unit's own (its state
  /// notifications).
  void attach_outputs(commit_unit& unit);

  /// Numbers `unit` as the next unit of this activation (`target` gets the
  /// writer's commit notifications).
  void start_unit(commit_unit& unit, caf::actor target) {
    unit.target = std::move(target);
    unit.channel = &channel_;
    unit.seq = ++submitted_seq_;
    unit.epoch = epoch_;
    unit.fence_epoch = fence_epoch_;
  }
  /// The claim epoch that fences the units started from now on (0: none).
  void set_fence_epoch(std::uint64_t e) { fence_epoch_ = e; }
  /// Units submitted and neither durable nor known to have failed.
  bool pending() const {
    auto done = std::max(durable(), resolved_seq_);
    return submitted_seq_ > done;
  }
  /// The highest seq the writer made durable (and released the outputs of).
  std::uint64_t durable() const { return channel_.durable.load(std::memory_order_acquire); }
  /// Milliseconds since the epoch of the last durable commit (0: none yet).
  std::int64_t last_commit_ms() const {
    return channel_.last_commit_ms.load(std::memory_order_relaxed);
  }

  /// The generation of the units submitted now; a commit notification of
  /// another epoch is stale.
  std::uint64_t epoch() const { return epoch_; }
  /// A commit of this epoch failed: every unit submitted so far is resolved
  /// (the writer fails their outputs) and a new epoch begins.
  void fail_epoch() {
    ++epoch_;
    resolved_seq_ = submitted_seq_;
  }

  /// True when a wake-up unit (notify) is worth submitting: units are pending
  /// and none of them asked for a notification yet.
  bool wake_wanted() const { return pending() && wake_seq_ != submitted_seq_; }
  /// Records that `unit` (just started) asks for a notification.
  void mark_wake(commit_unit& unit) {
    unit.notify = true;
    wake_seq_ = unit.seq;
  }

 private:
  commit_channel channel_;
  std::uint64_t submitted_seq_ = 0;
  std::uint64_t resolved_seq_ = 0;  // units up to here failed (or were refused)
  std::uint64_t wake_seq_ = 0;      // the last unit submitted with notify
  std::uint64_t epoch_ = 0;
  std::uint64_t fence_epoch_ = 0;
  std::vector<detached_output> outputs_;  // of the current message
};

}  // namespace ark::detail
