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

namespace ark::test {

/// Stores `value` under `key` in the LMDB database `db` ("meta", "spaces" or
/// "kv") of the ark data directory `dir`. REQUIRES: no process has `dir` open.
inline void raw_put(const std::string& dir, const char* db, std::string_view key,
                    std::string_view value) {
  MDB_env* env = nullptr;
  REQUIRE(mdb_env_create(&env) == 0);
  REQUIRE(mdb_env_set_maxdbs(env, 8) == 0);
  REQUIRE(mdb_env_set_mapsize(env, std::size_t{1} << 30) == 0);
  REQUIRE(mdb_env_open(env, dir.c_str(), 0, 0644) == 0);
  MDB_txn* txn = nullptr;
  REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
  MDB_dbi dbi = 0;
  REQUIRE(mdb_dbi_open(txn, db, 0, &dbi) == 0);
  MDB_val k{key.size(), const_cast<char*>(key.data())};
  MDB_val v{value.size(), const_cast<char*>(value.data())};
  REQUIRE(mdb_put(txn, dbi, &k, &v, 0) == 0);
  REQUIRE(mdb_txn_commit(txn) == 0);
  mdb_env_close(env);
}

/// 8-byte big-endian `v`: a space id, or a state journal record number.
using ark::kv::be64;

/// Sets the data directory's storage format version (meta `format_version`,
/// u32 big-endian).
inline void set_format_version(const std::string& dir, std::uint32_t version) {
  raw_put(dir, "meta", "format_version", ark::kv::be32(version));
}

}  // namespace ark::test
