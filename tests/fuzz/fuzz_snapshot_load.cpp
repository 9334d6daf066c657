// Fuzz target: loading actor state from storage.
//
// Every input is tried as two things:
// - a state journal record (ark/stored_format.hpp): it decodes or fails with
//   corrupt_snapshot; a decoded record re-encodes to the same bytes;
//   read_journal over a backend holding it (what the runtime's journal
//   replays at open) agrees with the decoder, and latest_snapshot() returns
//   each actor's newest journaled snapshot. Every snapshot entry is then
//   activated as below.
// - a stored snapshot: it is activated the way actor_core does it
//   (parse_snapshot, then msgpack conversion into the example actors' state
//   types). A converted state packs into a snapshot that activates to an
//   equal state; the dashboard's generic JSON of the state and of the stored
//   snapshot never fails or throws.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ark/kv/json.hpp"
#include "ark/kv/memory_backend.hpp"
#include "ark/kv/value.hpp"
#include "ark/stored_format.hpp"
#include "fuzz_check.hpp"
#include "fuzz_states.hpp"

namespace {

using ark::errc;
using ark::fuzz::hex;
namespace kv = ark::kv;
namespace stored = ark::stored;

// What actor_core::load_from_storage does with the snapshot of an actor whose
// state type is State and whose schema is 1 (the default). It also refuses a
// state with a field State lacks (dropped_field, doc/migrations.md); this
// harness checks the conversion and round trip underneath.
template <class State>
void activate_as(const stored::snapshot& snap) {
  if (snap.schema > 1) return;  // refused with format_version: newer data
  State fresh{};
  if (!kv::convert_msgpack(snap.state, fresh)) return;  // corrupt_snapshot
  // pack_state(last_snapshot_), then the next commit's snapshot.
  auto v = kv::value::pack(fresh);
  std::string packed(v.payload());
  auto saved = stored::make_snapshot(snap.schema, packed);
  auto again = stored::parse_snapshot(saved);
  ARK_FUZZ_CHECK(again.has_value(), "the snapshot of a loaded state does not parse");
  ARK_FUZZ_CHECK(again->schema == snap.schema, "the schema changed across a save");
  State reloaded{};
  ARK_FUZZ_CHECK(kv::convert_msgpack(again->state, reloaded),
                 "the snapshot of a loaded state does not convert back");
  ARK_FUZZ_CHECK(kv::value::pack(reloaded) == v, "a state changed across save and reload");
  // end_message_failed restores the last snapshot this way.
  auto restored = kv::value::from_msgpack(packed).unpack();
  ARK_FUZZ_CHECK(restored.has_value(), "the last snapshot does not unpack for a rollback");
  // generic_state_json: the dashboard's default view of the state.
  auto j = kv::value_to_json(kv::value::from_msgpack(packed));
  ARK_FUZZ_CHECK(j.has_value(), "the generic JSON of a state fails");
  (void)kv::json_text(*j);
}

void load_snapshot(std::string_view bytes) {
  // ark-dash kv get on the state space: the stored value's JSON.
  if (auto v = kv::value::decode(bytes)) {
    if (auto j = kv::value_to_json(*v)) (void)kv::json_text(*j);
  }
  auto snap = stored::parse_snapshot(bytes);
  if (!snap) {
    ARK_FUZZ_CHECK(
        snap.error().code() == errc::corrupt_snapshot,
        "parse_snapshot failed with " + std::string(ark::to_string(snap.error().code())));
    ARK_FUZZ_CHECK(!snap.error().context().empty(), "parse_snapshot error without context");
    return;
  }
  (void)kv::json_text(kv::msgpack_to_json(snap->state));
  activate_as<ark::fuzz::counter_state>(*snap);
  activate_as<ark::fuzz::account_state>(*snap);
  activate_as<ark::fuzz::chat_room_state>(*snap);
  activate_as<ark::fuzz::profile_state>(*snap);
}

void load_journal(std::string_view record) {
  struct entry {
    stored::journal_entry kind;
    std::string key, value;
  };
  std::vector<entry> entries;
  auto r = stored::decode_journal_record(
      record, [&](stored::journal_entry kind, std::string_view k, std::string_view v) {
        ARK_FUZZ_CHECK(
            kind == stored::journal_entry::snapshot || kind == stored::journal_entry::in_table,
            "an entry of unknown kind was accepted");
        entries.push_back({kind, std::string(k), std::string(v)});
      });
  if (!r) {
    ARK_FUZZ_CHECK(r.error().code() == errc::corrupt_snapshot,
                   "record error is not corrupt_snapshot");
  } else {
    // The format is canonical: the entries re-encode to the same bytes.
    stored::journal_record rebuilt;
    for (const auto& e : entries) rebuilt.add(e.kind, e.key, e.value);
    ARK_FUZZ_CHECK(rebuilt.bytes() == record,
                   "a decoded record re-encodes differently: " + hex(std::string(record)));
    for (const auto& e : entries)
      if (e.kind == stored::journal_entry::snapshot) load_snapshot(e.value);
  }

  // A restart: the journal replayed from a backend holding this record.
  auto db = kv::memory_backend::create();
  kv::backend_batch batch;
  batch.put(stored::journal_space(), stored::journal_key(7), std::string(record));
  ARK_FUZZ_CHECK(db->apply(batch).has_value(), "the memory backend refused a write");
  auto journal = stored::read_journal(*db);
  ARK_FUZZ_CHECK(journal.has_value() == r.has_value(),
                 "read_journal and decode_journal_record disagree");
  if (!journal) {
    ARK_FUZZ_CHECK(journal.error().code() == errc::corrupt_snapshot,
                   "journal load error is not corrupt_snapshot");
    return;
  }
  ARK_FUZZ_CHECK(journal->next_seq == 8, "the next record number is not 8");
  std::unordered_map<std::string, const entry*> newest;
  for (const auto& e : entries) newest[e.key] = &e;
  for (const auto& [k, e] : newest) {
    auto got = journal->latest_snapshot(*db, k);
    if (e->kind == stored::journal_entry::snapshot) {
      ARK_FUZZ_CHECK(got && *got == e->value,
                     "latest_snapshot() is not the newest journaled snapshot");
    } else {
      // in_table: the state space holds it, and it is empty here.
      ARK_FUZZ_CHECK(!got && got.error().code() == errc::not_found,
                     "latest_snapshot() of an in_table entry did not go to the state space");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  load_journal(in);
  load_snapshot(in);
  return 0;
}
