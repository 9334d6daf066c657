#include <iostream>

#include "ark/detail/actor_core.hpp"
#include "ark/detail/host.hpp"
#include "ark/kv/json.hpp"
#include "ark/kv/store.hpp"
#include "ark/kv/value.hpp"
#include "ark/stored_format.hpp"

// The identity and the snapshot value (ark/stored_format.hpp).
namespace ark::stored {

expected<identity> make_identity(std::string_view type, const ark::key& key) {
  if (type.empty()) return error{errc::invalid_argument, "an actor type name must not be empty"};
  identity id;
  id.type = std::string(type);
  id.key = key;
  auto encoded = encode_key(ark::key{id.type, key});
  if (!encoded)
    return error{encoded.error().code(), "actor " + id.type + " " + kv::key_to_json_text(key) +
                                             ": " + encoded.error().context()};
  if (encoded->size() > kv::max_key_size)
    return error{errc::key_too_large, "actor " + id.type + " " + kv::key_to_json_text(key) +
                                          ": type name and key encode to " +
                                          std::to_string(encoded->size()) + " bytes, more than " +
                                          std::to_string(kv::max_key_size)};
  id.encoded = std::move(*encoded);
  return id;
}

std::string describe(const identity& id) {
  return "actor " + id.type + " " + kv::key_to_json_text(id.key);
}

const std::string& state_space() {
  // On-disk constant: never change this value (doc/state_format.md).
  static const std::string space = *encode_key(ark::key{nullptr, "state"});
  return space;
}

std::string make_snapshot(std::uint32_t schema, std::string_view state_msgpack) {
  std::string out;
  // kind, map header, "schema", a uint32, "state": at most 20 bytes.
  out.reserve(20 + state_msgpack.size());
  out.push_back(static_cast<char>(kv::value_kind::msgpack));
  kv::msgpack_writer w{&out};
  msgpack::packer<kv::msgpack_writer> pk(w);
  pk.pack_map(2);
  pk.pack(std::string_view("schema"));
  pk.pack(schema);
  pk.pack(std::string_view("state"));
  out.append(state_msgpack.data(), state_msgpack.size());
  return out;
}

expected<snapshot> parse_snapshot(std::string_view stored) {
  auto v = kv::value::decode(stored);
  if (!v) return error{errc::corrupt_snapshot, v.error().context()};
  if (v->is_raw()) return error{errc::corrupt_snapshot, "the snapshot holds raw bytes"};
  auto h = v->unpack();
  if (!h) return error{errc::corrupt_snapshot, h.error().context()};
  snapshot out;
  const msgpack::object& root = h->get();
  if (root.type != msgpack::type::MAP)
    return error{errc::corrupt_snapshot, "the snapshot is not a {schema, state} map"};
  bool has_schema = false, has_state = false;
  for (std::uint32_t i = 0; i < root.via.map.size; ++i) {
    const auto& kvp = root.via.map.ptr[i];
    if (kvp.key.type != msgpack::type::STR) continue;
    std::string_view name(kvp.key.via.str.ptr, kvp.key.via.str.size);
    if (name == "schema" && kvp.val.type == msgpack::type::POSITIVE_INTEGER &&
        kvp.val.via.u64 <= UINT32_MAX) {
      out.schema = static_cast<std::uint32_t>(kvp.val.via.u64);
      has_schema = true;
    } else if (name == "state") {
      out.state = kvp.val;
      has_state = true;
    }
  }
  if (!has_schema || !has_state)
    return error{errc::corrupt_snapshot, "the snapshot lacks its schema or state field"};
  out.handle = std::move(*h);
  return out;
}

}  // namespace ark::stored

namespace ark::detail {

void host::log(const std::string& line) {
  std::cerr << "ark: " << line << '\n';
}

}  // namespace ark::detail
