// ark-dash verify: checks a whole data directory over one read snapshot and
// reports every damaged entry it finds (doc/storage_format.md, "Verifying a
// data directory"). Read-only: it works while a host writes.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ark/kv/big_endian.hpp"
#include "ark/kv/json.hpp"
#include "ark/kv/pg_backend.hpp"
#include "ark/kv/sqlite_backend.hpp"
#include "ark/kv/store.hpp"
#include "ark/kv/value.hpp"
#include "ark/stored_format.hpp"
#include "commands.hpp"
#include "progress.hpp"

namespace ark::dash {
namespace {

using json = nlohmann::json;
using steady = std::chrono::steady_clock;

// Names of the meta entries (doc/storage_format.md): on-disk constants.
constexpr std::string_view meta_format_version = "format_version";
constexpr std::string_view meta_next_space_id = "next_space_id";
constexpr std::size_t space_id_size = 8;

// Entries between two looks at the clock for the progress line.
constexpr std::uint64_t progress_every = 4096;
// The progress line appears once the walk took this long, and is redrawn at
// most this often.
constexpr auto progress_after = std::chrono::seconds(1);
constexpr auto progress_interval = std::chrono::milliseconds(250);

// Where a problem is: JSON members for --json, and the same as text.
struct place {
  json fields = json::object();
  std::string text;
};

// An encoded key as JSON members under `name` (the key, or `name`_hex when it
// does not decode) and as text.
place key_place(std::string_view encoded, const std::string& name, std::string text_prefix) {
  place p;
  auto k = decode_key(encoded);
  if (k) {
    p.fields[name] = kv::key_to_json(*k);
    p.text = std::move(text_prefix) + kv::key_to_json_text(*k);
  } else {
    p.fields[name + "_hex"] = to_hex(encoded);
    p.text = std::move(text_prefix) + "0x" + to_hex(encoded);
  }
  return p;
}

// What verify says of a record that fails its checksum.
constexpr const char* checksum_problem =
    "fails its checksum: its bytes changed on disk after ark wrote them; restore the data "
    "directory from a backup (ark-dash restore), or remove the record";

// Why `encoded` is not an actor identity [type, key], or empty when it is.
std::string identity_problem(std::string_view encoded) {
  auto k = decode_key(encoded);
  if (!k) return "the actor key does not decode: " + k.error().context();
  if (k->size() != 2 || (*k)[0].kind() != key_element::type::string ||
      (*k)[0].as_string().empty() || (*k)[1].kind() != key_element::type::tuple)
    return "the key is not an actor identity [type, key]";
  if (encoded.size() > kv::max_key_size)
    return "the actor identity is " + std::to_string(encoded.size()) + " bytes, more than " +
           std::to_string(kv::max_key_size);
  return {};
}

// Walks one read snapshot of a data directory (the entries kv::walk_raw
// reports for LMDB and SQLite alike, meta then spaces then kv) and reports every problem as
// it finds it: one line of text, or one JSON object, on stdout.
class verifier {
 public:
  // `space_counter`: the backend assigns space ids from meta next_space_id
  // (LMDB, SQLite), which must then exist; PostgreSQL assigns them from the
  // spaces table's identity column and keeps no such entry.
  verifier(std::string dir, bool json_lines, bool space_counter = true)
      : dir_(std::move(dir)),
        json_(json_lines),
        space_counter_(space_counter),
        tty_(::isatty(2) == 1),
        start_(steady::now()) {}

  bool visit(kv::raw_db db, std::string_view key, std::string_view value, bool intact) {
    tick();
    switch (db) {
      case kv::raw_db::meta:
        visit_meta(key, value, intact);
        break;
      case kv::raw_db::spaces:
        visit_space(key, value, intact);
        break;
      case kv::raw_db::kv:
        if (!spaces_done_) finish_spaces();
        visit_kv(key, value, intact);
        break;
    }
    return true;
  }

  // After the walk: the checks that need all of it.
  void finish() {
    if (!has_format_version_) {
      place where;
      where.fields["meta"] = std::string(meta_format_version);
      where.text = "meta " + std::string(meta_format_version);
      problem("meta", where, "is missing");
    }
    if (!spaces_done_) finish_spaces();
    flush_orphans();
    finish_alarms();
    clear_progress();
  }

  void print_summary() const {
    if (json_) {
      json s{{"data", dir_},
             {"spaces", spaces_checked_},
             {"keys", keys_},
             {"snapshots", snapshots_},
             {"journal_records", journal_records_},
             {"problems", problems_}};
      std::cout << dump(json{{"summary", s}}) << "\n";
    } else {
      std::cout << "verified " << dir_ << ": " << spaces_checked_ << " spaces, " << keys_
                << " keys, " << snapshots_ << " snapshots, " << journal_records_
                << " journal records: ";
      if (problems_ == 0)
        std::cout << "no problems\n";
      else
        std::cout << problems_ << (problems_ == 1 ? " problem\n" : " problems\n");
    }
    std::cout.flush();
  }

  std::uint64_t problems() const { return problems_; }

  // A problem the storage engine found in the file itself (SQLite's
  // integrity_check), outside any entry.
  void file_problem(const std::string& file, const std::string& what) {
    place where;
    where.fields["file"] = file;
    where.text = "file " + file;
    problem("file", where, what);
  }

 private:
  enum class space_kind { unregistered, state, journal, alarms, alarm_due, plain };

  struct space_entry {
    std::uint64_t id;
    std::size_t offset;  // of its encoded key in arena_
    std::size_t size;
  };

  // -- reporting ---------------------------------------------------------------

  void problem(const char* area, const place& where, const std::string& what) {
    ++problems_;
    clear_progress();
    if (json_) {
      json line = where.fields;
      line["in"] = area;
      line["problem"] = what;
      std::cout << dump(line) << "\n";
    } else {
      std::cout << where.text << ": " << what << "\n";
    }
  }

  void tick() {
    if (!tty_ || ++entries_ % progress_every != 0) return;
    auto now = steady::now();
    if (now - start_ < progress_after || now - last_progress_ < progress_interval) return;
    last_progress_ = now;
    std::cout.flush();
    std::cerr << "\rark-dash verify: " << spaces_checked_ << " spaces, " << keys_
              << " keys checked, " << problems_ << " problems so far..." << std::flush;
    progress_shown_ = true;
  }

  void clear_progress() {
    if (!progress_shown_) return;
    std::cerr << "\r\033[K" << std::flush;
    progress_shown_ = false;
  }

  // -- meta ----------------------------------------------------------------------

  void visit_meta(std::string_view key, std::string_view value, bool intact) {
    place where;
    where.fields["meta"] = std::string(key);
    where.text = "meta " + std::string(key);
    if (!intact) {
      problem("meta", where, checksum_problem);
      if (key == meta_next_space_id) next_space_id_.reset();
      return;
    }
    if (key == meta_format_version) {
      has_format_version_ = true;
      if (value.size() != 4) {
        problem("meta", where, "has " + std::to_string(value.size()) + " bytes, expected 4");
      } else if (auto v = kv::get_be(value); v == 0 || v > kv::storage_format_version) {
        // open() refuses a newer version; 0 was never written.
        problem("meta", where,
                "is " + std::to_string(v) + "; this ark knows versions 1 to " +
                    std::to_string(kv::storage_format_version));
      }
    } else if (key == meta_next_space_id) {
      if (value.size() != 8)
        problem("meta", where, "has " + std::to_string(value.size()) + " bytes, expected 8");
      else
        next_space_id_ = kv::get_be(value);
    }
  }

  // -- spaces --------------------------------------------------------------------

  void visit_space(std::string_view key, std::string_view value, bool intact) {
    ++spaces_checked_;
    auto where = key_place(key, "space", "space ");
    if (!intact) {
      // Its id cannot be trusted: its keys show as stored under an
      // unregistered id.
      problem("spaces", where, std::string("its space id ") + checksum_problem);
      return;
    }
    auto k = decode_key(key);
    if (!k)
      problem("spaces", where, "the space key does not decode: " + k.error().context());
    else if (k->empty())
      problem("spaces", where, "the empty tuple is not a valid space key");
    if (value.size() != space_id_size) {
      problem("spaces", where,
              "its space id has " + std::to_string(value.size()) + " bytes, expected 8");
      return;
    }
    auto id = kv::get_be(value);
    if (id == 0) {
      problem("spaces", where, "its space id is 0, which is never assigned");
      return;
    }
    spaces_.push_back(space_entry{id, arena_.size(), key.size()});
    arena_.append(key);
  }

  std::string_view space_key(const space_entry& e) const {
    return std::string_view(arena_).substr(e.offset, e.size);
  }

  void finish_spaces() {
    spaces_done_ = true;
    std::stable_sort(spaces_.begin(), spaces_.end(),
                     [](const space_entry& a, const space_entry& b) { return a.id < b.id; });
    for (std::size_t i = 1; i < spaces_.size(); ++i) {
      if (spaces_[i].id != spaces_[i - 1].id) continue;
      auto first = key_place(space_key(spaces_[i - 1]), "space", "");
      auto where = key_place(space_key(spaces_[i]), "space", "space ");
      problem("spaces", where,
              "shares space id " + std::to_string(spaces_[i].id) + " with space " + first.text +
                  " (their keys cannot be told apart)");
    }
    if (!spaces_.empty() && !next_space_id_ && space_counter_) {
      place where;
      where.fields["meta"] = std::string(meta_next_space_id);
      where.text = "meta " + std::string(meta_next_space_id);
      problem("meta", where,
              "is missing, but " + std::to_string(spaces_.size()) + " spaces are registered");
    } else if (next_space_id_) {
      for (const auto& e : spaces_) {
        if (e.id < *next_space_id_) continue;
        auto where = key_place(space_key(e), "space", "space ");
        problem("spaces", where,
                "has space id " + std::to_string(e.id) + ", not below next_space_id " +
                    std::to_string(*next_space_id_) + " (a new space would get the same id)");
      }
    }
  }

  // -- kv ----------------------------------------------------------------------

  void enter_space(std::uint64_t id) {
    flush_orphans();
    cur_id_ = id;
    auto it = std::lower_bound(spaces_.begin(), spaces_.end(), id,
                               [](const space_entry& e, std::uint64_t v) { return e.id < v; });
    if (it == spaces_.end() || it->id != id) {
      cur_kind_ = space_kind::unregistered;
      return;
    }
    auto encoded = space_key(*it);
    if (encoded == stored::state_space())
      cur_kind_ = space_kind::state;
    else if (encoded == stored::journal_space())
      cur_kind_ = space_kind::journal;
    else if (encoded == stored::alarm_space())
      cur_kind_ = space_kind::alarms;
    else if (encoded == stored::alarm_due_space())
      cur_kind_ = space_kind::alarm_due;
    else
      cur_kind_ = space_kind::plain;
    cur_space_ = key_place(encoded, "space", "space ");
  }

  void visit_kv(std::string_view key, std::string_view value, bool intact) {
    ++keys_;
    if (key.size() < space_id_size) {
      place where;
      where.fields["key_hex"] = to_hex(key);
      where.text = "kv entry 0x" + to_hex(key);
      problem("kv", where, "the key is shorter than the 8-byte space id");
      return;
    }
    auto id = kv::get_be(key.substr(0, space_id_size));
    if (!cur_id_ || *cur_id_ != id) enter_space(id);
    auto user = key.substr(space_id_size);
    if (!intact && cur_kind_ != space_kind::unregistered) {
      damaged(user);
      return;
    }
    switch (cur_kind_) {
      case space_kind::unregistered:
        if (orphans_++ == 0) first_orphan_ = std::string(key);
        break;
      case space_kind::state:
        check_state(user, value);
        break;
      case space_kind::journal:
        check_journal(user, value);
        break;
      case space_kind::alarms:
        check_alarm(user, value);
        break;
      case space_kind::alarm_due:
        check_alarm_due(user, value);
        break;
      case space_kind::plain:
        check_plain(user, value);
        break;
    }
  }

  // A record that fails its checksum: named as the reader would name it
  // (the actor for a snapshot), its bytes not decoded.
  void damaged(std::string_view user) {
    switch (cur_kind_) {
      case space_kind::state:
        ++snapshots_;
        problem("state", key_place(user, "actor", "snapshot of actor "), checksum_problem);
        break;
      case space_kind::journal:
        ++journal_records_;
        problem("journal", journal_place(user), checksum_problem);
        break;
      case space_kind::alarms:
        alarm_rows_.emplace(std::string(user), std::nullopt);
        problem("alarms", entry_place(user), checksum_problem);
        break;
      default:
        problem(cur_kind_ == space_kind::alarm_due ? "alarms" : "kv", entry_place(user),
                checksum_problem);
        break;
    }
  }

  void flush_orphans() {
    if (orphans_ == 0) return;
    place where;
    where.fields["space_id"] = *cur_id_;
    where.fields["keys"] = orphans_;
    where.fields["key_hex"] = to_hex(first_orphan_);
    where.text = "kv space id " + std::to_string(*cur_id_);
    problem("kv", where,
            std::to_string(orphans_) + (orphans_ == 1 ? " key is" : " keys are") +
                " stored under this space id, which no space in `spaces` registers (first key "
                "0x" +
                to_hex(first_orphan_) + ")");
    orphans_ = 0;
  }

  place entry_place(std::string_view user) const {
    auto k = key_place(user, "key", "");
    place p;
    p.fields = cur_space_.fields;
    p.fields.update(k.fields);
    p.text = cur_space_.text + " key " + k.text;
    return p;
  }

  void check_plain(std::string_view user, std::string_view stored) {
    auto where = entry_place(user);
    if (auto k = decode_key(user); !k)
      problem("kv", where, "the key does not decode: " + k.error().context());
    else if (user.size() > kv::max_key_size)
      problem("kv", where,
              "the key is " + std::to_string(user.size()) + " bytes, more than " +
                  std::to_string(kv::max_key_size));
    auto v = kv::value::decode(stored);
    if (!v) {
      problem("kv", where, v.error().context());
      return;
    }
    if (v->payload().size() > kv::max_value_size)
      problem("kv", where,
              "the value is " + std::to_string(v->payload().size()) + " bytes, more than " +
                  std::to_string(kv::max_value_size));
    if (v->is_raw()) return;
    if (auto h = v->unpack(); !h) problem("kv", where, h.error().context());
  }

  // -- alarms (doc/alarms.md) -------------------------------------------------------
  // Rows [type, key, name] -> stored_alarm and the due index [due_ms, type,
  // key, name] -> "" are written together; each row's index entry and each
  // index entry's row are matched once the walk is done.

  void check_alarm(std::string_view user, std::string_view value) {
    auto where = entry_place(user);
    auto k = decode_key(user);
    if (!k || user.size() > kv::max_key_size) return check_plain(user, value);
    if (k->size() != 3 || (*k)[0].kind() != key_element::type::string ||
        (*k)[1].kind() != key_element::type::tuple || (*k)[2].kind() != key_element::type::string) {
      problem("alarms", where, "the key is not an alarm [type, key, name]");
      return;
    }
    auto v = kv::value::decode(value);
    auto a = v ? v->as<stored::alarm_row>() : expected<stored::alarm_row>(v.error());
    if (!a) {
      problem("alarms", where, "the alarm does not decode: " + a.error().context());
      alarm_rows_.emplace(std::string(user), std::nullopt);
      return;
    }
    alarm_rows_.emplace(std::string(user), a->due_ms);
  }

  void check_alarm_due(std::string_view user, std::string_view stored) {
    auto where = entry_place(user);
    auto k = decode_key(user);
    if (!k || user.size() > kv::max_key_size) return check_plain(user, stored);
    if (k->size() != 4 || (*k)[0].kind() != key_element::type::int64 ||
        (*k)[1].kind() != key_element::type::string || (*k)[2].kind() != key_element::type::tuple ||
        (*k)[3].kind() != key_element::type::string) {
      problem("alarms", where, "the key is not a due-index entry [due_ms, type, key, name]");
      return;
    }
    auto row = encode_key(ark::key{(*k)[1], (*k)[2], (*k)[3]});
    if (row) alarm_index_.emplace(std::move(*row), (*k)[0].as_int());
  }

  void finish_alarms() {
    // The due-index key [due_ms, type, key, name] of row [type, key, name].
    auto index_key = [](const std::string& row, std::int64_t due) {
      ark::key entry{due};
      if (auto k = decode_key(row))
        for (const auto& e : *k) entry.push_back(e);
      return entry;
    };
    for (const auto& [row, due] : alarm_rows_) {
      if (!due) continue;  // damaged: reported already
      auto [first, last] = alarm_index_.equal_range(row);
      if (std::any_of(first, last, [&](const auto& e) { return e.second == *due; })) continue;
      auto where = key_place(row, "key", "space [null,\"alarms\"] key ");
      where.fields["space"] = json::array({nullptr, "alarms"});
      problem("alarms", where,
              "the alarm has no due-index entry " + kv::key_to_json_text(index_key(row, *due)) +
                  ", so it never fires");
    }
    for (const auto& [row, due] : alarm_index_) {
      auto it = alarm_rows_.find(row);
      if (it != alarm_rows_.end() && (!it->second || *it->second == due)) continue;
      auto entry = index_key(row, due);
      place where;
      where.fields["space"] = json::array({nullptr, "alarm_due"});
      where.fields["key"] = kv::key_to_json(entry);
      where.text = "space [null,\"alarm_due\"] key " + kv::key_to_json_text(entry);
      problem("alarms", where,
              "no alarm is due at this time (a stale entry: remove it with `ark-dash kv delete "
              "--space '[null,\"alarm_due\"]' KEY`)");
    }
  }

  void check_snapshot(const char* area, const place& where, std::string_view value) {
    ++snapshots_;
    auto snap = stored::parse_snapshot(value);
    if (!snap) problem(area, where, "the snapshot is damaged: " + snap.error().context());
  }

  void check_state(std::string_view user, std::string_view stored) {
    auto where = key_place(user, "actor", "snapshot of actor ");
    if (auto why = identity_problem(user); !why.empty()) problem("state", where, why);
    check_snapshot("state", where, stored);
  }

  // A journal record by its number (its key in hex when that is not one).
  static place journal_place(std::string_view user) {
    place rec;
    if (user.size() == 8) {
      auto n = kv::get_be(user);
      rec.fields["record"] = n;
      rec.text = "journal record " + std::to_string(n);
    } else {
      rec.fields["record_hex"] = to_hex(user);
      rec.text = "journal record 0x" + to_hex(user);
    }
    return rec;
  }

  void check_journal(std::string_view user, std::string_view record) {
    ++journal_records_;
    auto rec = journal_place(user);
    if (user.size() != 8)
      problem("journal", rec, "the record key is not an 8-byte record number");
    std::size_t entry = 0;
    auto r = stored::decode_journal_record(
        record, [&](stored::journal_entry kind, std::string_view actor, std::string_view value) {
          ++entry;
          auto who = key_place(actor, "actor", "");
          place where;
          where.fields = rec.fields;
          where.fields.update(who.fields);
          where.fields["entry"] = entry;
          where.text = rec.text + " entry " + std::to_string(entry) + " (actor " + who.text + ")";
          if (auto why = identity_problem(actor); !why.empty()) problem("journal", where, why);
          if (kind == stored::journal_entry::snapshot)
            check_snapshot("journal", where, value);
          else if (!value.empty())
            problem("journal", where, "an in_table entry carries a value");
        });
    if (!r) problem("journal", rec, r.error().context());
  }

  std::string dir_;
  bool json_;
  bool space_counter_;
  bool tty_;
  steady::time_point start_;
  steady::time_point last_progress_;
  bool progress_shown_ = false;
  std::uint64_t entries_ = 0;

  bool has_format_version_ = false;
  std::optional<std::uint64_t> next_space_id_;
  std::vector<space_entry> spaces_;  // sorted by id once spaces_done_
  std::string arena_;                // the encoded space keys
  bool spaces_done_ = false;

  std::optional<std::uint64_t> cur_id_;
  space_kind cur_kind_ = space_kind::unregistered;
  place cur_space_;
  std::uint64_t orphans_ = 0;
  std::string first_orphan_;

  std::uint64_t spaces_checked_ = 0;
  std::uint64_t keys_ = 0;
  std::uint64_t snapshots_ = 0;
  std::uint64_t journal_records_ = 0;
  std::uint64_t problems_ = 0;
  // Encoded [type, key, name] -> due_ms, of the alarm rows (nullopt: the row
  // is damaged) and of the due index.
  std::map<std::string, std::optional<std::int64_t>> alarm_rows_;
  std::multimap<std::string, std::int64_t> alarm_index_;
};

}  // namespace

int verify_backend(kv::backend& db, const std::string& where, bool json_lines) {
  bool postgres = dynamic_cast<kv::pg_backend*>(&db) != nullptr;
  verifier v(where, json_lines, !postgres);
  progress bar("verify", "entries", 0);
  std::uint64_t seen = 0;
  auto walked = kv::walk_raw(
      db, [&](kv::raw_db which, std::string_view k, std::string_view val, bool intact) {
        bar.update(++seen);
        return v.visit(which, k, val, intact);
      });
  bar.finish();
  v.finish();
  // SQLite keeps page structure the walk cannot see (free lists, indexes):
  // its own check covers it. LMDB has no such check.
  if (auto* sq = dynamic_cast<kv::sqlite_backend*>(&db); sq && walked) {
    auto found = sq->integrity_check();
    if (!found) {
      walked = found.error();
    } else {
      for (const auto& line : *found) v.file_problem(sq->file(), "integrity_check: " + line);
    }
  }
  if (!walked) {
    std::cout.flush();
    return report(
        error{walked.error().code(), "verify stopped early: " + walked.error().context()});
  }
  v.print_summary();
  return v.problems() == 0 ? exit_ok : exit_failure;
}

namespace {

int run_verify(const data_source& src, bool json_lines) {
  auto db = open_data(src, access::read);
  if (!db) return report(db.error());
  return verify_backend(**db, location(src, **db), json_lines);
}

}  // namespace

void add_verify_command(CLI::App& app, run_state& state) {
  struct args {
    data_source data;
    bool json_lines = false;
  };
  auto a = std::make_shared<args>();
  auto* cmd = app.add_subcommand(
      "verify",
      "Check every entry of a data directory (or PostgreSQL schema) and report each damaged one");
  add_data_option(*cmd, a->data);
  cmd->add_flag("--json", a->json_lines, "One JSON object per problem, then {\"summary\": {...}}");
  cmd->footer(
      "Reads one consistent snapshot of the directory (read-only, no lock: it works\n"
      "while a host runs) and checks:\n"
      "  - the storage format version is present and known (a newer one is refused);\n"
      "  - every space key decodes and every space id is unique and below next_space_id\n"
      "    (PostgreSQL assigns ids from the spaces table and keeps no next_space_id);\n"
      "  - every stored key belongs to a registered space and decodes as a key;\n"
      "  - every stored value has a valid tag and, for msgpack, a payload that decodes\n"
      "    completely (no trailing bytes);\n"
      "  - every actor snapshot in [null,\"state\"] is a {schema, state} msgpack map (the\n"
      "    state types are unknown here, so the state is decoded generically);\n"
      "  - every state journal record parses and every snapshot it holds decodes;\n"
      "  - every alarm in [null,\"alarms\"] decodes and has its entry in the due index\n"
      "    [null,\"alarm_due\"], and every index entry its alarm.\n"
      "  - every record (value, snapshot, journal record, alarm, space id, next_space_id)\n"
      "    matches its checksum: a damaged one is listed as failing it.\n"
      "Every problem is printed (space, key or actor as JSON, then what is wrong), then a\n"
      "summary. On a SQLite directory, SQLite's PRAGMA integrity_check runs\n"
      "too, and each line it reports is a problem (in: file). A PostgreSQL schema\n"
      "(--pg) is checked through the same walk, from one REPEATABLE READ snapshot; its\n"
      "pages and indexes are the server's to check (amcheck, data checksums). A\n"
      "progress line goes to stderr when it is a terminal.\n"
      "Exit status: 0 no problems, 1 problems found or the directory cannot be read,\n"
      "2 usage error.\n"
      "Examples:\n  ark-dash verify --data ./ark-data\n"
      "  ark-dash verify --pg 'postgresql://ark@db.internal/app' --pg-schema shop");
  cmd->callback([&state, a] { state.status = run_verify(a->data, a->json_lines); });
}

}  // namespace ark::dash
