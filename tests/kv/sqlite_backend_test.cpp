// Behaviour specific to the SQLite backend: persistence, locking, read-only
// access while a writer writes, all-or-nothing batches, format versions,
// damaged files, directories of the other backend, the open_backend factory
// and the file's readability with the sqlite3 tool.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "ark/kv/lmdb_backend.hpp"
#include "ark/kv/open.hpp"
#include "ark/kv/sqlite_backend.hpp"
#include "ark/kv/store.hpp"
#include "test_util.hpp"

using namespace ark;
using namespace ark::kv;
namespace fs = std::filesystem;

namespace {

std::shared_ptr<sqlite_backend> must_open(const std::string& dir, const sqlite_options& o = {}) {
  auto r = sqlite_backend::open(dir, o);
  REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message()));
  return *r;
}

sqlite_options read_only() {
  sqlite_options o;
  o.read_only = true;
  return o;
}

store must_store(std::shared_ptr<backend> b, const key& space) {
  auto s = store::open(std::move(b), space);
  REQUIRE(s.has_value());
  return *s;
}

std::vector<key> keys_of(const store& s) {
  std::vector<key> out;
  auto c = s.list();
  for (; c.valid(); c.next()) out.push_back(c.key());
  REQUIRE_MESSAGE(!c.status(), c.status().message());
  return out;
}

// Runs `sql` on `file` with the raw SQLite API, as another program (or a
// future ark) would.
void raw_sql(const std::string& file, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  std::string msg = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  REQUIRE_MESSAGE(rc == SQLITE_OK, msg);
}

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("sqlite: everything written is there after closing and reopening") {
  test::temp_dir dir;
  {
    auto b = must_open(dir.str());
    auto a = must_store(b, key{"counter", "a"});
    auto c = must_store(b, key{"chat", 7});
    REQUIRE(a.put(key{"n"}, 41).has_value());
    REQUIRE(a.put(key{"n"}, 42).has_value());
    REQUIRE(c.put_raw(key{"msg", 1.5, 1}, std::string("\x00\xff", 2)).has_value());
    REQUIRE(c.put_raw(key{"empty"}, std::string()).has_value());
    REQUIRE(c.put(key{"gone"}, 1).has_value());
    REQUIRE(c.del(key{"gone"}).value());
  }
  auto b = must_open(dir.str());
  auto a = must_store(b, key{"counter", "a"});
  auto c = must_store(b, key{"chat", 7});
  CHECK(a.get<int>(key{"n"}).value() == 42);
  CHECK(c.get_raw(key{"msg", 1.5, 1}).value() == std::string("\x00\xff", 2));
  CHECK(c.get_raw(key{"empty"}).value().empty());
  CHECK(c.get<int>(key{"gone"}).error() == errc::not_found);
  CHECK(c.count().value() == 2);
  // New spaces created after reopening get fresh ids and stay isolated.
  auto d = must_store(b, key{"new"});
  REQUIRE(d.put(key{"n"}, 1).has_value());
  CHECK(a.get<int>(key{"n"}).value() == 42);
  CHECK(d.count().value() == 1);
  CHECK(b->file() == (dir.path() / "ark.sqlite").string());
}

TEST_CASE(
    "sqlite: a second writer on the same data directory is refused and the first is unharmed") {
  test::temp_dir dir;
  auto b = must_open(dir.str());
  auto s = must_store(b, key{"x"});
  REQUIRE(s.put(key{"v"}, 1).has_value());

  SUBCASE("in the same process") {
    auto second = sqlite_backend::open(dir.str());
    REQUIRE_FALSE(second.has_value());
    CHECK(second.error() == errc::locked);
    CHECK(contains(second.error().message(), "already open for writing in this process"));
  }
  SUBCASE("another process sees the lock held") {
    const std::string lock_path = dir.sub("ark.lock");
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      int fd = ::open(lock_path.c_str(), O_RDWR);
      bool refused = fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
      ::_exit(refused ? 0 : 1);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  REQUIRE(s.put(key{"v"}, 2).has_value());
  CHECK(s.get<int>(key{"v"}).value() == 2);
}

TEST_CASE("sqlite: opening a directory locked by another process names the holder") {
  test::temp_dir dir;
  must_open(dir.str()).reset();
  int fd = ::open(dir.sub("ark.lock").c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  REQUIRE(::flock(fd, LOCK_EX | LOCK_NB) == 0);
  REQUIRE(::ftruncate(fd, 0) == 0);
  REQUIRE(::pwrite(fd, "4242\n", 5, 0) == 5);
  auto second = sqlite_backend::open(dir.str());
  REQUIRE_FALSE(second.has_value());
  CHECK(second.error() == errc::locked);
  CHECK(contains(second.error().message(), "locked by process 4242"));
  // A reader needs no lock.
  CHECK(sqlite_backend::open(dir.str(), read_only()).has_value());
  ::close(fd);
  CHECK(sqlite_backend::open(dir.str()).has_value());
}

TEST_CASE("sqlite: a read-only open works while a writer writes and sees each commit") {
  test::temp_dir dir;
  auto w = must_open(dir.str());
  auto ws = must_store(w, key{"s"});
  REQUIRE(ws.put(key{"k"}, 1).has_value());

  auto r = must_open(dir.str(), read_only());
  auto rs = must_store(r, key{"s"});
  CHECK(rs.get<int>(key{"k"}).value() == 1);
  auto snapshot = rs.list();  // pins the state with one key
  REQUIRE(snapshot.valid());

  REQUIRE(ws.put(key{"k"}, 2).has_value());
  REQUIRE(ws.put(key{"l"}, 3).has_value());
  CHECK(rs.get<int>(key{"k"}).value() == 2);
  CHECK(rs.count().value() == 2);
  // A space the writer creates after the reader opened is found too.
  REQUIRE(must_store(w, key{"later"}).put(key{"x"}, 9).has_value());
  CHECK(must_store(r, key{"later"}).get<int>(key{"x"}).value() == 9);

  std::vector<int> seen;
  for (; snapshot.valid(); snapshot.next()) seen.push_back(snapshot.value().as<int>().value());
  CHECK(seen == std::vector<int>{1});

  auto refused = rs.put(key{"k"}, 7);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error() == errc::read_only);
  CHECK(ws.get<int>(key{"k"}).value() == 2);
  CHECK(r->sync().has_value());
}

TEST_CASE("sqlite: read-only opening needs an existing ark data directory and takes no lock") {
  test::temp_dir dir;
  SUBCASE("missing directory") {
    auto r = sqlite_backend::open(dir.sub("missing"), read_only());
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::no_data_dir);
    CHECK_FALSE(fs::exists(dir.sub("missing")));
  }
  SUBCASE("a directory without ark.sqlite") {
    auto r = sqlite_backend::open(dir.str(), read_only());
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::no_data_dir);
    CHECK(contains(r.error().message(), "no ark.sqlite"));
  }
  SUBCASE("an empty ark.sqlite") {
    std::ofstream(dir.sub("ark.sqlite")).close();
    auto r = sqlite_backend::open(dir.str(), read_only());
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::no_data_dir);
  }
  SUBCASE("a writable open without create_if_missing") {
    sqlite_options o;
    o.create_if_missing = false;
    auto r = sqlite_backend::open(dir.sub("missing"), o);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::no_data_dir);
  }
  SUBCASE("no lock is taken") {
    must_open(dir.str()).reset();
    auto r = must_open(dir.str(), read_only());
    int fd = ::open(dir.sub("ark.lock").c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    CHECK(::flock(fd, LOCK_EX | LOCK_NB) == 0);
    ::close(fd);
  }
}

TEST_CASE(
    "sqlite: a batch that fails midway leaves nothing, and the space it created is not cached") {
  test::temp_dir dir;
  const std::string poison = encode_user_key(key{"poison"}).value();
  must_open(dir.str()).reset();
  // A trigger makes SQLite fail one insert inside the transaction, after the
  // batch already wrote to other spaces (and created one).
  raw_sql(dir.sub("ark.sqlite"),
          "CREATE TRIGGER fail_poison BEFORE INSERT ON kv WHEN NEW.key = x'" + to_hex(poison) +
              "' BEGIN SELECT RAISE(ABORT, 'injected failure'); END;");
  auto b = must_open(dir.str());
  auto s = must_store(b, key{"space"});
  REQUIRE(s.put(key{"keep"}, 1).has_value());
  auto fresh = must_store(b, key{"fresh"});

  backend_batch bb;
  bb.put(fresh.encoded_space(), encode_user_key(key{"x"}).value(), value::pack(1).stored());
  bb.del(s.encoded_space(), encode_user_key(key{"keep"}).value());
  bb.put(s.encoded_space(), encode_user_key(key{"y"}).value(), value::pack(2).stored());
  bb.put(s.encoded_space(), poison, value::pack(3).stored());
  auto r = b->apply(bb);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == errc::backend_failure);
  CHECK(contains(r.error().message(), "injected failure"));
  CHECK(keys_of(s) == std::vector<key>{key{"keep"}});
  CHECK(keys_of(fresh).empty());
  CHECK(b->spaces("", 0).value() == std::vector<std::string>{s.encoded_space()});

  // The rolled-back space id was not remembered: the space gets an id now,
  // and its keys land in it alone.
  REQUIRE(fresh.put(key{"x"}, 5).has_value());
  CHECK(keys_of(fresh) == std::vector<key>{key{"x"}});
  CHECK(keys_of(s) == std::vector<key>{key{"keep"}});
  auto reopened = must_open(dir.str(), read_only());
  CHECK(must_store(reopened, key{"fresh"}).get<int>(key{"x"}).value() == 5);
}

TEST_CASE("sqlite: a data directory written by a newer format version is refused") {
  test::temp_dir dir;
  must_open(dir.str()).reset();
  raw_sql(dir.sub("ark.sqlite"), "UPDATE meta SET value = " +
                                     std::to_string(storage_format_version + 1) +
                                     " WHERE name = 'format_version'");
  for (bool ro : {false, true}) {
    CAPTURE(ro);
    sqlite_options o;
    o.read_only = ro;
    auto r = sqlite_backend::open(dir.str(), o);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::format_version);
    CHECK(contains(r.error().message(),
                   "format version " + std::to_string(storage_format_version + 1)));
    CHECK(contains(r.error().message(), "ark.sqlite"));
    CHECK(contains(r.error().message(), "upgrade ark"));
  }
}

TEST_CASE("sqlite: a damaged database file gives a clear error, not a crash") {
  test::temp_dir dir;
  const std::string file = dir.sub("ark.sqlite");
  SUBCASE("a file that is not a SQLite database") {
    {
      std::ofstream out(file, std::ios::binary);
      for (int i = 0; i < 64; ++i)
        out << "this is not a database, just text.......................\n";
    }
    for (bool ro : {false, true}) {
      CAPTURE(ro);
      sqlite_options o;
      o.read_only = ro;
      auto r = sqlite_backend::open(dir.str(), o);
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error() == errc::corrupt_value);
      CHECK(contains(r.error().message(), file));
      CHECK(contains(r.error().message(), "not a SQLite database"));
    }
  }
  SUBCASE("a SQLite file of another application") {
    raw_sql(file, "PRAGMA application_id = 42; CREATE TABLE t (x)");
    auto r = sqlite_backend::open(dir.str());
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::no_data_dir);
    CHECK(contains(r.error().message(), "another application"));
  }
  SUBCASE("damaged pages under the kv table") {
    {
      auto b = must_open(dir.str());
      auto s = must_store(b, key{"s"});
      write_batch wb;
      for (int i = 0; i < 3000; ++i) wb.put(key{"k", i}, std::string(40, 'v'));
      REQUIRE(s.apply(wb).has_value());
      CHECK(b->integrity_check().value().empty());
    }
    // Closing checkpointed the WAL: every page is in the file. Overwrite the
    // pages after the tables' roots (the kv table's leaves) with garbage.
    REQUIRE_FALSE(fs::exists(file + "-wal"));
    const auto size = fs::file_size(file);
    REQUIRE(size > 16 * 4096);
    {
      std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(8 * 4096);
      std::string junk(size - 8 * 4096, '\xa5');
      f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
    auto b = must_open(dir.str());  // the schema pages are intact
    auto s = must_store(b, key{"s"});
    auto c = s.list();
    std::size_t n = 0;
    for (; c.valid(); c.next()) ++n;
    CHECK(c.status() == errc::corrupt_value);
    CHECK(contains(c.status().message(), "integrity_check"));
    CHECK(n < 3000);
    auto problems = b->integrity_check();
    REQUIRE(problems.has_value());
    CHECK_FALSE(problems->empty());
  }
}

TEST_CASE("sqlite: a directory of the other backend is refused, naming it") {
  test::temp_dir dir;
  SUBCASE("an LMDB directory opened as sqlite") {
    REQUIRE(lmdb_backend::open(dir.str()).has_value());
    auto r = sqlite_backend::open(dir.str());
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::invalid_argument);
    CHECK(contains(r.error().message(), "holds an LMDB database"));
    CHECK(contains(r.error().message(), "created with --backend lmdb"));
    CHECK_FALSE(fs::exists(dir.sub("ark.sqlite")));
  }
  SUBCASE("a sqlite directory opened as LMDB") {
    must_open(dir.str()).reset();
    lmdb_options ro;
    ro.read_only = true;
    for (const auto& o : {lmdb_options{}, ro}) {
      auto r = lmdb_backend::open(dir.str(), o);
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error() == errc::invalid_argument);
      CHECK(contains(r.error().message(), "created with --backend sqlite"));
    }
    CHECK_FALSE(fs::exists(dir.sub("data.mdb")));
  }
}

TEST_CASE("open_backend creates a directory of the chosen kind and refuses a mismatch") {
  test::temp_dir dir;
  CHECK(parse_backend_kind("sqlite").value() == backend_kind::sqlite);
  CHECK(parse_backend_kind("lmdb").value() == backend_kind::lmdb);
  auto bad = parse_backend_kind("rocksdb");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error() == errc::invalid_argument);
  CHECK(contains(bad.error().message(), "choose lmdb, sqlite or postgres"));
  CHECK(to_string(backend_kind::sqlite) == "sqlite");

  const std::string sq = dir.sub("sq"), lm = dir.sub("lm");
  CHECK(detect_backend(sq).error() == errc::not_found);
  open_options so;
  so.kind = backend_kind::sqlite;
  {
    auto b = open_backend(sq, so);
    REQUIRE_MESSAGE(b.has_value(), (b ? "" : b.error().message()));
    CHECK((*b)->name() == "sqlite");
    REQUIRE(must_store(*b, key{"s"}).put(key{"k"}, 1).has_value());
  }
  {
    auto b = open_backend(lm, open_options{});
    REQUIRE(b.has_value());
    CHECK((*b)->name() == "lmdb");
  }
  CHECK(detect_backend(sq).value() == backend_kind::sqlite);
  CHECK(detect_backend(lm).value() == backend_kind::lmdb);

  SUBCASE("a mismatch names both backends and the remedy") {
    open_options lo;
    lo.kind = backend_kind::lmdb;
    auto r = open_backend(sq, lo);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::invalid_argument);
    CHECK(contains(r.error().message(), "holds a sqlite database"));
    CHECK(contains(r.error().message(), "created with --backend sqlite"));
    auto r2 = open_backend(lm, so);
    REQUIRE_FALSE(r2.has_value());
    CHECK(contains(r2.error().message(), "created with --backend lmdb"));
    CHECK_FALSE(fs::exists(fs::path(lm) / "ark.sqlite"));
  }
  SUBCASE("open_detected opens whatever the directory holds") {
    open_options ro;
    ro.read_only = true;
    auto b = open_detected(sq, ro);
    REQUIRE(b.has_value());
    CHECK((*b)->name() == "sqlite");
    CHECK(must_store(*b, key{"s"}).get<int>(key{"k"}).value() == 1);
    auto none = open_detected(dir.str(), ro);
    REQUIRE_FALSE(none.has_value());
    CHECK(none.error() == errc::no_data_dir);
    CHECK(contains(none.error().message(), "neither data.mdb nor ark.sqlite"));
  }
  SUBCASE("a directory holding both is ambiguous") {
    fs::copy_file(fs::path(lm) / "data.mdb", fs::path(sq) / "data.mdb");
    auto d = detect_backend(sq);
    REQUIRE_FALSE(d.has_value());
    CHECK(d.error() == errc::invalid_argument);
    CHECK(open_backend(sq, so).error() == errc::invalid_argument);
  }
}

TEST_CASE("sqlite: walk_raw reports the same entries as LMDB for the same writes") {
  test::temp_dir dir;
  auto write = [](const std::shared_ptr<backend>& b) {
    auto users = must_store(b, key{"users"});
    REQUIRE(users.put(key{"a"}, 1).has_value());
    REQUIRE(users.put(key{"b"}, 2).has_value());
    REQUIRE(must_store(b, key{"other"}).put_raw(key{"x"}, "raw").has_value());
    REQUIRE(must_store(b, key{"other"}).put_raw(key{}, "").has_value());
  };
  auto walk = [](backend& b) {
    std::vector<std::tuple<raw_db, std::string, std::string>> seen;
    auto r = walk_raw(b, [&](raw_db db, std::string_view k, std::string_view v, bool intact) {
      CHECK(intact);  // every record ark wrote passes its checksum
      seen.emplace_back(db, std::string(k), std::string(v));
      return true;
    });
    REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message()));
    return seen;
  };
  auto l = lmdb_backend::open(dir.sub("lmdb")).value();
  auto s = must_open(dir.sub("sqlite"));
  write(l);
  write(s);
  auto from_sqlite = walk(*s);
  CHECK(from_sqlite.size() == 2 + 2 + 4);
  CHECK(from_sqlite == walk(*l));
  // Returning false stops the walk.
  std::size_t visits = 0;
  REQUIRE(s->walk_raw([&](raw_db, std::string_view, std::string_view, bool) { return ++visits < 3; }));
  CHECK(visits == 3);
}

TEST_CASE("sqlite: many open cursors each keep their own snapshot, also past the backend object") {
  test::temp_dir dir;
  auto b = must_open(dir.str());
  std::optional<store> s = must_store(b, key{"s"});
  std::vector<cursor> cursors;
  for (int i = 0; i < 40; ++i) {
    REQUIRE(s->put(key{i}, i).has_value());
    cursors.push_back(s->list());  // sees keys 0..i
  }
  std::weak_ptr<sqlite_backend> weak = b;
  s.reset();
  b.reset();
  CHECK(weak.expired());  // only the cursors hold the connections now
  for (int i = 0; i < 40; ++i) {
    CAPTURE(i);
    int n = 0;
    for (auto& c = cursors[static_cast<std::size_t>(i)]; c.valid(); c.next()) ++n;
    CHECK(n == i + 1);
  }
  cursors.clear();
  CHECK(must_store(must_open(dir.str()), key{"s"}).count().value() == 40);
}

TEST_CASE("sqlite: every durability mode opens and persists committed writes, and sync flushes") {
  for (auto mode : {durability::sync, durability::relaxed, durability::none}) {
    CAPTURE(static_cast<int>(mode));
    test::temp_dir dir;
    {
      sqlite_options o;
      o.mode = mode;
      auto b = must_open(dir.str(), o);
      REQUIRE(must_store(b, key{"d"}).put(key{"k"}, 1).has_value());
      auto synced = b->sync();
      CHECK_MESSAGE(synced.has_value(), (synced ? "" : synced.error().message()));
    }
    CHECK(must_store(must_open(dir.str()), key{"d"}).get<int>(key{"k"}).value() == 1);
  }
}

TEST_CASE("sqlite: a new data directory and its files are private to their owner") {
  test::temp_dir dir;
  auto path = dir.sub("data");
  auto db = must_open(path);
  REQUIRE(must_store(db, key{"s"}).put(key{"k"}, 1).has_value());
  auto mode = [](const fs::path& p) { return fs::status(p).permissions() & fs::perms::all; };
  const auto rw = fs::perms::owner_read | fs::perms::owner_write;
  CHECK(mode(path) == fs::perms::owner_all);
  CHECK(mode(fs::path(path) / "ark.sqlite") == rw);
  CHECK(mode(fs::path(path) / "ark.sqlite-wal") == rw);
  CHECK(mode(fs::path(path) / "ark.lock") == rw);
}

TEST_CASE("sqlite: the data is readable with the sqlite3 tool while a writer runs") {
  auto probe = test::capture_command("command -v sqlite3");
  if (probe.first != 0) {
    MESSAGE("sqlite3 is not installed (apt-get install sqlite3): skipped");
    return;
  }
  test::temp_dir dir;
  auto b = must_open(dir.str());
  auto s = must_store(b, key{"counter", "a"});
  REQUIRE(s.put(key{"visits"}, 42).has_value());
  REQUIRE(s.put_raw(key{"note"}, "hi").has_value());
  const std::string file = dir.sub("ark.sqlite");
  auto [status, out] = test::capture_command(
      "sqlite3 -readonly '" + file +
      "' \"SELECT s.json, hex(kv.key), hex(kv.value) FROM kv JOIN spaces s ON s.id = kv.space_id "
      "ORDER BY s.space, kv.key; "
      "SELECT value FROM meta WHERE name = 'format_version'; PRAGMA integrity_check\"");
  INFO(out);
  CHECK(status == 0);
  // ["visits"] is 02 'visits' 00; 42 is tag 01 then msgpack 0x2a, then
  // the value's 4-byte checksum.
  CHECK(contains(out, "[\"counter\",\"a\"]|0276697369747300|012A"));
  CHECK(contains(out, "[\"counter\",\"a\"]|026E6F746500|026869"));
  CHECK(contains(out, "\n" + std::to_string(storage_format_version) + "\nok\n"));
  // The writer is unharmed and keeps writing.
  REQUIRE(s.put(key{"visits"}, 43).has_value());
  CHECK(s.get<int>(key{"visits"}).value() == 43);
}
