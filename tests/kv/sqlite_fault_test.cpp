// Storage faults under the SQLite backend: the fault library
// (ark/kv/testing/fault_env.hpp) fails SQLite's own pwrite64/write/fdatasync
// calls, as a failing disk would.

#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include <ark/kv/testing/fault_env.hpp>

#include "ark/kv/sqlite_backend.hpp"
#include "ark/kv/store.hpp"
#include "test_util.hpp"

using namespace ark;
using namespace ark::kv;
namespace fault = ark::kv::testing;

namespace {

std::shared_ptr<sqlite_backend> must_open(const std::string& dir) {
  auto r = sqlite_backend::open(dir);
  REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message()));
  return *r;
}

store must_store(std::shared_ptr<backend> b, const key& space) {
  auto s = store::open(std::move(b), space);
  REQUIRE(s.has_value());
  return *s;
}

fault::fault_rule rule(fault::fault kind, const std::string& dir) {
  fault::fault_rule r;
  r.kind = kind;
  r.path_prefix = std::filesystem::canonical(dir).string();
  return r;
}

// A batch over two spaces, one of them new: all of it or nothing must land.
write_batch transfer(int amount) {
  write_batch wb;
  wb.put(key{"from"}, -amount).put(key{"to"}, amount).del(key{"keep"});
  return wb;
}

}  // namespace

TEST_CASE(
    "sqlite: a full disk fails the batch with disk_full, keeps what was committed, and recovers") {
  test::temp_dir dir;
  auto b = must_open(dir.str());
  auto s = must_store(b, key{"s"});
  REQUIRE(s.put(key{"keep"}, 1).has_value());
  {
    fault::scoped_fault f(rule(fault::fault::enospc, dir.str()));
    for (int i = 0; i < 3; ++i) {
      auto r = s.apply(transfer(5));
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error() == errc::disk_full);
      CHECK(r.error().message().find("free space") != std::string::npos);
      CHECK(r.error().message().find("ark.sqlite") != std::string::npos);
      auto fresh = must_store(b, key{"fresh"}).put(key{"x"}, 1);
      CHECK_FALSE(fresh.has_value());
    }
    CHECK(fault::injected() > 0);
    // Reads need no disk writes.
    CHECK(s.get<int>(key{"keep"}).value() == 1);
    CHECK(s.count().value() == 1);
    CHECK(b->spaces("", 0).value().size() == 1);
  }
  // Space freed: writes work again, and a new space gets its own id.
  REQUIRE(s.apply(transfer(7)).has_value());
  REQUIRE(must_store(b, key{"fresh"}).put(key{"x"}, 2).has_value());
  s = must_store(must_open(dir.sub("other")), key{"s"});  // let go of the first backend
  b.reset();
  auto again = must_open(dir.str());
  auto s2 = must_store(again, key{"s"});
  CHECK(s2.get<int>(key{"to"}).value() == 7);
  CHECK(s2.get<int>(key{"keep"}).error() == errc::not_found);
  CHECK(must_store(again, key{"fresh"}).get<int>(key{"x"}).value() == 2);
  CHECK(again->integrity_check().value().empty());
}

TEST_CASE("sqlite: a failed fsync fails the commit with io_error and the next one succeeds") {
  test::temp_dir dir;
  auto b = must_open(dir.str());
  auto s = must_store(b, key{"s"});
  REQUIRE(s.put(key{"keep"}, 1).has_value());
  {
    fault::scoped_fault f(rule(fault::fault::fsync_eio, dir.str()));
    auto r = s.apply(transfer(5));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::io_error);
    CHECK(fault::injected() > 0);
  }
  CHECK(s.get<int>(key{"keep"}).value() == 1);
  CHECK(s.get<int>(key{"to"}).error() == errc::not_found);
  REQUIRE(s.apply(transfer(7)).has_value());
  CHECK(s.get<int>(key{"to"}).value() == 7);
  REQUIRE(b->sync().has_value());
  {
    fault::scoped_fault f(rule(fault::fault::fsync_eio, dir.str()));
    auto synced = b->sync();
    REQUIRE_FALSE(synced.has_value());
    CHECK(synced.error() == errc::io_error);
  }
  s = must_store(must_open(dir.sub("other")), key{"s"});  // let go of the first backend
  b.reset();
  auto again = must_open(dir.str());
  CHECK(must_store(again, key{"s"}).get<int>(key{"to"}).value() == 7);
  CHECK(again->integrity_check().value().empty());
}
