// store::update: read-modify-write of one key, on every backend ark ships.
#include <doctest/doctest.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include <ark/kv/testing/conformance.hpp>

#include "ark/kv/json.hpp"
#include "ark/kv/lmdb_backend.hpp"
#include "ark/kv/memory_backend.hpp"
#include "test_util.hpp"

using namespace ark;
using namespace ark::kv;
using ark::kv::testing::must;
using ark::kv::testing::open_store;
using ark::kv::testing::sample_record;

namespace {

struct memory_store {
  store open() { return open_store(memory_backend::create(), key{"upd"}); }
};

struct lmdb_store {
  store open() {
    auto r = lmdb_backend::open(dir_.sub("data"));
    REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message()));
    return open_store(*r, key{"upd"});
  }
  ark::test::temp_dir dir_;
};

std::uint64_t count_all(const store& s) {
  auto n = s.count();
  REQUIRE_MESSAGE(n, (n ? "" : n.error().message()));
  return *n;
}

}  // namespace

TEST_CASE_TEMPLATE("update creates an absent key, then modifies it from its current value", F,
                   memory_store, lmdb_store) {
  F f;
  store s = f.open();
  std::optional<std::int64_t> seen = -1;
  auto inc = [&](const std::optional<std::int64_t>& cur) {
    seen = cur;
    return cur.value_or(0) + 1;
  };
  auto r = s.update<std::int64_t>(key{"n"}, inc);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
  CHECK_FALSE(seen.has_value());  // absent: the function got nullopt
  CHECK(r->written);
  CHECK(r->value == std::optional<std::int64_t>(1));
  r = s.update<std::int64_t>(key{"n"}, inc);
  REQUIRE(r);
  CHECK(seen == std::optional<std::int64_t>(1));
  CHECK(r->value == std::optional<std::int64_t>(2));
  CHECK(s.get<std::int64_t>(key{"n"}).value() == 2);
}

TEST_CASE_TEMPLATE("update returning nullopt deletes the key, and is a no-op on an absent key", F,
                   memory_store, lmdb_store) {
  F f;
  store s = f.open();
  must(s.put(key{"gone"}, std::string("x")));
  auto drop = [](const std::optional<std::string>&) -> std::optional<std::string> {
    return std::nullopt;
  };
  auto r = s.update<std::string>(key{"gone"}, drop);
  REQUIRE(r);
  CHECK(r->written);
  CHECK_FALSE(r->value.has_value());
  auto g = s.get<std::string>(key{"gone"});
  REQUIRE_FALSE(g);
  CHECK(g.error().code() == errc::not_found);
  r = s.update<std::string>(key{"never"}, drop);
  REQUIRE(r);
  CHECK_FALSE(r->written);  // nothing to delete
  CHECK_FALSE(r->value.has_value());
  CHECK(count_all(s) == 0);
}

TEST_CASE_TEMPLATE("should_update false skips the write and reports the current value", F,
                   memory_store, lmdb_store) {
  F f;
  store s = f.open();
  must(s.put(key{"v"}, std::int64_t{10}));
  std::optional<std::int64_t> got_old, got_next;
  update_options<std::int64_t> only_up;
  only_up.should_update = [&](const std::optional<std::int64_t>& old,
                              const std::optional<std::int64_t>& next) {
    got_old = old;
    got_next = next;
    return next && (!old || *next > *old);
  };
  auto set_to = [](std::int64_t x) {
    return [x](const std::optional<std::int64_t>&) { return x; };
  };
  auto r = s.update<std::int64_t>(key{"v"}, set_to(3), only_up);
  REQUIRE(r);
  CHECK_FALSE(r->written);
  CHECK(r->value == std::optional<std::int64_t>(10));
  CHECK(got_old == std::optional<std::int64_t>(10));
  CHECK(got_next == std::optional<std::int64_t>(3));
  CHECK(s.get<std::int64_t>(key{"v"}).value() == 10);

  r = s.update<std::int64_t>(key{"v"}, set_to(12), only_up);
  REQUIRE(r);
  CHECK(r->written);
  CHECK(s.get<std::int64_t>(key{"v"}).value() == 12);

  // A deletion the predicate refuses leaves the key.
  r = s.update<std::int64_t>(
      key{"v"}, [](const auto&) -> std::optional<std::int64_t> { return std::nullopt; }, only_up);
  REQUIRE(r);
  CHECK_FALSE(r->written);
  CHECK(s.get<std::int64_t>(key{"v"}).value() == 12);
  // Absent key, refused: still absent.
  r = s.update<std::int64_t>(key{"new"}, set_to(0), only_up);  // 0 > nothing: allowed
  REQUIRE(r);
  CHECK(r->written);
  update_options<std::int64_t> never;
  never.should_update = [](const auto&, const auto&) { return false; };
  r = s.update<std::int64_t>(key{"absent"}, set_to(5), never);
  REQUIRE(r);
  CHECK_FALSE(r->written);
  CHECK_FALSE(r->value.has_value());
  CHECK(count_all(s) == 2);
}

TEST_CASE_TEMPLATE("update of a value that does not decode as T is type_mismatch naming the key", F,
                   memory_store, lmdb_store) {
  F f;
  store s = f.open();
  must(s.put(key{"name"}, std::string("ada")));
  must(s.put_raw(key{"blob"}, std::string("\x00\x01", 2)));
  bool called = false;
  auto fn = [&](const std::optional<std::int64_t>&) {
    called = true;
    return std::int64_t{1};
  };
  for (const auto& k : {key{"name"}, key{"blob"}}) {
    auto r = s.update<std::int64_t>(k, fn);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == errc::type_mismatch);
    CHECK(r.error().context().find(key_to_json_text(k)) != std::string::npos);
  }
  CHECK_FALSE(called);
  CHECK(s.get<std::string>(key{"name"}).value() == "ada");
  CHECK(s.get_raw(key{"blob"}).value() == std::string("\x00\x01", 2));
}

TEST_CASE_TEMPLATE("an update function that throws or returns an error writes nothing", F,
                   memory_store, lmdb_store) {
  F f;
  store s = f.open();
  must(s.put(key{"n"}, std::int64_t{1}));
  SUBCASE("throws") {
    auto r = s.update<std::int64_t>(
        key{"n"}, [](const auto&) -> std::int64_t { throw std::runtime_error("no update today"); });
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == errc::handler_failed);
    CHECK(r.error().context().find("no update today") != std::string::npos);
    CHECK(r.error().context().find("[\"n\"]") != std::string::npos);
  }
  SUBCASE("should_update throws") {
    update_options<std::int64_t> o;
    o.should_update = [](const auto&, const auto&) -> bool { throw 42; };
    auto r = s.update<std::int64_t>(
        key{"n"}, [](const auto&) { return std::int64_t{7}; }, o);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == errc::handler_failed);
    CHECK(r.error().context().find("unknown exception") != std::string::npos);
  }
  SUBCASE("returns an error") {
    auto r = s.update<std::int64_t>(key{"n"}, [](const auto&) -> expected<std::int64_t> {
      return error{errc::invalid_argument, "refused by the function"};
    });
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == errc::invalid_argument);
    CHECK(r.error().context() == "refused by the function");
  }
  CHECK(s.get<std::int64_t>(key{"n"}).value() == 1);
  CHECK(count_all(s) == 1);
}

TEST_CASE_TEMPLATE("update of a struct, of raw values through kv::value, and its limits", F,
                   memory_store, lmdb_store) {
  F f;
  store s = f.open();
  auto r = s.update<sample_record>(key{"acct", 1}, [](const std::optional<sample_record>& cur) {
    sample_record x = cur.value_or(sample_record{"ada", 0, {}});
    x.balance += 250;
    x.tags.push_back("credited");
    return x;
  });
  REQUIRE(r);
  CHECK(s.get<sample_record>(key{"acct", 1}).value() == sample_record{"ada", 250, {"credited"}});

  must(s.put_raw(key{"raw"}, std::string("ab")));
  auto rv = s.update<value>(key{"raw"}, [](const std::optional<value>& cur) {
    REQUIRE(cur);
    CHECK(cur->is_raw());
    return value::raw(std::string(cur->payload()) + "c");
  });
  REQUIRE(rv);
  CHECK(rv->written);
  CHECK(s.get_raw(key{"raw"}).value() == "abc");

  auto big = s.update<std::string>(key{std::string(600, 'k')},
                                   [](const auto&) { return std::string("v"); });
  REQUIRE_FALSE(big);
  CHECK(big.error().code() == errc::key_too_large);
  auto huge = s.update<std::string>(
      key{"huge"}, [](const auto&) { return std::string(max_value_size + 1, 'x'); });
  REQUIRE_FALSE(huge);
  CHECK(huge.error().code() == errc::value_too_large);
  CHECK_FALSE(s.get_value(key{"huge"}));
}
