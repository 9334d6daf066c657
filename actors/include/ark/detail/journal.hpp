#pragma once

// The state journal: how snapshots reach the disk cheaply (doc/state_format.md,
// doc/architecture.md "State journal").
//
// A group commit of N small snapshots written in place dirties up to N
// B-tree leaf pages (4 KiB each, scattered by the keys). Instead, the writer
// appends one record holding all of them to the journal space, under an
// increasing sequence number: a few contiguous pages per commit. From time to
// time a checkpoint writes the latest snapshot of every journaled actor in
// place and clears the journal, in one transaction. Readers take an actor's
// snapshot from the journal when it holds one, else from the state space.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ark/expected.hpp"
#include "ark/kv/backend.hpp"
#include "ark/stored_format.hpp"

namespace ark::detail {

// The journal's space and record are stored formats (ark/stored_format.hpp).
using stored::decode_journal_record;
using stored::journal_entry;
using stored::journal_max_snapshot;
using stored::journal_record;
using stored::journal_space;

/// The snapshots in the journal (committed, not yet checkpointed into the
/// state space), newest per actor. Thread-safe: the writer publishes a
/// commit's snapshots before it releases the commit's outputs; activations
/// read through get().
class snapshot_journal {
 public:
  /// Replays the journal of `b` (what a previous run did not checkpoint).
  static expected<std::shared_ptr<snapshot_journal>> load(kv::backend& b);

  /// The latest stored snapshot of `state_key`: the journal's if it holds
  /// one, else the state space's (not_found if neither).
  expected<std::string> get(kv::backend& b, std::string_view state_key) const;

  /// The state keys the journal holds a snapshot for, with its size, in no
  /// particular order (readers list actors as the union of these and the
  /// state space).
  std::vector<std::pair<std::string, std::size_t>> journaled() const;

  // -- used by the writer thread ---------------------------------------------

  /// The key of the next record.
  std::string next_key() const;
  /// Where an actor's entry sits in the journal's index, kept by the writer
  /// per activation (commit_channel) so that publishing its next snapshot
  /// skips the lookup. Valid while `generation` is the journal's: entries
  /// only move when the index drops some (a checkpoint, an in-place write).
  struct slot {
    std::string* value = nullptr;
    std::uint64_t generation = 0;
  };
  /// One entry of a committed record: the actor's new snapshot (moved into
  /// the journal), or null when it was written in place; `where` (may be
  /// null) caches the actor's entry.
  struct update {
    const std::string* key;
    std::string* snapshot;
    slot* where = nullptr;
  };
  /// The record with these entries, `record_bytes` long, was committed.
  void publish(const std::vector<update>& updates, std::size_t record_bytes);
  /// True when a checkpoint is due (`bytes` of records, or many actors).
  bool due(std::size_t bytes) const;
  bool empty() const;
  /// Fills `batch` with the checkpoint: every journaled snapshot written in
  /// place, and the journal cleared.
  void checkpoint_batch(kv::backend_batch& batch) const;
  /// The checkpoint committed: the journal is empty now.
  void checkpointed();

 private:
  mutable std::mutex mtx_;
  // The snapshots, the next record number and the record bytes since the
  // last checkpoint.
  stored::journal_contents contents_;
  // Renewed whenever entries of contents_.snapshots are dropped: every
  // cached slot of another generation is stale. Unique across journals
  // (new_generation), so a slot never matches a journal it did not come from.
  static std::uint64_t new_generation();
  std::uint64_t generation_ = new_generation();
};

}  // namespace ark::detail
