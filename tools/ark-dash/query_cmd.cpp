// `ark-dash query TYPE --where 'FIELD OP VALUE' ...`: the actors of one type
// whose state matches every condition, read from ONE LMDB read snapshot of a
// data directory (the snapshots and the state journal together), so the
// answer is consistent even while a host writes.

#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ark/kv/json.hpp"
#include "ark/stored_format.hpp"
#include "commands.hpp"
#include "common.hpp"

namespace ark::dash {

namespace {

using json = nlohmann::json;

// One condition: a dotted field path, an operator, a JSON value.
struct condition {
  std::vector<std::string> path;
  std::string op;
  json value;
  std::string text;  // as given, for messages
};

expected<condition> parse_condition(const std::string& text) {
  static const char* const ops[] = {">=", "<=", "!=", "==", ">", "<", "=", " contains "};
  for (const char* op : ops) {
    auto at = text.find(op);
    if (at == std::string::npos) continue;
    condition c;
    c.text = text;
    c.op = op;
    if (c.op == "=") c.op = "==";
    if (c.op == " contains ") c.op = "contains";
    auto trim = [](std::string s) {
      auto b = s.find_first_not_of(' ');
      auto e = s.find_last_not_of(' ');
      return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
    };
    auto field = trim(text.substr(0, at));
    auto value = trim(text.substr(at + std::string(op).size()));
    if (field.empty() || value.empty()) break;
    std::size_t start = 0;
    while (true) {
      auto dot = field.find('.', start);
      c.path.push_back(field.substr(start, dot - start));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    c.value = json::parse(value, nullptr, false);
    if (c.value.is_discarded()) c.value = value;  // a bare word is a string
    return c;
  }
  return error{errc::invalid_argument,
               "--where '" + text +
                   "' is not FIELD OP VALUE (OP: == != > >= < <= contains; e.g. 'balance > 100')"};
}

bool matches(const json& state, const condition& c) {
  const json* v = &state;
  for (const auto& part : c.path) {
    if (!v->is_object() || !v->contains(part)) return false;
    v = &(*v)[part];
  }
  if (c.op == "contains") {
    if (v->is_string() && c.value.is_string())
      return v->get<std::string>().find(c.value.get<std::string>()) != std::string::npos;
    if (v->is_array())
      for (const auto& e : *v)
        if (e == c.value) return true;
    return false;
  }
  if (c.op == "==") return *v == c.value;
  if (c.op == "!=") return *v != c.value;
  // Ordering compares numbers with numbers and strings with strings only.
  bool comparable = (v->is_number() && c.value.is_number()) || (v->is_string() && c.value.is_string());
  if (!comparable) return false;
  if (c.op == ">") return *v > c.value;
  if (c.op == ">=") return *v >= c.value;
  if (c.op == "<") return *v < c.value;
  return *v <= c.value;
}

struct query_args {
  data_source data;
  std::string type;
  std::vector<std::string> where;
  std::size_t limit = 0;
  bool json_out = false;
};

int run_query(const query_args& a) {
  std::vector<condition> conds;
  for (const auto& w : a.where) {
    auto c = parse_condition(w);
    if (!c) return report(c.error());
    conds.push_back(std::move(*c));
  }
  auto db = open_data(a.data, access::read);
  if (!db) return report(db.error());
  auto type_prefix = encode_key(ark::key{a.type});
  if (!type_prefix) return report(type_prefix.error());
  // One walk over one read snapshot: the state and journal spaces' ids come
  // first (the spaces database), then their entries.
  std::string state_id, journal_id;
  std::map<std::string, std::string> snapshots;  // encoded identity -> snapshot
  std::vector<std::string> journal_records;
  error broken;  // a snapshot (or the state space's id) that fails its checksum
  auto walked = kv::walk_raw(**db, [&](kv::raw_db which, std::string_view k, std::string_view v,
                                       bool intact) {
    bool needed = which == kv::raw_db::spaces
                      ? k == stored::state_space() || k == stored::journal_space()
                      : which == kv::raw_db::kv && k.size() >= 8 &&
                            ((k.substr(0, 8) == state_id &&
                              k.substr(8, type_prefix->size()) == *type_prefix) ||
                             k.substr(0, 8) == journal_id);
    if (!intact && needed) {
      // A snapshot (or a space id) that fails its checksum: no answer built
      // on it.
      broken = error{errc::corrupt_value,
                      std::string(which == kv::raw_db::kv ? "a stored snapshot" : "a space id") +
                          " fails its checksum (0x" + to_hex(k) +
                          "): `ark-dash verify` names every damaged record; restore the data "
                          "directory from a backup"};
      return false;
    }
    if (which == kv::raw_db::spaces) {
      if (k == stored::state_space()) state_id = std::string(v);
      if (k == stored::journal_space()) journal_id = std::string(v);
      return true;
    }
    if (which != kv::raw_db::kv || k.size() < 8) return true;
    auto id = k.substr(0, 8);
    if (!state_id.empty() && id == state_id) {
      auto identity = k.substr(8);
      if (identity.substr(0, type_prefix->size()) == *type_prefix)
        snapshots[std::string(identity)] = std::string(v);
    } else if (!journal_id.empty() && id == journal_id) {
      journal_records.emplace_back(v);
    }
    return true;
  });
  if (!walked) return report(walked.error());
  if (broken) return report(broken);
  // The journal holds the newest snapshots (doc/state_format.md), in order.
  for (const auto& rec : journal_records) {
    auto r = stored::decode_journal_record(
        rec, [&](stored::journal_entry kind, std::string_view key, std::string_view value) {
          if (kind == stored::journal_entry::snapshot &&
              key.substr(0, type_prefix->size()) == *type_prefix)
            snapshots[std::string(key)] = std::string(value);
        });
    if (!r) return report(error{errc::corrupt_snapshot, "state journal: " + r.error().context()});
  }
  std::size_t scanned = 0, found = 0, damaged = 0;
  for (const auto& [identity, bytes] : snapshots) {
    ++scanned;
    auto id = decode_key(identity);
    auto snap = stored::parse_snapshot(bytes);
    if (!id || id->size() != 2 || !snap) {
      ++damaged;
      continue;
    }
    auto state = kv::msgpack_to_json(snap->state);
    bool ok = true;
    for (const auto& c : conds) ok = ok && matches(state, c);
    if (!ok) continue;
    ++found;
    const auto& key = (*id)[1].as_tuple();
    if (a.json_out)
      std::cout << dump(json{{"type", a.type}, {"key", kv::key_to_json(key)}, {"state", state}})
                << "\n";
    else
      std::cout << kv::key_to_json_text(key) << "  " << truncate(dump(state), 100) << "\n";
    if (a.limit != 0 && found == a.limit) break;
  }
  if (!a.json_out)
    std::cerr << found << " of " << scanned << " " << a.type << " actors match"
              << (damaged ? " (" + std::to_string(damaged) + " damaged snapshots skipped: run "
                                "ark-dash verify)"
                          : std::string())
              << "\n";
  return exit_ok;
}

}  // namespace

void add_query_command(CLI::App& app, run_state& state) {
  auto a = std::make_shared<query_args>();
  auto* cmd = app.add_subcommand(
      "query", "Actors of a type whose state matches conditions, from one read snapshot");
  add_data_option(*cmd, a->data);
  cmd->add_option("TYPE", a->type, "the actor type")->required();
  cmd->add_option("--where", a->where,
                  "FIELD OP VALUE, e.g. 'balance > 100' or 'user.name == \"ann\"' (OP: == != > "
                  ">= < <= contains); repeat to AND them");
  cmd->add_option("--limit", a->limit, "stop after N matches (0: all)")->capture_default_str();
  cmd->add_flag("--json", a->json_out, "one JSON object per match: {type, key, state}");
  cmd->callback([a, &state] { state.status = run_query(*a); });
}

}  // namespace ark::dash
