// `ark-dash migrate --data DIR --module LIB.so ... (--dry-run | --apply)`:
// what the actor types of the given modules would do with the snapshots of a
// data directory, or of a PostgreSQL schema with --pg (doc/migrations.md).
//
// The modules are loaded as ark-host loads them (dlopen), so their
// ARK_ACTOR lines register their types, schema versions and migration steps.
// For every actor, the snapshot is put through what an activation does
// (ark::migrate_snapshot): the chain of steps when it is older, the check
// that no stored field would be lost. --dry-run does it in memory on a
// read-only view (fine while a host runs): KV reads see the stored data, KV
// writes are collected and printed. --apply writes the results, one
// transaction per actor (the migrated snapshot and the steps' KV writes
// together); it takes the data directory's (schema's) write lock, so it
// refuses while a host runs.

#include <dlfcn.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ark/inspect.hpp"
#include "ark/kv/json.hpp"
#include "ark/migration.hpp"
#include "ark/registry.hpp"
#include "ark/stored_format.hpp"
#include "commands.hpp"
#include "common.hpp"

namespace ark::dash {

namespace {

using json = nlohmann::json;

struct migrate_args {
  data_source data;
  std::vector<std::string> modules;
  std::string type;
  bool dry_run = false;
  bool apply = false;
  bool json_out = false;
};

// A state's msgpack as JSON (doc/json_format.md).
json state_json(const std::string& msgpack_bytes) {
  auto j = kv::value_to_json(kv::value::from_msgpack(msgpack_bytes));
  return j ? *j : json{{"error", j.error().message()}};
}

// The KV writes of a migration as JSON: [{"op", "key", "value"}...].
json kv_writes_json(const kv::space_writes& w) {
  json out = json::array();
  for (const auto& op : w.ops) {
    json e;
    switch (op.op) {
      case kv::write_op::kind::put:
        e["op"] = "put";
        break;
      case kv::write_op::kind::del:
        e["op"] = "del";
        break;
      case kv::write_op::kind::clear:
        e["op"] = "clear";
        break;
    }
    if (op.op != kv::write_op::kind::clear) {
      auto k = decode_key(op.key);
      e["key"] = k ? kv::key_to_json(*k) : json{{"$bytes", op.key.size()}};
    }
    if (op.op == kv::write_op::kind::put) {
      auto v = kv::value::decode(op.value);
      auto j = v ? kv::value_to_json(*v) : expected<json>(v.error());
      e["value"] = j ? *j : json{{"error", j.error().message()}};
    }
    out.push_back(std::move(e));
  }
  return out;
}

// "-count, +visits, ~name": the top-level fields removed, added, changed.
std::string field_changes(const json& before, const json& after) {
  if (!before.is_object() || !after.is_object()) return before == after ? "" : "replaced";
  std::string out;
  auto add = [&](char sign, const std::string& name) {
    out += (out.empty() ? "" : ", ") + std::string(1, sign) + name;
  };
  for (const auto& [k, v] : before.items())
    if (!after.contains(k)) add('-', k);
  for (const auto& [k, v] : after.items()) {
    if (!before.contains(k))
      add('+', k);
    else if (before[k] != v)
      add('~', k);
  }
  return out;
}

// Loads the modules (as ark-host does); returns the registration problems.
expected<std::vector<std::string>> load_modules(const std::vector<std::string>& modules) {
  for (const auto& m : modules) {
    auto path = std::filesystem::absolute(m).string();
    if (!dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL))
      return error{errc::invalid_argument,
                   "--module " + m + ": cannot load it: " + dlerror() +
                       " (pass the actor module ark-host runs with, built against this ark's "
                       "ark_actors; see examples/README.md)"};
  }
  return actor_registry::global().take_errors();
}

// Every actor of the data directory (of `type` when given), in key order.
expected<std::vector<std::pair<std::string, ark::key>>> all_actors(const inspect::reader& r,
                                                                   const std::string& type) {
  std::vector<std::pair<std::string, ark::key>> out;
  inspect::actor_query q;
  q.type = type;
  q.limit = inspect::max_page;
  while (true) {
    auto page = r.actors(q);
    if (!page) return page.error();
    for (const auto& a : (*page)["actors"]) {
      auto k = kv::key_from_json(a["key"]);
      if (!k) return k.error();
      out.emplace_back(a["type"].get<std::string>(), std::move(*k));
    }
    if ((*page)["next"].is_null()) break;
    auto next = kv::key_from_json((*page)["next"]);
    if (!next) return next.error();
    q.after = std::move(*next);
    q.after_type = (*page)["next_type"].get<std::string>();
  }
  return out;
}

// Writes what a migration of the snapshot wrote to the state journal back
// in place first: --apply writes snapshots in place, and a journaled copy
// would win over them at the next open (doc/state_format.md).
expected<void> checkpoint_journal(kv::backend& db, const std::string& where) {
  auto journal = stored::read_journal(db);
  if (!journal) return error{journal.error().code(), where + ": " + journal.error().context()};
  if (journal->empty()) return {};
  kv::backend_batch batch;
  journal->checkpoint_batch(batch);
  if (auto r = db.apply(batch); !r)
    return error{r.error().code(),
                 where + ": checkpoint of the state journal: " + r.error().context()};
  return {};
}

int run_migrate(const migrate_args& a) {
  if (a.dry_run == a.apply)
    return report(
        "pass --dry-run to see what the migrations would change, or --apply to run them now "
        "(with no host running); without either, actors migrate when they activate",
        exit_usage);
  auto problems = load_modules(a.modules);
  if (!problems) return report(problems.error());
  if (!a.type.empty() && !actor_registry::global().find(a.type))
    return report(
        error{errc::unknown_actor_type, "--type " + a.type + ": no loaded module registers it"});
  auto db = open_data(a.data, a.apply ? access::write : access::read);
  if (!db) return report(db.error());
  if (a.apply) {
    std::string where = a.data.postgres() ? location(a.data, **db) : "data directory " + a.data.dir;
    if (auto r = checkpoint_journal(**db, where); !r) return report(r.error());
  }
  auto reader = inspect::reader::open(*db);
  if (!reader) return report(reader.error());
  auto actors = all_actors(*reader, a.type);
  if (!actors) return report(actors.error());

  json report_doc = json::array();
  std::map<std::string, std::size_t> unknown;
  std::size_t migrating = 0, failing = 0, current = 0;
  for (const auto& [type, key] : *actors) {
    const auto* t = actor_registry::global().find(type);
    if (!t || !t->schema) {
      ++unknown[type];
      continue;
    }
    json entry{{"type", type}, {"key", kv::key_to_json(key)}};
    auto fail = [&](const error& e) {
      ++failing;
      entry["status"] = "fail";
      entry["error"] = {{"code", std::string(to_string(e.code()))}, {"message", e.message()}};
      report_doc.push_back(entry);
    };
    auto id = stored::make_identity(type, key);
    if (!id) {
      fail(id.error());
      continue;
    }
    auto bytes = reader->snapshot(type, key);
    if (!bytes) {
      fail(bytes.error());
      continue;
    }
    if (auto snap = stored::parse_snapshot(*bytes)) entry["from"] = snap->schema;
    entry["to"] = t->schema->current;
    auto out = migrate_snapshot(*t->schema, *db, *id, *bytes);
    if (!out) {
      fail(out.error());
      continue;
    }
    if (out->from == out->to) {
      ++current;
      continue;
    }
    entry["before"] = state_json(out->before);
    entry["after"] = state_json(out->after);
    entry["kv"] = kv_writes_json(out->kv);
    if (a.apply) {
      // The migrated snapshot and the steps' KV writes: one transaction.
      kv::backend_batch batch;
      batch.put(stored::state_space(), id->encoded, stored::make_snapshot(out->to, out->after));
      if (!out->kv.ops.empty()) batch.append(std::move(out->kv));
      if (auto r = (*db)->apply(batch); !r) {
        fail(error{r.error().code(),
                   stored::describe(*id) + ": writing its migration: " + r.error().context()});
        continue;
      }
    }
    ++migrating;
    entry["status"] = a.apply ? "migrated" : "migrate";
    report_doc.push_back(std::move(entry));
  }

  json unknown_doc = json::array();
  for (const auto& [type, n] : unknown) unknown_doc.push_back({{"type", type}, {"actors", n}});
  std::size_t unknown_actors = 0;
  for (const auto& [type, n] : unknown) unknown_actors += n;
  const char* verb = a.apply ? "migrated" : "would migrate";
  const char* fail_verb = a.apply ? "failed (left unchanged)" : "would fail";
  if (a.json_out) {
    std::cout << dump(json{{"dry_run", a.dry_run},
                           {"actors", report_doc},
                           {"unknown_types", unknown_doc},
                           {"registration_errors", *problems},
                           {"summary",
                            {{"migrate", migrating},
                             {"fail", failing},
                             {"unknown", unknown_actors},
                             {"current", current}}}})
              << "\n";
  } else {
    for (const auto& p : *problems) std::cout << "registration problem: " << p << "\n";
    for (const auto& e : report_doc) {
      std::cout << e["type"].get<std::string>() << " " << dump(e["key"]) << ": ";
      if (e["status"] == "fail") {
        std::cout << fail_verb << ": " << e["error"]["message"].get<std::string>() << "\n";
        continue;
      }
      std::cout << (a.apply ? "migrated" : "would migrate") << " from schema "
                << e["from"].get<std::uint32_t>() << " to " << e["to"].get<std::uint32_t>();
      auto changes = field_changes(e["before"], e["after"]);
      if (!changes.empty()) std::cout << " (fields " << changes << ")";
      std::cout << "\n  before: " << truncate(dump(e["before"]), 160)
                << "\n  after:  " << truncate(dump(e["after"]), 160) << "\n";
      for (const auto& w : e["kv"]) {
        std::cout << "  kv " << w["op"].get<std::string>();
        if (w.contains("key")) std::cout << " " << dump(w["key"]);
        if (w.contains("value")) std::cout << " = " << truncate(dump(w["value"]), 100);
        std::cout << "\n";
      }
    }
    for (const auto& [type, n] : unknown)
      std::cout << "unknown type " << type << ": " << n
                << " actor(s) whose type no loaded module registers (a missing --module, or a "
                   "renamed or removed type: see doc/migrations.md)\n";
    std::cout << migrating << " actor(s) " << verb << ", " << failing << " " << fail_verb << ", "
              << unknown_actors << " of unknown types, " << current << " current\n";
  }
  bool clean = failing == 0 && unknown.empty() && problems->empty();
  return clean ? exit_ok : exit_failure;
}

}  // namespace

void add_migrate_command(CLI::App& app, run_state& state) {
  auto a = std::make_shared<migrate_args>();
  auto* cmd = app.add_subcommand(
      "migrate",
      "Bring actor snapshots to their types' schema versions: --dry-run shows what would "
      "change, --apply migrates now (no host may run)");
  add_data_option(*cmd, a->data);
  cmd->add_option("--module", a->modules,
                  "actor module to load, as ark-host --module (repeat for several)")
      ->type_name("LIB.so")
      ->required();
  cmd->add_option("--type", a->type, "only actors of this type");
  cmd->add_flag("--dry-run", a->dry_run,
                "run the migrations in memory on a read-only view and report; change nothing");
  cmd->add_flag("--apply", a->apply,
                "write each actor's migration (snapshot and KV writes in one transaction); "
                "refused while a host holds the data directory (or schema)");
  cmd->add_flag("--json", a->json_out, "print one JSON document (doc/migrations.md)");
  cmd->footer(
      "Exit status 0: every actor is current or migrates cleanly. 1: some would fail (or "
      "failed), have a type no module registers, or a module's steps have registration "
      "problems.");
  cmd->callback([a, &state] { state.status = run_migrate(*a); });
}

}  // namespace ark::dash
