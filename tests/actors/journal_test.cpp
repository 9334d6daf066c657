// The state journal: small snapshots go to journal records, checkpoints
// write them in place, a restart (clean or not) sees the newest state.

#include <doctest/doctest.h>

#include <cstdio>

#include <ark/kv/lmdb_backend.hpp>
#include <ark/stored_format.hpp>

#include "actors/host_env.hpp"

namespace {

using namespace std::chrono_literals;

using set_atom = caf::atom_constant<caf::atom("set")>;
using size_atom = caf::atom_constant<caf::atom("size")>;
using blob_if = caf::typed_actor<caf::replies_to<set_atom, std::string>::with<std::size_t>,
                                 caf::replies_to<size_atom>::with<std::string>>;

struct blob_state {
  std::string data;
  MSGPACK_DEFINE_MAP(data)
};

class blob_actor : public ark::actor<blob_if, blob_state> {
 public:
  using actor::actor;
  handlers_type make_handlers() override {
    return handlers(
        [this](set_atom, const std::string& d) {
          state().data = d;
          return d.size();
        },
        [this](size_atom) { return state().data; });
  }
};

using ark::test::host_env;

blob_if blob(host_env& env, const std::string& key) {
  auto h = env.rt->get_or_create<blob_if>("blob", ark::key{key});
  REQUIRE_MESSAGE(h, (h ? "" : h.error().message()));
  return *h;
}

std::string data_of(host_env& env, const blob_if& h) {
  auto r = ark::call<std::string>(*env.sys, h, 10s, size_atom::value);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
  return *r;
}

void set(host_env& env, const blob_if& h, const std::string& d) {
  auto r = ark::call<std::size_t>(*env.sys, h, 10s, set_atom::value, d);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
  CHECK(*r == d.size());
}

// Journal records and their entries in `db`.
std::pair<std::size_t, std::size_t> journal_contents(ark::kv::backend& db) {
  auto cur = db.scan(ark::stored::journal_space(), ark::kv::byte_range{}, false);
  REQUIRE(cur);
  std::size_t records = 0, entries = 0;
  for (auto& c = *cur; c->valid(); c->next()) {
    ++records;
    auto r = ark::stored::decode_journal_record(
        c->value(),
        [&](ark::stored::journal_entry, std::string_view, std::string_view) { ++entries; });
    CHECK(r);
  }
  return {records, entries};
}

// The same, in a data directory no host has open.
std::pair<std::size_t, std::size_t> journal_contents(const std::string& dir) {
  auto db = ark::kv::lmdb_backend::open(dir, {});
  REQUIRE_MESSAGE(db, (db ? "" : db.error().message()));
  return journal_contents(**db);
}

}  // namespace

ARK_ACTOR("blob", blob_actor);

TEST_CASE("journal records round-trip and a corrupt record is a clear error") {
  using namespace ark::stored;
  journal_record rec;
  rec.add(journal_entry::snapshot, "key-a", "value-a");
  rec.add(journal_entry::in_table, "key-b", "");
  std::vector<std::tuple<journal_entry, std::string, std::string>> seen;
  auto r = decode_journal_record(rec.bytes(), [&](journal_entry k, std::string_view key,
                                                  std::string_view value) {
    seen.emplace_back(k, std::string(key), std::string(value));
  });
  REQUIRE(r);
  REQUIRE(seen.size() == 2);
  CHECK(std::get<0>(seen[0]) == journal_entry::snapshot);
  CHECK(std::get<1>(seen[0]) == "key-a");
  CHECK(std::get<2>(seen[0]) == "value-a");
  CHECK(std::get<0>(seen[1]) == journal_entry::in_table);
  CHECK(std::get<1>(seen[1]) == "key-b");
  // Truncated anywhere inside an entry, or of an unknown format: an error
  // naming what is wrong, never a crash.
  auto bytes = rec.bytes();
  for (std::size_t cut = 2; cut < bytes.size(); ++cut) {
    if (cut == 1 + 1 + 4 + 5 + 4 + 7) continue;  // exactly the end of the first entry
    auto t = decode_journal_record(std::string_view(bytes).substr(0, cut), [](auto, auto, auto) {});
    CHECK_MESSAGE(!t, "cut at " << cut);
    if (!t) CHECK(t.error().context().find("journal record entry") != std::string::npos);
  }
  auto bad = decode_journal_record(std::string("\x07xyz", 4), [](auto, auto, auto) {});
  REQUIRE(!bad);
  CHECK(bad.error() == ark::errc::corrupt_snapshot);
}

TEST_CASE("state left in the journal (as after a crash) is the state after a restart") {
  host_env env;
  env.checkpoint_at_stop = false;
  env.restart();
  for (int i = 0; i < 20; ++i) set(env, blob(env, "k" + std::to_string(i)), "v" + std::to_string(i));
  set(env, blob(env, "k3"), "newer");
  env.stop();
  auto [records, entries] = journal_contents(env.opts.data_dir);
  CHECK(records > 0);
  CHECK(entries >= 20);
  env.checkpoint_at_stop = true;
  env.start();
  CHECK(data_of(env, blob(env, "k3")) == "newer");
  CHECK(data_of(env, blob(env, "k7")) == "v7");
  CHECK(data_of(env, blob(env, "k19")) == "v19");
  env.stop();
  // Opening replayed and checkpointed the journal; stopping left it empty.
  CHECK(journal_contents(env.opts.data_dir).first == 0);
}

TEST_CASE("a snapshot that outgrows the journal limit is written in place and wins") {
  host_env env;
  env.checkpoint_at_stop = false;
  env.restart();
  auto h = blob(env, "grow");
  set(env, h, "small");                                              // journaled
  set(env, h, std::string(ark::stored::journal_max_snapshot * 3, 'x'));  // in place
  env.restart();  // the journal still holds "small": it must not win
  CHECK(data_of(env, blob(env, "grow")).size() == ark::stored::journal_max_snapshot * 3);
  set(env, blob(env, "grow"), "small again");
  env.restart();
  CHECK(data_of(env, blob(env, "grow")) == "small again");
}

TEST_CASE("frequent checkpoints and passivation keep every actor's newest state") {
  host_env env(std::chrono::milliseconds(50));  // actors passivate quickly
  env.opts.checkpoint_bytes = 256;               // a checkpoint every few commits
  env.restart();
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 30; ++i)
      set(env, blob(env, "p" + std::to_string(i)), std::to_string(round * 100 + i));
    std::this_thread::sleep_for(std::chrono::milliseconds(120));  // passivate, reload from journal or table
    for (int i = 0; i < 30; i += 7)
      CHECK(data_of(env, blob(env, "p" + std::to_string(i))) == std::to_string(round * 100 + i));
  }
  CHECK(env.rt->stats().checkpoints > 0);
  env.restart();
  for (int i = 0; i < 30; ++i) CHECK(data_of(env, blob(env, "p" + std::to_string(i))) == std::to_string(400 + i));
}

TEST_CASE("with checkpoint_bytes 0 every snapshot is written in place and a left journal is applied") {
  host_env env;
  env.checkpoint_at_stop = false;
  env.restart();
  set(env, blob(env, "j"), "from the journal");
  env.stop();
  CHECK(journal_contents(env.opts.data_dir).first > 0);
  env.opts.checkpoint_bytes = 0;
  env.start();
  CHECK(journal_contents(*env.rt->storage()).first == 0);  // applied at open
  CHECK(data_of(env, blob(env, "j")) == "from the journal");
  set(env, blob(env, "j"), "in place");
  env.stop();
  CHECK(journal_contents(env.opts.data_dir).first == 0);
  env.opts.checkpoint_bytes = 16u << 20;
  env.start();
  CHECK(data_of(env, blob(env, "j")) == "in place");
}

TEST_CASE("a corrupt journal record refuses to open the data directory, naming it") {
  host_env env;
  env.stop();
  {
    auto db = ark::kv::lmdb_backend::open(env.opts.data_dir, {});
    REQUIRE(db);
    ark::kv::backend_batch b;
    b.put(ark::stored::journal_space(), ark::stored::journal_key(1), "\x01\x01garbage");
    REQUIRE((*db)->apply(b));
  }
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto r = ark::runtime::open(sys, env.opts);
  REQUIRE(!r);
  CHECK(r.error() == ark::errc::corrupt_snapshot);
  CHECK(r.error().message().find("journal record 1") != std::string::npos);
  CHECK(r.error().message().find(env.opts.data_dir) != std::string::npos);
}

TEST_CASE("an active actor's journal entry is the newest across checkpoints and in-place writes") {
  // The writer caches each activation's entry in the journal's index
  // (snapshot_journal::slot); checkpoints and in-place writes drop entries.
  // The actors stay active (long idle timeout), so their cached entries are
  // reused and invalidated many times; a reader (the dashboard's) must see
  // each newest snapshot through the index.
  host_env env;
  env.opts.checkpoint_bytes = 512;  // a checkpoint every few commits
  env.restart();
  auto a = blob(env, "slot-a");
  auto b = blob(env, "slot-b");
  auto newest = [&](const char* key) {
    auto s = env.rt->inspector().snapshot("blob", ark::key{key});
    REQUIRE_MESSAGE(s, (s ? "" : s.error().message()));
    return *s;
  };
  for (int i = 0; i < 300; ++i) {
    char tag[32];
    std::snprintf(tag, sizeof tag, "value-%06d", i);
    std::string v = tag;
    // Now and then too large for the journal: written in place, its entry
    // leaves the index, and the next small one comes back to it.
    if (i % 50 == 25) v += std::string(ark::stored::journal_max_snapshot * 2, 'x');
    set(env, a, v);
    set(env, b, std::string("b-") + tag);
    CHECK_MESSAGE(newest("slot-a").find(tag) != std::string::npos, "slot-a at " << i);
    CHECK_MESSAGE(newest("slot-b").find(std::string("b-") + tag) != std::string::npos,
                  "slot-b at " << i);
  }
  CHECK(env.rt->stats().checkpoints > 10);
  env.restart();
  CHECK(data_of(env, blob(env, "slot-a")) == "value-000299");
  CHECK(data_of(env, blob(env, "slot-b")) == "b-value-000299");
}
