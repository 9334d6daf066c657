#pragma once

// ark::inspect: the dashboard's read model. One set of JSON documents for
// every way of looking inside ark: `ark-dash --data DIR` reads them from a data
// directory (read-only, fine while a host runs), ark-host's admin API serves
// them over HTTP, and `ark-dash --host URL` prints what the API returns. The
// documents are specified in doc/admin_api.md.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "ark/kv/pg_membership.hpp"

#include "ark/expected.hpp"
#include "ark/kv/backend.hpp"
#include "ark/kv/key.hpp"

namespace ark::detail {
class snapshot_journal;
}

namespace ark::inspect {

/// The default cap of a state preview's JSON text (as in Rivet's inspector);
/// the web page asks for far less.
inline constexpr std::size_t default_preview_limit = std::size_t{125} << 20;

/// Largest page of actors or KV entries one call returns.
inline constexpr std::size_t max_page = 1000;

/// Which actors actors() lists.
struct actor_query {
  std::string type;                 ///< only this type ("" = every type)
  std::optional<ark::key> prefix;   ///< only keys starting with these elements
  std::optional<ark::key> after;    ///< the page after this key (the previous page's "next")
  std::string after_type;           ///< with `after` and no `type`: the type of that key
  std::size_t limit = 100;          ///< 1..max_page
};

/// Which entries of an actor's KV kv() lists.
struct kv_query {
  std::optional<ark::key> prefix, start, end;  ///< as kv::list_options
  bool reverse = false;
  std::optional<ark::key> after;  ///< the page after this key (the previous page's "next")
  std::size_t limit = 100;        ///< 1..max_page
};

/// Which pending alarms alarms() lists.
struct alarm_query {
  std::string type;             ///< only this type's alarms ("" = every type)
  std::optional<ark::key> key;  ///< with `type`: only the alarms of actor (type, key)
  /// The page after this due-index key [due_ms, type, key, name] (the
  /// previous page's "next").
  std::optional<ark::key> after;
  std::size_t limit = 100;  ///< 1..max_page
};

/// Pending alarms the state document lists with an actor (the rest: alarms()).
inline constexpr std::size_t state_alarm_limit = 100;

/// Reads actors, their snapshots, their KV and their pending alarms from one
/// backend.
class reader {
 public:
  /// Over a data directory: reads the state journal once, now.
  static expected<reader> open(std::shared_ptr<kv::backend> b);
  /// Over a running host's backend and its live journal (may be null).
  /// `memory`: the host's memory backend (memory-only actor types), whose
  /// alarms alarms() lists too; null for none.
  reader(std::shared_ptr<kv::backend> b, std::shared_ptr<const detail::snapshot_journal> j,
         std::shared_ptr<kv::backend> memory = nullptr);

  /// {"types": [{"type": "counter", "actors": 3}, ...]}, by type name.
  expected<nlohmann::json> types() const;

  /// {"actors": [{"type", "key", "snapshot_bytes"}...], "next": key|null,
  /// "next_type": type|null}, ordered by (type, key). Errors: invalid_argument
  /// for a limit outside 1..max_page.
  expected<nlohmann::json> actors(const actor_query& q) const;

  /// {"type", "key", "schema", "snapshot_bytes", "state": JSON, "truncated":
  /// false, "alarms": [...], "alarms_next": key|null}; when the state's JSON
  /// text is longer than `preview_limit`: "state": null, "truncated": true,
  /// "state_bytes": its length, "preview": its first `preview_limit` bytes.
  /// "alarms" are the actor's first state_alarm_limit pending alarms as
  /// alarms() lists them (null and "alarms_error" when they cannot be read).
  /// Errors: not_found (no such actor), corrupt_snapshot (naming the actor).
  expected<nlohmann::json> state(std::string_view type, const ark::key& k,
                                 std::size_t preview_limit = default_preview_limit) const;

  /// The stored snapshot value of actor (type, k): the state journal's newest
  /// or the state space's (doc/state_format.md). Errors: not_found (no such
  /// actor), invalid_key / key_too_large.
  expected<std::string> snapshot(std::string_view type, const ark::key& k) const;

  /// {"type", "key", "entries": [{"key", "value", "bytes"}...], "next":
  /// key|null}. Values as doc/json_format.md (raw bytes as {"$bytes": hex}).
  /// Errors: invalid_argument (limit), corrupt_value naming the entry.
  expected<nlohmann::json> kv(std::string_view type, const ark::key& k, const kv_query& q) const;

  /// {"alarms": [{"type", "key", "name", "due_ms", "due", "attempt",
  /// "max_attempts", "payload"}...], "next": key|null}: pending alarms,
  /// soonest first (by due time, then type, key and name). "due" is due_ms as
  /// ISO-8601 UTC text; "payload" is its msgpack as JSON (doc/json_format.md),
  /// null when there is none; "memory": true marks an alarm of a memory-only
  /// type. An entry that does not decode has "error" saying why. Without
  /// `q.key` it reads the due index [null, "alarm_due"], skipping other types
  /// when `q.type` is set; with it, the actor's rows of [null, "alarms"].
  /// Errors: invalid_argument (limit; a key without a type).
  expected<nlohmann::json> alarms(const alarm_query& q) const;

  /// Sets doc["alarms"] and doc["alarms_next"] to the first state_alarm_limit
  /// pending alarms of actor (type, k); when they cannot be read, both null
  /// and doc["alarms_error"] says why (the state stays readable).
  void put_actor_alarms(nlohmann::json& doc, const std::string& type, const ark::key& k) const;

  /// The number of pending alarms (the entries of the due index).
  expected<std::uint64_t> pending_alarms() const;

  const std::shared_ptr<kv::backend>& backend() const { return backend_; }

 private:
  std::shared_ptr<kv::backend> backend_;
  std::shared_ptr<const detail::snapshot_journal> journal_;
  std::shared_ptr<kv::backend> memory_;
};

/// `unix_ms` (ms since the epoch) as ISO-8601 UTC text with milliseconds,
/// e.g. "2026-11-23T20:17:31.042Z".
std::string iso8601_utc(std::int64_t unix_ms);

/// The bytes of the regular files in `dir` (a data directory's size; 0 when
/// it cannot be read).
std::uint64_t directory_bytes(const std::string& dir);

/// The encoded identity of (type, key), or invalid_key / key_too_large.
expected<std::string> encode_identity(std::string_view type, const ark::key& k);

/// Query parameters of an HTTP request (as cpp-httplib's Params).
using query_params = std::multimap<std::string, std::string>;

/// Answers GET /api/v1/<endpoint> ("types", "actors", "state", "kv", "alarms") from
/// `r`, with the parameters doc/admin_api.md lists (keys as JSON text). The
/// admin API and `ark-dash serve --data` share it. Errors: invalid_argument
/// or invalid_key naming a bad parameter, not_found for an unknown endpoint,
/// and those of the reader.
expected<nlohmann::json> answer(const reader& r, const std::string& endpoint,
                                const query_params& params,
                                std::size_t preview_limit = default_preview_limit);

/// The state preview cap a request asks for: its "limit" parameter, at most
/// `preview_limit` (which it is when absent). Errors: invalid_argument.
expected<std::size_t> preview_cap(const query_params& params, std::size_t preview_limit);

/// Sets doc["state"] to `state` and "truncated" to false, or, when the
/// state's JSON text is longer than `cap`: "state": null, "truncated": true,
/// "state_bytes": its length, "preview": its first `cap` bytes.
void put_state_preview(nlohmann::json& doc, nlohmann::json state, std::size_t cap);

/// One member row of a cluster (kv::member_row) as /api/v1/hosts lists it
/// (doc/admin_api.md); `self`: the host id of the answering host, if any.
nlohmann::json member_json(const kv::member_row& m, const std::string& self = {});

/// The parameter `name` of `params` as a key (JSON text); nullopt if absent.
expected<std::optional<ark::key>> key_param(const query_params& params, const char* name);

}  // namespace ark::inspect
