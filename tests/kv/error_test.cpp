#include <doctest/doctest.h>

#include "ark/error.hpp"
#include "ark/expected.hpp"

using ark::errc;

TEST_CASE("every error code has a name and a remedy") {
  for (int i = 1; i <= static_cast<int>(errc::owner_unreachable); ++i) {
    auto code = static_cast<errc>(i);
    CAPTURE(i);
    CHECK(ark::to_string(code) != "unknown_error");
    CHECK_FALSE(ark::remedy(code).empty());
    // The name reads back to the code (the admin API's error documents).
    CHECK(ark::errc_from_string(ark::to_string(code)) == code);
  }
  CHECK_FALSE(ark::errc_from_string("no_such_code").has_value());
  CHECK_FALSE(ark::errc_from_string("unknown_error").has_value());
}

TEST_CASE("error codes keep their numbers") {
  // They cross process boundaries: pin them.
  CHECK(static_cast<int>(errc::not_found) == 1);
  CHECK(static_cast<int>(errc::key_too_large) == 3);
  CHECK(static_cast<int>(errc::corrupt_value) == 7);
  CHECK(static_cast<int>(errc::locked) == 11);
  CHECK(static_cast<int>(errc::no_data_dir) == 17);
  CHECK(static_cast<int>(errc::unknown_actor_type) == 18);
  CHECK(static_cast<int>(errc::shutting_down) == 26);
  CHECK(static_cast<int>(errc::storage_failed) == 27);
  CHECK(static_cast<int>(errc::unauthorized) == 28);
  CHECK(static_cast<int>(errc::migration_failed) == 29);
  CHECK(static_cast<int>(errc::rolled_back) == 30);
  CHECK(static_cast<int>(errc::already_exists) == 31);
  CHECK(static_cast<int>(errc::unregistered_type) == 32);
  CHECK(static_cast<int>(errc::fenced) == 33);
  CHECK(static_cast<int>(errc::lease_lost) == 34);
  CHECK(static_cast<int>(errc::owner_unreachable) == 35);
}

TEST_CASE("an error message names the problem, the context and the remedy") {
  ark::error e{errc::key_too_large, "key [\"x\"] is 600 bytes"};
  CHECK(static_cast<bool>(e));
  auto m = e.message();
  CHECK(m.find("key_too_large") == 0);
  CHECK(m.find("600 bytes") != std::string::npos);
  CHECK(m.find("remedy: shorten the key") != std::string::npos);
  CHECK_FALSE(static_cast<bool>(ark::error{}));
}

namespace {
ark::expected<int> half(int x) {
  if (x % 2 != 0) return ark::error{errc::invalid_argument, "odd"};
  return x / 2;
}
ark::expected<void> quarter(int x, int& out) {
  auto h = half(x);
  ARK_TRY(h);
  auto q = half(*h);
  ARK_TRY(q);
  out = *q;
  return {};
}
}  // namespace

TEST_CASE("expected carries either a value or an error, and ARK_TRY propagates errors") {
  CHECK(half(4).value() == 2);
  CHECK(half(3).error() == errc::invalid_argument);
  CHECK(half(3).value_or(-1) == -1);
  int out = 0;
  CHECK(quarter(8, out).has_value());
  CHECK(out == 2);
  auto r = quarter(6, out);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().context() == "odd");
}
