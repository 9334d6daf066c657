#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "ark/expected.hpp"

namespace ark {

/// A byte string element of a key, distinct from a text string: bytes and
/// strings never compare equal and sort in separate groups.
struct bytes {
  std::string data;

  bytes() = default;
  explicit bytes(std::string d) : data(std::move(d)) {}
  explicit bytes(std::string_view d) : data(d) {}

  friend bool operator==(const bytes& a, const bytes& b) { return a.data == b.data; }
  friend bool operator!=(const bytes& a, const bytes& b) { return a.data != b.data; }
};

class key_element;

/// A structured key: a tuple of elements (null, bytes, UTF-8 string, int64,
/// double, bool, nested tuple). A single value is the one-element tuple, so
/// `key{"visits"}`, `key("visits")` and `key{std::string("visits")}` are equal.
///
/// Keys are ordered by tuple order, which is exactly the byte order of their
/// encodings (doc/key_encoding.md): elements compare left to right; a shorter
/// tuple that is a prefix of a longer one sorts first; elements of different
/// types sort by type (null < bytes < string < tuple < int < double < false <
/// true); ints numerically; doubles by IEEE total order (-NaN < -inf < ... <
/// -0.0 < 0.0 < ... < inf < NaN); strings and bytes bytewise.
class key {
 public:
  using element = key_element;

  key() = default;
  key(std::initializer_list<key_element> elements);
  explicit key(std::vector<key_element> elements);

  // One-element keys from a single value.
  key(const char* s);       // NOLINT(google-explicit-constructor)
  key(std::string s);       // NOLINT
  key(std::string_view s);  // NOLINT
  key(ark::bytes b);        // NOLINT
  key(std::nullptr_t);      // NOLINT
  key(bool b);              // NOLINT
  key(double d);            // NOLINT
  template <class I, std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>, int> = 0>
  key(I i) : key(static_cast<std::int64_t>(i), int64_tag{}) {}  // NOLINT

  std::size_t size() const;
  bool empty() const;
  const key_element& operator[](std::size_t i) const;
  const std::vector<key_element>& elements() const { return elements_; }
  std::vector<key_element>::const_iterator begin() const;
  std::vector<key_element>::const_iterator end() const;

  /// Appends one element; returns *this for chaining.
  key& push_back(key_element e);

  /// True when every element of `prefix` equals the element of this key at the
  /// same position (tuple-element prefix: ["user"] is a prefix of ["user", 7]
  /// but not of ["users"]). Every key is a prefix of itself.
  bool starts_with(const key& prefix) const;

  /// Human-readable form, e.g. ["user", 42, true, null, 1.5, ["nested"], b"00ff"].
  std::string to_string() const;

  friend bool operator==(const key& a, const key& b);
  friend bool operator!=(const key& a, const key& b) { return !(a == b); }
  friend bool operator<(const key& a, const key& b);

 private:
  struct int64_tag {};
  key(std::int64_t i, int64_tag);

  std::vector<key_element> elements_;
};

/// One element of a key. Implicitly constructed from the C++ value it holds.
class key_element {
 public:
  enum class type : std::uint8_t { null, bytes, string, tuple, int64, float64, boolean };

  key_element() : v_(nullptr) {}
  key_element(std::nullptr_t) : v_(nullptr) {}             // NOLINT
  key_element(ark::bytes b) : v_(std::move(b)) {}          // NOLINT
  key_element(std::string s) : v_(std::move(s)) {}         // NOLINT
  key_element(std::string_view s) : v_(std::string(s)) {}  // NOLINT
  key_element(const char* s) : v_(std::string(s)) {}       // NOLINT
  key_element(key t) : v_(std::move(t)) {}                 // NOLINT
  key_element(bool b) : v_(b) {}                           // NOLINT
  key_element(double d) : v_(d) {}                         // NOLINT
  template <class I, std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>, int> = 0>
  key_element(I i) : v_(static_cast<std::int64_t>(i)) {}  // NOLINT

  type kind() const { return static_cast<type>(v_.index()); }
  bool is_null() const { return kind() == type::null; }

  // Accessors; REQUIRES: kind() is the matching type.
  const std::string& as_bytes() const { return std::get<ark::bytes>(v_).data; }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const key& as_tuple() const { return std::get<key>(v_); }
  std::int64_t as_int() const { return std::get<std::int64_t>(v_); }
  double as_double() const { return std::get<double>(v_); }
  bool as_bool() const { return std::get<bool>(v_); }

  /// Compares in key order; returns <0, 0 or >0. Doubles compare by their
  /// total order (so NaN equals an identical NaN and -0.0 < 0.0).
  static int compare(const key_element& a, const key_element& b);

  friend bool operator==(const key_element& a, const key_element& b) { return compare(a, b) == 0; }
  friend bool operator!=(const key_element& a, const key_element& b) { return compare(a, b) != 0; }

 private:
  // Index order matches enum type; never reorder.
  std::variant<std::nullptr_t, ark::bytes, std::string, key, std::int64_t, double, bool> v_;
};

inline std::size_t key::size() const {
  return elements_.size();
}
inline bool key::empty() const {
  return elements_.empty();
}
inline const key_element& key::operator[](std::size_t i) const {
  return elements_[i];
}
inline std::vector<key_element>::const_iterator key::begin() const {
  return elements_.begin();
}
inline std::vector<key_element>::const_iterator key::end() const {
  return elements_.end();
}

/// Compares two keys in key order; returns <0, 0 or >0.
int compare(const key& a, const key& b);

/// Deepest tuple nesting accepted by encode and decode: the top-level tuple is
/// depth 1, so a key may contain tuples nested up to 32 levels in all.
inline constexpr std::size_t max_key_depth = 32;

/// Appends the order-preserving encoding of `k` to `out` (doc/key_encoding.md).
/// Fails with invalid_key for a string that is not valid UTF-8, and with
/// nesting_too_deep beyond max_key_depth; `out` is then unspecified.
expected<void> encode_key(const key& k, std::string& out);

/// Returns the encoding of `k`; see encode_key.
expected<std::string> encode_key(const key& k);

/// Decodes a complete encoded key. Never reads out of bounds; malformed input
/// (unknown type code, missing terminator, truncated or non-canonical integer,
/// invalid UTF-8, trailing bytes, nesting beyond max_key_depth) fails with
/// invalid_key (or nesting_too_deep) and a context naming the offset.
expected<key> decode_key(std::string_view encoded);

/// Returns the smallest byte string greater than every string that starts with
/// `prefix`, or an empty optional when none exists (prefix is all 0xff or empty).
/// Used to turn a tuple prefix into a half-open byte range.
std::optional<std::string> prefix_successor(std::string_view prefix);

/// Length of the valid UTF-8 sequence starting at s[i] (1-4), or 0 when it is
/// invalid: overlong forms, surrogates, code points above U+10FFFF and
/// truncated sequences. REQUIRES: i < s.size().
std::size_t utf8_sequence_length(std::string_view s, std::size_t i);

/// Lower-case hex of `data` ("00ff"). parse_hex accepts upper or lower case.
std::string to_hex(std::string_view data);
expected<std::string> parse_hex(std::string_view hex);

}  // namespace ark
