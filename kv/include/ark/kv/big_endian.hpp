#pragma once

// Big-endian unsigned integers, the byte order of every fixed-width number ark
// stores in a key (doc/storage_format.md): LMDB space ids (the 8-byte prefix
// of a kv key), `meta` numbers, state journal record numbers. Big-endian
// numbers sort bytewise in numeric order, which is why keys use them.
//
// The one definition of these helpers: the backends, the state journal, the
// tools, the tests and the benchmarks all use it.

#include <cstdint>
#include <string>
#include <string_view>

namespace ark::kv {

/// Writes `v` as 8 big-endian bytes at `out`.
/// REQUIRES: `out` points to at least 8 writable bytes.
inline void put_be64(void* out, std::uint64_t v) {
  auto* p = static_cast<unsigned char*>(out);
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<unsigned char>(v);
}

/// The unsigned number whose big-endian bytes are `in` (of any length up to
/// 8; the empty view is 0).
/// REQUIRES: in.size() <= 8 (more bytes would drop the leading ones).
inline std::uint64_t get_be(std::string_view in) {
  std::uint64_t v = 0;
  for (unsigned char c : in) v = (v << 8) | c;
  return v;
}

/// The number stored as 8 big-endian bytes at `in`.
/// REQUIRES: `in` points to at least 8 readable bytes.
inline std::uint64_t get_be64(const void* in) {
  return get_be(std::string_view(static_cast<const char*>(in), 8));
}

/// `v` as an 8-byte big-endian string.
inline std::string be64(std::uint64_t v) {
  std::string out(8, '\0');
  put_be64(out.data(), v);
  return out;
}

/// `v` as a 4-byte big-endian string.
inline std::string be32(std::uint32_t v) {
  return be64(v).substr(4);
}

}  // namespace ark::kv
