#pragma once

// Reading and planting what a data directory holds, for tests that check
// the bytes a runtime left behind (open it only while no runtime has it open).

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include <ark/kv/lmdb_backend.hpp>
#include <ark/kv/store.hpp>
#include <ark/kv/value.hpp>
#include <ark/stored_format.hpp>

namespace ark::test::stored {

inline std::shared_ptr<ark::kv::lmdb_backend> open_dir(const std::string& dir) {
  auto db = ark::kv::lmdb_backend::open(dir, {});
  REQUIRE_MESSAGE(db, (db ? "" : db.error().message()));
  return *db;
}

inline std::string identity(const std::string& type, const std::string& key) {
  auto id = ark::stored::make_identity(type, ark::key{key});
  REQUIRE(id);
  return id->encoded;
}

template <class T>
inline std::string packed(const T& v) {
  return std::string(ark::kv::value::pack(v).payload());
}

inline ark::kv::store actor_kv(const std::shared_ptr<ark::kv::lmdb_backend>& db,
                               const std::string& type, const std::string& key) {
  auto s = ark::kv::store::open(db, ark::key{type, ark::key{key}});
  REQUIRE(s);
  return *s;
}

// Writes a snapshot of `schema` holding `state` for actor (type, key), and
// its old-layout notes ["note", id] -> text, into the closed directory `dir`.
template <class State>
inline void plant(const std::string& dir, const std::string& type, const std::string& key,
                  std::uint32_t schema, const State& state,
                  const std::map<std::string, std::string>& notes = {}) {
  auto db = open_dir(dir);
  ark::kv::backend_batch b;
  b.put(ark::stored::state_space(), identity(type, key),
        ark::stored::make_snapshot(schema, packed(state)));
  REQUIRE(db->apply(b));
  auto kv = actor_kv(db, type, key);
  for (const auto& [id, text] : notes) REQUIRE(kv.put(ark::key{"note", id}, text));
}

// The newest stored snapshot of (type, key) in the closed directory `dir`
// (the state journal's or the state space's).
inline std::string stored_snapshot(const std::string& dir, const std::string& type,
                                   const std::string& key) {
  auto db = open_dir(dir);
  auto journal = ark::stored::read_journal(*db);
  REQUIRE(journal);
  auto v = journal->latest_snapshot(*db, identity(type, key));
  REQUIRE_MESSAGE(v, (v ? "" : v.error().message()));
  return *v;
}

// The actor's KV entry `k` as a string, or nullopt.
inline std::optional<std::string> stored_kv(const std::string& dir, const std::string& type,
                                            const std::string& key, const ark::key& k) {
  auto db = open_dir(dir);
  auto v = actor_kv(db, type, key).get<std::string>(k);
  if (!v) {
    REQUIRE(v.error().code() == ark::errc::not_found);
    return std::nullopt;
  }
  return *v;
}

}  // namespace ark::test::stored
