#pragma once

// The counter example's interface: shared by the actor module and clients.

#include <cstdint>

#include <caf/all.hpp>

namespace counter {

using add_atom = caf::atom_constant<caf::atom("add")>;
using get_atom = caf::atom_constant<caf::atom("get")>;
using reset_atom = caf::atom_constant<caf::atom("reset")>;

/// add(n) -> new value; get -> value; reset -> 0.
using counter_if = caf::typed_actor<caf::replies_to<add_atom, std::int64_t>::with<std::int64_t>,
                                    caf::replies_to<get_atom>::with<std::int64_t>,
                                    caf::replies_to<reset_atom>::with<std::int64_t>>;

}  // namespace counter
