#pragma once

// Helpers of the examples' unit tests (ark::testing::world).

#include <doctest/doctest.h>

#include <string>
#include <utility>

#include <ark/expected.hpp>

namespace ark::test {

/// The value of `x`; fails the test case, naming x's error, when it has none.
template <class T>
T value_of(ark::expected<T> x) {
  REQUIRE_MESSAGE(x.has_value(), (x ? std::string() : x.error().message()));
  return std::move(*x);
}

}  // namespace ark::test
