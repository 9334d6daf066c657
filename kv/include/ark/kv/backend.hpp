#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ark/expected.hpp"

namespace ark::kv {

/// One write inside a backend_batch, on encoded bytes.
struct write_op {
  enum class kind : std::uint8_t {
    put,    ///< set `key` to `value` (a stored value: [tag][payload])
    del,    ///< remove `key` if present
    clear,  ///< remove every key of the space (`key`, `value` unused)
  };
  kind op;
  std::string key;
  std::string value;
};

/// The writes of one keyspace inside a backend_batch, applied in order.
struct space_writes {
  std::string space;  ///< the encoded space key (see store::open)
  std::vector<write_op> ops;
  /// 0: unconditional. Otherwise the id backend_batch::add_fence returned:
  /// the group is applied only while that fence holds (see backend::claim).
  std::uint32_t fence = 0;
};

/// A condition on groups of a backend_batch: `owner` must still hold `epoch`,
/// the epoch its last backend::claim returned (no later claim happened).
struct fence {
  std::string owner;
  std::uint64_t epoch = 0;
};

/// An atomic set of writes over any number of keyspaces: a backend applies
/// all of them in one transaction, or none.
class backend_batch {
 public:
  /// Returns the writes of `space`, creating an unfenced group at the end if
  /// the last group is for another space or fenced.
  space_writes& for_space(std::string_view space);

  void put(std::string_view space, std::string key, std::string value);
  void del(std::string_view space, std::string key);
  void clear(std::string_view space);
  void append(space_writes group) { groups_.push_back(std::move(group)); }

  /// Registers a fence and returns its id (1, 2, ...) for space_writes::fence.
  std::uint32_t add_fence(std::string owner, std::uint64_t epoch);
  /// The fences; fence id i is fences()[i - 1].
  const std::vector<fence>& fences() const { return fences_; }

  const std::vector<space_writes>& groups() const { return groups_; }
  /// The groups, to take their bytes back after a failed apply.
  std::vector<space_writes>& groups() { return groups_; }
  bool empty() const;
  std::size_t op_count() const;

 private:
  std::vector<space_writes> groups_;
  std::vector<fence> fences_;
};

/// What backend::apply_fenced did.
struct apply_result {
  /// As backend::apply's result, over the groups applied.
  std::uint64_t removed = 0;
  /// The ids of the fences that no longer held, ascending: none of their
  /// groups was applied (every other group was).
  std::vector<std::uint32_t> fenced;
};

/// What backend::claim returns.
struct claim_result {
  /// The owner's new epoch; 0 from a backend that fences nothing.
  std::uint64_t epoch = 0;
  /// The value of the claimed key, read after the claim; empty if absent.
  std::optional<std::string> value;
  /// Not empty: the claim was refused because another cluster member holds
  /// the owner with a live lease (pg_backend::set_claim_holder); `epoch` is
  /// then that holder's, `value` is empty, and `held_by_address` is the
  /// holder's advertised address (empty if unknown).
  std::string held_by;
  std::string held_by_address;
};

/// A half-open range [begin, end) of encoded keys inside one space; no `end`
/// means "to the end of the space".
struct byte_range {
  std::string begin;
  std::optional<std::string> end;
  /// A record that fails its checksum (storage format 2) normally ends the
  /// iteration with corrupt_value in status(). With this set, the cursor
  /// stops on it instead, with damaged() true and an empty value(), and
  /// goes on past it: for listings that need the keys (the dashboard marks
  /// such an actor corrupt).
  bool keep_damaged = false;
};

/// A LevelDB-style iterator over one space's keys in a byte_range, ascending or
/// descending. It sees one consistent snapshot of the backend taken when it was
/// created. key() and value() stay valid until the next call to next().
class backend_cursor {
 public:
  virtual ~backend_cursor() = default;
  virtual bool valid() const = 0;
  /// REQUIRES: valid().
  virtual void next() = 0;
  /// The encoded user key (without any space prefix). REQUIRES: valid().
  virtual std::string_view key() const = 0;
  /// The stored value. REQUIRES: valid().
  virtual std::string_view value() const = 0;
  /// The error that ended iteration early, or an empty error.
  virtual const error& status() const = 0;
  /// The current record failed its checksum (only with
  /// byte_range::keep_damaged; value() is then empty). REQUIRES: valid().
  virtual bool damaged() const { return false; }
};

/// Storage engine interface: an ordered map from (space, key) to value bytes,
/// with atomic batches. Keys and values arrive encoded; limits and typing are
/// enforced above, by store. Implementations are thread-safe and must pass
/// the conformance suite (ark/kv/testing/conformance.hpp). The full contract,
/// and how to add a backend: doc/backends.md.
class backend {
 public:
  virtual ~backend() = default;

  /// A short name for messages ("lmdb", "memory").
  virtual std::string_view name() const = 0;

  /// The stored value of `key` in `space`, or not_found.
  virtual expected<std::string> get(std::string_view space, std::string_view key) = 0;

  /// The stored values of `keys` in `space`, read from one snapshot; missing
  /// keys are empty optionals.
  virtual expected<std::vector<std::optional<std::string>>> get_batch(
      std::string_view space, const std::vector<std::string>& keys) = 0;

  /// A cursor over `space` restricted to `range`, ascending or descending.
  virtual expected<std::unique_ptr<backend_cursor>> scan(std::string_view space,
                                                         const byte_range& range, bool reverse) = 0;

  /// Applies every write of `batch` atomically. Returns how many existing keys
  /// the batch removed (del of a present key and clear count; puts do not).
  /// On failure nothing of the batch is visible.
  virtual expected<std::uint64_t> apply(const backend_batch& batch) = 0;

  /// True for a backend that several processes write at once (PostgreSQL).
  /// Its writers claim what they own and fence their writes (claim,
  /// apply_fenced), and no process may cache what it read as the newest
  /// copy. False (the default) for a backend one process owns through its
  /// directory lock: there fences always hold.
  virtual bool shared() const { return false; }

  /// Claims `key` of `space` for writing: bumps the epoch of the owner `key`
  /// (a counter per key, starting at 1, kept apart from the keyspaces) and
  /// returns it with the key's value as stored after the claim, both from one
  /// transaction. Every later write of an earlier claimer's fence for `key`
  /// fails (apply_fenced). The default fences nothing: epoch 0, the value by
  /// get().
  virtual expected<claim_result> claim(std::string_view space, std::string_view key);

  /// apply(), but each group with a fence is applied only if its fence holds
  /// (its owner's epoch is still the fence's), checked in the same
  /// transaction; the groups of failed fences are skipped, the rest commit
  /// atomically. The default (for backends whose shared() is false) applies
  /// every group: their fences always hold.
  virtual expected<apply_result> apply_fenced(const backend_batch& batch);

  /// Up to `limit` encoded space keys greater than `after`, ascending, of the
  /// spaces holding at least one key. Page with the last key returned.
  virtual expected<std::vector<std::string>> spaces(std::string_view after, std::size_t limit) = 0;

  /// Forces every committed write to stable storage, whatever durability mode
  /// the backend was opened with (a host in durability::none calls it
  /// periodically and at shutdown). The default has nothing to do: a backend
  /// without a disk, or one whose commits are always durable.
  virtual expected<void> sync() { return {}; }
};

}  // namespace ark::kv
