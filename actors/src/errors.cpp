#include "ark/errors.hpp"

#include <caf/all.hpp>

namespace ark {

namespace {
constexpr caf::atom_value ark_category = caf::atom("ark");

// The context, and the explicit remedy when there is one: (context) or
// (context, remedy). A peer that predates explicit remedies reads the first
// form only; it shows the second as a code without context.
caf::message context_of(std::string context, const std::string& remedy) {
  if (remedy.empty()) return caf::make_message(std::move(context));
  return caf::make_message(std::move(context), remedy);
}

ark::error from_context(std::uint8_t code, const caf::message& ctx) {
  std::string context, remedy;
  if (ctx.match_elements<std::string>()) {
    context = ctx.get_as<std::string>(0);
  } else if (ctx.match_elements<std::string, std::string>()) {
    context = ctx.get_as<std::string>(0);
    remedy = ctx.get_as<std::string>(1);
  }
  return ark::error{static_cast<errc>(code), std::move(context), std::move(remedy)};
}

}  // namespace

caf::error to_caf(const ark::error& e) {
  return caf::error(static_cast<std::uint8_t>(e.code()), ark_category,
                    context_of(e.context(), e.explicit_remedy()));
}

caf::error to_caf(errc code, std::string context) {
  return caf::error(static_cast<std::uint8_t>(code), ark_category,
                    caf::make_message(std::move(context)));
}

ark::error from_caf(const caf::error& e) {
  if (!e) return {};
  if (e.category() == ark_category) return from_context(e.code(), e.context());
  std::string text = caf::to_string(e);
  if (e.category() == caf::atom("system")) {
    switch (static_cast<caf::sec>(e.code())) {
      case caf::sec::unexpected_message:
      case caf::sec::unexpected_response:
        return ark::error{errc::wrong_interface,
                          "the actor does not handle this message (" + text + ")"};
      case caf::sec::request_timeout:
        return ark::error{errc::unreachable, "no reply within the request's timeout"};
      case caf::sec::request_receiver_down:
        return ark::error{errc::unreachable, "the actor went away before it replied"};
      case caf::sec::no_route_to_receiving_node:
      case caf::sec::cannot_connect_to_node:
      case caf::sec::disconnect_during_handshake:
        return ark::error{errc::unreachable, text};
      default:
        break;
    }
  }
  return ark::error{errc::handler_failed, text};
}

void add_error_category(caf::actor_system_config& cfg) {
  cfg.add_error_category(
      ark_category, [](std::uint8_t code, caf::atom_value, const caf::message& ctx) -> std::string {
        return from_context(code, ctx).message();
      });
}

}  // namespace ark
