#pragma once

// Plants bytes in a data directory with the LMDB C API directly, bypassing
// every check ark makes: for tests that need damage ark itself never writes
// (a newer format version, a space key that does not decode, a kv key under
// an unregistered space id). Link PkgConfig::LMDB.

#include <doctest/doctest.h>
#include <lmdb.h>

#include <cstdint>
#include <string>
#include <string_view>

#include <ark/kv/big_endian.hpp>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace ark::test {

/// Runs `fn(txn)` in one write transaction on the LMDB environment of the
/// ark data directory `dir`, and commits. REQUIRES: no process has `dir`
/// open.
template <class F>
void with_raw_txn(const std::string& dir, F fn) {
  MDB_env* env = nullptr;
  REQUIRE(mdb_env_create(&env) == 0);
  REQUIRE(mdb_env_set_maxdbs(env, 8) == 0);
  REQUIRE(mdb_env_set_mapsize(env, std::size_t{1} << 30) == 0);
  REQUIRE(mdb_env_open(env, dir.c_str(), 0, 0644) == 0);
  MDB_txn* txn = nullptr;
  REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
  fn(txn);
  REQUIRE(mdb_txn_commit(txn) == 0);
  mdb_env_close(env);
}

/// Stores `value` under `key` in the LMDB database `db` ("meta", "spaces" or
/// "kv") of the ark data directory `dir`. REQUIRES: no process has `dir` open.
inline void raw_put(const std::string& dir, const char* db, std::string_view key,
                    std::string_view value) {
  with_raw_txn(dir, [&](MDB_txn* txn) {
    MDB_dbi dbi = 0;
    REQUIRE(mdb_dbi_open(txn, db, 0, &dbi) == 0);
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    MDB_val v{value.size(), const_cast<char*>(value.data())};
    REQUIRE(mdb_put(txn, dbi, &k, &v, 0) == 0);
  });
}

/// 8-byte big-endian `v`: a space id, or a state journal record number.
using ark::kv::be64;

/// `value` followed by the checksum storage format 2 keeps after it
/// (doc/storage_format.md "Checksums"), computed here from the spec: the
/// low 32 bits of XXH3-64(value, seed = XXH3-64(key, seed = space id)),
/// big-endian. `space_id` is 0 for `spaces` entries and next_space_id.
inline std::string checked(std::uint64_t space_id, std::string_view key, std::string_view value) {
  auto seed = XXH3_64bits_withSeed(key.data(), key.size(), space_id);
  auto c = static_cast<std::uint32_t>(XXH3_64bits_withSeed(value.data(), value.size(), seed));
  return std::string(value) + ark::kv::be32(c);
}

/// raw_put, with the value's checksum (a record ark could have written, so
/// only the damage the test plants shows): `kv` keys start with their space
/// id.
inline void raw_put_checked(const std::string& dir, const char* db, std::string_view key,
                            std::string_view value) {
  bool kv = std::string_view(db) == "kv";
  std::uint64_t id = kv ? ark::kv::get_be(key.substr(0, 8)) : 0;
  raw_put(dir, db, key, checked(id, kv ? key.substr(8) : key, value));
}

/// Sets the data directory's storage format version (meta `format_version`,
/// u32 big-endian).
inline void set_format_version(const std::string& dir, std::uint32_t version) {
  raw_put(dir, "meta", "format_version", ark::kv::be32(version));
}

}  // namespace ark::test
