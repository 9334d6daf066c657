#pragma once

#include <caf/actor_system_config.hpp>
#include <caf/error.hpp>

#include "ark/error.hpp"

namespace ark {

/// ark errors cross CAF (replies, remote clients) as caf::error of category
/// "ark": the code is the errc value, the context travels as a string, and an
/// explicit remedy (ark::error::explicit_remedy) as a second string. An error
/// forwarded from actor to actor keeps its code, context and remedy: add a
/// remedy only where the situation is known (doc/architecture.md, "Errors").
caf::error to_caf(const ark::error& e);
caf::error to_caf(errc code, std::string context);

/// Maps a caf::error back: ark errors keep their code, context and remedy; CAF's own
/// (receiver down, unexpected message, timeout, network) become unreachable,
/// wrong_interface or handler_failed with CAF's text as context.
ark::error from_caf(const caf::error& e);

/// Registers the "ark" error category's renderer, so logs and
/// actor_system::render show ark's message with its remedy.
void add_error_category(caf::actor_system_config& cfg);

}  // namespace ark
