#include "common.hpp"

#include <iostream>

#include "ark/kv/json.hpp"
#include "ark/kv/pg_backend.hpp"

namespace ark::dash {

bool data_source::postgres() const {
  return !pg.empty() || !pg_file.empty() || kind == kv::backend_kind::postgres;
}

std::string data_source::schema() const {
  return pg_schema.empty() ? default_pg_schema : pg_schema;
}

void add_data_option(CLI::App& cmd, data_source& src, const std::string& what) {
  auto* data = cmd.add_option("--data", src.dir, what)->type_name("DIR")->capture_default_str();
  auto* pg = cmd.add_option("--pg", src.pg,
                            "A PostgreSQL server instead of --data: libpq connection string or "
                            "URI, e.g. 'postgresql://ark@db.internal/app' (no password here: "
                            "~/.pgpass, PGPASSFILE or --pg-file)")
                 ->type_name("CONNINFO");
  auto* pg_file = cmd.add_option("--pg-file", src.pg_file,
                                 "A file holding the PostgreSQL connection string instead of "
                                 "--pg (chmod 600; may hold a password)")
                      ->type_name("FILE");
  cmd.add_option("--pg-schema", src.pg_schema,
                 "The PostgreSQL schema of ark's tables, with --pg or --pg-file")
      ->type_name("NAME")
      ->default_str(default_pg_schema);
  data->excludes(pg)->excludes(pg_file);
  pg->excludes(pg_file);
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

expected<std::shared_ptr<kv::backend>> open_data(const data_source& src, access mode) {
  kv::open_options opts;
  opts.kind = src.kind;
  opts.read_only = mode == access::read;
  opts.create_if_missing = mode == access::write_create;
  if (!src.postgres()) {
    if (!src.pg_schema.empty())
      return error{errc::invalid_argument,
                   "--pg-schema names a PostgreSQL schema: pass the server with --pg CONNINFO or "
                   "--pg-file FILE too (or drop --pg-schema to use --data)"};
    return kv::open_backend(src.dir, opts);
  }
  if (auto r = kv::configure_postgres(opts, src.pg, src.pg_file); !r) return r.error();
  if (opts.pg_conninfo.empty())
    return error{errc::invalid_argument,
                 "--backend postgres needs the server: --pg CONNINFO or --pg-file FILE"};
  opts.pg_schema = src.schema();
  return kv::open_backend({}, opts);
}

std::string location(const data_source& src, const kv::backend& db) {
  if (const auto* pg = dynamic_cast<const kv::pg_backend*>(&db)) return pg->location();
  return src.dir;
}

void add_backend_option(CLI::App& cmd, data_source& src) {
  cmd.add_option_function<std::string>(
         "--backend",
         [&src](const std::string& text) {
           auto k = kv::parse_backend_kind(text);
           if (!k) throw CLI::ValidationError("--backend", k.error().context());
           src.kind = *k;
         },
         "Storage engine: lmdb (default for a new directory) or sqlite (an existing directory "
         "must hold this one), or postgres (with --pg or --pg-file; doc/backends.md)")
      ->type_name("lmdb|sqlite|postgres");
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
