#pragma once

// JSON forms of the arguments and replies of typed-actor handlers: a host lists
// the handlers of an actor type by name and calls one with JSON arguments (the
// dashboard's "call a handler from the page").
//
//   for (auto& h : ark::detail::describe_handlers<counter_if::signatures>()) {
//     std::cout << h.describe() << "\n";  // {"name":"add(int64) -> int64",...}
//     if (!h.callable) continue;                   // h.not_callable says why
//     auto msg = h.make_message(nlohmann::json::array({5}));  // add_atom, 5
//     if (!msg) return msg.error();                // invalid_argument, names the argument
//     ... send *msg, then show h.reply_to_json(reply) ...
//   }
//
// The JSON of a value follows the project's mapping (doc/json_format.md,
// ark/kv/json.hpp): bytes are {"bytes":"<hex>"}, non-finite doubles
// {"double":"nan"|"inf"|"-inf"}, structs their msgpack form (an object with
// MSGPACK_DEFINE_MAP, an array with MSGPACK_DEFINE). Input is strict: a value
// of the wrong JSON type, or out of range, is an error naming the argument,
// never converted.
//
// Nothing here throws (short of std::bad_alloc): msgpack-c's exceptions are
// caught and become errors.

#include <cxxabi.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include <caf/all.hpp>
#include <msgpack.hpp>
#include <nlohmann/json.hpp>

#include "ark/errors.hpp"
#include "ark/expected.hpp"
#include "ark/kv/json.hpp"
#include "ark/kv/value.hpp"

namespace ark::detail {

// -- helpers ---------------------------------------------------------------------------------

/// The demangled name of a C++ type, e.g. "leaderboard::standing" (the
/// mangled name when the ABI cannot demangle it). A header-only twin of
/// type_name_of (migration.hpp), so that this header needs only ark_kv.
inline std::string json_codec_type_name(const std::type_info& t) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name{
      abi::__cxa_demangle(t.name(), nullptr, nullptr, &status), std::free};
  return status == 0 && name ? std::string(name.get()) : std::string(t.name());
}

/// Longest excerpt of a JSON value that an error message quotes, in bytes.
inline constexpr std::size_t json_excerpt_size = 80;

/// The compact JSON text of `j` (never throws), cut to json_excerpt_size
/// bytes at a UTF-8 boundary and marked "..." when cut.
inline std::string json_excerpt(const nlohmann::json& j) {
  std::string s = kv::json_text(j);
  if (s.size() <= json_excerpt_size) return s;
  std::size_t n = json_excerpt_size;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xc0) == 0x80) --n;
  s.resize(n);
  return s + "...";
}

/// invalid_argument "<where>: expected <type>, got <JSON>[<why>]": how every
/// codec refuses a JSON value. `why`, when given, starts with its separator.
inline ark::error json_type_error(const std::string& where, const std::string& type,
                                  const nlohmann::json& got, const std::string& why = {}) {
  return ark::error{errc::invalid_argument,
                    where + ": expected " + type + ", got " + json_excerpt(got) + why};
}

/// The msgpack object the project's JSON mapping makes of `j` when `j` is an
/// object with exactly one member `member` ({"bytes":"<hex>"},
/// {"double":"inf"}); the caller checks the object's type (an object of the
/// right shape with a bad value comes back as a map). nullopt otherwise.
inline std::optional<msgpack::object_handle> json_special_form(const nlohmann::json& j,
                                                               const char* member) {
  if (!j.is_object() || j.size() != 1 || !j.contains(member)) return std::nullopt;
  auto packed = kv::value_from_json(j);
  if (!packed) return std::nullopt;
  auto handle = packed->unpack();
  if (!handle) return std::nullopt;
  return std::move(*handle);
}

/// True when CAF 0.17 can put a T into a message (caf::make_message
/// static_asserts otherwise): T is serializable by CAF, or whitelisted.
template <class T>
inline constexpr bool caf_message_type_v =
    caf::detail::is_serializable<T>::value || caf::allowed_unsafe_message_type<T>::value;

/// The type a message stores for a signature type: an atom_constant travels
/// as its caf::atom_value (caf::make_message unboxes it).
template <class T>
using message_element_t = std::conditional_t<caf::is_atom_constant<std::decay_t<T>>::value,
                                             caf::atom_value, std::decay_t<T>>;

/// True for the integer types the codec maps to intN / uintN: every integral
/// type except bool and the character types (char is not int8).
template <class T>
inline constexpr bool is_json_integer_v =
    std::is_integral_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char> &&
    !std::is_same_v<T, wchar_t> && !std::is_same_v<T, char16_t> && !std::is_same_v<T, char32_t>;

/// True for structs msgpack-c packs through MSGPACK_DEFINE_MAP or
/// MSGPACK_DEFINE (both define the members msgpack_pack and msgpack_unpack).
template <class T, class = void>
struct has_msgpack_members : std::false_type {};
template <class T>
struct has_msgpack_members<T,
                           std::void_t<decltype(std::declval<const T&>().msgpack_pack(
                                           std::declval<msgpack::packer<kv::msgpack_writer>&>())),
                                       decltype(std::declval<T&>().msgpack_unpack(
                                           std::declval<const msgpack::object&>()))>>
    : std::true_type {};

/// True for CAF's actor handles, which have no JSON form.
template <class T>
inline constexpr bool is_actor_handle_v =
    std::is_same_v<T, caf::actor> || std::is_same_v<T, caf::actor_addr> ||
    std::is_same_v<T, caf::strong_actor_ptr> || caf::is_typed_actor<T>::value;

/// The JSON of a scalar, string or bytes through the project's mapping
/// (kv::msgpack_to_json): float32 as its shortest decimal, non-finite
/// doubles as {"double":...}, invalid UTF-8 as U+FFFD, bytes as lowercase hex.
template <class T>
nlohmann::json scalar_json(const T& x) {
  msgpack::zone zone;
  return kv::msgpack_to_json(msgpack::object(x, zone));
}

// -- json_codec --------------------------------------------------------------------------------

/// The JSON codec of one argument or reply type T. Every specialization has:
///
///   static constexpr bool supported;     // false: the members below only report why
///   static std::string name();           // "int64", "vector<string>", "leaderboard::standing"
///   static nlohmann::json to_json(const T&);
///   static ark::expected<T> from_json(const nlohmann::json& j, const std::string& where);
///   static std::string unsupported_reason();  // empty when supported
///
/// from_json is strict and fails with invalid_argument
/// "<where>: expected <name()>, got <JSON, cut to 80 bytes>", where `where`
/// names the value for the caller ("argument 2", "argument 2[3]").
///
/// Supported: integers (int8..int64, uint8..uint64: a JSON integer in range,
/// no fraction, no string), double (any JSON number, or {"double":"nan"|"inf"|
/// "-inf"}), float (the same, within float's range), bool (true/false),
/// std::string (a JSON string), bytes = std::vector<std::uint8_t>
/// ({"bytes":"<hex>"}), caf::atom_value (a string of at most 10 characters of
/// 0-9 A-Z _ a-z), std::vector<X> (an array), std::optional<X> and
/// caf::optional<X> (null or X), caf::atom_constant<V> (the string V only), and
/// structs with MSGPACK_DEFINE_MAP (an object) or MSGPACK_DEFINE (an array)
/// that are default-constructible. Not supported: pointers, actor handles,
/// structs without msgpack members, std containers other than vector, enums,
/// char.
template <class T, class = void>
struct json_codec;

/// A type with no JSON form: name() is its C++ name, unsupported_reason() says
/// why and what to do; to_json gives {"unsupported": name()}, from_json fails.
template <class T>
struct unsupported_json_codec {
  static constexpr bool supported = false;
  static std::string name() { return json_codec_type_name(typeid(T)); }
  static std::string unsupported_reason() {
    auto n = name();
    auto no_form = n + " has no JSON form (supported: integers, double, float, bool, string, " +
                   "bytes, atom, vector, optional and structs with MSGPACK_DEFINE_MAP)";
    if constexpr (std::is_pointer_v<T>) {
      return n + " is a pointer: pointers have no JSON form";
    } else if constexpr (is_actor_handle_v<T>) {
      return n + " is an actor handle: handles have no JSON form";
    } else if constexpr (std::is_class_v<T> && has_msgpack_members<T>::value) {
      return n + " is not default-constructible: give it a default constructor to call it " +
             "from JSON (the JSON is converted into a default-constructed value)";
    } else if constexpr (std::is_class_v<T>) {
      // A library's class (std::map, caf::message) cannot be given field names.
      if (n.rfind("std::", 0) == 0 || n.rfind("caf::", 0) == 0) return no_form;
      return n + " has no field names: give it MSGPACK_DEFINE_MAP (as a state struct) to " +
             "call it from JSON";
    } else {
      return no_form;  // enums, char, long double, ...
    }
  }
  static nlohmann::json to_json(const T&) { return nlohmann::json{{"unsupported", name()}}; }
  static ark::expected<T> from_json(const nlohmann::json&, const std::string& where) {
    return ark::error{errc::invalid_argument, where + ": " + unsupported_reason()};
  }
};

// Integers: int8..int64, uint8..uint64 by size and signedness.
template <class T>
struct json_codec<T, std::enable_if_t<is_json_integer_v<T>>> {
  static constexpr bool supported = true;
  static std::string name() {
    return (std::is_signed_v<T> ? "int" : "uint") + std::to_string(8 * sizeof(T));
  }
  static std::string unsupported_reason() { return {}; }
  static nlohmann::json to_json(const T& x) { return x; }
  static ark::expected<T> from_json(const nlohmann::json& j, const std::string& where) {
    constexpr auto max = static_cast<std::uint64_t>(std::numeric_limits<T>::max());
    if (j.is_number_unsigned()) {
      auto u = j.get<std::uint64_t>();
      if (u <= max) return static_cast<T>(u);
    } else if (j.is_number_integer()) {
      auto i = j.get<std::int64_t>();
      if constexpr (std::is_signed_v<T>) {
        constexpr auto min = static_cast<std::int64_t>(std::numeric_limits<T>::min());
        if (i >= min && i <= static_cast<std::int64_t>(max)) return static_cast<T>(i);
      } else {
        if (i >= 0 && static_cast<std::uint64_t>(i) <= max) return static_cast<T>(i);
      }
    }
    return json_type_error(where, name(), j);
  }
};

// double and float: any JSON number, or the {"double":...} form of a
// non-finite value. A float refuses finite numbers beyond its range.
template <class T>
struct json_codec<T, std::enable_if_t<std::is_same_v<T, double> || std::is_same_v<T, float>>> {
  static constexpr bool supported = true;
  static std::string name() { return std::is_same_v<T, double> ? "double" : "float"; }
  static std::string unsupported_reason() { return {}; }
  static nlohmann::json to_json(const T& x) { return scalar_json(x); }
  static ark::expected<T> from_json(const nlohmann::json& j, const std::string& where) {
    if (j.is_number()) {
      auto d = j.get<double>();
      if (std::is_same_v<T, double> || !std::isfinite(d) ||
          std::fabs(d) <= static_cast<double>(std::numeric_limits<float>::max()))
        return static_cast<T>(d);
    } else if (auto h = json_special_form(j, "double")) {
      if (h->get().type == msgpack::type::FLOAT64) return static_cast<T>(h->get().via.f64);
    }
    return json_type_error(where, name(), j);
  }
};

template <>
struct json_codec<bool> {
  static constexpr bool supported = true;
  static std::string name() { return "bool"; }
  static std::string unsupported_reason() { return {}; }
  static nlohmann::json to_json(const bool& x) { return x; }
  static ark::expected<bool> from_json(const nlohmann::json& j, const std::string& where) {
    if (j.is_boolean()) return j.get<bool>();
    return json_type_error(where, name(), j);
  }
};

template <>
struct json_codec<std::string> {
  static constexpr bool supported = true;
  static std::string name() { return "string"; }
  static std::string unsupported_reason() { return {}; }
  static nlohmann::json to_json(const std::string& x) { return scalar_json(x); }
  static ark::expected<std::string> from_json(const nlohmann::json& j, const std::string& where) {
    if (j.is_string()) return j.get<std::string>();
    return json_type_error(where, name(), j);
  }
};

// Bytes: {"bytes":"<hex>"} (any case on input, lowercase on output).
template <>
struct json_codec<std::vector<std::uint8_t>> {
  static constexpr bool supported = true;
  static std::string name() { return "bytes"; }
  static std::string unsupported_reason() { return {}; }
  static nlohmann::json to_json(const std::vector<std::uint8_t>& x) { return scalar_json(x); }
  static ark::expected<std::vector<std::uint8_t>> from_json(const nlohmann::json& j,
                                                            const std::string& where) {
    if (auto h = json_special_form(j, "bytes"); h && h->get().type == msgpack::type::BIN) {
      const auto& bin = h->get().via.bin;
      const auto* p = reinterpret_cast<const std::uint8_t*>(bin.ptr);
      return std::vector<std::uint8_t>(p, p + bin.size);
    }
    return json_type_error(where, name(), j);
  }
};

// Atoms: the atom's text. Input is at most 10 characters of CAF's atom
// alphabet, since caf::atom_from_string silently maps other characters to
// spaces and longer text to the empty atom.
template <>
struct json_codec<caf::atom_value> {
  static constexpr bool supported = true;
  static std::string name() { return "atom"; }
  static std::string unsupported_reason() { return {}; }
  static nlohmann::json to_json(const caf::atom_value& x) { return caf::to_string(x); }
  static ark::expected<caf::atom_value> from_json(const nlohmann::json& j,
                                                  const std::string& where) {
    if (j.is_string()) {
      const auto& s = j.get_ref<const std::string&>();
      bool ok = s.size() <= 10;
      for (char c : s) {
        ok = ok && ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                    c == '_');
      }
      if (ok) return caf::atom_from_string(caf::string_view(s.data(), s.size()));
    }
    return json_type_error(where, name(), j,
                           " (an atom is at most 10 characters of 0-9, A-Z, a-z and _)");
  }
};

// A fixed atom of a signature (add_atom in replies_to<add_atom, int64>): its
// value is implied, so make_message never reads it from the caller. Its
// name() is the quoted value, 'add'; from_json accepts that value only.
template <caf::atom_value V>
struct json_codec<caf::atom_constant<V>> {
  static constexpr bool supported = true;
  static std::string name() { return "'" + caf::to_string(V) + "'"; }
  static std::string unsupported_reason() { return {}; }
  static nlohmann::json to_json(const caf::atom_constant<V>&) { return caf::to_string(V); }
  static ark::expected<caf::atom_constant<V>> from_json(const nlohmann::json& j,
                                                        const std::string& where) {
    if (j.is_string() && j.get_ref<const std::string&>() == caf::to_string(V))
      return caf::atom_constant<V>{};
    return json_type_error(where, name(), j);
  }
};

// vector<X>: an array; elements are named "<where>[i]" (0-based).
template <class X>
struct json_codec<std::vector<X>, std::enable_if_t<!std::is_same_v<X, std::uint8_t>>> {
  static constexpr bool supported = json_codec<X>::supported;
  static std::string name() { return "vector<" + json_codec<X>::name() + ">"; }
  static std::string unsupported_reason() { return json_codec<X>::unsupported_reason(); }
  static nlohmann::json to_json(const std::vector<X>& xs) {
    auto out = nlohmann::json::array();
    for (const auto& x : xs) out.push_back(json_codec<X>::to_json(x));
    return out;
  }
  static ark::expected<std::vector<X>> from_json(const nlohmann::json& j,
                                                 const std::string& where) {
    if (!j.is_array()) return json_type_error(where, name(), j);
    std::vector<X> out;
    out.reserve(j.size());
    for (std::size_t i = 0; i < j.size(); ++i) {
      auto x = json_codec<X>::from_json(j[i], where + "[" + std::to_string(i) + "]");
      if (!x) return x.error();
      out.push_back(std::move(*x));
    }
    return out;
  }
};

/// optional<X> (std::optional or caf::optional): null or an X. An X that
/// does not decode reports X's error.
template <class Opt, class X>
struct optional_json_codec {
  static constexpr bool supported = json_codec<X>::supported;
  static std::string name() { return "optional<" + json_codec<X>::name() + ">"; }
  static std::string unsupported_reason() { return json_codec<X>::unsupported_reason(); }
  static nlohmann::json to_json(const Opt& x) {
    if (!x) return nullptr;
    return json_codec<X>::to_json(*x);
  }
  static ark::expected<Opt> from_json(const nlohmann::json& j, const std::string& where) {
    if (j.is_null()) return Opt{};
    auto x = json_codec<X>::from_json(j, where);
    if (!x) return x.error();
    return Opt{std::move(*x)};
  }
};

template <class X>
struct json_codec<std::optional<X>> : optional_json_codec<std::optional<X>, X> {};
template <class X>
struct json_codec<caf::optional<X>> : optional_json_codec<caf::optional<X>, X> {};

/// A struct with msgpack members (MSGPACK_DEFINE_MAP: a JSON object;
/// MSGPACK_DEFINE: an array). from_json packs the JSON with
/// kv::value_from_json and converts it with msgpack-c, so fields follow
/// msgpack-c's rules (a missing field keeps its default, an integer fits its
/// field's range). It refuses what msgpack-c would silently drop: a member
/// the struct has no field for, or array elements beyond its fields.
template <class T>
struct struct_json_codec {
  static constexpr bool supported = true;
  static std::string name() { return json_codec_type_name(typeid(T)); }
  static std::string unsupported_reason() { return {}; }

  static nlohmann::json to_json(const T& x) {
    try {
      auto handle = kv::value::pack(x).unpack();
      if (!handle) return nlohmann::json{{"truncated", handle.error().summary()}};
      return kv::msgpack_to_json(handle->get());
    } catch (const std::exception& e) {  // msgpack-c refused to pack (e.g. a size beyond 2^32)
      return nlohmann::json{{"truncated", std::string("msgpack-c cannot pack it: ") + e.what()}};
    }
  }

  static ark::expected<T> from_json(const nlohmann::json& j, const std::string& where) {
    T out{};
    if (!converts(j, out)) return json_type_error(where, name(), j, culprit(j));
    if (auto extra = dropped(j, to_json(out), {}))
      return json_type_error(where, name(), j, ": " + name() + " has no " + *extra);
    return out;
  }

 private:
  // Converts `j` into `out` (kv::value_from_json, then msgpack-c's convert).
  static bool converts(const nlohmann::json& j, T& out) {
    auto packed = kv::value_from_json(j);
    if (!packed) return false;
    auto handle = packed->unpack();
    return handle && kv::convert_msgpack(handle->get(), out);
  }

  // The msgpack form of a default T: a map of its fields or an array.
  static nlohmann::json default_json() { return to_json(T{}); }

  // Why `j` does not convert: the wrong shape, or the first member (element)
  // that does not convert on its own, with the default of its field.
  static std::string culprit(const nlohmann::json& j) {
    auto def = default_json();
    if (def.is_object() && !j.is_object()) return " (a JSON object with fields " + fields() + ")";
    if (def.is_array() && !j.is_array())
      return " (a JSON array of " + std::to_string(def.size()) + " elements)";
    if (j.is_object()) {
      for (auto it = j.begin(); it != j.end(); ++it) {
        T probe{};
        if (converts(nlohmann::json{{it.key(), it.value()}}, probe)) continue;
        std::string field =
            def.contains(it.key()) ? " (default " + json_excerpt(def[it.key()]) + ")" : "";
        return ": field \"" + it.key() + "\"" + field + " does not take " +
               json_excerpt(it.value());
      }
    } else if (j.is_array()) {
      auto prefix = nlohmann::json::array();
      for (std::size_t i = 0; i < j.size(); ++i) {
        prefix.push_back(j[i]);
        T probe{};
        if (converts(prefix, probe)) continue;
        std::string field = i < def.size() ? " (default " + json_excerpt(def[i]) + ")" : "";
        return ": element " + std::to_string(i) + field + " does not take " + json_excerpt(j[i]);
      }
    }
    return {};
  }

  // "x, y" (declaration order: from the msgpack map, not the sorted JSON).
  static std::string fields() {
    std::string out;
    auto handle = kv::value::pack(T{}).unpack();
    if (!handle || handle->get().type != msgpack::type::MAP) return out;
    const auto& map = handle->get().via.map;
    for (std::uint32_t i = 0; i < map.size; ++i) {
      if (map.ptr[i].key.type != msgpack::type::STR) continue;
      if (!out.empty()) out += ", ";
      out.append(map.ptr[i].key.via.str.ptr, map.ptr[i].key.via.str.size);
    }
    return out;
  }

  // The first part of `in` that converting dropped: a member of an object
  // that `kept` (the converted value's JSON) lacks, or array elements beyond
  // its length (an array-form struct's elements beyond its fields):
  // "field \"z\" (fields: x, y)", "field \"items[1].z\"", "element [3] (it has 3
  // fields)"; nullopt when nothing was dropped.
  static std::optional<std::string> dropped(const nlohmann::json& in, const nlohmann::json& kept,
                                            const std::string& path) {
    if (in.is_object() && kept.is_object()) {
      for (auto it = in.begin(); it != in.end(); ++it) {
        auto k = kept.find(it.key());
        auto sub = path.empty() ? it.key() : path + "." + it.key();
        if (k == kept.end())
          return "field \"" + sub + "\"" + (path.empty() ? " (fields: " + fields() + ")" : "");
        if (auto d = dropped(it.value(), *k, sub)) return d;
      }
    } else if (in.is_array() && kept.is_array()) {
      if (in.size() > kept.size())
        return "element " + path + "[" + std::to_string(kept.size()) + "] (it has " +
               std::to_string(kept.size()) + " fields)";
      for (std::size_t i = 0; i < in.size(); ++i)
        if (auto d = dropped(in[i], kept[i], path + "[" + std::to_string(i) + "]")) return d;
    }
    return std::nullopt;
  }
};

// The primary template: structs with msgpack members (and a default
// constructor) are supported, everything else reports why not.
template <class T, class>
struct json_codec : std::conditional_t<std::is_class_v<T> && has_msgpack_members<T>::value &&
                                           std::is_default_constructible_v<T>,
                                       struct_json_codec<T>, unsupported_json_codec<T>> {};

// -- handler descriptions -----------------------------------------------------------------------

/// One signature of a typed-actor interface, for a host that calls handlers
/// with JSON.
///
/// Naming rule: a leading atom_constant gives the name, the inputs the caller
/// supplies follow in parentheses (comma and space separated, "()" when there
/// are none), then " -> " and the reply:
///   replies_to<add_atom, int64>::with<int64>          add(int64) -> int64
///   replies_to<get_atom>::with<int64>                 get() -> int64
///   reacts_to<ping_atom, string>                      ping(string) -> void
///   replies_to<string, int64>::with<bool, string>     (string, int64) -> (bool, string)
///   replies_to<set_atom, string, cmd_atom, int64>::with<ok_atom>
///                                                     set(string, 'cmd', int64) -> 'ok'
/// A signature without a leading atom has no name before the parentheses; an
/// atom_constant elsewhere shows as its quoted value and is fixed too (the
/// caller does not supply it). The reply is "void" for reacts_to (and for an
/// empty with<>), one type's name, or "(A, B)" for several.
struct handler_info {
  /// "add(int64) -> int64" (see the naming rule above).
  std::string name;
  /// The type names (json_codec::name) of the inputs the caller supplies, in
  /// order; fixed atoms are not among them.
  std::vector<std::string> params;
  /// The reply's type text: "int64", "void", "(bool, string)".
  std::string reply;
  /// True when every parameter and reply type has a JSON form (and every
  /// parameter can travel in a CAF message).
  bool callable = false;
  /// Why not callable, naming the first culprit: "argument 2: <reason>" or
  /// "reply: <reason>". Empty when callable.
  std::string not_callable;
  /// Builds the handler's full message from a JSON array of exactly
  /// params.size() arguments (the fixed atoms in their positions).
  /// Errors (invalid_argument): "handler add(int64) -> int64 takes 1
  /// argument(s), got 2"; "argument 1: expected int64, got \"x\"" (arguments
  /// count from 1). Null when !callable.
  std::function<ark::expected<caf::message>(const nlohmann::json& args)> make_message;
  /// The JSON of a reply message: one value's JSON, null for void (an empty
  /// message), an array for several values. A message of other types (a
  /// caf::error, say) is {"unexpected": "<caf::to_string(msg)>"}. Null when
  /// !callable.
  std::function<nlohmann::json(const caf::message&)> reply_to_json;

  /// {"name":..., "params":[...], "reply":..., "callable":...} plus
  /// "not_callable" when callable is false.
  nlohmann::json describe() const {
    nlohmann::json out{
        {"name", name}, {"params", params}, {"reply", reply}, {"callable", callable}};
    if (!callable) out["not_callable"] = not_callable;
    return out;
  }
};

/// The handlers of the interface whose signatures are `Signatures` (write
/// `Interface::signatures` for a caf::typed_actor<...> Interface), in the
/// interface's order.
template <class Signatures>
std::vector<handler_info> describe_handlers();

/// How one signature (typed_mpi<type_list<Is...>, output_tuple<Os...>>) is
/// described and called.
template <class Inputs, class Outputs>
struct handler_signature;

template <class... Is, class... Os>
struct handler_signature<caf::detail::type_list<Is...>, caf::output_tuple<Os...>> {
  /// reacts_to (output_tuple<void>) and an empty with<> reply nothing.
  static constexpr bool void_reply = sizeof...(Os) == 0 || (std::is_void_v<Os> && ...);

  template <class I>
  static constexpr bool is_fixed = caf::is_atom_constant<std::decay_t<I>>::value;

  /// How many of the inputs before position `n` the caller supplies.
  static constexpr std::size_t params_before(std::size_t n) {
    constexpr bool fixed[] = {false, is_fixed<Is>...};  // [0] keeps the array non-empty
    std::size_t k = 0;
    for (std::size_t i = 0; i < n; ++i)
      if (!fixed[i + 1]) ++k;
    return k;
  }
  static constexpr std::size_t param_count = params_before(sizeof...(Is));
  // (&& stops before params_before(1) reads beyond an empty input list.)
  static constexpr bool leading_atom = sizeof...(Is) > 0 && params_before(1) == 0;

  template <class I>
  static constexpr bool input_ok = is_fixed<I> ||
                                   (json_codec<I>::supported && caf_message_type_v<I>);
  static constexpr bool reply_ok() {
    if constexpr (void_reply)
      return true;  // (json_codec<void> does not exist)
    else
      return (json_codec<message_element_t<Os>>::supported && ...);
  }
  static constexpr bool callable = (input_ok<std::decay_t<Is>> && ...) && reply_ok();

  static std::string join(const std::vector<std::string>& xs) {
    std::string out;
    for (const auto& x : xs) out += (out.empty() ? "" : ", ") + x;
    return out;
  }

  static handler_info make() {
    handler_info info;
    std::vector<std::string> inputs{json_codec<std::decay_t<Is>>::name()...};
    std::string head;
    if constexpr (leading_atom) {
      head = inputs.front().substr(1, inputs.front().size() - 2);  // 'add' -> add
      inputs.erase(inputs.begin());
    }
    (add_param<std::decay_t<Is>>(info.params), ...);
    if constexpr (void_reply)
      info.reply = "void";
    else if constexpr (sizeof...(Os) == 1)
      info.reply = join({json_codec<std::decay_t<Os>>::name()...});
    else
      info.reply = "(" + join({json_codec<std::decay_t<Os>>::name()...}) + ")";
    info.name = head + "(" + join(inputs) + ") -> " + info.reply;
    info.callable = callable;
    if constexpr (callable) {
      info.make_message = [name = info.name](const nlohmann::json& args) {
        return build_message(name, args);
      };
      info.reply_to_json = [](const caf::message& msg) { return reply_json(msg); };
    } else {
      std::size_t k = 0;
      (check_input<std::decay_t<Is>>(k, info.not_callable), ...);
      if constexpr (!void_reply) (check_output<message_element_t<Os>>(info.not_callable), ...);
    }
    return info;
  }

  template <class I>
  static void add_param(std::vector<std::string>& params) {
    if constexpr (!is_fixed<I>) params.push_back(json_codec<I>::name());
  }

  // Sets *why to "argument k: <reason>" when input I (argument k, counting
  // the supplied inputs from 1) is the first that cannot be called.
  template <class I>
  static void check_input(std::size_t& k, std::string& why) {
    if constexpr (!is_fixed<I>) {
      ++k;
      if (!why.empty()) return;
      auto where = "argument " + std::to_string(k) + ": ";
      if constexpr (!json_codec<I>::supported)
        why = where + json_codec<I>::unsupported_reason();
      else if constexpr (!caf_message_type_v<I>)
        why = where + json_codec<I>::name() + " (" + json_codec_type_name(typeid(I)) +
              ") cannot travel in a CAF message: CAF 0.17 cannot serialize it (a struct needs " +
              "a CAF inspect() overload; for std::optional use caf::optional)";
    }
  }

  // Sets *why to "reply: <reason>" when reply type O is the first culprit.
  template <class O>
  static void check_output(std::string& why) {
    if constexpr (!json_codec<O>::supported)
      if (why.empty()) why = "reply: " + json_codec<O>::unsupported_reason();
  }

  // The value of input I at position N: the fixed atom, or argument k of
  // `args` (k = the supplied inputs before N). After the first failure
  // (recorded in *failure) the rest are default values, never decoded.
  template <class I, std::size_t N>
  static I input_value(const nlohmann::json& args, std::optional<ark::error>& failure) {
    if constexpr (is_fixed<I>) {
      return I{};
    } else {
      if (failure) return I{};
      constexpr std::size_t k = params_before(N);
      auto x = json_codec<I>::from_json(args[k], "argument " + std::to_string(k + 1));
      if (!x) {
        failure = x.error();
        return I{};
      }
      return std::move(*x);
    }
  }

  template <std::size_t... Ns>
  static ark::expected<caf::message> build([[maybe_unused]] const nlohmann::json& args,
                                           std::index_sequence<Ns...>) {
    std::optional<ark::error> failure;
    // A braced list evaluates left to right: the first bad argument is reported.
    std::tuple<std::decay_t<Is>...> values{input_value<std::decay_t<Is>, Ns>(args, failure)...};
    if (failure) return *failure;
    return std::apply([](auto&&... xs) { return caf::make_message(std::move(xs)...); },
                      std::move(values));
  }

  static ark::expected<caf::message> build_message(const std::string& name,
                                                   const nlohmann::json& args) {
    if (!args.is_array() || args.size() != param_count) {
      auto got =
          args.is_array() ? std::to_string(args.size()) : "no array but " + json_excerpt(args);
      return ark::error{
          errc::invalid_argument,
          "handler " + name + " takes " + std::to_string(param_count) + " argument(s), got " + got};
    }
    return build(args, std::index_sequence_for<Is...>{});
  }

  template <std::size_t... Ns>
  static nlohmann::json reply_values(const caf::message& msg, std::index_sequence<Ns...>) {
    if constexpr (sizeof...(Os) == 1) {
      using O = message_element_t<caf::detail::tl_head_t<caf::detail::type_list<Os...>>>;
      return json_codec<O>::to_json(msg.get_as<O>(0));
    } else {
      auto out = nlohmann::json::array();
      (out.push_back(
           json_codec<message_element_t<Os>>::to_json(msg.get_as<message_element_t<Os>>(Ns))),
       ...);
      return out;
    }
  }

  static nlohmann::json reply_json(const caf::message& msg) {
    if constexpr (void_reply) {
      if (msg.empty()) return nullptr;
    } else {
      if (msg.match_elements<message_element_t<Os>...>())
        return reply_values(msg, std::index_sequence_for<Os...>{});
    }
    return nlohmann::json{{"unexpected", caf::to_string(msg)}};
  }
};

template <class Signature>
struct handler_signature_of;
template <class Inputs, class Outputs>
struct handler_signature_of<caf::typed_mpi<Inputs, Outputs>> {
  using type = handler_signature<Inputs, Outputs>;
};

template <class... Sigs>
std::vector<handler_info> describe_handler_list(caf::detail::type_list<Sigs...>) {
  return {handler_signature_of<Sigs>::type::make()...};
}

template <class Signatures>
std::vector<handler_info> describe_handlers() {
  return describe_handler_list(Signatures{});
}

}  // namespace ark::detail
