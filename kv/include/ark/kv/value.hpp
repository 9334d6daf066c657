#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <msgpack.hpp>

#include "ark/expected.hpp"

namespace ark::kv {

/// The msgpack stream ark packs with: appends to *out. A double (float) is
/// written as msgpack float64 (float32) always, never as an integer (see the
/// packer specializations below), so pack with this writer, or with
/// pack_msgpack(), whatever is meant to be stored or compared with stored
/// bytes.
///
///   std::string bytes;
///   ark::kv::msgpack_writer w{&bytes};
///   msgpack::pack(w, value);
struct msgpack_writer {
  std::string* out;  ///< not owned; REQUIRES: not null while packing
  void write(const char* buf, std::size_t len) { out->append(buf, len); }
};

namespace detail {
/// The name the runtime's internal code uses for msgpack_writer.
using string_writer = msgpack_writer;
}  // namespace detail

}  // namespace ark::kv

// msgpack-c 4 packs whole-number floats as integers, which turns -0.0 into 0
// and 1.0 into the integer 1. ark stores a double as a double: these
// specializations of the packer ark uses write float32/float64 always.
namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(v1) {
  template <>
  inline packer<ark::kv::msgpack_writer>& packer<ark::kv::msgpack_writer>::pack_double(double d) {
    std::uint64_t bits;
    std::memcpy(&bits, &d, sizeof bits);
    char buf[9];
    buf[0] = static_cast<char>(0xcbu);
    _msgpack_store64(&buf[1], bits);
    append_buffer(buf, 9);
    return *this;
  }
  template <>
  inline packer<ark::kv::msgpack_writer>& packer<ark::kv::msgpack_writer>::pack_float(float f) {
    std::uint32_t bits;
    std::memcpy(&bits, &f, sizeof bits);
    char buf[5];
    buf[0] = static_cast<char>(0xcau);
    _msgpack_store32(&buf[1], bits);
    append_buffer(buf, 5);
    return *this;
  }
}  // MSGPACK_API_VERSION_NAMESPACE(v1)
}  // namespace msgpack

namespace ark::kv {

/// The tag byte that opens every stored value (doc/storage_format.md).
/// On-disk constants: never change these values.
enum class value_kind : std::uint8_t {
  msgpack = 0x01,  ///< payload is one msgpack object
  raw = 0x02,      ///< payload is the caller's bytes, stored as given
};

/// Largest payload a value may have, in bytes (16 MiB). Larger values are
/// refused with value_too_large: split them over several keys.
inline constexpr std::size_t max_value_size = std::size_t{16} << 20;

/// Deepest msgpack nesting a typed read accepts (bounds decoder recursion).
inline constexpr std::size_t max_msgpack_depth = 128;

/// A stored value: its kind tag plus payload, kept in the exact form written
/// to disk ([tag][payload]) so that storing it copies nothing more.
class value {
 public:
  /// A raw value: `data` is stored byte for byte and read back with raw().
  static value raw(std::string_view data);

  /// A msgpack value from bytes already packed (e.g. converted from JSON).
  /// The bytes are not validated here; typed reads report corrupt_value.
  static value from_msgpack(std::string_view packed);

  /// Packs `v` with msgpack-c. Any type msgpack-c can pack works (structs with
  /// MSGPACK_DEFINE / MSGPACK_DEFINE_MAP, std containers, scalars).
  template <class T>
  static value pack(const T& v);

  /// Parses a stored value ([tag][payload]); an empty buffer or an unknown
  /// tag is corrupt_value.
  static expected<value> decode(std::string_view stored);

  value_kind kind() const { return static_cast<value_kind>(data_[0]); }
  bool is_raw() const { return kind() == value_kind::raw; }

  /// The payload, without the tag.
  std::string_view payload() const { return std::string_view(data_).substr(1); }

  /// The stored form, [tag][payload].
  const std::string& stored() const& { return data_; }
  std::string&& stored() && { return std::move(data_); }

  /// Unpacks the payload into a T. A raw value, or msgpack that does not
  /// convert to T, is type_mismatch; undecodable msgpack is corrupt_value.
  template <class T>
  expected<T> as() const;

  /// The payload of a raw value; a msgpack value is type_mismatch.
  expected<std::string> raw_bytes() const;

  /// Unpacks a msgpack payload into a handle (bounded by max_msgpack_depth and
  /// by the payload size); REQUIRES: kind() == msgpack.
  expected<msgpack::object_handle> unpack() const;

  friend bool operator==(const value& a, const value& b) { return a.data_ == b.data_; }
  friend bool operator!=(const value& a, const value& b) { return a.data_ != b.data_; }

 private:
  explicit value(std::string data) : data_(std::move(data)) {}
  std::string data_;  // never empty: data_[0] is the tag
};

/// The msgpack bytes of `v` (no value tag: a value's payload), packed with
/// msgpack_writer (doubles as float64 always). Any type msgpack-c can pack.
/// Throws what msgpack-c throws for a type it cannot pack.
template <class T>
std::string pack_msgpack(const T& v) {
  std::string out;
  msgpack_writer writer{&out};
  msgpack::pack(writer, v);
  return out;
}

/// Converts the unpacked msgpack object `obj` into `out` (msgpack-c's
/// convert); false when the types disagree, with `out` in an unspecified but
/// valid state. Never throws.
template <class T>
bool convert_msgpack(const msgpack::object& obj, T& out) noexcept {
  try {
    obj.convert(out);
    return true;
  } catch (...) {
    return false;
  }
}

namespace detail {
/// The name the runtime's internal code uses for convert_msgpack.
template <class T>
bool convert(const msgpack::object& obj, T& out) noexcept {
  return convert_msgpack(obj, out);
}
}  // namespace detail

template <class T>
value value::pack(const T& v) {
  std::string data(1, static_cast<char>(value_kind::msgpack));
  msgpack_writer writer{&data};
  msgpack::pack(writer, v);
  return value(std::move(data));
}

template <class T>
expected<T> value::as() const {
  if (is_raw())
    return error{errc::type_mismatch, "the value holds raw bytes (" +
                                          std::to_string(payload().size()) +
                                          " bytes), not msgpack; read it with get_raw()"};
  auto handle = unpack();
  if (!handle) return handle.error();
  T out{};
  if (!convert_msgpack(handle->get(), out))
    return error{errc::type_mismatch,
                 "the stored msgpack value does not convert to the requested type"};
  return out;
}

}  // namespace ark::kv
