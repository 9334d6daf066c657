#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "ark/detail/host.hpp"
#include "ark/detail/journal.hpp"
#include "ark/kv/backend.hpp"

namespace ark::detail {

/// The group-commit writer: one thread that takes every unit queued since its
/// last commit, writes them in one backend transaction (snapshots of the same
/// actor coalesced into one write), then releases the outputs that waited on
/// them (replies, sends, requests) and publishes each actor's durable seq. It starts the next commit as soon as the previous one
/// finished: a lone unit pays one commit, a busy host amortizes one commit
/// over everything that queued meanwhile.
class writer {
 public:
  struct options {
    std::shared_ptr<kv::backend> backend;
    /// Called every `sync_interval` when commits happened since the last call
    /// (durability none); empty: never.
    std::function<expected<void>()> periodic_sync;
    std::chrono::milliseconds sync_interval{1000};
    /// Small snapshots go to this journal (null: every snapshot in place).
    std::shared_ptr<snapshot_journal> journal;
    /// A checkpoint runs once this many bytes of journal records accumulated,
    /// and whenever the writer was idle for `checkpoint_idle`.
    std::size_t checkpoint_bytes = 16u << 20;
    std::chrono::milliseconds checkpoint_idle{1000};
    std::function<void(const std::string&)> log;
    /// Called once, from the committing thread, when the backend reports
    /// storage_failed (it will refuse every later commit).
    std::function<void(const error&)> on_storage_failure;
    /// Called after a commit that scheduled alarms, with the earliest due
    /// time (ms since the epoch) among them (the alarm dispatcher wakes).
    std::function<void(std::int64_t)> on_alarm_scheduled;
  };

  static constexpr std::size_t latency_buckets = 32;
  struct stats {
    std::atomic<std::uint64_t> commits{0};
    std::atomic<std::uint64_t> units{0};
    std::atomic<std::uint64_t> failed_units{0};
    std::atomic<std::uint64_t> snapshots{0};
    std::atomic<std::uint64_t> commit_us{0};
    std::atomic<std::uint64_t> checkpoints{0};
    /// Commit (write transaction) latencies: bucket i counts commits that
    /// took [2^i, 2^(i+1)) microseconds (bucket 0 also holds 0 us).
    std::array<std::atomic<std::uint64_t>, latency_buckets> latency{};
  };

  explicit writer(options opts);
  ~writer();

  void submit(commit_unit unit);
  /// Commits everything queued, then stops the thread. Idempotent.
  void stop();
  void pause();
  // The writer's thread leaves the journal un-checkpointed when it stops,
  // as a crash would (ark::testing::skip_checkpoint_at_stop).
  void skip_checkpoint_at_stop() { checkpoint_at_stop_ = false; }
  void resume();
  /// No commit runs and none waits to run (queued units of a paused writer
  /// do not count): every unit handed in so far has let go of its actor.
  bool idle() const;
  const stats& counters() const { return stats_; }
  /// While set, every unit fails with `err` unapplied, and its actor is told
  /// (it quits, as a fenced one does): a cluster host that lost its lease
  /// commits nothing and releases no output. An empty error commits again.
  void set_refusal(caf::error err);

 private:
  void run();
  void commit(std::vector<commit_unit>& units);
  // Applies `units` in one transaction; the units whose fence failed (their
  // actor was claimed by another process) go to `fenced`, unapplied.
  expected<std::uint64_t> apply(std::vector<commit_unit*>& units, bool coalesce,
                                std::vector<commit_unit*>& fenced);
  void notify(const commit_unit& u, const caf::error& err);
  // backend->apply, its time added to stats_.commit_us.
  expected<std::uint64_t> timed_apply(const kv::backend_batch& batch);
  expected<kv::apply_result> timed_apply_fenced(const kv::backend_batch& batch);
  void record_commit(std::chrono::steady_clock::time_point t0, const error& e);
  // A unit whose fence failed: its outputs and its actor get errc::fenced,
  // and later units of its epoch are refused.
  void fail_fenced(commit_unit& u);
  // A unit its actor's activation may no longer commit: its outputs and its
  // actor get `err`, and later units of its epoch are refused.
  void disown(commit_unit& u, const caf::error& err);
  // Writes the journaled snapshots in place and clears the journal.
  void checkpoint();
  // A durable unit: release its outputs, publish durability, wake the actor
  // if it asked.
  void settle(commit_unit& u);
  // A unit that will never be durable: its outputs get `err`.
  void refuse(commit_unit& u, const caf::error& err);

  options opts_;
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<commit_unit> queue_;
  // Scratch of commit() and of an inline commit, reused (busy_ lets one
  // commit run at a time, on the writer thread or an actor's).
  std::vector<commit_unit*> batch_units_;
  std::vector<commit_unit> inline_units_;
  // apply()'s lists: the units whose snapshots are written, the journal
  // index updates, the snapshots written in place.
  std::vector<commit_unit*> scratch_snapshot_from_;
  std::vector<snapshot_journal::update> scratch_updates_;
  std::vector<commit_unit*> scratch_in_place_;
  bool stopping_ = false;
  bool paused_ = false;
  std::atomic<bool> checkpoint_at_stop_{true};
  // A commit runs (on the writer thread, or inline on a submitter's thread):
  // the committing state below is used by one thread at a time.
  bool busy_ = false;
  bool checkpoint_wanted_ = false;
  std::size_t last_batch_ = 0;
  std::chrono::steady_clock::time_point last_commit_end_{};
  bool dirty_ = false;  // commits since the last periodic sync
  std::atomic<bool> storage_failed_{false};
  std::atomic<bool> refusing_{false};  // set_refusal: refusal_ under mtx_
  caf::error refusal_;
  std::chrono::steady_clock::time_point checkpoint_retry_{};  // after a failed checkpoint
  stats stats_;
  std::thread thread_;
};

}  // namespace ark::detail
