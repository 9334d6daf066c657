// Behaviour specific to the LMDB backend: persistence across reopen, map
// growth, locking, format versions, read-only access and corruption.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <lmdb.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "ark/kv/big_endian.hpp"
#include "ark/kv/lmdb_backend.hpp"
#include "ark/kv/store.hpp"
#include "test_util.hpp"

using namespace ark;
using namespace ark::kv;

namespace {

std::shared_ptr<lmdb_backend> must_open(const std::string& dir, const lmdb_options& o = {}) {
  auto r = lmdb_backend::open(dir, o);
  REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message()));
  return *r;
}

store must_store(std::shared_ptr<backend> b, const key& space) {
  auto s = store::open(std::move(b), space);
  REQUIRE(s.has_value());
  return *s;
}

struct account {
  std::string owner;
  std::int64_t cents = 0;
  MSGPACK_DEFINE_MAP(owner, cents)
};

}  // namespace

TEST_CASE("everything written is there after closing and reopening the environment") {
  test::temp_dir dir;
  {
    auto b = must_open(dir.str());
    auto a = must_store(b, key{"counter", "a"});
    auto c = must_store(b, key{"chat", 7});
    REQUIRE(a.put(key{"n"}, 41).has_value());
    REQUIRE(a.put(key{"n"}, 42).has_value());
    REQUIRE(a.put(key{"acct"}, account{"ada", 1250}).has_value());
    REQUIRE(c.put_raw(key{"msg", 1.5, 1}, std::string("\x00\xff", 2)).has_value());
    REQUIRE(c.put(key{"gone"}, 1).has_value());
    REQUIRE(c.del(key{"gone"}).value());
  }
  auto b = must_open(dir.str());
  auto a = must_store(b, key{"counter", "a"});
  auto c = must_store(b, key{"chat", 7});
  CHECK(a.get<int>(key{"n"}).value() == 42);
  auto acct = a.get<account>(key{"acct"}).value();
  CHECK(acct.owner == "ada");
  CHECK(acct.cents == 1250);
  CHECK(c.get_raw(key{"msg", 1.5, 1}).value() == std::string("\x00\xff", 2));
  CHECK(c.get<int>(key{"gone"}).error() == errc::not_found);
  CHECK(c.count().value() == 1);
  // New spaces created after reopening get fresh ids and stay isolated.
  auto d = must_store(b, key{"new"});
  REQUIRE(d.put(key{"n"}, 1).has_value());
  CHECK(a.get<int>(key{"n"}).value() == 42);
  CHECK(d.count().value() == 1);
}

TEST_CASE("a 1,000,000-key list in one keyspace streams in order after reopen") {
  test::temp_dir dir;
  constexpr std::int64_t n = 1'000'000;
  {
    lmdb_options o;
    o.mode = durability::none;  // bulk load; synced explicitly below
    auto b = must_open(dir.str(), o);
    auto s = must_store(b, key{"big"});
    for (std::int64_t base = 0; base < n; base += 20'000) {
      write_batch wb;
      // Insert in a scrambled order; the list must come back sorted.
      for (std::int64_t i = 0; i < 20'000; ++i) {
        std::int64_t k = (base + i) * 7919 % n;
        wb.put(key{"item", k}, k);
      }
      REQUIRE(s.apply(wb).has_value());
    }
    REQUIRE(b->sync().has_value());
  }
  auto b = must_open(dir.str(), {});
  auto s = must_store(b, key{"big"});
  std::int64_t expected = 0;
  bool in_order = true;
  auto c = s.list();
  for (; c.valid(); c.next()) {
    if (c.key() != key{"item", expected} || c.value().as<std::int64_t>().value() != expected) {
      in_order = false;
      break;
    }
    ++expected;
  }
  CHECK_FALSE(c.status());
  CHECK(in_order);
  CHECK(expected == n);
  list_options rev;
  rev.reverse = true;
  rev.limit = 2;
  auto r = s.list(rev);
  REQUIRE(r.valid());
  CHECK(r.key() == key{"item", n - 1});
}

TEST_CASE("the map grows on MDB_MAP_FULL and the write succeeds") {
  test::temp_dir dir;
  lmdb_options o;
  o.initial_map_size = 1 << 20;  // 1 MiB
  o.mode = durability::none;
  auto b = must_open(dir.str(), o);
  auto before = b->map_size();
  auto s = must_store(b, key{"grow"});
  const std::string blob(64 * 1024, 'x');
  for (int i = 0; i < 200; ++i) REQUIRE(s.put_raw(key{"blob", i}, blob).has_value());
  CHECK(b->map_size() > before);
  CHECK(s.count().value() == 200);
  // One batch far bigger than the map at the time also succeeds.
  write_batch wb;
  for (int i = 0; i < 300; ++i) wb.put_raw(key{"batch", i}, blob);
  REQUIRE(s.apply(wb).has_value());
  CHECK(s.count().value() == 500);
}

TEST_CASE("a map at its size ceiling gives map_full and keeps what was written") {
  test::temp_dir dir;
  lmdb_options o;
  o.initial_map_size = 1 << 20;
  o.max_map_size = 2 << 20;
  o.mode = durability::none;
  auto b = must_open(dir.str(), o);
  auto s = must_store(b, key{"cap"});
  const std::string blob(64 * 1024, 'x');
  int written = 0;
  expected<void> last;
  for (int i = 0; i < 100; ++i) {
    last = s.put_raw(key{"blob", i}, blob);
    if (!last) break;
    ++written;
  }
  REQUIRE_FALSE(last.has_value());
  CHECK(last.error() == errc::map_full);
  CHECK(last.error().message().find("map size limit") != std::string::npos);
  CHECK(written > 0);
  CHECK(s.count().value() == static_cast<std::uint64_t>(written));
}

TEST_CASE("a second writer on the same data directory is refused and the first is unharmed") {
  test::temp_dir dir;
  auto b = must_open(dir.str());
  auto s = must_store(b, key{"x"});
  REQUIRE(s.put(key{"v"}, 1).has_value());
  const std::string lock_path = dir.sub("ark.lock");

  SUBCASE("in the same process") {
    auto second = lmdb_backend::open(dir.str());
    REQUIRE_FALSE(second.has_value());
    CHECK(second.error() == errc::locked);
  }
  SUBCASE("another process sees the lock held") {
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

TEST_CASE("opening a directory locked by another process names the holder") {
  test::temp_dir dir;
  must_open(dir.str()).reset();
  // Hold the lock as another ark process would, and leave its pid behind.
  int fd = ::open(dir.sub("ark.lock").c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  REQUIRE(::flock(fd, LOCK_EX | LOCK_NB) == 0);
  REQUIRE(::ftruncate(fd, 0) == 0);
  REQUIRE(::pwrite(fd, "4242\n", 5, 0) == 5);
  auto second = lmdb_backend::open(dir.str());
  REQUIRE_FALSE(second.has_value());
  CHECK(second.error() == errc::locked);
  CHECK(second.error().message().find("locked by process 4242") != std::string::npos);
  CHECK(second.error().message().find("remedy") != std::string::npos);
  ::close(fd);
  CHECK(lmdb_backend::open(dir.str()).has_value());
}

TEST_CASE("read-only opening needs an existing ark data directory and refuses writes") {
  test::temp_dir dir;
  lmdb_options ro;
  ro.read_only = true;
  SUBCASE("missing directory") {
    auto r = lmdb_backend::open(dir.sub("missing"), ro);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::no_data_dir);
    CHECK_FALSE(std::filesystem::exists(dir.sub("missing")));
  }
  SUBCASE("a directory that is not an ark data directory") {
    auto r = lmdb_backend::open(dir.str(), ro);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::no_data_dir);
  }
  SUBCASE("a writable open without create_if_missing") {
    lmdb_options o;
    o.create_if_missing = false;
    auto r = lmdb_backend::open(dir.sub("missing"), o);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::no_data_dir);
  }
  SUBCASE("reads work, writes are read_only, and no lock is taken") {
    {
      auto w = must_open(dir.str());
      REQUIRE(must_store(w, key{"s"}).put(key{"k"}, 5).has_value());
    }
    auto r = must_open(dir.str(), ro);
    auto s = must_store(r, key{"s"});
    CHECK(s.get<int>(key{"k"}).value() == 5);
    auto w = s.put(key{"k"}, 6);
    REQUIRE_FALSE(w.has_value());
    CHECK(w.error() == errc::read_only);
    int fd = ::open(dir.sub("ark.lock").c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    CHECK(::flock(fd, LOCK_EX | LOCK_NB) == 0);
    ::close(fd);
  }
}

TEST_CASE("a data directory written by a newer format version is refused") {
  test::temp_dir dir;
  must_open(dir.str()).reset();
  {  // Rewrite the format version with the raw LMDB API, as a future ark would.
    MDB_env* env = nullptr;
    REQUIRE(mdb_env_create(&env) == 0);
    REQUIRE(mdb_env_set_maxdbs(env, 8) == 0);
    REQUIRE(mdb_env_open(env, dir.str().c_str(), 0, 0644) == 0);
    MDB_txn* txn = nullptr;
    REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
    MDB_dbi meta;
    REQUIRE(mdb_dbi_open(txn, "meta", 0, &meta) == 0);
    std::string k = "format_version", v = be32(storage_format_version + 1);
    MDB_val mk{k.size(), k.data()}, mv{v.size(), v.data()};
    REQUIRE(mdb_put(txn, meta, &mk, &mv, 0) == 0);
    REQUIRE(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
  }
  auto r = lmdb_backend::open(dir.str());
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == errc::format_version);
  CHECK(r.error().message().find("format version " +
                                 std::to_string(storage_format_version + 1)) != std::string::npos);
  CHECK(r.error().message().find("upgrade ark") != std::string::npos);
}

TEST_CASE("a corrupt stored value is reported with its key, and other keys still read") {
  test::temp_dir dir;
  auto b = must_open(dir.str());
  auto s = must_store(b, key{"s"});
  REQUIRE(s.put(key{"a"}, 1).has_value());
  REQUIRE(s.put(key{"c"}, 3).has_value());
  backend_batch bb;  // a value with an unknown kind tag, written under the store
  bb.put(s.encoded_space(), encode_user_key(key{"b"}).value(), std::string("\x09junk", 5));
  REQUIRE(b->apply(bb).has_value());

  auto g = s.get<int>(key{"b"});
  REQUIRE_FALSE(g.has_value());
  CHECK(g.error() == errc::corrupt_value);
  CHECK(g.error().message().find("\"b\"") != std::string::npos);
  CHECK(s.get<int>(key{"a"}).value() == 1);
  auto c = s.list();
  REQUIRE(c.valid());
  c.next();
  CHECK_FALSE(c.valid());
  CHECK(c.status() == errc::corrupt_value);
  list_options from_c;
  from_c.start = key{"c"};
  CHECK(s.count(from_c).value() == 1);
}

TEST_CASE("every durability mode opens and persists committed writes") {
  for (auto mode : {durability::sync, durability::relaxed, durability::none}) {
    CAPTURE(static_cast<int>(mode));
    test::temp_dir dir;
    {
      lmdb_options o;
      o.mode = mode;
      auto b = must_open(dir.str(), o);
      REQUIRE(must_store(b, key{"d"}).put(key{"k"}, 1).has_value());
    }
    CHECK(must_store(must_open(dir.str()), key{"d"}).get<int>(key{"k"}).value() == 1);
  }
}

TEST_CASE("walk_raw visits meta then spaces then kv in key order from one snapshot") {
  test::temp_dir dir;
  auto b = must_open(dir.str());
  auto users = must_store(b, key{"users"});
  REQUIRE(users.put(key{"a"}, 1).has_value());
  REQUIRE(users.put(key{"b"}, 2).has_value());
  REQUIRE(must_store(b, key{"other"}).put_raw(key{"x"}, "raw").has_value());
  std::vector<std::pair<raw_db, std::string>> seen;
  std::string id_of_users;
  auto walked = b->walk_raw([&](raw_db db, std::string_view k, std::string_view v, bool intact) {
    CHECK(intact);  // every record ark wrote passes its checksum
    seen.emplace_back(db, std::string(k));
    if (db == raw_db::spaces && k == users.encoded_space()) id_of_users = std::string(v);
    // Writes during the walk are not seen: it reads one snapshot.
    if (seen.size() == 1) REQUIRE(users.put(key{"c"}, 3).has_value());
    return true;
  });
  REQUIRE(walked.has_value());
  REQUIRE(seen.size() == 2 + 2 + 3);  // format_version, next_space_id; 2 spaces; 3 keys
  CHECK(seen[0] == std::make_pair(raw_db::meta, std::string("format_version")));
  CHECK(seen[1] == std::make_pair(raw_db::meta, std::string("next_space_id")));
  CHECK(seen[2].first == raw_db::spaces);
  CHECK(seen[2].second == must_store(b, key{"other"}).encoded_space());  // key order
  CHECK(seen[3].second == users.encoded_space());
  REQUIRE(id_of_users.size() == 8);
  CHECK(seen[4] == std::make_pair(raw_db::kv, id_of_users + *encode_key(key{"a"})));
  CHECK(seen[5] == std::make_pair(raw_db::kv, id_of_users + *encode_key(key{"b"})));
  CHECK(seen[6].first == raw_db::kv);
  // Returning false stops the walk.
  std::size_t visits = 0;
  REQUIRE(b->walk_raw([&](raw_db, std::string_view, std::string_view, bool) { return ++visits < 3; }));
  CHECK(visits == 3);
}

TEST_CASE("a new data directory and its files are private to their owner") {
  test::temp_dir dir;
  auto path = dir.sub("data");
  { auto db = must_open(path); }
  namespace fs = std::filesystem;
  auto mode = [](const fs::path& p) { return fs::status(p).permissions() & fs::perms::all; };
  CHECK(mode(path) == fs::perms::owner_all);
  CHECK(mode(fs::path(path) / "data.mdb") == (fs::perms::owner_read | fs::perms::owner_write));
  CHECK(mode(fs::path(path) / "ark.lock") == (fs::perms::owner_read | fs::perms::owner_write));
}
