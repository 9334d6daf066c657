#pragma once

#include <string>
#include <vector>

#include "ark/expected.hpp"
#include "ark/kv/key.hpp"

namespace ark {

/// A named set of an actor's KV keys that are cleared together when one of
/// the events in `clear_on` happens (Bitwarden's `clearOn`): every key of the
/// actor's kv() that starts with the tuple elements of `prefix` (as
/// list_options::prefix: ["session"] holds ["session"] and ["session", 7],
/// not ["sessions"]; the empty key holds every key).
///
/// Declared per actor type by overriding ark::actor::kv_groups(). Groups may
/// overlap (a key in two groups is cleared by either's events). Events are
/// free-form names ("logout", "lock"); a group with no event is cleared only
/// by clear_group().
struct kv_group {
  std::string name;
  ark::key prefix;
  std::vector<std::string> clear_on;
};

/// Checks declarations: every group has a name, no name is used twice, every
/// prefix is a valid user key, no event name is empty. Errors are
/// invalid_argument naming the group and the fix.
expected<void> validate_kv_groups(const std::vector<kv_group>& groups);

}  // namespace ark
