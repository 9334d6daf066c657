// Fuzz target: stored records with arbitrary bytes where a record's value
// and checksum belong (storage format 2, doc/storage_format.md "Checksums"),
// read back through the real backends' read paths.
//
// Input: byte 0 chooses where the rest goes, in a data directory made fresh
// for the input: 0 an LMDB `kv` value, 1 an LMDB `spaces` entry (a space id
// and its check), 2 a SQLite `kv` value. Properties checked:
// - get never returns bytes whose check does not match: it either fails with
//   corrupt_value, or returns a value that, sealed again, is exactly what is
//   stored (for a `spaces` entry: a lookup through it, or corrupt_value);
// - get_batch, scan (both directions, with and without keep_damaged) and
//   walk_raw agree with get on whether the record is intact, and on its
//   value;
// - a record next to it, in another space, always reads back unharmed.

#include <lmdb.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "ark/kv/big_endian.hpp"
#include "ark/kv/key.hpp"
#include "ark/kv/lmdb_backend.hpp"
#include "ark/kv/open.hpp"
#include "ark/kv/sqlite_backend.hpp"
#include "fuzz_check.hpp"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace {

namespace fs = std::filesystem;
using ark::errc;
using namespace ark::kv;

const std::string space = *ark::encode_key(ark::key{"fuzz"});
const std::string other = *ark::encode_key(ark::key{"other"});
const std::string key = *ark::encode_key(ark::key{"k"});

// The stored form of `value` under (space id, key): value ++ be32(check),
// from the format's definition.
std::string sealed(std::uint64_t space_id, std::string_view k, std::string_view value) {
  auto seed = XXH3_64bits_withSeed(k.data(), k.size(), space_id);
  auto c = static_cast<std::uint32_t>(XXH3_64bits_withSeed(value.data(), value.size(), seed));
  return std::string(value) + be32(c);
}

struct temp_dir {
  std::string path;
  temp_dir() {
    std::string t = (fs::temp_directory_path() / "ark-fuzz-XXXXXX").string();
    ARK_FUZZ_CHECK(::mkdtemp(t.data()) != nullptr, "mkdtemp");
    path = t;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// A directory of `kind` with "seed" under space/key (space id 1) and
// "unharmed" under other/key (space id 2).
void make(const std::string& dir, backend_kind kind) {
  open_options o;
  o.kind = kind;
  o.mode = durability::none;
  auto b = open_backend(dir, o);
  ARK_FUZZ_CHECK(b, b ? "" : b.error().message());
  backend_batch batch;
  batch.put(space, key, "seed");
  batch.put(other, key, "unharmed");
  ARK_FUZZ_CHECK((*b)->apply(batch), "the seed write failed");
}

void plant_lmdb(const std::string& dir, const char* db, const std::string& k,
                const std::string& stored) {
  MDB_env* env = nullptr;
  ARK_FUZZ_CHECK(mdb_env_create(&env) == 0, "env");
  mdb_env_set_maxdbs(env, 8);
  ARK_FUZZ_CHECK(mdb_env_open(env, dir.c_str(), MDB_NOSYNC, 0600) == 0, "env open");
  MDB_txn* txn = nullptr;
  ARK_FUZZ_CHECK(mdb_txn_begin(env, nullptr, 0, &txn) == 0, "txn");
  MDB_dbi dbi = 0;
  ARK_FUZZ_CHECK(mdb_dbi_open(txn, db, 0, &dbi) == 0, "dbi");
  MDB_val mk{k.size(), const_cast<char*>(k.data())};
  MDB_val mv{stored.size(), const_cast<char*>(stored.data())};
  ARK_FUZZ_CHECK(mdb_put(txn, dbi, &mk, &mv, 0) == 0, "put");
  ARK_FUZZ_CHECK(mdb_txn_commit(txn) == 0, "commit");
  mdb_env_close(env);
}

void plant_sqlite(const std::string& dir, const std::string& stored) {
  sqlite3* db = nullptr;
  auto file = dir + "/ark.sqlite";
  ARK_FUZZ_CHECK(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK,
                 "open");
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "UPDATE kv SET value = ?1 WHERE space_id = 1", -1, &s, nullptr);
  sqlite3_bind_blob64(s, 1, stored.empty() ? "" : stored.data(), stored.size(), SQLITE_STATIC);
  ARK_FUZZ_CHECK(sqlite3_step(s) == SQLITE_DONE, "update");
  sqlite3_finalize(s);
  sqlite3_close(db);
}

void check(const std::string& dir, backend_kind kind, const std::string& stored, bool space_entry) {
  open_options o;
  o.kind = kind;
  o.read_only = true;
  auto opened = open_backend(dir, o);
  ARK_FUZZ_CHECK(opened, opened ? "" : opened.error().message());
  auto& b = **opened;
  auto got = b.get(space, key);
  bool intact = got.has_value();
  if (!intact) {
    ARK_FUZZ_CHECK(got.error() == errc::corrupt_value || (space_entry && got.error() == errc::not_found),
                   "get failed with " + got.error().message());
  } else if (space_entry) {
    // The entry checks: it names some space id; a lookup through it found
    // the key there, which holds "seed" (id 1) or "unharmed" (id 2).
    ARK_FUZZ_CHECK(*got == "seed" || *got == "unharmed", "a lookup through a planted id");
  } else {
    ARK_FUZZ_CHECK(sealed(1, key, *got) == stored, "get returned bytes whose check fails");
  }
  // The neighbour in another space is unharmed (a planted id may alias it).
  auto next = b.get(other, key);
  ARK_FUZZ_CHECK(next && *next == "unharmed", "the record next to it changed");

  auto batch = b.get_batch(space, {key});
  ARK_FUZZ_CHECK(batch.has_value() == (intact || (space_entry && got.error() == errc::not_found)),
                 "get_batch disagrees with get");
  if (batch && intact) ARK_FUZZ_CHECK((*batch)[0] == *got, "get_batch returned other bytes");

  for (bool reverse : {false, true}) {
    for (bool keep : {false, true}) {
      byte_range r;
      r.keep_damaged = keep;
      auto c = b.scan(space, r, reverse);
      if (!c) {
        ARK_FUZZ_CHECK(space_entry && c.error() == errc::corrupt_value, "scan refused");
        continue;
      }
      int seen = 0;
      for (auto& cur = *c; cur->valid(); cur->next()) {
        ++seen;
        ARK_FUZZ_CHECK(cur->key() == key, "scan returned another key");
        ARK_FUZZ_CHECK(cur->damaged() == !intact, "damaged() disagrees with get");
        if (intact) ARK_FUZZ_CHECK(cur->value() == *got, "scan returned other bytes");
        if (cur->damaged()) ARK_FUZZ_CHECK(cur->value().empty(), "a damaged value was returned");
      }
      if (!space_entry) {
        ARK_FUZZ_CHECK(seen == ((intact || keep) ? 1 : 0), "scan count");
        ARK_FUZZ_CHECK(static_cast<bool>((*c)->status()) == (!intact && !keep),
                       "scan status disagrees with get");
      }
    }
  }

  int not_intact = 0;
  auto walked = walk_raw(b, [&](raw_db db, std::string_view, std::string_view, bool ok) {
    if (!ok) {
      ++not_intact;
      ARK_FUZZ_CHECK(db == (space_entry ? raw_db::spaces : raw_db::kv), "walk_raw flagged another");
    }
    return true;
  });
  ARK_FUZZ_CHECK(walked, walked ? "" : walked.error().message());
  if (!space_entry) ARK_FUZZ_CHECK((not_intact == 0) == intact, "walk_raw disagrees with get");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const int mode = data[0] % 3;
  const std::string stored(reinterpret_cast<const char*>(data) + 1, size - 1);
  temp_dir dir;
  if (mode == 2) {
    make(dir.path, backend_kind::sqlite);
    plant_sqlite(dir.path, stored);
    check(dir.path, backend_kind::sqlite, stored, false);
    return 0;
  }
  make(dir.path, backend_kind::lmdb);
  if (mode == 0)
    plant_lmdb(dir.path, "kv", be64(1) + key, stored);
  else
    plant_lmdb(dir.path, "spaces", space, stored);
  check(dir.path, backend_kind::lmdb, stored, mode == 1);
  return 0;
}
