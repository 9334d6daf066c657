// The tally actor: the total lives in its state (a snapshot, written when it
// changes), each item's count in its private key-value store under
// ["count", item]. Both commit with the message, after which the reply leaves.

#include "tally.hpp"

#include <optional>

#include <ark/actor.hpp>
#include <ark/registry.hpp>

namespace tally {

class tally : public ark::actor<tally_if, tally_state> {
 public:
  using actor::actor;

  handlers_type make_handlers() override {
    return handlers(
        [this](add_atom, const std::string& item, std::int64_t n) -> ark::expected<std::int64_t> {
          if (n <= 0)
            return ark::error{ark::errc::invalid_argument,
                              "add: the number of votes must be positive"};
          auto r = kv().update<std::int64_t>(
              ark::key{"count", item},
              [n](const std::optional<std::int64_t>& old) { return old.value_or(0) + n; });
          if (!r) return r.error();  // nothing commits, state() rolls back
          state().total += n;
          return *r->value;
        },
        [this](count_atom, const std::string& item) -> ark::expected<std::int64_t> {
          return kv().get_or<std::int64_t>(ark::key{"count", item}, 0);
        },
        [this](total_atom) { return state().total; });
  }
};

}  // namespace tally

ARK_ACTOR("tally", tally::tally);
