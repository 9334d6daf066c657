// ark-dash key encode|decode: converts keys between JSON and their encoding.

#include <iostream>
#include <memory>
#include <string>

#include "ark/kv/json.hpp"
#include "commands.hpp"

namespace ark::dash {
namespace {

int run_encode(const std::string& text) {
  auto k = parse_key_arg(text, "KEY");
  if (!k) return report(k.error());
  auto encoded = encode_key(*k);
  if (!encoded) return report(encoded.error());
  std::cout << to_hex(*encoded) << "\n";
  return exit_ok;
}

int run_decode(const std::string& hex) {
  auto bytes = parse_hex(hex);
  if (!bytes) return report(error{errc::invalid_argument, "HEX: " + bytes.error().context()});
  auto k = decode_key(*bytes);
  if (!k) return report(error{k.error().code(), "HEX: " + k.error().context()});
  std::cout << kv::key_to_json_text(*k) << "\n";
  return exit_ok;
}

}  // namespace

void add_key_commands(CLI::App& app, run_state& state) {
  auto* group = app.add_subcommand("key", "Encode and decode structured keys");

  auto text = std::make_shared<std::string>();
  auto* encode =
      group->add_subcommand("encode", "Print the lowercase hex encoding of a key given as JSON");
  encode->add_option("KEY", *text, "The key as JSON (or a bare word, meaning [\"word\"])")
      ->required();
  encode->footer(
      "Example:\n  ark-dash key encode '[\"user\", 42, true, null, 1.5, [\"nested\"]]'\n"
      "Bytes are {\"bytes\":\"<hex>\"}; see doc/json_format.md.");
  encode->callback([&state, text] { state.status = run_encode(*text); });

  auto hex = std::make_shared<std::string>();
  auto* decode = group->add_subcommand("decode", "Print an encoded key (hex) as compact JSON");
  decode->add_option("HEX", *hex, "The encoded key in hex (upper or lower case)")->required();
  decode->footer("Example:\n  ark-dash key decode 0276697369747300");
  decode->callback([&state, hex] { state.status = run_decode(*hex); });
}

}  // namespace ark::dash
