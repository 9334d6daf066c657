#pragma once

// A test actor module that schedules durable alarms on request: the admin
// API, ark-dash alarms and the web page are tested against it in a real
// ark-host (libark_test_reminder.so).

#include <cstdint>
#include <string>
#include <vector>

#include <caf/all.hpp>

namespace reminder {

using sched_atom = caf::atom_constant<caf::atom("rsched")>;
using cancel_atom = caf::atom_constant<caf::atom("rcancel")>;
using fired_atom = caf::atom_constant<caf::atom("rfired")>;

/// sched(name, delay ms, note) schedules alarm `name` (payload {"note":
/// note}, none when note is empty); cancel(name); fired() lists the alarms
/// delivered so far, oldest first.
using reminder_if = caf::typed_actor<
    caf::replies_to<sched_atom, std::string, std::int64_t, std::string>::with<bool>,
    caf::replies_to<cancel_atom, std::string>::with<bool>,
    caf::replies_to<fired_atom>::with<std::vector<std::string>>>;

}  // namespace reminder
