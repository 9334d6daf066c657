#include "writer.hpp"

#include <algorithm>
#include <string_view>
#include <unordered_map>

#include <caf/all.hpp>

#include "ark/detail/actor_core.hpp"
#include "ark/errors.hpp"
#include "ark/kv/json.hpp"
#include "ark/kv/key.hpp"

namespace ark::detail {

namespace {

// With sync or relaxed durability, a unit is committed on its submitter's
// thread when the writer's last commit held a single unit and ended at least
// this long ago (doc/architecture.md). With none, a commit is too cheap for
// the saved hand-off to matter, and inline commits would shrink the batches.
constexpr std::chrono::microseconds inline_after_quiet{20};

// What the outputs of a unit get when an earlier unit of its actor failed.
caf::error earlier_failure() {
  return to_caf(errc::commit_failed, "an earlier commit of this actor failed");
}

// The actor whose encoded identity is `state_key`, for messages.
std::string describe_state_key(const std::string& state_key) {
  auto k = ark::decode_key(state_key);
  return k ? kv::key_to_json_text(*k) : ark::to_hex(state_key);
}

}  // namespace

writer::writer(options opts) : opts_(std::move(opts)) {
  // What the last run left in the journal goes in place first.
  checkpoint_wanted_ = opts_.journal && !opts_.journal->empty();
  thread_ = std::thread([this] { run(); });
}

writer::~writer() {
  stop();
}

void writer::submit(commit_unit unit) {
  {
    std::unique_lock<std::mutex> lock{mtx_};
    // Only when the host is quiet: the last commit held one unit and ended a
    // while ago. Under load, inline commits would block actor threads and
    // shrink the batches.
    bool quiet = !opts_.periodic_sync && last_batch_ <= 1 &&
                 std::chrono::steady_clock::now() - last_commit_end_ >= inline_after_quiet;
    if (!(quiet && queue_.empty() && !busy_ && !paused_ && !stopping_)) {
      queue_.push_back(std::move(unit));
      lock.unlock();
      cv_.notify_one();
      return;
    }
    // Nothing queued and no commit running: commit on the caller's thread
    // (an actor's), saving the hand-off to the writer thread and back. What
    // others submit meanwhile queues for the writer thread.
    busy_ = true;
  }
  // inline_units_ is this commit's alone: busy_ keeps every other commit out.
  inline_units_.push_back(std::move(unit));
  commit(inline_units_);
  inline_units_.clear();
  bool checkpoint_due = opts_.journal && opts_.journal->due(opts_.checkpoint_bytes);
  bool wake = false;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    busy_ = false;
    last_batch_ = 1;
    last_commit_end_ = std::chrono::steady_clock::now();
    if (checkpoint_due) checkpoint_wanted_ = true;
    // The writer thread only has work if units queued while this commit ran
    // (or a checkpoint is due, or it must stop): waking it for nothing costs
    // a futex call here and a context switch beside the next request.
    wake = !queue_.empty() || checkpoint_wanted_ || stopping_;
  }
  if (wake) cv_.notify_one();
}

void writer::stop() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopping_ = true;
    paused_ = false;
  }
  cv_.notify_one();
  if (thread_.joinable()) {
    if (thread_.get_id() == std::this_thread::get_id())
      thread_.detach();
    else
      thread_.join();
  }
  opts_.backend.reset();  // lets the owner close the data directory
  opts_.periodic_sync = nullptr;
}

void writer::pause() {
  std::lock_guard<std::mutex> guard{mtx_};
  paused_ = true;
}

void writer::resume() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    paused_ = false;
  }
  cv_.notify_one();
}

bool writer::idle() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return !busy_ && (paused_ || queue_.empty());
}

void writer::run() {
  std::vector<commit_unit> units;
  auto last_sync = std::chrono::steady_clock::now();
  for (;;) {
    bool idle = false;
    bool checkpoint_now = false;
    {
      std::unique_lock<std::mutex> lock{mtx_};
      auto ready = [&] {
        return !busy_ && (stopping_ || checkpoint_wanted_ || (!paused_ && !queue_.empty()));
      };
      bool journal_waiting = opts_.journal && !opts_.journal->empty();
      if (opts_.periodic_sync || journal_waiting) {
        auto wait = opts_.periodic_sync ? opts_.sync_interval : opts_.checkpoint_idle;
        if (journal_waiting) wait = std::min(wait, opts_.checkpoint_idle);
        idle = !cv_.wait_for(lock, wait, ready);
        // Timed out while an inline commit runs: that is not idleness.
        if (busy_) continue;
      } else {
        cv_.wait(lock, ready);
      }
      if (!paused_) units.swap(queue_);
      if (stopping_ && units.empty() && queue_.empty()) break;
      checkpoint_now = checkpoint_wanted_;
      checkpoint_wanted_ = false;
      busy_ = true;  // inline commits wait until this batch is done
    }
    std::size_t batch = units.size();
    if (!units.empty()) {
      commit(units);
      units.clear();
    }
    if (opts_.journal && !opts_.journal->empty() &&
        (idle || checkpoint_now || opts_.journal->due(opts_.checkpoint_bytes)) &&
        std::chrono::steady_clock::now() >= checkpoint_retry_)
      checkpoint();
    if (opts_.periodic_sync && dirty_ &&
        std::chrono::steady_clock::now() - last_sync >= opts_.sync_interval) {
      if (auto r = opts_.periodic_sync(); !r && opts_.log)
        opts_.log("periodic sync failed: " + r.error().message());
      dirty_ = false;
      last_sync = std::chrono::steady_clock::now();
    }
    {
      std::lock_guard<std::mutex> guard{mtx_};
      busy_ = false;
      if (batch > 0) {
        last_batch_ = batch;
        last_commit_end_ = std::chrono::steady_clock::now();
      }
    }
  }
  if (opts_.journal && checkpoint_at_stop_ && !opts_.journal->empty()) checkpoint();
  if (opts_.periodic_sync && dirty_) {
    if (auto r = opts_.periodic_sync(); !r && opts_.log)
      opts_.log("final sync failed: " + r.error().message());
  }
}

expected<kv::apply_result> writer::timed_apply_fenced(const kv::backend_batch& batch) {
  auto t0 = std::chrono::steady_clock::now();
  auto r = opts_.backend->apply_fenced(batch);
  record_commit(t0, r ? error{} : r.error());
  return r;
}

expected<std::uint64_t> writer::timed_apply(const kv::backend_batch& batch) {
  auto t0 = std::chrono::steady_clock::now();
  auto r = opts_.backend->apply(batch);
  record_commit(t0, r ? error{} : r.error());
  return r;
}

void writer::record_commit(std::chrono::steady_clock::time_point t0, const error& e) {
  auto us = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count());
  stats_.commit_us += us;
  std::size_t bucket = 0;
  while (bucket + 1 < latency_buckets && (us >> (bucket + 1)) != 0) ++bucket;
  stats_.latency[bucket].fetch_add(1, std::memory_order_relaxed);
  if (e == errc::storage_failed && !storage_failed_.exchange(true)) {
    if (opts_.log) opts_.log("storage failed: " + e.message());
    if (opts_.on_storage_failure) opts_.on_storage_failure(e);
  }
}

void writer::checkpoint() {
  kv::backend_batch batch;
  opts_.journal->checkpoint_batch(batch);
  auto r = timed_apply(batch);
  if (r) {
    opts_.journal->checkpointed();
    ++stats_.checkpoints;
    dirty_ = true;
    return;
  }
  // The journal keeps every snapshot (it stays the newest copy); try again
  // later rather than after every commit.
  checkpoint_retry_ = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  if (opts_.log) opts_.log("checkpoint of the state journal failed: " + r.error().message());
}

expected<std::uint64_t> writer::apply(std::vector<commit_unit*>& units, bool coalesce,
                                      std::vector<commit_unit*>& fenced) {
  // The units' bytes move into the batch (no copies) and move back if the
  // commit fails, for the unit-by-unit retry. Where each group came from:
  struct source {
    commit_unit* unit;
    enum { kv, extra, snapshot } what;
    std::size_t index;  // extra: which one
  };
  kv::backend_batch batch;
  std::vector<source> sources;  // one per group of `batch`, in order
  // On a shared backend each activation's writes are fenced by its claim:
  // one fence per (actor, claim) in the batch. `fence_ids` maps units to
  // their fence for the result; the map finds an actor's fence in O(1).
  std::vector<std::pair<commit_unit*, std::uint32_t>> fence_ids;
  std::unordered_map<const commit_channel*, std::pair<std::uint64_t, std::uint32_t>> fence_of_actor;
  auto fence_of = [&](commit_unit* u) -> std::uint32_t {
    if (u->fence_epoch == 0) return 0;
    auto [it, fresh] = fence_of_actor.try_emplace(u->channel, u->fence_epoch, 0);
    if (fresh || it->second.first != u->fence_epoch)
      it->second = {u->fence_epoch, batch.add_fence(u->channel->state_key, u->fence_epoch)};
    return it->second.second;
  };
  // Scratch lists reused from call to call (one apply runs at a time, and
  // nothing reads them once it returned): no allocation per commit.
  auto& snapshot_from = scratch_snapshot_from_;
  auto& updates = scratch_updates_;
  auto& in_place = scratch_in_place_;
  snapshot_from.clear();
  updates.clear();
  in_place.clear();
  for (auto* u : units) {
    auto fence = fence_of(u);
    if (fence != 0) fence_ids.emplace_back(u, fence);
    if (!u->kv.ops.empty()) {
      u->kv.fence = fence;
      batch.append(std::move(u->kv));
      sources.push_back({u, source::kv, 0});
    }
    for (std::size_t i = 0; i < u->extra.size(); ++i) {
      u->extra[i].fence = fence;
      batch.append(std::move(u->extra[i]));
      sources.push_back({u, source::extra, i});
    }
    // Coalescing: only the last snapshot of each actor in the batch is written.
    if (u->snapshot && (!coalesce || u->seq == u->channel->last_snapshot_in_batch))
      snapshot_from.push_back(u);
  }
  // Small snapshots go to one journal record (a few contiguous pages), large
  // ones in place (they fill pages of their own anyway). Fenced ones go in
  // place, each in a group of its own (a shared backend keeps no journal).
  journal_record record;
  for (auto* u : snapshot_from) {
    const auto& key = u->channel->state_key;
    if (auto fence = fence_of(u); fence != 0) {
      kv::space_writes g{std::string(state_space()), {}, fence};
      g.ops.push_back(kv::write_op{kv::write_op::kind::put, key, std::move(*u->snapshot)});
      batch.append(std::move(g));
      sources.push_back({u, source::snapshot, 0});
    } else if (opts_.journal && u->snapshot->size() <= journal_max_snapshot) {
      record.add(journal_entry::snapshot, key, *u->snapshot);
      updates.push_back({&key, &*u->snapshot, &u->channel->journal_slot});
    } else {
      in_place.push_back(u);
      if (opts_.journal) {
        record.add(journal_entry::in_table, key, {});
        updates.push_back({&key, nullptr});
      }
    }
  }
  if (!in_place.empty()) {
    kv::space_writes group{std::string(state_space()), {}, 0};
    group.ops.reserve(in_place.size());
    for (auto* u : in_place)
      group.ops.push_back(
          kv::write_op{kv::write_op::kind::put, u->channel->state_key, std::move(*u->snapshot)});
    batch.append(std::move(group));
    sources.push_back({in_place.front(), source::snapshot, 0});
  }
  std::size_t record_bytes = record.bytes().size();
  if (!record.empty())
    batch.put(journal_space(), opts_.journal->next_key(), std::move(record.bytes()));
  expected<std::uint64_t> r{0};
  if (batch.fences().empty()) {
    r = timed_apply(batch);
  } else {
    auto f = timed_apply_fenced(batch);
    if (f) {
      r = f->removed;
      for (auto id : f->fenced)
        for (const auto& [u, fid] : fence_ids)
          if (fid == id) fenced.push_back(u);
    } else {
      r = f.error();
    }
  }
  if (r) {
    // Snapshots of fenced actors were not written.
    std::size_t written = snapshot_from.size();
    if (!fenced.empty())
      for (auto* u : snapshot_from)
        if (std::find(fenced.begin(), fenced.end(), u) != fenced.end()) --written;
    stats_.snapshots += written;
    // Before any output of these units leaves: a reader that sees them
    // durable finds their snapshots.
    if (opts_.journal && !updates.empty()) opts_.journal->publish(updates, record_bytes);
    return r;
  }
  // Give the bytes back, group by group.
  auto& groups = batch.groups();
  for (std::size_t g = 0; g < sources.size(); ++g) {
    auto& src = sources[g];
    if (src.what == source::kv) {
      src.unit->kv = std::move(groups[g]);
    } else if (src.what == source::extra) {
      src.unit->extra[src.index] = std::move(groups[g]);
    } else if (groups[g].fence != 0) {
      src.unit->snapshot = std::move(groups[g].ops[0].value);
    } else {
      // The shared group of unfenced in-place snapshots.
      for (std::size_t i = 0; i < in_place.size(); ++i)
        in_place[i]->snapshot = std::move(groups[g].ops[i].value);
    }
  }
  return r;
}

void writer::notify(const commit_unit& u, const caf::error& err) {
  caf::anon_send(u.target, commit_atom::value, u.seq, u.epoch, err);
}

void writer::settle(commit_unit& u) {
  // Outputs first, then `durable`: an actor that sees its units durable may
  // reply directly without overtaking what waited on them.
  for (auto& o : u.outputs) o.release();
  auto* c = u.channel;
  if (u.seq != c->last_in_batch) return;
  c->durable.store(u.seq, std::memory_order_release);
  c->last_commit_ms.store(std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count(),
                          std::memory_order_relaxed);
  if (c->notify_in_batch) notify(u, caf::error{});
}

void writer::refuse(commit_unit& u, const caf::error& err) {
  ++stats_.failed_units;
  for (auto& o : u.outputs) o.fail(err);
}

void writer::fail_fenced(commit_unit& u) {
  disown(u, to_caf(error{errc::fenced,
                         "the commit of actor " + describe_state_key(u.channel->state_key) +
                             " was refused: another process claimed the actor after this "
                             "activation loaded it; the message had no effect"}));
}

void writer::disown(commit_unit& u, const caf::error& err) {
  auto* c = u.channel;
  c->failed = true;
  c->failed_epoch = u.epoch;
  notify(u, err);
  refuse(u, err);
}

void writer::set_refusal(caf::error err) {
  std::lock_guard<std::mutex> guard{mtx_};
  refusing_ = static_cast<bool>(err);
  refusal_ = std::move(err);
}

void writer::commit(std::vector<commit_unit>& all) {
  if (refusing_.load(std::memory_order_acquire)) {
    caf::error err;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      err = refusal_;
    }
    if (err) {
      for (auto& u : all) {
        if (u.channel->failed && u.epoch <= u.channel->failed_epoch)
          refuse(u, earlier_failure());
        else
          disown(u, err);
      }
      return;
    }
  }
  // Reused across commits (one runs at a time): no allocation per commit.
  auto& units = batch_units_;
  units.clear();
  units.reserve(all.size());
  for (auto& u : all) {
    auto* c = u.channel;
    if (c->failed) {
      if (u.epoch <= c->failed_epoch) {
        // The actor was told of the failure; it rolls back and starts a new epoch.
        refuse(u, earlier_failure());
        continue;
      }
      c->failed = false;
    }
    c->last_in_batch = 0;
    c->last_snapshot_in_batch = 0;
    c->notify_in_batch = false;
    units.push_back(&u);
  }
  if (units.empty()) return;
  bool writes = false;
  for (auto* u : units) {
    auto* c = u->channel;
    c->last_in_batch = u->seq;
    if (u->snapshot) c->last_snapshot_in_batch = u->seq;
    if (u->notify) c->notify_in_batch = true;
    writes = writes || u->has_writes();
  }
  // A batch of output-only units needs no transaction: everything its units
  // wait on was committed by an earlier batch.
  std::vector<commit_unit*> fenced;
  expected<std::uint64_t> r = writes ? apply(units, true, fenced) : expected<std::uint64_t>{0};
  if (r) {
    if (writes) {
      ++stats_.commits;
      dirty_ = true;
    }
    std::int64_t earliest = INT64_MAX;
    for (auto* u : units) {
      if (!fenced.empty() && std::find(fenced.begin(), fenced.end(), u) != fenced.end()) {
        fail_fenced(*u);
        continue;
      }
      if (u->has_writes()) ++stats_.units;  // output-only units are not message effects
      earliest = std::min(earliest, u->earliest_alarm);
      settle(*u);
    }
    if (earliest != INT64_MAX && opts_.on_alarm_scheduled) opts_.on_alarm_scheduled(earliest);
    return;
  }
  if (opts_.log)
    opts_.log("commit of " + std::to_string(units.size()) +
              " unit(s) failed: " + r.error().message());
  // Find the culprits: commit unit by unit, in order. An actor whose unit
  // fails gets none of its later units committed.
  for (auto* u : units) {
    auto* c = u->channel;
    if (c->failed) {
      refuse(*u, earlier_failure());
      continue;
    }
    expected<std::uint64_t> one{0};
    std::vector<commit_unit*> one_fenced;
    if (u->has_writes()) {
      if (units.size() > 1) {
        std::vector<commit_unit*> single{u};
        one = apply(single, false, one_fenced);
      } else {
        one = r;
      }
    }
    if (one && !one_fenced.empty()) {
      fail_fenced(*u);
    } else if (one) {
      if (u->has_writes()) {
        ++stats_.commits;
        ++stats_.units;
        dirty_ = true;
      }
      c->last_in_batch = u->seq;
      c->notify_in_batch = u->notify;
      settle(*u);
      if (u->earliest_alarm != INT64_MAX && opts_.on_alarm_scheduled)
        opts_.on_alarm_scheduled(u->earliest_alarm);
    } else {
      // One remedy: a stopped engine keeps storage_failed (its remedy is
      // to restart the host, not to retry); any other cause becomes
      // commit_failed with the cause's text as context and the cause's
      // remedy (free space, check the disk), which knows what to do.
      const auto& cause = one.error();
      auto err = cause == errc::storage_failed
                     ? to_caf(cause)
                     : to_caf(error{errc::commit_failed, cause.summary(),
                                    cause.remedy() + "; the message had no effect"});
      c->failed = true;
      c->failed_epoch = u->epoch;
      notify(*u, err);
      refuse(*u, err);
    }
  }
}

}  // namespace ark::detail
