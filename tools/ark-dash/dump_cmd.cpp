// `ark-dash dump` and `ark-dash load`: a whole data directory (or PostgreSQL
// schema) as portable JSON lines (doc/admin_api.md, "Dump format"), and back
// into a new directory (or an empty schema).
//
// dump reads everything from one read snapshot (kv::walk_raw: LMDB, SQLite or
// PostgreSQL), so the file is consistent even while a host writes. load writes
// into a temporary sibling directory and renames it into place only when the
// whole file, trailer included, was read and committed: a truncated or damaged
// dump leaves no half-loaded directory behind. A schema cannot be renamed into
// place: load writes into it directly, holding its lock, and clears every
// space it wrote when the dump turns out bad, so nothing stays loaded either.

#include <openssl/evp.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <string>
#include <unordered_map>

#include "ark/kv/json.hpp"
#include "commands.hpp"
#include "common.hpp"
#include "progress.hpp"

namespace ark::dash {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr int dump_format = 1;
constexpr std::size_t load_batch = 5000;

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> unbase64(const std::string& text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  std::size_t pad = 0;
  if (!text.empty() && text.back() == '=') pad = text.size() >= 2 && text[text.size() - 2] == '=' ? 2 : 1;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

struct dump_args {
  data_source data;
  std::string out;
  bool skip_damaged = false;
};

int run_dump(const dump_args& a) {
  auto db = open_data(a.data, access::read);
  if (!db) return report(db.error());
  std::error_code ec;
  if (a.out != "-" && fs::exists(a.out, ec))
    return report(a.out + " exists; dump writes a new file and never overwrites one (choose "
                          "another --out, or remove it first)",
                  exit_failure);
  std::ofstream file;
  std::ostream* out = &std::cout;
  if (a.out != "-") {
    file.open(a.out, std::ios::binary | std::ios::trunc);
    if (!file) return report("cannot write " + a.out, exit_failure);
    out = &file;
  }
  *out << dump(json{{"ark_dump", dump_format},
                    {"format_version", kv::storage_format_version},
                    {"source", location(a.data, **db)}})
       << "\n";
  std::unordered_map<std::string, json> spaces;  // 8-byte id -> space key (JSON)
  std::uint64_t entries = 0;
  // Records that fail their checksum (or belong to a space whose id does):
  // never written as if they were good.
  std::vector<std::string> damaged;
  bool damaged_space = false;
  progress bar("dump", "entries", 0);
  error failure;
  auto walked = kv::walk_raw(**db, [&](kv::raw_db which, std::string_view k, std::string_view v,
                                       bool intact) {
    if (which == kv::raw_db::spaces) {
      auto space = decode_key(k);
      if (!space) {
        failure = error{errc::corrupt_value, "a space name does not decode: " + to_hex(k)};
        return false;
      }
      if (!intact) {
        damaged_space = true;
        damaged.push_back("the id of space " + kv::key_to_json_text(*space) +
                          " (every key of that space)");
        return true;
      }
      spaces[std::string(v)] = kv::key_to_json(*space);
      return true;
    }
    if (which == kv::raw_db::meta) {
      if (!intact) damaged.push_back("meta " + std::string(k));
      return true;
    }
    auto it = k.size() < 8 ? spaces.end() : spaces.find(std::string(k.substr(0, 8)));
    if (it == spaces.end()) {
      if (damaged_space) return true;  // named with its space above
      failure = error{errc::corrupt_value, "an entry of an unknown space: " + to_hex(k)};
      return false;
    }
    auto key = k.substr(8);
    auto readable = decode_key(key);
    if (!intact) {
      damaged.push_back("space " + it->second.dump() + " key " +
                        (readable ? kv::key_to_json_text(*readable) : "0x" + to_hex(key)));
      return true;
    }
    json line{{"space", it->second}, {"key", base64(key)}, {"value", base64(v)}};
    if (readable) line["key_json"] = kv::key_to_json(*readable);
    *out << dump(line) << "\n";
    bar.update(++entries);
    return static_cast<bool>(*out);
  });
  bar.finish();
  if (!walked) failure = walked.error();
  if (!failure && !*out) failure = error{errc::io_error, "writing " + a.out + " failed"};
  if (!failure && !damaged.empty() && !a.skip_damaged) {
    std::string list;
    for (const auto& d : damaged) list += "\n  " + d;
    failure = error{errc::corrupt_value,
                    std::to_string(damaged.size()) +
                        (damaged.size() == 1 ? " record fails its" : " records fail their") +
                        " checksum, so the dump would not be a faithful copy:" + list +
                        "\nRestore the data directory from a backup, or dump every other "
                        "record with --skip-damaged"};
  }
  if (failure) {
    if (file.is_open()) {
      file.close();
      fs::remove(a.out);  // created above: a partial dump must not look complete
    }
    return report(failure);
  }
  json end{{"end", true}, {"entries", entries}, {"spaces", spaces.size()}};
  if (!damaged.empty()) end["skipped_damaged"] = damaged.size();
  *out << dump(end) << "\n";
  out->flush();
  for (const auto& d : damaged) std::cerr << "skipped (fails its checksum): " << d << "\n";
  if (a.out != "-")
    std::cerr << "dumped " << entries << " entries of " << spaces.size() << " spaces to "
              << a.out << (damaged.empty() ? "" : ", skipping " + std::to_string(damaged.size()) +
                                                      " damaged")
              << "\n";
  return exit_ok;
}

struct load_args {
  data_source data;  // the new directory (--data, --backend) or the schema (--pg ...)
  std::string in;
};

// Writes the dump read from `in` (`total_bytes` long, 0 when unknown) into
// `db` in batches of load_batch entries. Counts the entries in `entries` and
// records every encoded space it wrote to in `spaces`. Returns what is wrong
// with the dump or the write ("line 7: not a JSON object"), or nullopt once
// the whole file, end line included, is committed.
std::optional<std::string> load_into(kv::backend& db, std::istream& in, std::uint64_t total_bytes,
                                     std::uint64_t& entries, std::set<std::string>& spaces) {
  std::string line;
  std::uint64_t line_no = 0, read_bytes = 0;
  bool ended = false;
  kv::backend_batch batch;
  std::size_t pending = 0;
  std::unordered_map<std::string, std::string> encoded_spaces;  // JSON text -> encoded
  progress bar("load", "bytes", total_bytes);
  auto flush = [&]() -> expected<void> {
    if (pending == 0) return {};
    auto r = db.apply(batch);
    batch = kv::backend_batch{};
    pending = 0;
    if (!r) return r.error();
    return {};
  };
  while (std::getline(in, line)) {
    ++line_no;
    read_bytes += line.size() + 1;
    bar.update(read_bytes);
    auto where = "line " + std::to_string(line_no);
    if (ended) return where + ": data after the end line";
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return where + ": not a JSON object";
    if (line_no == 1) {
      if (j.value("ark_dump", 0) != dump_format)
        return std::string("not an ark dump (its first line lacks \"ark_dump\": 1)");
      // The records of a dump are the same in every format so far (a
      // format-1 directory's dump loads too).
      auto version = j.value("format_version", 0u);
      if (version < 1 || version > kv::storage_format_version)
        return "written by storage format " + std::to_string(version) +
               ", this ark-dash reads 1 to " + std::to_string(kv::storage_format_version);
      continue;
    }
    if (j.contains("end")) {
      if (j.value("entries", std::uint64_t{0}) != entries)
        return where + ": the end line counts " +
               std::to_string(j.value("entries", std::uint64_t{0})) + " entries, the file has " +
               std::to_string(entries);
      ended = true;
      continue;
    }
    if (!j.contains("space") || !j["key"].is_string() || !j["value"].is_string())
      return where + ": an entry needs space, key and value";
    auto space_text = j["space"].dump();
    auto sit = encoded_spaces.find(space_text);
    if (sit == encoded_spaces.end()) {
      auto space = kv::key_from_json(j["space"]);
      if (!space) return where + ": space: " + space.error().message();
      auto enc = encode_key(*space);
      if (!enc) return where + ": space: " + enc.error().message();
      sit = encoded_spaces.emplace(space_text, std::move(*enc)).first;
    }
    auto key = unbase64(j["key"].get<std::string>());
    auto value = unbase64(j["value"].get<std::string>());
    if (!key || !value) return where + ": key or value is not base64";
    spaces.insert(sit->second);
    batch.for_space(sit->second)
        .ops.push_back(kv::write_op{kv::write_op::kind::put, std::move(*key), std::move(*value)});
    ++entries;
    if (++pending == load_batch)
      if (auto r = flush(); !r) return where + ": " + r.error().message();
  }
  if (!ended) return std::string("the file ends before its end line (truncated?)");
  if (auto r = flush(); !r) return r.error().message();
  bar.finish();
  return std::nullopt;
}

// load --pg: into the schema, which must hold no keys; on failure, clears the
// spaces it wrote.
int load_schema(const load_args& a, std::istream& in, std::uint64_t total_bytes) {
  auto db = open_data(a.data, access::write_create);
  if (!db) return report(db.error());
  const auto where = location(a.data, **db);
  auto held = (*db)->spaces({}, 1);
  if (!held) return report(held.error());
  if (!held->empty())
    return report(where +
                      " already holds ark data: load only into an empty schema (it would mix two "
                      "data sets); pick a new --pg-schema, or drop this one first",
                  exit_failure);
  std::uint64_t entries = 0;
  std::set<std::string> spaces;
  auto failure = load_into(**db, in, total_bytes, entries, spaces);
  if (failure) {
    std::string undone = "nothing was loaded";
    if (!spaces.empty()) {
      kv::backend_batch undo;
      for (const auto& s : spaces) undo.clear(s);
      if (auto r = (*db)->apply(undo); !r)
        undone = "clearing what was loaded failed too (" + r.error().message() + "): " + where +
                 " holds part of the dump; drop the schema";
    }
    return report("load " + a.in + ": " + *failure + "; " + undone, exit_failure);
  }
  std::cerr << "loaded " << entries << " entries into " << where << "\n";
  return exit_ok;
}

int run_load(const load_args& a) {
  const bool pg = a.data.postgres();
  if (!pg && a.data.dir.empty())
    return report(
        "load needs its target: --data NEW_DIR, or a PostgreSQL schema (--pg CONNINFO "
        "or --pg-file FILE, with --pg-schema NAME)",
        exit_usage);
  std::error_code ec;
  if (!pg && fs::exists(a.data.dir, ec) &&
      !(fs::is_directory(a.data.dir, ec) && fs::is_empty(a.data.dir, ec)))
    return report("--data " + a.data.dir +
                      " exists and is not empty: load only into a new directory (it would mix "
                      "two data sets)",
                  exit_failure);
  std::ifstream file;
  std::istream* in = &std::cin;
  std::uint64_t total_bytes = 0;
  if (a.in != "-") {
    file.open(a.in, std::ios::binary);
    if (!file) return report("cannot read " + a.in, exit_failure);
    total_bytes = fs::file_size(a.in, ec);
    in = &file;
  }
  if (pg) return load_schema(a, *in, total_bytes);
  const auto& dir = a.data.dir;
  auto parent = fs::absolute(dir).parent_path();
  auto tmp = (parent / (fs::path(dir).filename().string() + ".loading-XXXXXX")).string();
  if (::mkdtemp(tmp.data()) == nullptr)
    return report("cannot create a directory next to " + dir, exit_failure);
  auto fail = [&](const std::string& what) {
    fs::remove_all(tmp, ec);
    return report("load " + a.in + ": " + what + "; nothing was loaded", exit_failure);
  };
  std::uint64_t entries = 0;
  {
    data_source target = a.data;
    target.dir = tmp;
    auto db = open_data(target, access::write_create);
    if (!db) return fail(db.error().message());
    std::set<std::string> spaces;
    if (auto failure = load_into(**db, *in, total_bytes, entries, spaces)) return fail(*failure);
  }
  // Into place: an empty target directory is replaced.
  if (fs::exists(dir, ec)) fs::remove(dir, ec);
  fs::rename(tmp, dir, ec);
  if (ec) return fail("cannot rename " + tmp + " to " + dir + ": " + ec.message());
  std::cerr << "loaded " << entries << " entries into " << dir << " ("
            << kv::to_string(a.data.kind.value_or(kv::backend_kind::lmdb)) << ")\n";
  return exit_ok;
}

}  // namespace

void add_dump_commands(CLI::App& app, run_state& state) {
  {
    auto a = std::make_shared<dump_args>();
    auto* cmd = app.add_subcommand(
        "dump",
        "Write a whole data directory (or PostgreSQL schema) as portable JSON lines (one read "
        "snapshot)");
    add_data_option(*cmd, a->data);
    cmd->add_option("--out", a->out, "the dump file (new), or - for stdout")->required();
    cmd->add_flag("--skip-damaged", a->skip_damaged,
                  "Leave out the records that fail their checksum, naming each on stderr "
                  "(without it, dump refuses to write them, naming each)");
    cmd->callback([a, &state] { state.status = run_dump(*a); });
  }
  {
    auto a = std::make_shared<load_args>();
    auto* cmd = app.add_subcommand(
        "load",
        "Create a data directory, or fill an empty PostgreSQL schema, from a dump (all or "
        "nothing)");
    a->data.dir.clear();  // no default: the target is always named
    add_data_option(*cmd, a->data, "the new data directory (missing or empty)");
    cmd->add_option("--in", a->in, "the dump file, or - for stdin")->required();
    add_backend_option(*cmd, a->data);
    cmd->footer(
        "A dump loads into any backend, whichever wrote it: converting a directory\n"
        "is a dump then a load. A PostgreSQL schema must hold no keys (load creates it\n"
        "when missing); load holds its lock, and clears what it wrote when the dump\n"
        "turns out damaged or truncated.\n"
        "Examples (LMDB to SQLite, LMDB to PostgreSQL):\n"
        "  ark-dash dump --data ./ark-data --out data.jsonl\n"
        "  ark-dash load --data ./ark-data-sqlite --in data.jsonl --backend sqlite\n"
        "  ark-dash load --pg 'postgresql://ark@db.internal/app' --pg-schema shop --in "
        "data.jsonl");
    cmd->callback([a, &state] { state.status = run_load(*a); });
  }
}

}  // namespace ark::dash
