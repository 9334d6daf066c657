#pragma once

// Actors whose state went through schema versions, for the migration tests
// (tests/actors/migration_test.cpp, fault_test.cpp) and the module that
// `ark-dash migrate` loads in tests/tools (migration_module.cpp).
//
//   schema 1  settings_v1 {name, count}; notes in KV under ["note", id]
//   schema 2  settings_v2 {name, visits}: count renamed to visits
//   schema 3  settings    {name, visits, notes}: the KV notes moved to
//             ["notes", id] and counted in `notes`
//
// The step 2 -> 3 fails on purpose for a state named "fail" (returns an
// error) or "throw" (throws), after it wrote to the KV.

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>

#include <ark/actor.hpp>
#include <ark/registry.hpp>

namespace mig {

using get_atom = caf::atom_constant<caf::atom("get")>;
using name_atom = caf::atom_constant<caf::atom("name")>;
using notes_atom = caf::atom_constant<caf::atom("notes")>;
using note_atom = caf::atom_constant<caf::atom("note")>;

using mig_if = caf::typed_actor<caf::replies_to<get_atom>::with<std::int64_t>,
                                caf::replies_to<name_atom>::with<std::string>,
                                caf::replies_to<notes_atom>::with<std::int64_t>,
                                caf::replies_to<note_atom, std::string>::with<std::string>>;

struct settings_v1 {
  std::string name;
  std::int64_t count = 0;
  MSGPACK_DEFINE_MAP(name, count)
};

struct settings_v2 {
  std::string name;
  std::int64_t visits = 0;
  MSGPACK_DEFINE_MAP(name, visits)
};

struct settings {
  std::string name;
  std::int64_t visits = 0;
  std::int64_t notes = 0;
  MSGPACK_DEFINE_MAP(name, visits, notes)
};

/// How often each step ran in this process.
inline std::atomic<int> step1_runs{0};
inline std::atomic<int> step2_runs{0};

inline settings_v2 rename_count(settings_v1&& old, ark::migration_context&) {
  ++step1_runs;
  return settings_v2{std::move(old.name), old.count};
}

// Moves every ["note", id] entry to ["notes", id] and counts them.
inline ark::expected<settings> move_notes(settings_v2&& old, ark::migration_context& ctx) {
  ++step2_runs;
  settings out{std::move(old.name), old.visits, 0};
  ark::kv::list_options opts;
  opts.prefix = ark::key{"note"};
  ark::kv::write_batch batch;
  auto c = ctx.kv().list(opts);
  for (; c.valid(); c.next()) {
    auto text = c.value().as<std::string>();
    if (!text) return text.error();
    batch.put(ark::key{"notes", c.key()[1].as_string()}, *text);
    batch.del(c.key());
    ++out.notes;
  }
  if (c.status()) return c.status();
  if (auto r = ctx.kv().apply(batch); !r) return r.error();
  if (out.name == "fail")
    return ark::error{ark::errc::invalid_argument, "the name 'fail' is refused on purpose"};
  if (out.name == "throw") throw std::runtime_error("thrown on purpose by move_notes");
  return out;
}

class migrating_actor : public ark::actor<mig_if, settings> {
 public:
  using actor::actor;

  static constexpr std::uint32_t schema = 3;

  static void migrations(ark::migration_chain<migrating_actor>& m) {
    m.step<1, settings_v1, settings_v2>(&rename_count);
    m.step<2, settings_v2, settings>(&move_notes);
  }

  handlers_type make_handlers() override {
    return handlers([this](get_atom) { return state().visits; },
                    [this](name_atom) { return state().name; },
                    [this](notes_atom) { return state().notes; },
                    [this](note_atom, const std::string& id) {
                      return kv().get<std::string>(ark::key{"notes", id});
                    });
  }
};

/// Schema 3 too, but the step from 1 is gone: schema-1 snapshots cannot
/// migrate (a legitimate chain: its lowest step is 2).
class gappy_actor : public ark::actor<mig_if, settings> {
 public:
  using actor::actor;

  static constexpr std::uint32_t schema = 3;

  static void migrations(ark::migration_chain<gappy_actor>& m) {
    m.step<2, settings_v2, settings>(&move_notes);
  }

  handlers_type make_handlers() override {
    return handlers([this](get_atom) { return state().visits; },
                    [this](name_atom) { return state().name; },
                    [this](notes_atom) { return state().notes; },
                    [this](note_atom, const std::string&) { return std::string(); });
  }
};

}  // namespace mig
