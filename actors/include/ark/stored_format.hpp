#pragma once

// ark::stored: the formats the runtime stores in a data directory on top of
// the users' KV entries (doc/state_format.md, doc/alarms.md): the identity of
// an actor, the spaces the runtime owns, the snapshot value, the state
// journal record and the alarm rows. Tools that read or repair a data
// directory (ark-dash verify, query, migrate), tests and fuzz targets use
// these declarations; the runtime writes through the same code, so a reader
// and the writer cannot disagree.
//
// Everything marked "on disk" is part of the storage format: never change it
// without a new format version and a migration (doc/storage_format.md).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <msgpack.hpp>

#include "ark/expected.hpp"
#include "ark/kv/backend.hpp"
#include "ark/kv/big_endian.hpp"
#include "ark/kv/key.hpp"

namespace ark::stored {

// -- identity -----------------------------------------------------------------

/// An actor's identity: its type name and structured key. `encoded` is
/// encode_key({type, key}) (on disk): the actor's KV space key and, in the
/// state space and the state journal, the key of its snapshot.
struct identity {
  std::string type;
  ark::key key;
  std::string encoded;
};

/// Builds the identity of actor (type, key).
/// Errors: invalid_argument (empty type), invalid_key (the key does not
/// encode), key_too_large (type and key encode to more than kv::max_key_size
/// bytes); each names the actor.
expected<identity> make_identity(std::string_view type, const ark::key& key);

/// "actor TYPE KEY" (the key as compact JSON), for messages.
std::string describe(const identity& id);

// -- the runtime's spaces ---------------------------------------------------------
// Encoded space keys (encode_key of a tuple whose first element is null, so no
// actor's space, whose first element is a type name, can collide). On disk:
// never change these values.

/// [null, "state"]: encoded identity -> snapshot value (make_snapshot).
const std::string& state_space();

/// [null, "journal"]: journal_key(seq) -> journal record (journal_record).
const std::string& journal_space();

/// [null, "alarms"]: encoded [type, key, name] -> alarm_row as a msgpack value.
const std::string& alarm_space();

/// [null, "alarm_due"]: encoded [due_ms, type, key, name] -> an empty raw
/// value; the alarm dispatcher's index by time, one entry per alarm row.
const std::string& alarm_due_space();

// -- snapshots ----------------------------------------------------------------------

/// The stored snapshot value of a state: a value with the msgpack tag whose
/// payload is the map {"schema": schema, "state": <state_msgpack>} (on disk).
/// REQUIRES: `state_msgpack` is one msgpack object (it is copied as is).
std::string make_snapshot(std::uint32_t schema, std::string_view state_msgpack);

/// A decoded snapshot: the schema version it was written with and the state
/// object (convert it with kv::convert_msgpack). `state` points into
/// `handle`'s zone: valid while this snapshot lives.
struct snapshot {
  std::uint32_t schema = 0;
  msgpack::object_handle handle;  ///< owns the zone
  msgpack::object state;
};

/// Decodes a stored snapshot value.
/// Errors: corrupt_snapshot saying what is wrong (not a msgpack value,
/// msgpack that does not decode, not a {schema, state} map).
expected<snapshot> parse_snapshot(std::string_view stored);

// -- the state journal ---------------------------------------------------------------
// The writer appends the snapshots of a group commit as one record to the
// journal space; a checkpoint writes the newest journaled snapshot of every
// actor in place and clears the journal, in one transaction. An actor's
// stored snapshot is the journal's newest when it holds one, else the state
// space's (doc/state_format.md, "State journal").

/// Snapshots up to this size go to the journal; larger ones are written in
/// place. A tuning of the writer, not a format constant: readers must not
/// depend on it.
constexpr std::size_t journal_max_snapshot = 1024;

/// The key of journal record number `seq`: 8 bytes big-endian (on disk), so
/// records sort in the order they were written.
inline std::string journal_key(std::uint64_t seq) {
  return kv::be64(seq);
}

/// Entry kinds inside a journal record. On disk: never change these values.
enum class journal_entry : std::uint8_t {
  snapshot = 1,  ///< the actor's snapshot is the entry's value
  in_table = 2,  ///< the state space holds the actor's newest snapshot (value empty)
};

/// Builds one journal record (on disk): a format byte (1), then per entry
/// [kind u8][key length u32 little-endian][key][value length u32
/// little-endian][value]. The key is the actor's encoded identity.
class journal_record {
 public:
  journal_record();
  /// Appends an entry. REQUIRES: key and value shorter than 4 GiB.
  void add(journal_entry kind, std::string_view key, std::string_view value);
  bool empty() const { return entries_ == 0; }
  std::size_t entries() const { return entries_; }
  /// The record's bytes so far (a record with no entry is one byte).
  std::string& bytes() { return bytes_; }

 private:
  std::string bytes_;
  std::size_t entries_ = 0;
};

/// Decodes one journal record, calling f(kind, key, value) for each entry in
/// order; the views point into `record`.
/// Errors: corrupt_snapshot naming the format byte or the byte offset of the
/// entry that is truncated or of an unknown kind (a torn or foreign record);
/// `f` has then seen the entries before it.
expected<void> decode_journal_record(
    std::string_view record,
    const std::function<void(journal_entry, std::string_view, std::string_view)>& f);

/// What the state journal of a backend holds, replayed: the snapshots not
/// yet checkpointed into the state space, newest per actor. A plain value
/// (not thread-safe); the runtime keeps a locked copy of its own.
struct journal_contents {
  /// Encoded identity -> the newest journaled snapshot value.
  std::unordered_map<std::string, std::string> snapshots;
  /// The number of the record the writer appends next.
  std::uint64_t next_seq = 1;
  /// Bytes of the records replayed.
  std::size_t record_bytes = 0;

  /// True when there is nothing to checkpoint (no record).
  bool empty() const { return record_bytes == 0 && snapshots.empty(); }

  /// The stored snapshot of the actor whose identity::encoded is
  /// `state_key`: the journal's newest, else the state space's of `b`.
  /// Errors: not_found (neither holds one), the backend's read errors.
  expected<std::string> latest_snapshot(kv::backend& b, std::string_view state_key) const;

  /// Adds the checkpoint to `batch`: every journaled snapshot written in
  /// place in the state space, and the journal space cleared. Applied as one
  /// transaction, it leaves every actor's stored snapshot unchanged.
  void checkpoint_batch(kv::backend_batch& batch) const;
};

/// Replays the journal space of `b`, record by record in key order.
/// Errors: corrupt_snapshot naming the record number and what is wrong with
/// it; the backend's read errors.
expected<journal_contents> read_journal(kv::backend& b);

// -- alarms (doc/alarms.md) ---------------------------------------------------------

/// An alarm as stored in the alarm space: a msgpack map with these field
/// names (on disk: never rename them). Read a row with
/// kv::value::decode(bytes)->as<alarm_row>(), write kv::value::pack(row).
struct alarm_row {
  std::int64_t due_ms = 0;               ///< when it is due, ms since the Unix epoch
  std::uint32_t attempt = 0;             ///< failed deliveries so far
  std::uint32_t max_attempts = 6;        ///< deliveries before it is dropped
  std::int64_t backoff_ms = 1000;        ///< the wait before the first retry
  std::int64_t max_backoff_ms = 600000;  ///< the longest wait between attempts
  std::string payload;                   ///< msgpack bytes (bin); empty: none
  MSGPACK_DEFINE_MAP(due_ms, attempt, max_attempts, backoff_ms, max_backoff_ms, payload)
};

}  // namespace ark::stored
