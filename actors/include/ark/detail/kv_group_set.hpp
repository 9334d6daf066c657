#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ark/expected.hpp"
#include "ark/kv_group.hpp"

namespace ark::detail {

/// The KV groups of one activation (ark::actor::kv_groups()), validated once
/// at activation, and the lookups clear_on_event and clear_group need.
class kv_group_set {
 public:
  /// Keeps `declared` if validate_kv_groups accepts it; else its error.
  expected<void> load(std::vector<kv_group> declared);
  /// The groups whose clear_on lists `event` (none: empty).
  std::vector<const kv_group*> for_event(std::string_view event) const;
  /// The group named `name`, or null.
  const kv_group* named(std::string_view name) const;
  /// "a, b" (the declared names), for messages; empty without groups.
  std::string names() const;

 private:
  std::vector<kv_group> groups_;
};

}  // namespace ark::detail
