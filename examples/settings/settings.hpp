#pragma once

// The settings example's interface and state, shared by the actor module,
// its client and its tests. One actor per user holds that user's settings;
// it shows migrations (schema 2 with a step from 1), subscriptions (watchers
// see every durable change) and durable alarms (do-not-disturb ends on time,
// a daily digest) together. examples/README.md walks through it.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <msgpack.hpp>

namespace settings {

using set_atom = caf::atom_constant<caf::atom("set")>;
using get_atom = caf::atom_constant<caf::atom("get")>;
using theme_atom = caf::atom_constant<caf::atom("theme")>;
using snooze_atom = caf::atom_constant<caf::atom("snooze")>;
using history_atom = caf::atom_constant<caf::atom("history")>;
using status_atom = caf::atom_constant<caf::atom("status")>;

/// set(name, value) -> the settings' version; get(name) -> value ("" when
/// unset); theme(t) -> version; snooze(minutes) -> the do-not-disturb end
/// (ms since the epoch; 0 minutes ends it now); history -> the last changes,
/// oldest first ("name=value"); status -> "theme=... dnd=on|off digests=N version=N".
using settings_if = caf::typed_actor<
    caf::replies_to<set_atom, std::string, std::string>::with<std::uint64_t>,
    caf::replies_to<get_atom, std::string>::with<std::string>,
    caf::replies_to<theme_atom, std::string>::with<std::uint64_t>,
    caf::replies_to<snooze_atom, std::int64_t>::with<std::int64_t>,
    caf::replies_to<history_atom>::with<std::vector<std::string>>,
    caf::replies_to<status_atom>::with<std::string>>;

/// Schema 1, as the first release stored it: a dark-mode flag, and the
/// change history inside the state (it grew with every change).
struct preferences_v1 {
  std::map<std::string, std::string> values;
  bool dark_mode = false;
  std::vector<std::string> history;
  std::uint64_t version = 0;
  MSGPACK_DEFINE_MAP(values, dark_mode, history, version)
};

/// Schema 2 (current): a named theme instead of the flag; the history moved
/// to kv() under ["history", n] (one entry per change, so the snapshot stays
/// small); do-not-disturb and the digest count are new.
struct preferences {
  std::map<std::string, std::string> values;
  std::string theme = "light";
  bool do_not_disturb = false;
  std::int64_t dnd_until_ms = 0;
  std::int64_t digests = 0;
  std::uint64_t history_next = 0;  ///< the next ["history", n] key
  std::uint64_t version = 0;
  MSGPACK_DEFINE_MAP(values, theme, do_not_disturb, dnd_until_ms, digests, history_next, version)
};

/// The event published on every set(): the name and the new value.
struct change {
  std::string name;
  std::string value;
  MSGPACK_DEFINE_MAP(name, value)
};

/// How many history entries kv() keeps (older ones are deleted).
inline constexpr std::uint64_t history_limit = 100;

}  // namespace settings
