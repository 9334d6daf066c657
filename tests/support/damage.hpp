#pragma once

// Damage as a disk makes it, for the integrity tests (issue "Integrity"):
// bytes flipped inside a closed data directory's file, found by content, and
// a directory taken back to storage format 1 (no checksums), as an older ark
// wrote it. Link PkgConfig::LMDB and SQLite::SQLite3.


#include <doctest/doctest.h>
#include <lmdb.h>
#include <sqlite3.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

#include <ark/kv/big_endian.hpp>
#include <ark/kv/open.hpp>

#include "support/lmdb_raw.hpp"

namespace ark::test {

/// The backends of a data directory, with the file their records live in.
struct embedded_engine {
  const char* name;
  ark::kv::backend_kind kind;
  const char* file;
};
inline const embedded_engine embedded_engines[] = {
    {"lmdb", ark::kv::backend_kind::lmdb, "data.mdb"},
    {"sqlite", ark::kv::backend_kind::sqlite, "ark.sqlite"}};

/// Flips one bit of the byte at `offset` inside every copy of `needle` in
/// `file` (LMDB keeps stale copies of a value in free pages: all of them
/// change, as if the sector went bad). Returns how many copies it changed.
/// REQUIRES: no process has the file open.
inline int flip_in_file(const std::string& file, std::string_view needle, std::size_t offset) {
  REQUIRE(offset < needle.size());
  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    REQUIRE_MESSAGE(in, "cannot read " << file);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  int n = 0;
  for (auto at = bytes.find(needle); at != std::string::npos; at = bytes.find(needle, at + 1)) {
    bytes[at + offset] = static_cast<char>(bytes[at + offset] ^ 0x04);
    ++n;
  }
  std::fstream out(file, std::ios::binary | std::ios::in | std::ios::out);
  REQUIRE(out);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out);
  return n;
}

/// Rewrites the closed LMDB data directory `dir` as storage format 1 wrote
/// it: every record without its 4-byte check, format_version 1.
inline void downgrade_lmdb_to_v1(const std::string& dir) {
  with_raw_txn(dir, [](MDB_txn* txn) {
    for (const char* name : {"meta", "spaces", "kv"}) {
      MDB_dbi dbi = 0;
      REQUIRE(mdb_dbi_open(txn, name, 0, &dbi) == 0);
      MDB_cursor* c = nullptr;
      REQUIRE(mdb_cursor_open(txn, dbi, &c) == 0);
      MDB_val k, v;
      for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
           rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        std::string key(static_cast<const char*>(k.mv_data), k.mv_size);
        std::string value(static_cast<const char*>(v.mv_data), v.mv_size);
        if (key == "format_version") continue;
        REQUIRE(value.size() >= 4);
        value.resize(value.size() - 4);
        MDB_val nk{key.size(), key.data()}, nv{value.size(), value.data()};
        REQUIRE(mdb_cursor_put(c, &nk, &nv, MDB_CURRENT) == 0);
      }
      mdb_cursor_close(c);
      if (std::string_view(name) == "meta") {
        auto one = ark::kv::be32(1);
        MDB_val fk{14, const_cast<char*>("format_version")}, fv{one.size(), one.data()};
        REQUIRE(mdb_put(txn, dbi, &fk, &fv, 0) == 0);
      }
    }
  });
}

/// Runs `sql` on the SQLite database `file` (closed by every other user).
inline void sqlite_exec(const std::string& file, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  std::string why = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  REQUIRE_MESSAGE(rc == SQLITE_OK, why);
}

/// The SQLite data directory `dir` as storage format 1 wrote it.
inline void downgrade_sqlite_to_v1(const std::string& dir) {
  sqlite_exec(dir + "/ark.sqlite",
              "UPDATE kv SET value = substr(value, 1, length(value) - 4);"
              "ALTER TABLE spaces DROP COLUMN sum;"
              "UPDATE meta SET value = 1 WHERE name = 'format_version';");
}

}  // namespace ark::test
