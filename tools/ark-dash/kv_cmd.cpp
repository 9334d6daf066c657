// ark-dash kv put|get|list|count|delete|spaces: browse and edit the keyspaces
// of a data directory or a PostgreSQL schema. Reads open it read-only (they
// work while a host writes); writes take the directory's (schema's) writer lock.

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "ark/kv/json.hpp"
#include "ark/kv/store.hpp"
#include "commands.hpp"

namespace ark::dash {
namespace {

using json = nlohmann::json;

// Widest key column in the table; longer keys push their value to the right.
constexpr std::size_t max_key_columns = 60;
// Values wider than this are cut, ending in "...".
constexpr std::size_t max_value_columns = 100;
// Rows buffered to size the key column; later rows reuse that width, so
// listing millions of keys never holds more than this many.
constexpr std::size_t table_page = 1000;

// The command line of every kv verb (each verb uses the fields it declares).
struct kv_args {
  data_source data;  // --data or --pg...; --backend of put
  std::string space;
  std::string key;
  std::string value;
  bool raw = false;
  std::string prefix, start, end;
  CLI::Option* prefix_opt = nullptr;
  CLI::Option* start_opt = nullptr;
  CLI::Option* end_opt = nullptr;
  bool reverse = false;
  std::size_t limit = 0;
  bool json_lines = false;
};

std::string space_text(const key& space) {
  return kv::key_to_json_text(space);
}

expected<kv::list_options> range_of(const kv_args& a) {
  kv::list_options opts;
  if (a.prefix_opt->count() > 0) {
    auto k = parse_key_arg(a.prefix, "--prefix");
    if (!k) return k.error();
    opts.prefix = std::move(*k);
  }
  if (a.start_opt->count() > 0) {
    auto k = parse_key_arg(a.start, "--start");
    if (!k) return k.error();
    opts.start = std::move(*k);
  }
  if (a.end_opt->count() > 0) {
    auto k = parse_key_arg(a.end, "--end");
    if (!k) return k.error();
    opts.end = std::move(*k);
  }
  opts.reverse = a.reverse;
  opts.limit = a.limit;
  return opts;
}

// Opens the data directory and the store of --space. Reports errors itself;
// returns an empty optional then, with `status` set.
std::optional<kv::store> open_store(const kv_args& a, access mode, int& status) {
  auto space = parse_key_arg(a.space, "--space");
  if (!space) {
    status = report(space.error());
    return std::nullopt;
  }
  auto db = open_data(a.data, mode);
  if (!db) {
    status = report(db.error());
    return std::nullopt;
  }
  auto st = kv::store::open(*db, *space);
  if (!st) {
    status = report(error{st.error().code(), "--space: " + st.error().context()});
    return std::nullopt;
  }
  return std::move(*st);
}

expected<kv::value> value_of(const kv_args& a) {
  if (a.raw) {
    auto bytes = parse_hex(a.value);
    if (!bytes)
      return error{errc::invalid_argument,
                   "VALUE (--raw takes hex, e.g. 00ff): " + bytes.error().context()};
    return kv::value::raw(*bytes);
  }
  auto v = kv::value_from_json_text(a.value);
  if (!v) {
    std::string hint;
    if (v.error().context().rfind("value is not valid JSON", 0) == 0)
      hint = "; strings need JSON quotes ('\"text\"'), raw bytes need --raw";
    return error{v.error().code(), "VALUE: " + v.error().context() + hint};
  }
  return std::move(*v);
}

int run_put(const kv_args& a) {
  // Check every argument before touching the data directory.
  auto k = parse_key_arg(a.key, "KEY");
  if (!k) return report(k.error());
  if (auto space = parse_key_arg(a.space, "--space"); !space) return report(space.error());
  auto v = value_of(a);
  if (!v) return report(v.error());
  int status = exit_ok;
  auto st = open_store(a, access::write_create, status);
  if (!st) return status;
  if (auto r = st->put_value(*k, *v); !r) return report(r.error());
  std::cout << "stored " << kv::key_to_json_text(*k) << " in space " << space_text(st->space())
            << "\n";
  return exit_ok;
}

int run_get(const kv_args& a) {
  auto k = parse_key_arg(a.key, "KEY");
  if (!k) return report(k.error());
  int status = exit_ok;
  auto st = open_store(a, access::read, status);
  if (!st) return status;
  auto v = st->get_value(*k);
  if (!v) {
    if (v.error() == errc::not_found)
      return report(
          "not found: key " + kv::key_to_json_text(*k) + " in space " + space_text(st->space()),
          exit_failure);
    return report(v.error());
  }
  auto j = kv::value_to_json(*v);
  if (!j) return report(j.error());
  std::cout << dump(*j) << "\n";
  return exit_ok;
}

void print_rows(const std::vector<std::pair<std::string, std::string>>& rows, std::size_t width) {
  for (const auto& [k, v] : rows) {
    std::size_t pad = width > columns(k) ? width - columns(k) : 0;
    std::cout << k << std::string(pad + 2, ' ') << v << "\n";
  }
}

int run_list(const kv_args& a) {
  auto opts = range_of(a);
  if (!opts) return report(opts.error());
  int status = exit_ok;
  auto st = open_store(a, access::read, status);
  if (!st) return status;

  std::vector<std::pair<std::string, std::string>> rows;
  std::size_t width = 0;
  bool header_printed = false;
  std::size_t listed = 0;
  auto flush = [&] {
    if (!header_printed) {
      for (const auto& row : rows) width = std::max(width, columns(row.first));
      width = std::clamp<std::size_t>(width, 3, max_key_columns);
      std::cout << fmt::format("{:<{}}  {}\n", "KEY", width, "VALUE");
      header_printed = true;
    }
    print_rows(rows, width);
    rows.clear();
  };

  auto c = st->list(*opts);
  for (; c.valid(); c.next()) {
    ++listed;
    auto j = kv::value_to_json(c.value());
    if (a.json_lines) {
      json line{{"key", kv::key_to_json(c.key())}};
      if (j)
        line["value"] = std::move(*j);
      else
        line["error"] = j.error().message();
      std::cout << dump(line) << "\n";
      continue;
    }
    std::string shown = j ? dump(*j) : "<" + j.error().message() + ">";
    rows.emplace_back(kv::key_to_json_text(c.key()), truncate(shown, max_value_columns));
    if (rows.size() == table_page) flush();
  }
  if (!a.json_lines) {
    if (!rows.empty()) flush();
    if (listed == 0) std::cout << "(no entries)\n";
  }
  std::cout.flush();
  if (c.status()) return report(c.status());
  return exit_ok;
}

int run_count(const kv_args& a) {
  auto opts = range_of(a);
  if (!opts) return report(opts.error());
  int status = exit_ok;
  auto st = open_store(a, access::read, status);
  if (!st) return status;
  auto n = st->count(*opts);
  if (!n) return report(n.error());
  std::cout << *n << "\n";
  return exit_ok;
}

int run_delete(const kv_args& a) {
  auto k = parse_key_arg(a.key, "KEY");
  if (!k) return report(k.error());
  int status = exit_ok;
  auto st = open_store(a, access::write, status);
  if (!st) return status;
  auto existed = st->del(*k);
  if (!existed) return report(existed.error());
  if (*existed)
    std::cout << "deleted " << kv::key_to_json_text(*k) << "\n";
  else
    std::cout << "not found: " << kv::key_to_json_text(*k) << " (nothing deleted)\n";
  return exit_ok;
}

int run_spaces(const kv_args& a) {
  auto db = open_data(a.data, access::read);
  if (!db) return report(db.error());
  constexpr std::size_t page = 1000;
  std::string after;
  int status = exit_ok;
  while (true) {
    auto names = (*db)->spaces(after, page);
    if (!names) return report(names.error());
    for (const auto& encoded : *names) {
      auto k = decode_key(encoded);
      if (k) {
        std::cout << kv::key_to_json_text(*k) << "\n";
      } else {
        status = report("space " + to_hex(encoded) + " does not decode: " + k.error().message(),
                        exit_failure);
      }
    }
    if (names->size() < page) break;
    after = names->back();
  }
  return status;
}

// The options every verb that works on one space takes.
void add_space_options(CLI::App& cmd, kv_args& a) {
  add_data_option(cmd, a.data);
  cmd.add_option("--space", a.space,
                 "The keyspace, as a JSON key or a bare word (visits = [\"visits\"])")
      ->type_name("NAME")
      ->required();
}

void add_key_argument(CLI::App& cmd, kv_args& a) {
  cmd.add_option("KEY", a.key, "The key as JSON, or a bare word (visits = [\"visits\"])")
      ->required();
}

void add_range_options(CLI::App& cmd, kv_args& a) {
  a.prefix_opt = cmd.add_option("--prefix", a.prefix,
                                "Only keys starting with these tuple elements (JSON key)")
                     ->type_name("KEY");
  a.start_opt =
      cmd.add_option("--start", a.start, "Only keys >= this key (JSON key)")->type_name("KEY");
  a.end_opt = cmd.add_option("--end", a.end, "Only keys < this key (JSON key)")->type_name("KEY");
  cmd.add_flag("--reverse", a.reverse, "Descending key order");
  // A size_t option would turn -1 into 2^64-1; refuse signs before converting.
  const CLI::Validator non_negative(
      [](std::string& text) -> std::string {
        if (text.find_first_not_of("0123456789") != std::string::npos || text.empty())
          return "must be a whole number >= 0, got '" + text + "'";
        return {};
      },
      "", "non-negative");
  cmd.add_option("--limit", a.limit, "At most N entries (0: no limit)")
      ->type_name("N")
      ->check(non_negative);
}

const char* const key_footer =
    "Keys are JSON: [\"user\", 42] is a tuple, {\"bytes\":\"00ff\"} a bytes element, and a\n"
    "bare word such as visits means [\"visits\"]. See doc/json_format.md.";

}  // namespace

void add_kv_commands(CLI::App& app, run_state& state) {
  auto* group = app.add_subcommand(
      "kv", "Browse and edit the key-value spaces of a data directory (or a PostgreSQL schema)");

  {
    auto a = std::make_shared<kv_args>();
    auto* cmd = group->add_subcommand("put", "Store a value under a key (takes the writer lock)");
    add_space_options(*cmd, *a);
    add_key_argument(*cmd, *a);
    cmd->add_option("VALUE", a->value, "The value as JSON (stored as msgpack), or hex with --raw")
        ->required();
    cmd->add_flag("--raw", a->raw, "VALUE is hex, stored as raw bytes");
    add_backend_option(*cmd, a->data);
    cmd->footer(std::string(key_footer) +
                "\nWithout --backend, an existing data directory is opened with the backend it\n"
                "holds and a new one is created with lmdb; --pg (or --pg-file) writes to the\n"
                "PostgreSQL schema --pg-schema instead, creating it when missing.\n"
                "\nExamples:\n  ark-dash kv put --space counters visits 42\n"
                "  ark-dash kv put --space users '[\"user\", 7]' '{\"name\": \"ada\"}'\n"
                "  ark-dash kv put --space blobs avatar 89504e47 --raw");
    cmd->callback([&state, a] { state.status = run_put(*a); });
  }
  {
    auto a = std::make_shared<kv_args>();
    auto* cmd = group->add_subcommand("get", "Print the value of a key as JSON");
    add_space_options(*cmd, *a);
    add_key_argument(*cmd, *a);
    cmd->footer(std::string(key_footer) +
                "\nRaw values print as {\"raw\":\"<hex>\"}. A missing key exits with status 1.");
    cmd->callback([&state, a] { state.status = run_get(*a); });
  }
  {
    auto a = std::make_shared<kv_args>();
    auto* cmd = group->add_subcommand("list", "List the entries of a space in key order");
    add_space_options(*cmd, *a);
    add_range_options(*cmd, *a);
    cmd->add_flag("--json", a->json_lines,
                  "One JSON object per line, {\"key\": [...], \"value\": ...}");
    cmd->footer(std::string(key_footer) +
                "\nExample:\n  ark-dash kv list --space users --prefix '[\"user\"]' --limit 10");
    cmd->callback([&state, a] { state.status = run_list(*a); });
  }
  {
    auto a = std::make_shared<kv_args>();
    auto* cmd = group->add_subcommand("count", "Print how many entries list would show");
    add_space_options(*cmd, *a);
    add_range_options(*cmd, *a);
    cmd->footer(key_footer);
    cmd->callback([&state, a] { state.status = run_count(*a); });
  }
  {
    auto a = std::make_shared<kv_args>();
    auto* cmd = group->add_subcommand("delete", "Remove a key (takes the writer lock)");
    add_space_options(*cmd, *a);
    add_key_argument(*cmd, *a);
    cmd->footer(std::string(key_footer) +
                "\nPrints \"deleted KEY\", or \"not found: KEY\" when there was nothing to "
                "delete.");
    cmd->callback([&state, a] { state.status = run_delete(*a); });
  }
  {
    auto a = std::make_shared<kv_args>();
    auto* cmd =
        group->add_subcommand("spaces", "List the spaces that hold keys, one JSON per line");
    add_data_option(*cmd, a->data);
    cmd->callback([&state, a] { state.status = run_spaces(*a); });
  }
}

}  // namespace ark::dash
