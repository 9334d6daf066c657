#pragma once

// The backend conformance suite: every ark::kv::backend must pass it
// unchanged. It is header-only doctest code, so a third party runs it on
// their own backend by including this header in ONE test source file:
//
//   #include <ark/kv/testing/conformance.hpp>
//   struct my_fixture {
//     // A fresh, empty backend per test case. A case may call this more than
//     // once and expects the same backend each time.
//     std::shared_ptr<ark::kv::backend> backend() {
//       if (!b_) b_ = my_backend::create();
//       return b_;
//     }
//     std::shared_ptr<ark::kv::backend> b_;
//   };
//   ARK_KV_CONFORMANCE_SUITE(my_fixture);
//
// and linking doctest and ark::kv. Each test case is instantiated per
// fixture type, so ctest lists e.g. "list with reverse and limit ...<my_fixture>".
// doc/backends.md has a complete example.

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ark/kv/backend.hpp"
#include "ark/kv/key.hpp"
#include "ark/kv/store.hpp"
#include "ark/kv/value.hpp"

namespace ark::kv::testing {

/// A plain struct stored by name, as actor states and user records are.
struct sample_record {
  std::string name;
  std::int64_t balance = 0;
  std::vector<std::string> tags;
  MSGPACK_DEFINE_MAP(name, balance, tags)
  friend bool operator==(const sample_record& a, const sample_record& b) {
    return a.name == b.name && a.balance == b.balance && a.tags == b.tags;
  }
};

inline store open_store(const std::shared_ptr<backend>& b, const key& space) {
  auto s = store::open(b, space);
  REQUIRE_MESSAGE(s.has_value(), (s ? std::string() : s.error().message()));
  return *s;
}

/// Every key list(opts) visits, in order.
inline std::vector<key> list_keys(const store& s, const list_options& opts = {}) {
  std::vector<key> out;
  auto c = s.list(opts);
  for (; c.valid(); c.next()) out.push_back(c.key());
  REQUIRE_MESSAGE(!c.status(), c.status().message());
  return out;
}

inline void must(const expected<void>& r) {
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message()));
}

/// A varied set of keys, deliberately inserted out of order.
inline std::vector<key> mixed_keys() {
  return {key{"user", 7},
          key{"users"},
          key{"user"},
          key{"user", -3},
          key{"user", "a/b"},
          key{"user", "a", "b"},
          key{nullptr},
          key{ark::bytes(std::string("\x00\xff", 2))},
          key{1.5},
          key{-1.5},
          key{false},
          key{true},
          key{std::string("a\0b", 3)},
          key{"user", key{"nested", 1}},
          key{INT64_MIN},
          key{INT64_MAX},
          key{0},
          key{"zzz", 1, 2, 3}};
}

}  // namespace ark::kv::testing

TEST_CASE_TEMPLATE_DEFINE("put then get returns the stored value, absent keys are not_found", F,
                          ark_kv_conformance_01) {
  using namespace ark;
  using namespace ark::kv;
  using namespace ark::kv::testing;
  F fixture;
  store s = open_store(fixture.backend(), key{"space"});

  must(s.put(key{"n"}, std::int64_t{42}));
  must(s.put(key{"s"}, std::string("hello")));
  must(s.put(key{"rec"}, sample_record{"ada", 100, {"x", "y"}}));
  must(s.put(key{"vec"}, std::vector<int>{1, 2, 3}));
  must(s.put_raw(key{"raw"}, std::string("\x00\x01\xff", 3)));

  CHECK(s.get<std::int64_t>(key{"n"}).value() == 42);
  CHECK(s.get<std::string>(key{"s"}).value() == "hello");
  CHECK(s.get<sample_record>(key{"rec"}).value() == sample_record{"ada", 100, {"x", "y"}});
  CHECK(s.get<std::vector<int>>(key{"vec"}).value() == std::vector<int>{1, 2, 3});
  CHECK(s.get_raw(key{"raw"}).value() == std::string("\x00\x01\xff", 3));
  CHECK(s.get_value(key{"raw"}).value().is_raw());

  SUBCASE("overwrite replaces the value") {
    must(s.put(key{"n"}, std::int64_t{43}));
    CHECK(s.get<std::int64_t>(key{"n"}).value() == 43);
  }
  SUBCASE("absent keys") {
    auto r = s.get<std::int64_t>(key{"missing"});
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::not_found);
    CHECK(s.get_or<std::int64_t>(key{"missing"}, 7).value() == 7);
    CHECK(s.get_or<std::int64_t>(key{"n"}, 7).value() == 42);
  }
  SUBCASE("a single value is the same key as the one-element tuple") {
    CHECK(s.get<std::int64_t>("n").value() == 42);
    CHECK(s.get<std::int64_t>(key("n")).value() == 42);
  }
}

TEST_CASE_TEMPLATE_DEFINE("a typed read of a raw value or of another type is type_mismatch", F,
                          ark_kv_conformance_02) {
  using namespace ark;
  using namespace ark::kv;
  using namespace ark::kv::testing;
  F fixture;
  store s = open_store(fixture.backend(), key{"space"});
  must(s.put_raw(key{"raw"}, "bytes"));
  must(s.put(key{"text"}, std::string("hello")));

  auto a = s.get<std::string>(key{"raw"});
  REQUIRE_FALSE(a.has_value());
  CHECK(a.error() == errc::type_mismatch);
  auto b = s.get<std::int64_t>(key{"text"});
  REQUIRE_FALSE(b.has_value());
  CHECK(b.error() == errc::type_mismatch);
  auto c = s.get_raw(key{"text"});
  REQUIRE_FALSE(c.has_value());
  CHECK(c.error() == errc::type_mismatch);
}

TEST_CASE_TEMPLATE_DEFINE("get_batch returns values in request order with gaps for absent keys", F,
                          ark_kv_conformance_03) {
  using namespace ark;
  using namespace ark::kv;
  using namespace ark::kv::testing;
  F fixture;
  store s = open_store(fixture.backend(), key{"space"});
  must(s.put(key{"a"}, 1));
  must(s.put(key{"c"}, 3));
  auto r = s.get_batch({key{"c"}, key{"b"}, key{"a"}, key{"c"}});
  REQUIRE(r.has_value());
  REQUIRE(r->size() == 4);
  CHECK((*r)[0]->template as<int>().value() == 3);
  CHECK_FALSE((*r)[1].has_value());
  CHECK((*r)[2]->template as<int>().value() == 1);
  CHECK((*r)[3]->template as<int>().value() == 3);
  auto empty = s.get_batch({});
  REQUIRE(empty.has_value());
  CHECK(empty->empty());
}

TEST_CASE_TEMPLATE_DEFINE("list visits every key in tuple order", F, ark_kv_conformance_04) {
  using namespace ark;
  using namespace ark::kv;
  using namespace ark::kv::testing;
  F fixture;
  store s = open_store(fixture.backend(), key{"space"});
  auto keys = mixed_keys();
  for (std::size_t i = 0; i < keys.size(); ++i) must(s.put(keys[i], static_cast<int>(i)));
  auto sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  CHECK(list_keys(s) == sorted);
  // Values travel with their keys.
  for (auto c = s.list(); c.valid(); c.next()) {
    auto idx = c.value().template as<int>().value();
    CHECK(keys[static_cast<std::size_t>(idx)] == c.key());
  }
  list_options rev;
  rev.reverse = true;
  std::reverse(sorted.begin(), sorted.end());
  CHECK(list_keys(s, rev) == sorted);
}

TEST_CASE_TEMPLATE_DEFINE("list with a prefix matches whole tuple elements, not bytes", F,
                          ark_kv_conformance_05) {
  using namespace ark;
  using namespace ark::kv;
  using namespace ark::kv::testing;
  F fixture;
  store s = open_store(fixture.backend(), key{"space"});
  for (const auto& k : mixed_keys()) must(s.put(k, 0));
  list_options o;
  o.prefix = key{"user"};
  CHECK(list_keys(s, o) == std::vector<key>{key{"user"}, key{"user", "a", "b"}, key{"user", "a/b"},
                                            key{"user", key{"nested", 1}}, key{"user", -3},
                                            key{"user", 7}});
  SUBCASE("a two-element prefix") {
    o.prefix = key{"user", "a"};
    CHECK(list_keys(s, o) == std::vector<key>{key{"user", "a", "b"}});
  }
  SUBCASE("a nested tuple element matches whole") {
    o.prefix = key{"user", key{"nested"}};
    CHECK(list_keys(s, o).empty());
    o.prefix = key{"user", key{"nested", 1}};
    CHECK(list_keys(s, o) == std::vector<key>{key{"user", key{"nested", 1}}});
  }
  SUBCASE("prefix with reverse and limit") {
    o.reverse = true;
    o.limit = 2;
    CHECK(list_keys(s, o) == std::vector<key>{key{"user", 7}, key{"user", -3}});
  }
  SUBCASE("the empty prefix matches everything") {
    o.prefix = key{};
    CHECK(list_keys(s, o).size() == mixed_keys().size());
  }
}

TEST_CASE_TEMPLATE_DEFINE("list with start and end covers the half-open range", F,
                          ark_kv_conformance_06) {
  using namespace ark;
  using namespace ark::kv;
  using namespace ark::kv::testing;
  F fixture;
  store s = open_store(fixture.backend(), key{"space"});
  for (int i = 0; i < 10; ++i) must(s.put(key{"k", i}, i));
  list_options o;
  o.start = key{"k", 3};
  o.end = key{"k", 6};
  CHECK(list_keys(s, o) == std::vector<key>{key{"k", 3}, key{"k", 4}, key{"k", 5}});
  SUBCASE("reverse walks the same range backwards") {
    o.reverse = true;
    CHECK(list_keys(s, o) == std::vector<key>{key{"k", 5}, key{"k", 4}, key{"k", 3}});
  }
  SUBCASE("bounds that are not stored keys") {
    o.start = key{"k", 2.5};  // doubles sort after every int: starts past the ints
    o.end.reset();
    CHECK(list_keys(s, o).empty());
    o.start = key{"k"};
    o.end = key{"k", 1};
    CHECK(list_keys(s, o) == std::vector<key>{key{"k", 0}});
  }
  SUBCASE("start and end combine with a prefix by intersection") {
    must(s.put(key{"j", 5}, 0));
    must(s.put(key{"l", 0}, 0));
    o.prefix = key{"k"};
    o.start = key{"a"};
    o.end = key{"k", 2};
    CHECK(list_keys(s, o) == std::vector<key>{key{"k", 0}, key{"k", 1}});
    o.start = key{"k", 8};
    o.end = key{"z"};
    CHECK(list_keys(s, o) == std::vector<key>{key{"k", 8}, key{"k", 9}});
  }
}

TEST_CASE_TEMPLATE_DEFINE("list with reverse and limit returns the last keys first", F,
                          ark_kv_conformance_07) {
  using namespace ark;
  using namespace ark::kv;
  using namespace ark::kv::testing;
  F fixture;
  store s = open_store(fixture.backend(), key{"space"});
  for (int i = 0; i < 100; ++i) must(s.put(key{i}, i));
  list_options o;
  o.reverse = true;
  o.limit = 3;
  CHECK(list_keys(s, o) == std::vector<key>{key{99}, key{98}, key{97}});
  o.reverse = false;
  CHECK(list_keys(s, o) == std::vector<key>{key{0}, key{1}, key{2}});
  o.limit = 1000;
  CHECK(list_keys(s, o).size() == 100);
  CHECK(s.count(o).value() == 100);
  o.limit = 5;
  CHECK(s.count(o).value() == 5);
}

TEST_CASE_TEMPLATE_DEFINE("empty ranges and empty spaces list nothing", F, ark_kv_conformance_08) {
  using namespace ark;
  using namespace ark::kv;
  using namespace ark::kv::testing;
  F fixture;
  std::shared_ptr<backend> b = fixture.backend();
  store s = open_store(b, key{"space"});
  store fresh = open_store(b, key{"never", "written"});
  CHECK(list_keys(fresh).empty());
  CHECK(fresh.count().value() == 0);
  for (int i = 0; i < 5; ++i) must(s.put(key{i}, i));
  list_options o;
  SUBCASE("start == end") {
    o.start = key{2};
    o.end = key{2};
  }
  SUBCASE("start > end") {
    o.start = key{4};
    o.end = key{1};
  }
  SUBCASE("prefix matching nothing") {
    o.prefix = key{"nothing"};
  }
  SUBCASE("start past the last key") {
    o.start = key{true};
  }  // bools sort after ints
  SUBCASE("end before the first key") {
    o.end = key{nullptr};
  }
  CHECK(list_keys(s, o).empty());
  o.reverse = true;
  CHECK(list_keys(s, o).empty());
  CHECK(s.count(o).value() == 0);
}

TEST_CASE_TEMPLATE_DEFINE("deletes report what they removed", F, ark_kv_conformance_09) {
  using namespace ark;
  using namespace ark::kv;
  using namespace ark::kv::testing;
  F fixture;
  std::shared_ptr<backend> b = fixture.backend();
  store s = open_store(b, key{"space"});
  store other = open_store(b, key{"other"});
  for (int i = 0; i < 10; ++i) {
    must(s.put(key{i}, i));
    must(other.put(key{i}, i));
  }
  CHECK(s.del(key{3}).value() == true);
  CHECK(s.del(key{3}).value() == false);
  CHECK(s.get<int>(key{3}).error() == errc::not_found);
  CHECK(s.delete_batch({key{4}, key{5}, key{42}, key{4}}).value() == 2);
  CHECK(s.count().value() == 7);
  CHECK(s.delete_all().value() == 7);
  CHECK(s.count().value() == 0);
  CHECK(s.delete_all().value() == 0);
  CHECK(other.count().value() == 10);
  must(s.put(key{1}, 1));
  CHECK(list_keys(s) == std::vector<key>{key{1}});
}

TEST_CASE_TEMPLATE_DEFINE("keyspaces are isolated whatever bytes their keys hold", F,
                          ark_kv_conformance_10) {
  using namespace ark;
  using namespace ark::kv;
  using namespace ark::kv::testing;
  F fixture;
  std::shared_ptr<backend> b = fixture.backend();
  // Space names chosen so that one's encoding is a byte prefix of another's
  // ("a" vs "a\0..." vs ["a","b"]) and keys that mimic encoded space names.
  std::vector<key> spaces = {key{"a"},
                             key{"a", "b"},
                             key{std::string("a\0b", 3)},
                             key{"ab"},
                             key{ark::bytes(std::string("\x02"
                                                        "a\x00",
                                                        3))},
                             key{""},
                             key{nullptr}};
  std::vector<store> stores;
  for (const auto& sp : spaces) stores.push_back(open_store(b, sp));
  for (std::size_t i = 0; i < stores.size(); ++i) {
    must(stores[i].put(key{"b"}, static_cast<int>(i)));
    must(stores[i].put(key{ark::bytes(std::string("\x00\xff\x02", 3))}, static_cast<int>(i)));
    must(stores[i].put(key{}, static_cast<int>(i)));
  }
  for (std::size_t i = 0; i < stores.size(); ++i) {
    CAPTURE(spaces[i].to_string());
    CHECK(stores[i].count().value() == 3);
    for (auto c = stores[i].list(); c.valid(); c.next())
      CHECK(c.value().template as<int>().value() == static_cast<int>(i));
    CHECK(stores[i].get<int>(key{"b"}).value() == static_cast<int>(i));
  }
  CHECK(stores[0].delete_all().value() == 3);
  for (std::size_t i = 1; i < stores.size(); ++i) CHECK(stores[i].count().value() == 3);
}

TEST_CASE_TEMPLATE_DEFINE("a write batch applies all of its writes or none", F,
                          ark_kv_conformance_11) {
  using namespace ark;
  using namespace ark::kv;
  using namespace ark::kv::testing;
  F fixture;
  std::shared_ptr<backend> b = fixture.backend();
  store s = open_store(b, key{"space"});
  must(s.put(key{"keep"}, 1));

  SUBCASE("writes apply in order") {
    write_batch wb;
    wb.put(key{"x"}, 1).del(key{"x"}).put(key{"y"}, 2).put(key{"y"}, 3).del(key{"keep"});
    CHECK(s.apply(wb).value() == 2);  // "x" (written earlier in the batch) and "keep"
    CHECK(list_keys(s) == std::vector<key>{key{"y"}});
    CHECK(s.get<int>(key{"y"}).value() == 3);
  }
  SUBCASE("delete_all inside a batch removes earlier writes too") {
    write_batch wb;
    wb.put(key{"x"}, 1).delete_all().put(key{"z"}, 2);
    CHECK(s.apply(wb).value() == 2);
    CHECK(list_keys(s) == std::vector<key>{key{"z"}});
  }
  SUBCASE("an invalid key anywhere fails the whole batch") {
    write_batch wb;
    wb.put(key{"x"}, 1).put(key{std::string(600, 'k')}, 2).put(key{"y"}, 3);
    auto r = s.apply(wb);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::key_too_large);
    CHECK(list_keys(s) == std::vector<key>{key{"keep"}});
  }
  SUBCASE("a backend batch failing midway leaves nothing, in any space") {
    // The store validates before writing, so go under it: the backend meets
    // the oversized key only after applying the first writes.
    store other = open_store(b, key{"other"});
    backend_batch bb;
    bb.put(other.encoded_space(), encode_user_key(key{"x"}).value(), value::pack(1).stored());
    bb.del(s.encoded_space(), encode_user_key(key{"keep"}).value());
    bb.put(s.encoded_space(), std::string(max_key_size + 1, 'k'), value::pack(2).stored());
    auto r = b->apply(bb);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::key_too_large);
    CHECK(list_keys(s) == std::vector<key>{key{"keep"}});
    CHECK(list_keys(other).empty());
  }
  SUBCASE("one backend batch spans several spaces atomically") {
    store other = open_store(b, key{"other"});
    write_batch w1, w2;
    w1.put(key{"from"}, -5);
    w2.put(key{"to"}, 5);
    backend_batch bb;
    bb.append(s.to_space_writes(w1).value());
    bb.append(other.to_space_writes(w2).value());
    CHECK(b->apply(bb).value() == 0);
    CHECK(s.get<int>(key{"from"}).value() == -5);
    CHECK(other.get<int>(key{"to"}).value() == 5);
  }
}

TEST_CASE_TEMPLATE_DEFINE("oversized keys and values are refused with a clear error", F,
                          ark_kv_conformance_12) {
  using namespace ark;
  using namespace ark::kv;
  using namespace ark::kv::testing;
  F fixture;
  store s = open_store(fixture.backend(), key{"space"});
  // A string element costs 2 bytes of framing: code and terminator.
  const std::string fits(max_key_size - 2, 'k');
  must(s.put(key{fits}, 1));
  CHECK(s.get<int>(key{fits}).value() == 1);
  auto big = s.put(key{fits + "k"}, 1);
  REQUIRE_FALSE(big.has_value());
  CHECK(big.error() == errc::key_too_large);
  CHECK(big.error().message().find("504 bytes") != std::string::npos);
  CHECK(s.get<int>(key{fits + "k"}).error() == errc::key_too_large);
  auto bad_utf8 = s.put(key{std::string("\xff\xfe")}, 1);
  REQUIRE_FALSE(bad_utf8.has_value());
  CHECK(bad_utf8.error() == errc::invalid_key);

  const std::string max_value(max_value_size, 'v');
  must(s.put_raw(key{"max"}, max_value));
  CHECK(s.get_raw(key{"max"}).value().size() == max_value_size);
  auto vbig = s.put_raw(key{"too-big"}, max_value + "v");
  REQUIRE_FALSE(vbig.has_value());
  CHECK(vbig.error() == errc::value_too_large);
  CHECK(vbig.error().message().find("too-big") != std::string::npos);
  CHECK(s.get_raw(key{"too-big"}).error() == errc::not_found);

  auto space = store::open(std::shared_ptr<backend>(fixture.backend()), key{std::string(600, 's')});
  REQUIRE_FALSE(space.has_value());
  CHECK(space.error() == errc::key_too_large);
  auto empty_space = store::open(std::shared_ptr<backend>(fixture.backend()), key{});
  REQUIRE_FALSE(empty_space.has_value());
  CHECK(empty_space.error() == errc::invalid_key);
}

TEST_CASE_TEMPLATE_DEFINE("a cursor sees the snapshot it was opened on", F, ark_kv_conformance_13) {
  using namespace ark;
  using namespace ark::kv;
  using namespace ark::kv::testing;
  F fixture;
  store s = open_store(fixture.backend(), key{"space"});
  for (int i = 0; i < 10; ++i) must(s.put(key{i}, i));
  auto c = s.list();
  REQUIRE(c.valid());
  CHECK(c.key() == key{0});
  must(s.put(key{5}, 500));
  CHECK(s.del(key{6}).value());
  must(s.put(key{100}, 100));
  std::vector<int> seen;
  for (; c.valid(); c.next()) seen.push_back(c.value().template as<int>().value());
  CHECK_FALSE(c.status());
  CHECK(seen == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(s.get<int>(key{5}).value() == 500);
  CHECK(s.count().value() == 10);
}

TEST_CASE_TEMPLATE_DEFINE("spaces() lists the spaces that hold keys, page by page", F,
                          ark_kv_conformance_14) {
  using namespace ark;
  using namespace ark::kv;
  using namespace ark::kv::testing;
  F fixture;
  std::shared_ptr<backend> b = fixture.backend();
  std::vector<std::string> expect;
  for (int i = 0; i < 7; ++i) {
    store s = open_store(b, key{"counter", i});
    must(s.put(key{"v"}, i));
    expect.push_back(s.encoded_space());
  }
  store emptied = open_store(b, key{"emptied"});
  must(emptied.put(key{"v"}, 1));
  CHECK(emptied.delete_all().value() == 1);
  std::sort(expect.begin(), expect.end());
  std::vector<std::string> got;
  std::string after;
  for (;;) {
    auto page = b->spaces(after, 3);
    REQUIRE(page.has_value());
    if (page->empty()) break;
    CHECK(page->size() <= 3);
    got.insert(got.end(), page->begin(), page->end());
    after = page->back();
  }
  CHECK(got == expect);
}

TEST_CASE_TEMPLATE_DEFINE("readers never see half of a concurrent batch", F,
                          ark_kv_conformance_15) {
  using namespace ark;
  using namespace ark::kv;
  using namespace ark::kv::testing;
  F fixture;
  store s = open_store(fixture.backend(), key{"bank"});
  constexpr int accounts = 8;
  std::vector<key> keys;
  for (int i = 0; i < accounts; ++i) {
    keys.push_back(key{"acct", i});
    must(s.put(keys.back(), 100));
  }
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::atomic<int> reads{0};
  std::thread reader([&] {
    while (!done.load()) {
      auto vals = s.get_batch(keys);
      if (!vals) {
        ++bad;
        continue;
      }
      int sum = 0;
      for (auto& v : *vals) sum += v->template as<int>().value_or(-100000);
      if (sum != accounts * 100) ++bad;
      int listed = 0;
      for (auto c = s.list(); c.valid(); c.next())
        listed += c.value().template as<int>().value_or(-100000);
      if (listed != accounts * 100) ++bad;
      ++reads;
    }
  });
  std::mt19937 rng(7);
  // Keep transferring until the reader has checked enough snapshots.
  for (int i = 0; (i < 300 || reads.load() < 20) && i < 1000000; ++i) {
    auto from = rng() % accounts, to = rng() % accounts;
    auto a = s.get<int>(keys[from]).value();
    write_batch wb;
    if (from == to) continue;
    auto bval = s.get<int>(keys[to]).value();
    wb.put(keys[from], a - 1).put(keys[to], bval + 1);
    REQUIRE(s.apply(wb).has_value());
  }
  done = true;
  reader.join();
  CHECK(reads.load() > 0);
  CHECK(bad.load() == 0);
}

TEST_CASE_TEMPLATE_DEFINE("random operations agree with an ordered-map model", F,
                          ark_kv_conformance_16) {
  using namespace ark;
  using namespace ark::kv;
  using namespace ark::kv::testing;
  F fixture;
  store s = open_store(fixture.backend(), key{"model"});
  std::map<key, int> model;
  std::mt19937 rng(20261123);
  auto random_key = [&] {
    key k;
    k.push_back(std::string(1, static_cast<char>('a' + rng() % 3)));
    if (rng() % 2) k.push_back(static_cast<std::int64_t>(rng() % 7) - 3);
    if (rng() % 3 == 0) k.push_back(std::string(rng() % 2, '\0'));
    return k;
  };
  for (int step = 0; step < 2000; ++step) {
    auto op = rng() % 10;
    if (op < 5) {
      auto k = random_key();
      int v = static_cast<int>(rng() % 1000);
      must(s.put(k, v));
      model[k] = v;
    } else if (op < 7) {
      auto k = random_key();
      CHECK(s.del(k).value() == (model.erase(k) == 1));
    } else if (op == 7) {
      write_batch wb;
      std::map<key, int> next = model;
      for (int i = 0; i < 5; ++i) {
        auto k = random_key();
        if (rng() % 2) {
          wb.put(k, i);
          next[k] = i;
        } else {
          wb.del(k);
          next.erase(k);
        }
      }
      REQUIRE(s.apply(wb).has_value());
      model = next;
    } else {
      list_options o;
      if (rng() % 2) o.prefix = key{std::string(1, static_cast<char>('a' + rng() % 3))};
      if (rng() % 3 == 0) o.start = random_key();
      if (rng() % 3 == 0) o.end = random_key();
      o.reverse = rng() % 2;
      o.limit = rng() % 4 == 0 ? rng() % 5 : 0;
      std::vector<key> expect;
      for (const auto& [k, v] : model) {
        if (o.prefix && !k.starts_with(*o.prefix)) continue;
        if (o.start && k < *o.start) continue;
        if (o.end && !(k < *o.end)) continue;
        expect.push_back(k);
      }
      if (o.reverse) std::reverse(expect.begin(), expect.end());
      if (o.limit && expect.size() > o.limit) expect.resize(o.limit);
      CAPTURE(step);
      REQUIRE(list_keys(s, o) == expect);
      REQUIRE(s.count(o).value() == expect.size());
    }
  }
}

/// Instantiates every conformance test case for the given fixture types.
#define ARK_KV_CONFORMANCE_SUITE(...)                            \
  TEST_CASE_TEMPLATE_INVOKE(ark_kv_conformance_01, __VA_ARGS__); \
  TEST_CASE_TEMPLATE_INVOKE(ark_kv_conformance_02, __VA_ARGS__); \
  TEST_CASE_TEMPLATE_INVOKE(ark_kv_conformance_03, __VA_ARGS__); \
  TEST_CASE_TEMPLATE_INVOKE(ark_kv_conformance_04, __VA_ARGS__); \
  TEST_CASE_TEMPLATE_INVOKE(ark_kv_conformance_05, __VA_ARGS__); \
  TEST_CASE_TEMPLATE_INVOKE(ark_kv_conformance_06, __VA_ARGS__); \
  TEST_CASE_TEMPLATE_INVOKE(ark_kv_conformance_07, __VA_ARGS__); \
  TEST_CASE_TEMPLATE_INVOKE(ark_kv_conformance_08, __VA_ARGS__); \
  TEST_CASE_TEMPLATE_INVOKE(ark_kv_conformance_09, __VA_ARGS__); \
  TEST_CASE_TEMPLATE_INVOKE(ark_kv_conformance_10, __VA_ARGS__); \
  TEST_CASE_TEMPLATE_INVOKE(ark_kv_conformance_11, __VA_ARGS__); \
  TEST_CASE_TEMPLATE_INVOKE(ark_kv_conformance_12, __VA_ARGS__); \
  TEST_CASE_TEMPLATE_INVOKE(ark_kv_conformance_13, __VA_ARGS__); \
  TEST_CASE_TEMPLATE_INVOKE(ark_kv_conformance_14, __VA_ARGS__); \
  TEST_CASE_TEMPLATE_INVOKE(ark_kv_conformance_15, __VA_ARGS__); \
  TEST_CASE_TEMPLATE_INVOKE(ark_kv_conformance_16, __VA_ARGS__);
