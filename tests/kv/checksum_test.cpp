// Storage format 2: every record of an LMDB or SQLite data directory carries a
// checksum. Bytes flipped in the closed file are caught by every read (get,
// get_batch, scan, walk_raw), named (key, space, directory, remedy), and
// never served; the other records are unharmed. A format-1 directory is
// upgraded by a writable open and refused by a read-only one.

#include <doctest/doctest.h>

#include <ark/kv/key.hpp>
#include <ark/kv/lmdb_backend.hpp>
#include <ark/kv/open.hpp>
#include <ark/kv/sqlite_backend.hpp>

#include "support/damage.hpp"
#include "support/lmdb_raw.hpp"
#include "test_util.hpp"

using namespace ark;
using namespace ark::kv;

namespace {

bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

using engine = ark::test::embedded_engine;
const auto& engines = ark::test::embedded_engines;

std::shared_ptr<backend> open_dir(const std::string& dir, backend_kind kind,
                                  bool read_only = false) {
  open_options o;
  o.kind = kind;
  o.read_only = read_only;
  auto b = open_backend(dir, o);
  REQUIRE_MESSAGE(b, (b ? "" : b.error().message()));
  return *b;
}

std::string space_of(const char* name) {
  return *encode_key(key{name});
}
std::string key_of(const char* name) {
  return *encode_key(key{name});
}

// Three values in space ["users"], one in ["other"]; distinctive bytes, so a
// test finds them in the file.
void fill(backend& b) {
  backend_batch batch;
  batch.put(space_of("users"), key_of("k1"), "first value 11111111");
  batch.put(space_of("users"), key_of("k2"), "second value 22222222");
  batch.put(space_of("users"), key_of("k3"), "third value 33333333");
  batch.put(space_of("other"), key_of("x"), "other value 44444444");
  REQUIRE(b.apply(batch));
}

struct walked_entry {
  raw_db db;
  std::string key, value;
  bool intact;
};

std::vector<walked_entry> walk(backend& b) {
  std::vector<walked_entry> out;
  auto r = walk_raw(b, [&](raw_db db, std::string_view k, std::string_view v, bool intact) {
    out.push_back({db, std::string(k), std::string(v), intact});
    return true;
  });
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
  return out;
}

}  // namespace

TEST_CASE("a byte flipped on disk in a value is caught by every read and named") {
  for (const auto& e : engines) {
    INFO(e.name);
    test::temp_dir dir;
    const auto data = dir.sub("data");
    fill(*open_dir(data, e.kind));
    // One bit of the value's sixth byte, in the file itself.
    REQUIRE(test::flip_in_file(data + "/" + e.file, "second value 22222222", 5) >= 1);

    auto b = open_dir(data, e.kind);
    auto got = b->get(space_of("users"), key_of("k2"));
    REQUIRE_FALSE(got);
    const auto m = got.error().message();
    INFO(m);
    CHECK(got.error() == errc::corrupt_value);
    CHECK(has(m, "the stored value of key [\"k2\"] in space [\"users\"] of " + data +
                     " fails its checksum"));
    CHECK(has(m, "restore the data directory from a backup"));
    CHECK(has(m, "`ark-dash verify --data " + data + "`"));
    // The others are unharmed.
    CHECK(b->get(space_of("users"), key_of("k1")).value() == "first value 11111111");
    CHECK(b->get(space_of("users"), key_of("k3")).value() == "third value 33333333");
    CHECK(b->get(space_of("other"), key_of("x")).value() == "other value 44444444");

    auto batch = b->get_batch(space_of("users"), {key_of("k1"), key_of("k2")});
    REQUIRE_FALSE(batch);
    CHECK(batch.error() == errc::corrupt_value);
    CHECK(b->get_batch(space_of("users"), {key_of("k1"), key_of("k3")}).has_value());

    // A scan ends at the damaged record with its error, in either direction.
    for (bool reverse : {false, true}) {
      CAPTURE(reverse);
      auto c = b->scan(space_of("users"), byte_range{}, reverse).value();
      std::vector<std::string> seen;
      for (; c->valid(); c->next()) seen.emplace_back(c->value());
      CHECK(seen == std::vector<std::string>{reverse ? "third value 33333333"
                                                     : "first value 11111111"});
      CHECK(c->status() == errc::corrupt_value);
      CHECK(has(c->status().message(), "key [\"k2\"]"));
    }
    // keep_damaged: listed and marked, never its bytes.
    byte_range all;
    all.keep_damaged = true;
    auto c = b->scan(space_of("users"), all, false).value();
    std::vector<std::pair<std::string, bool>> marked;
    for (; c->valid(); c->next()) {
      marked.emplace_back(c->damaged() ? std::string() : std::string(c->value()), c->damaged());
      if (c->damaged()) CHECK(c->value().empty());
    }
    CHECK_FALSE(c->status());
    CHECK(marked == std::vector<std::pair<std::string, bool>>{
                        {"first value 11111111", false}, {"", true}, {"third value 33333333", false}});

    // walk_raw reports exactly that record as not intact.
    int damaged = 0;
    for (const auto& w : walk(*b)) {
      if (w.intact) continue;
      ++damaged;
      CHECK(w.db == raw_db::kv);
      CHECK(w.key.substr(8) == key_of("k2"));
    }
    CHECK(damaged == 1);

    // Writing the key again repairs it.
    backend_batch fix;
    fix.put(space_of("users"), key_of("k2"), "second value again");
    REQUIRE(b->apply(fix));
    CHECK(b->get(space_of("users"), key_of("k2")).value() == "second value again");
  }
}

TEST_CASE("a value moved to another key fails its checksum") {
  // A stray write that copies a whole record (value and check) elsewhere:
  // the check covers the key and the space it belongs to.
  test::temp_dir dir;
  const auto data = dir.sub("data");
  std::string id, stored_k1;
  {
    auto b = open_dir(data, backend_kind::lmdb);
    fill(*b);
    for (const auto& w : walk(*b))
      if (w.db == raw_db::spaces && w.key == space_of("users")) id = w.value;
  }
  REQUIRE(id.size() == 8);
  // The stored bytes of k1, check included, written under k3's key.
  ark::test::raw_put(data, "kv", id + key_of("k3"),
                     ark::test::checked(kv::get_be(id), key_of("k1"), "first value 11111111"));
  auto b = open_dir(data, backend_kind::lmdb);
  CHECK(b->get(space_of("users"), key_of("k1")).value() == "first value 11111111");
  auto moved = b->get(space_of("users"), key_of("k3"));
  REQUIRE_FALSE(moved);
  CHECK(moved.error() == errc::corrupt_value);
}

TEST_CASE("a space id that fails its checksum is refused, naming the space") {
  for (const auto& e : engines) {
    INFO(e.name);
    test::temp_dir dir;
    const auto data = dir.sub("data");
    fill(*open_dir(data, e.kind));
    // A stray write points ["users"] at another id.
    if (e.kind == backend_kind::lmdb) {
      std::string stored;
      {
        auto b = open_dir(data, e.kind);
        for (const auto& w : walk(*b))
          if (w.db == raw_db::spaces && w.key == space_of("users")) stored = w.value;
      }
      REQUIRE(stored.size() == 8);
      auto other = kv::be64(kv::get_be(stored) + 1);
      ark::test::raw_put(data, "spaces", space_of("users"),
                         other + ark::test::checked(0, space_of("users"), stored).substr(8));
    } else {
      ark::test::sqlite_exec(data + "/ark.sqlite",
                             "UPDATE spaces SET id = id + 100 WHERE json = '[\"users\"]'");
    }
    auto b = open_dir(data, e.kind);
    auto got = b->get(space_of("users"), key_of("k1"));
    REQUIRE_FALSE(got);
    INFO(got.error().message());
    CHECK(got.error() == errc::corrupt_value);
    CHECK(has(got.error().message(), "the id of space [\"users\"] in " + data +
                                         " fails its checksum"));
    CHECK_FALSE(b->scan(space_of("users"), byte_range{}, false));
    CHECK(b->get(space_of("other"), key_of("x")).value() == "other value 44444444");
    int damaged = 0;
    for (const auto& w : walk(*b)) damaged += w.intact ? 0 : 1;
    CHECK(damaged == 1);
  }
}

TEST_CASE("a format-1 directory is upgraded by a writable open and refused by a read-only one") {
  for (const auto& e : engines) {
    INFO(e.name);
    test::temp_dir dir;
    const auto data = dir.sub("data");
    fill(*open_dir(data, e.kind));
    if (e.kind == backend_kind::lmdb)
      test::downgrade_lmdb_to_v1(data);
    else
      test::downgrade_sqlite_to_v1(data);

    open_options ro;
    ro.kind = e.kind;
    ro.read_only = true;
    auto refused = open_backend(data, ro);
    REQUIRE_FALSE(refused);
    INFO(refused.error().message());
    CHECK(refused.error() == errc::format_version);
    CHECK(has(refused.error().message(), "storage format version 1"));
    CHECK(has(refused.error().message(), "`ark-dash upgrade --data " + data + "`"));

    {
      open_options rw;
      rw.kind = e.kind;
      std::vector<std::string> told;
      rw.on_upgrade = [&](const std::string& line) { told.push_back(line); };
      auto opened = open_backend(data, rw);  // upgrades
      REQUIRE_MESSAGE(opened, (opened ? "" : opened.error().message()));
      auto b = *opened;
      REQUIRE(told.size() == 1);
      CHECK(has(told[0], "upgraded data directory " + data + " from storage format 1 to 2"));
      CHECK(has(told[0], ": 6 records in "));  // 4 values and 2 space ids
      CHECK(b->get(space_of("users"), key_of("k2")).value() == "second value 22222222");
      CHECK(b->get(space_of("other"), key_of("x")).value() == "other value 44444444");
      // New spaces get fresh ids after the upgrade, and every record checks.
      backend_batch more;
      more.put(space_of("new"), key_of("n"), "after the upgrade");
      REQUIRE(b->apply(more));
      auto all = walk(*b);
      CHECK(all.size() == 2 + 3 + 5);
      for (const auto& w : all) {
        CAPTURE(w.key);
        CHECK(w.intact);
        if (w.db == raw_db::meta && w.key == "format_version")
          CHECK(w.value == kv::be32(storage_format_version));
      }
    }
    auto reader = open_dir(data, e.kind, true);
    CHECK(reader->get(space_of("new"), key_of("n")).value() == "after the upgrade");
    CHECK(reader->get(space_of("users"), key_of("k1")).value() == "first value 11111111");
  }
}

TEST_CASE("copy_data_dir copies a directory that is being written, into a new directory only") {
  for (const auto& e : engines) {
    INFO(e.name);
    test::temp_dir dir;
    auto b = open_dir(dir.sub("data"), e.kind);
    fill(*b);
    REQUIRE(copy_data_dir(*b, dir.sub("copy")));
    // Writes after the copy are not in it; the copy is a data directory.
    backend_batch later;
    later.put(space_of("users"), key_of("k4"), "after the copy");
    REQUIRE(b->apply(later));
    auto copy = open_dir(dir.sub("copy"), e.kind, true);
    CHECK(copy->get(space_of("users"), key_of("k2")).value() == "second value 22222222");
    CHECK(copy->get(space_of("users"), key_of("k4")).error() == errc::not_found);
    for (const auto& w : walk(*copy)) CHECK(w.intact);
    // Never into a directory that holds anything.
    auto again = copy_data_dir(*b, dir.sub("copy"));
    REQUIRE_FALSE(again);
    CHECK(again.error() == errc::invalid_argument);
    CHECK(has(again.error().message(), "is not empty"));
  }
}

TEST_CASE("lmdb: a next_space_id that fails its checksum refuses new spaces, not reads") {
  test::temp_dir dir;
  const auto data = dir.sub("data");
  fill(*open_dir(data, backend_kind::lmdb));
  // A stray write: 7 with the check of 8.
  ark::test::raw_put(data, "meta", "next_space_id",
                     kv::be64(7) + ark::test::checked(0, "next_space_id", kv::be64(8)).substr(8));
  auto b = open_dir(data, backend_kind::lmdb);
  CHECK(b->get(space_of("users"), key_of("k1")).value() == "first value 11111111");
  backend_batch fresh;
  fresh.put(space_of("brand new"), key_of("a"), "x");
  auto r = b->apply(fresh);
  REQUIRE_FALSE(r);
  INFO(r.error().message());
  CHECK(r.error() == errc::corrupt_value);
  CHECK(has(r.error().message(), "next_space_id in the meta database of " + data +
                                     " fails its checksum"));
  int damaged = 0;
  for (const auto& w : walk(*b)) {
    if (w.intact) continue;
    ++damaged;
    CHECK(w.db == raw_db::meta);
    CHECK(w.key == "next_space_id");
  }
  CHECK(damaged == 1);
}
