#pragma once

#include <cassert>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "ark/error.hpp"

namespace ark {

/// Either a T or an ark::error; how every fallible ark call returns.
/// Exceptions never cross the ark API: `value()` on an error is a programming
/// error (asserted in debug builds), so check `has_value()` / `operator bool` first.
template <class T>
class expected {
 public:
  static_assert(!std::is_same_v<T, ark::error>, "expected<error> is meaningless");

  expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT
  expected(ark::error err) : v_(std::in_place_index<1>, std::move(err)) {  // NOLINT
    assert(std::get<1>(v_) && "expected constructed from an empty error");
  }
  expected(errc code, std::string context) : expected(ark::error{code, std::move(context)}) {}

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & {
    assert(has_value());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(has_value());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(has_value());
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  /// The error; REQUIRES: !has_value().
  const ark::error& error() const {
    assert(!has_value());
    return std::get<1>(v_);
  }

  template <class U>
  T value_or(U&& fallback) const& {
    return has_value() ? std::get<0>(v_) : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  std::variant<T, ark::error> v_;
};

/// expected<void>: success, or an error.
template <>
class expected<void> {
 public:
  expected() = default;
  expected(ark::error err) : err_(std::move(err)) {}  // NOLINT
  expected(errc code, std::string context) : err_(code, std::move(context)) {}

  bool has_value() const { return !err_; }
  explicit operator bool() const { return has_value(); }
  const ark::error& error() const {
    assert(!has_value());
    return err_;
  }

 private:
  ark::error err_;
};

/// Returns early from the enclosing function with the error of `expr` (an
/// expected<T>) when it holds one.
#define ARK_TRY(expr)                                                                    \
  do {                                                                                   \
    if (auto ark_try_result_ = (expr); !ark_try_result_) return ark_try_result_.error(); \
  } while (false)

}  // namespace ark
