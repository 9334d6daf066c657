#pragma once

// The tally actor's interface, shared by the module, the client and the
// unit test. One tally actor per key (a poll, a page, a day...) counts votes
// per item: add(item, n) -> the item's new count; count(item) -> its count
// (0 when never voted for); total -> the votes over all items.

#include <cstdint>
#include <string>

#include <caf/all.hpp>
#include <msgpack.hpp>

namespace tally {

using add_atom = caf::atom_constant<caf::atom("add")>;
using count_atom = caf::atom_constant<caf::atom("count")>;
using total_atom = caf::atom_constant<caf::atom("total")>;

using tally_if =
    caf::typed_actor<caf::replies_to<add_atom, std::string, std::int64_t>::with<std::int64_t>,
                     caf::replies_to<count_atom, std::string>::with<std::int64_t>,
                     caf::replies_to<total_atom>::with<std::int64_t>>;

/// The tally's state (its snapshot): here so unit tests can read it typed.
struct tally_state {
  std::int64_t total = 0;
  MSGPACK_DEFINE_MAP(total)  // field names are kept on disk and in ark-dash
};

}  // namespace tally
