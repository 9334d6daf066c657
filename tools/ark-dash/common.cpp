#include "common.hpp"

#include <iostream>

#include "ark/kv/json.hpp"

namespace ark::dash {

void add_data_option(CLI::App& cmd, std::string& dir) {
  dir = default_data_dir;
  cmd.add_option("--data", dir, "Data directory of an ark host")
      ->type_name("DIR")
      ->capture_default_str();
}

namespace {

// True when `text` cannot be the start of a JSON key (array, object, string
// or number), so a failed parse means the user typed a plain word.
bool is_bare_word(std::string_view text) {
  auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return false;
  char c = text[first];
  if (c == '[' || c == '{' || c == '"' || c == '-') return false;
  return !(c >= '0' && c <= '9');
}

}  // namespace

expected<key> parse_key_arg(std::string_view text, std::string_view what) {
  auto k = kv::key_from_json_text(text);
  if (k) return k;
  if (k.error() == errc::invalid_key && is_bare_word(text)) {
    // Only a syntax error makes a word: "nulls" is a string, but "[1," or
    // "99999999999999999999" stay errors.
    if (k.error().context().rfind("key is not valid JSON", 0) == 0) return key{std::string(text)};
  }
  return error{k.error().code(), std::string(what) + ": " + k.error().context()};
}

expected<std::shared_ptr<kv::backend>> open_data(const std::string& dir, access mode,
                                                 std::optional<kv::backend_kind> kind) {
  kv::open_options opts;
  opts.kind = kind;
  opts.read_only = mode == access::read;
  opts.create_if_missing = mode == access::write_create;
  return kv::open_backend(dir, opts);
}

void add_backend_option(CLI::App& cmd, std::optional<kv::backend_kind>& kind) {
  cmd.add_option_function<std::string>(
         "--backend",
         [&kind](const std::string& text) {
           auto k = kv::parse_backend_kind(text);
           if (!k) throw CLI::ValidationError("--backend", k.error().context());
           kind = *k;
         },
         "Storage engine of a new data directory: lmdb (default) or sqlite; an existing "
         "directory must hold this one (doc/backends.md)")
      ->type_name("lmdb|sqlite");
}

int report(const error& e) {
  // A bad argument here came from this command line: point at --help (an
  // error's generic remedy cannot know it was a command line).
  if (e.code() == errc::invalid_argument && e.explicit_remedy().empty())
    std::cerr << "ark-dash: "
              << error{e.code(), e.context(),
                       std::string(remedy(e.code())) + " (see ark-dash --help)"}
                     .message()
              << "\n";
  else
    std::cerr << "ark-dash: " << e.message() << "\n";
  switch (e.code()) {
    case errc::invalid_key:
    case errc::key_too_large:
    case errc::nesting_too_deep:
    case errc::invalid_argument:
    case errc::value_too_large:
      return exit_usage;
    default:
      return exit_failure;
  }
}

int report(std::string_view text, int status) {
  std::cerr << "ark-dash: " << text << "\n";
  return status;
}

std::string dump(const nlohmann::json& j) {
  return kv::json_text(j);
}

std::size_t columns(std::string_view text) {
  std::size_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xc0) != 0x80 ? 1 : 0;
  return n;
}

std::string truncate(std::string_view text, std::size_t width) {
  if (columns(text) <= width) return std::string(text);
  std::size_t keep = width > 3 ? width - 3 : 0;
  std::size_t i = 0;
  for (std::size_t n = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xc0) != 0x80) {
      if (n == keep) break;
      ++n;
    }
  }
  return std::string(text.substr(0, i)) + "...";
}

}  // namespace ark::dash
