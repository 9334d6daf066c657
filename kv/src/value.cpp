#include "ark/kv/value.hpp"

namespace ark::kv {

value value::raw(std::string_view data) {
  std::string out;
  out.reserve(data.size() + 1);
  out.push_back(static_cast<char>(value_kind::raw));
  out.append(data);
  return value(std::move(out));
}

value value::from_msgpack(std::string_view packed) {
  std::string out;
  out.reserve(packed.size() + 1);
  out.push_back(static_cast<char>(value_kind::msgpack));
  out.append(packed);
  return value(std::move(out));
}

expected<value> value::decode(std::string_view stored) {
  if (stored.empty()) return error{errc::corrupt_value, "stored value is empty (no kind tag)"};
  auto tag = static_cast<std::uint8_t>(stored[0]);
  if (tag != static_cast<std::uint8_t>(value_kind::msgpack) &&
      tag != static_cast<std::uint8_t>(value_kind::raw)) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", tag);
    return error{errc::corrupt_value, std::string("stored value has unknown kind tag ") + hex};
  }
  return value(std::string(stored));
}

expected<std::string> value::raw_bytes() const {
  if (!is_raw())
    return error{errc::type_mismatch,
                 "the value holds msgpack, not raw bytes; read it with get<T>()"};
  return std::string(payload());
}

expected<msgpack::object_handle> value::unpack() const {
  if (is_raw()) return error{errc::type_mismatch, "the value holds raw bytes, not msgpack"};
  auto p = payload();
  if (p.empty()) return error{errc::corrupt_value, "msgpack value has an empty payload"};
  // Every msgpack element takes at least one byte, so no container can
  // legitimately declare more elements than the payload has bytes: bounding
  // the limits by the size stops hostile headers from forcing huge allocations.
  const std::size_t n = p.size();
  msgpack::unpack_limit limit(n, n, n, n, n, max_msgpack_depth);
  try {
    std::size_t off = 0;
    auto handle = msgpack::unpack(p.data(), p.size(), off, nullptr, nullptr, limit);
    if (off != p.size())
      return error{errc::corrupt_value, "msgpack value has " + std::to_string(p.size() - off) +
                                            " trailing bytes after the object"};
    return handle;
  } catch (const msgpack::depth_size_overflow&) {
    return error{errc::corrupt_value, "msgpack value nests deeper than " +
                                          std::to_string(max_msgpack_depth) + " levels"};
  } catch (const std::exception& e) {
    return error{errc::corrupt_value, std::string("msgpack value does not decode: ") + e.what()};
  }
}

}  // namespace ark::kv
