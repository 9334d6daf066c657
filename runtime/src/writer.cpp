#include "writer.hpp"

#include <string_view>

#include <caf/all.hpp>

#include "ark/detail/actor_core.hpp"
#include "ark/errors.hpp"

namespace ark::detail {

writer::writer(options opts) : opts_(std::move(opts)) {
  thread_ = std::thread([this] { run(); });
}

writer::~writer() {
  stop();
}

void writer::submit(commit_unit unit) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    queue_.push_back(std::move(unit));
  }
  cv_.notify_one();
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

void writer::run() {
  std::vector<commit_unit> units;
  auto last_sync = std::chrono::steady_clock::now();
  for (;;) {
    {
      std::unique_lock<std::mutex> lock{mtx_};
      auto ready = [&] { return stopping_ || (!paused_ && !queue_.empty()); };
      if (opts_.periodic_sync)
        cv_.wait_for(lock, opts_.sync_interval, ready);
      else
        cv_.wait(lock, ready);
      if (!paused_) units.swap(queue_);
      if (stopping_ && units.empty() && queue_.empty()) break;
    }
    if (!units.empty()) {
      commit(units);
      units.clear();
    }
    if (opts_.periodic_sync && dirty_ &&
        std::chrono::steady_clock::now() - last_sync >= opts_.sync_interval) {
      if (auto r = opts_.periodic_sync(); !r && opts_.log)
        opts_.log("periodic sync failed: " + r.error().message());
      dirty_ = false;
      last_sync = std::chrono::steady_clock::now();
    }
  }
  if (opts_.periodic_sync && dirty_) {
    if (auto r = opts_.periodic_sync(); !r && opts_.log)
      opts_.log("final sync failed: " + r.error().message());
  }
}

expected<std::uint64_t> writer::apply(std::vector<commit_unit*>& units) {
  kv::backend_batch batch;
  // Coalescing: only the last snapshot of each actor in the batch is written.
  std::unordered_map<std::string_view, const commit_unit*> latest;
  for (auto* u : units) {
    if (!u->kv.ops.empty()) batch.append(u->kv);
    if (u->snapshot) latest[u->state_key] = u;
  }
  if (!latest.empty()) {
    auto& group = batch.for_space(state_space());
    group.ops.reserve(latest.size());
    for (auto& [key, u] : latest)
      group.ops.push_back(kv::write_op{kv::write_op::kind::put, u->state_key, *u->snapshot});
  }
  auto r = opts_.backend->apply(batch);
  if (r) stats_.snapshots += latest.size();
  return r;
}

void writer::notify(const commit_unit& u, const caf::error& err) {
  caf::anon_send(u.target, commit_atom::value, u.seq, u.epoch, err);
}

void writer::commit(std::vector<commit_unit>& all) {
  std::vector<commit_unit*> units;
  units.reserve(all.size());
  for (auto& u : all) {
    auto it = failed_epochs_.find(u.target.id());
    if (it != failed_epochs_.end()) {
      if (u.epoch <= it->second) {
        ++stats_.failed_units;
        notify(u, to_caf(errc::commit_failed, "an earlier commit of this actor failed"));
        continue;
      }
      failed_epochs_.erase(it);
    }
    units.push_back(&u);
  }
  if (units.empty()) return;
  auto r = apply(units);
  if (r) {
    ++stats_.commits;
    stats_.units += units.size();
    dirty_ = true;
    // One notification per actor: its highest unit in the batch.
    std::unordered_map<caf::actor_id, const commit_unit*> last;
    for (auto* u : units) last[u->target.id()] = u;
    for (auto& [id, u] : last) notify(*u, caf::error{});
    return;
  }
  if (opts_.log)
    opts_.log("commit of " + std::to_string(units.size()) +
              " unit(s) failed: " + r.error().message());
  // Find the culprits: commit unit by unit, in order. An actor whose unit
  // fails gets none of its later units committed.
  std::unordered_map<caf::actor_id, caf::error> failed;
  for (auto* u : units) {
    auto id = u->target.id();
    if (auto f = failed.find(id); f != failed.end()) {
      ++stats_.failed_units;
      notify(*u, f->second);
      continue;
    }
    expected<std::uint64_t> one = r;
    if (units.size() > 1) {
      std::vector<commit_unit*> single{u};
      one = apply(single);
    }
    if (one) {
      ++stats_.commits;
      ++stats_.units;
      dirty_ = true;
      notify(*u, caf::error{});
    } else {
      auto err = to_caf(errc::commit_failed, one.error().message());
      failed.emplace(id, err);
      failed_epochs_[id] = u->epoch;
      ++stats_.failed_units;
      notify(*u, err);
    }
  }
}

}  // namespace ark::detail
