#include "ark/kv/json.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ark::kv {
namespace {

using json = nlohmann::json;

// --- text helpers -----------------------------------------------------------

// `s` with every invalid UTF-8 byte replaced by U+FFFD, so the JSON can be
// dumped (nlohmann's dump throws on invalid UTF-8).
std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    auto n = utf8_sequence_length(s, i);
    if (n == 0) {
      out += "\xef\xbf\xbd";
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

// A short, printable JSON rendering of `s` for error messages.
std::string shown(std::string_view s, std::size_t max = 40) {
  bool cut = s.size() > max;
  std::string out = json(valid_utf8(s.substr(0, max))).dump();
  if (cut) out.insert(out.size() - 1, "...");
  return out;
}

std::string describe_type(const json& j) {
  switch (j.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return j.get<bool>() ? "true" : "false";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return "the number " + json_text(j);
    case json::value_t::string:
      return "the string " + shown(j.get_ref<const std::string&>());
    case json::value_t::array:
      return "an array";
    case json::value_t::object:
      return "an object";
    case json::value_t::binary:
      return "binary data";
    case json::value_t::discarded:
      return "a discarded value";
  }
  return "an unknown value";
}

// "with members "a", "b", ..." (at most four names).
std::string describe_members(const json& obj) {
  if (obj.empty()) return "{}";
  std::string out = "with member";
  if (obj.size() > 1) out += "s";
  std::size_t n = 0;
  for (auto it = obj.begin(); it != obj.end(); ++it, ++n) {
    if (n == 4) {
      out += ", ... (" + std::to_string(obj.size()) + " in all)";
      break;
    }
    out += n == 0 ? " " : ", ";
    out += shown(it.key(), 32);
  }
  return out;
}

// Strips nlohmann's "[json.exception.parse_error.101] " prefix.
std::string parse_error_text(const std::string& what) {
  if (!what.empty() && what[0] == '[') {
    auto close = what.find("] ");
    if (close != std::string::npos) return what.substr(close + 2);
  }
  return what;
}

const char* const key_object_forms =
    "a key element object is {\"bytes\":\"<hex>\"} or {\"double\":\"nan\"|\"inf\"|\"-inf\"}";

// --- bounded JSON text parsing -------------------------------------------------

enum class text_kind { key, value };

// A SAX handler that builds a DOM like nlohmann's own, but bounds nesting,
// rejects integer literals nlohmann would silently turn into doubles, and
// records where each error is. nlohmann's SAX parser is iterative, so hostile
// input such as 100,000 '[' cannot exhaust the stack.
class bounded_builder {
 public:
  explicit bounded_builder(text_kind kind) : kind_(kind) {}

  bool null() { return add(json(nullptr)); }
  bool boolean(bool b) { return add(json(b)); }
  bool number_integer(json::number_integer_t v) { return add(json(v)); }
  bool number_unsigned(json::number_unsigned_t v) {
    if (kind_ == text_kind::key &&
        v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return out_of_range(std::to_string(v));
    return add(json(v));
  }
  bool number_float(json::number_float_t v, const std::string& text) {
    // nlohmann parses an integer literal that overflows 64 bits as a double;
    // such a number was meant as an integer and cannot be represented.
    if (text.find_first_of(".eE") == std::string::npos) return out_of_range(text);
    return add(json(v));
  }
  bool string(std::string& s) { return add(json(std::move(s))); }
  bool binary(json::binary_t& b) { return add(json::binary(std::move(b))); }
  bool start_object(std::size_t) { return open(false); }
  bool key(std::string& k) {
    frames_.back().member = k;
    slot_ = &(*frames_.back().node)[k];
    return true;
  }
  bool end_object() { return close(); }
  bool start_array(std::size_t) { return open(true); }
  bool end_array() { return close(); }
  bool parse_error(std::size_t, const std::string&, const json::exception& ex) {
    return fail(kind_ == text_kind::key ? errc::invalid_key : errc::invalid_argument,
                std::string(kind_ == text_kind::key ? "key" : "value") +
                    " is not valid JSON: " + parse_error_text(ex.what()));
  }

  json& root() { return root_; }
  error& failure() { return error_; }

  // Where the value about to be added sits: "element 2.1" for keys (0-based
  // indexes into the tuple and its nested tuples), a JSON pointer for values.
  std::string where() const {
    std::string out;
    if (kind_ == text_kind::key) {
      out = "element ";
      bool top_array = !frames_.empty() && frames_[0].is_array;
      if (!top_array) out += "0";
      bool first = top_array;
      for (std::size_t i = 0; i < frames_.size(); ++i) {
        if (!frames_[i].is_array) continue;
        if (!first) out += ".";
        first = false;
        out += std::to_string(position(i));
      }
      return out;
    }
    if (frames_.empty()) return "value (top level)";
    out = "value at ";
    for (std::size_t i = 0; i < frames_.size(); ++i) {
      out += "/";
      if (frames_[i].is_array) {
        out += std::to_string(position(i));
      } else {
        for (char c : frames_[i].member) {
          if (c == '~')
            out += "~0";
          else if (c == '/')
            out += "~1";
          else
            out.push_back(c);
        }
      }
    }
    return out;
  }

 private:
  struct frame {
    json* node;
    bool is_array;
    std::size_t count = 0;  // elements added so far (arrays)
    std::string member;     // current member name (objects)
  };

  // Index of the element being parsed inside array frame i.
  std::size_t position(std::size_t i) const {
    return i + 1 < frames_.size() ? frames_[i].count - 1 : frames_[i].count;
  }

  json* place(json&& v) {
    if (frames_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    frame& f = frames_.back();
    if (f.is_array) {
      f.node->push_back(std::move(v));
      ++f.count;
      return &f.node->back();
    }
    *slot_ = std::move(v);
    return slot_;
  }

  bool add(json&& v) {
    place(std::move(v));
    return true;
  }

  bool open(bool is_array) {
    if (kind_ == text_kind::key) {
      if (!frames_.empty() && !frames_.back().is_array)
        return fail(errc::invalid_key,
                    "key " + where() + ": found " + (is_array ? "an array" : "an object") +
                        " inside an object (under " + shown(frames_.back().member, 32) + "); " +
                        key_object_forms);
      std::size_t tuples = 0;
      for (const auto& f : frames_) tuples += f.is_array ? 1 : 0;
      if (is_array && tuples + 1 > max_key_depth)
        return fail(errc::nesting_too_deep, "key " + where() + ": tuples nest deeper than " +
                                                std::to_string(max_key_depth) + " levels");
    } else if (frames_.size() + 1 > max_msgpack_depth + 1) {
      // +1: {"bytes":...} and friends are JSON objects but msgpack scalars.
      return fail(errc::invalid_argument, where() + ": JSON nests deeper than " +
                                              std::to_string(max_msgpack_depth) +
                                              " levels (the msgpack depth limit)");
    }
    json* node = place(is_array ? json::array() : json::object());
    frames_.push_back(frame{node, is_array, 0, {}});
    return true;
  }

  bool close() {
    frames_.pop_back();
    return true;
  }

  bool out_of_range(const std::string& number) {
    if (kind_ == text_kind::key)
      return fail(errc::invalid_key, "key " + where() + ": integer " + number +
                                         " is outside the int64 range (-9223372036854775808 "
                                         ".. 9223372036854775807); write it as a string or "
                                         "a double (e.g. " +
                                         number + ".0)");
    return fail(errc::invalid_argument,
                where() + ": integer " + number +
                    " is outside the msgpack integer range (-9223372036854775808 .. "
                    "18446744073709551615); write it as a string or a double");
  }

  bool fail(errc code, std::string context) {
    if (!error_) error_ = error{code, std::move(context)};
    return false;
  }

  text_kind kind_;
  json root_;
  json* slot_ = nullptr;  // the member value an object's next value goes to
  std::vector<frame> frames_;
  error error_;
};

expected<json> parse_bounded(std::string_view text, text_kind kind) {
  bounded_builder builder(kind);
  bool ok = false;
  try {
    ok = json::sax_parse(text, &builder);
  } catch (const std::exception& e) {
    return error{kind == text_kind::key ? errc::invalid_key : errc::invalid_argument,
                 std::string("could not parse the JSON text: ") + e.what()};
  }
  if (!ok) {
    if (builder.failure()) return std::move(builder.failure());
    return error{kind == text_kind::key ? errc::invalid_key : errc::invalid_argument,
                 "could not parse the JSON text"};
  }
  return std::move(builder.root());
}

// --- JSON -> key ------------------------------------------------------------------

std::string element_path(const std::vector<std::size_t>& path) {
  std::string out = "key element ";
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (i > 0) out += ".";
    out += std::to_string(path[i]);
  }
  return out;
}

expected<key> tuple_from_json(const json& arr, std::vector<std::size_t>& path, std::size_t depth);

expected<key_element> element_from_json(const json& j, std::vector<std::size_t>& path,
                                        std::size_t depth) {
  switch (j.type()) {
    case json::value_t::null:
      return key_element(nullptr);
    case json::value_t::boolean:
      return key_element(j.get<bool>());
    case json::value_t::number_integer:
      return key_element(j.get<std::int64_t>());
    case json::value_t::number_unsigned: {
      auto u = j.get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return error{errc::invalid_key, element_path(path) + ": integer " + std::to_string(u) +
                                            " is outside the int64 range (-9223372036854775808 "
                                            ".. 9223372036854775807)"};
      return key_element(static_cast<std::int64_t>(u));
    }
    case json::value_t::number_float:
      return key_element(j.get<double>());
    case json::value_t::string:
      return key_element(j.get<std::string>());
    case json::value_t::binary:
      return key_element(ark::bytes(std::string(j.get_binary().begin(), j.get_binary().end())));
    case json::value_t::array: {
      if (depth + 1 > max_key_depth)
        return error{errc::nesting_too_deep, element_path(path) + ": tuples nest deeper than " +
                                                 std::to_string(max_key_depth) + " levels"};
      auto t = tuple_from_json(j, path, depth + 1);
      if (!t) return t.error();
      return key_element(std::move(*t));
    }
    case json::value_t::object: {
      if (j.size() == 1 && j.contains("bytes")) {
        const json& hex = j["bytes"];
        if (!hex.is_string())
          return error{errc::invalid_key, element_path(path) +
                                              ": {\"bytes\": ...} needs a string of hex digits, "
                                              "found " +
                                              describe_type(hex)};
        auto raw = parse_hex(hex.get_ref<const std::string&>());
        if (!raw)
          return error{errc::invalid_key, element_path(path) + ": {\"bytes\": " +
                                              shown(hex.get_ref<const std::string&>()) +
                                              "} is not hex: " + raw.error().context()};
        return key_element(ark::bytes(std::move(*raw)));
      }
      if (j.size() == 1 && j.contains("double")) {
        const json& d = j["double"];
        if (d.is_string()) {
          const auto& s = d.get_ref<const std::string&>();
          if (s == "nan") return key_element(std::numeric_limits<double>::quiet_NaN());
          if (s == "inf") return key_element(std::numeric_limits<double>::infinity());
          if (s == "-inf") return key_element(-std::numeric_limits<double>::infinity());
        }
        return error{errc::invalid_key,
                     element_path(path) +
                         ": {\"double\": ...} must be \"nan\", \"inf\" or \"-inf\" (finite "
                         "doubles are plain numbers such as 1.5), found " +
                         describe_type(d)};
      }
      return error{errc::invalid_key, element_path(path) + ": unknown object " +
                                          describe_members(j) + "; " + key_object_forms};
    }
    case json::value_t::discarded:
      return error{errc::invalid_key, element_path(path) + ": discarded JSON value"};
  }
  return error{errc::invalid_key, element_path(path) + ": unsupported JSON value"};
}

expected<key> tuple_from_json(const json& arr, std::vector<std::size_t>& path, std::size_t depth) {
  std::vector<key_element> elements;
  elements.reserve(arr.size());
  path.push_back(0);
  for (const auto& item : arr) {
    auto e = element_from_json(item, path, depth);
    if (!e) return e.error();
    elements.push_back(std::move(*e));
    ++path.back();
  }
  path.pop_back();
  return key(std::move(elements));
}

// --- key -> JSON ------------------------------------------------------------------

json element_to_json(const key_element& e) {
  switch (e.kind()) {
    case key_element::type::null:
      return nullptr;
    case key_element::type::bytes:
      return json{{"bytes", to_hex(e.as_bytes())}};
    case key_element::type::string:
      return e.as_string();
    case key_element::type::tuple:
      return key_to_json(e.as_tuple());
    case key_element::type::int64:
      return e.as_int();
    case key_element::type::float64: {
      double d = e.as_double();
      if (std::isnan(d)) return json{{"double", "nan"}};
      if (std::isinf(d)) return json{{"double", d < 0 ? "-inf" : "inf"}};
      return d;
    }
    case key_element::type::boolean:
      return e.as_bool();
  }
  return nullptr;
}

// --- msgpack -> JSON --------------------------------------------------------------

json nonfinite(double d) {
  if (std::isnan(d)) return json{{"double", "nan"}};
  return json{{"double", d < 0 ? "-inf" : "inf"}};
}

// The shortest decimal that reads back as the same float, as a double: a
// float32 1.1f shows as 1.1, not 1.100000023841858.
double float32_decimal(float f) {
  char buf[40];
  for (int precision = 1; precision <= 9; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, static_cast<double>(f));
    double d = std::strtod(buf, nullptr);
    if (static_cast<float>(d) == f) return d;
  }
  return static_cast<double>(f);
}

std::string hex_of(const char* p, std::size_t n) {
  return to_hex(std::string_view(p, n));
}

// Longest JSON text of a non-string map key, in bytes. Uncut, the text of a
// map key nested in a map key is escaped once per level and doubles in size
// with each: 400 bytes of msgpack would render as gigabytes.
constexpr std::size_t max_map_key_text = 1024;

// The name of a non-string map key: its JSON text, cut to max_map_key_text
// bytes (at a UTF-8 boundary) and marked "..." when cut.
std::string map_key_text(const json& k) {
  std::string s = json_text(k);
  if (s.size() <= max_map_key_text) return s;
  std::size_t n = max_map_key_text;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xc0) == 0x80) --n;
  s.resize(n);
  return s + "...";
}

json msgpack_to_json_at(const msgpack::object& obj, std::size_t depth) {
  switch (obj.type) {
    case msgpack::type::NIL:
      return nullptr;
    case msgpack::type::BOOLEAN:
      return obj.via.boolean;
    case msgpack::type::POSITIVE_INTEGER:
      return obj.via.u64;
    case msgpack::type::NEGATIVE_INTEGER:
      return obj.via.i64;
    case msgpack::type::FLOAT32: {
      double d = obj.via.f64;
      if (!std::isfinite(d)) return nonfinite(d);
      return float32_decimal(static_cast<float>(d));
    }
    case msgpack::type::FLOAT64: {
      double d = obj.via.f64;
      if (!std::isfinite(d)) return nonfinite(d);
      return d;
    }
    case msgpack::type::STR:
      return valid_utf8(std::string_view(obj.via.str.ptr, obj.via.str.size));
    case msgpack::type::BIN:
      return json{{"bytes", hex_of(obj.via.bin.ptr, obj.via.bin.size)}};
    case msgpack::type::EXT:
      return json{{"ext", static_cast<int>(obj.via.ext.type())},
                  {"bytes", hex_of(obj.via.ext.data(), obj.via.ext.size)}};
    case msgpack::type::ARRAY: {
      if (depth >= max_msgpack_depth)
        return json{
            {"truncated", "nested deeper than " + std::to_string(max_msgpack_depth) + " levels"}};
      json out = json::array();
      for (std::uint32_t i = 0; i < obj.via.array.size; ++i)
        out.push_back(msgpack_to_json_at(obj.via.array.ptr[i], depth + 1));
      return out;
    }
    case msgpack::type::MAP: {
      if (depth >= max_msgpack_depth)
        return json{
            {"truncated", "nested deeper than " + std::to_string(max_msgpack_depth) + " levels"}};
      json out = json::object();
      for (std::uint32_t i = 0; i < obj.via.map.size; ++i) {
        const auto& kv = obj.via.map.ptr[i];
        std::string name =
            kv.key.type == msgpack::type::STR
                ? valid_utf8(std::string_view(kv.key.via.str.ptr, kv.key.via.str.size))
                : map_key_text(msgpack_to_json_at(kv.key, depth + 1));
        out[name] = msgpack_to_json_at(kv.val, depth + 1);  // duplicate keys: last wins
      }
      return out;
    }
  }
  return nullptr;
}

// --- JSON -> msgpack --------------------------------------------------------------

// The bytes of an object of exactly the form {"bytes":"<hex>"}.
std::optional<std::string> bytes_form(const json& j) {
  if (j.size() != 1) return std::nullopt;
  auto it = j.find("bytes");
  if (it == j.end() || !it->is_string()) return std::nullopt;
  auto raw = parse_hex(it->get_ref<const std::string&>());
  if (!raw) return std::nullopt;
  return std::move(*raw);
}

// The double of an object of exactly the form {"double":"nan"|"inf"|"-inf"}.
std::optional<double> double_form(const json& j) {
  if (j.size() != 1) return std::nullopt;
  auto it = j.find("double");
  if (it == j.end() || !it->is_string()) return std::nullopt;
  const auto& s = it->get_ref<const std::string&>();
  if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
  if (s == "inf") return std::numeric_limits<double>::infinity();
  if (s == "-inf") return -std::numeric_limits<double>::infinity();
  return std::nullopt;
}

// The type and bytes of an object of exactly the form {"ext":<int8>,"bytes":"<hex>"}.
std::optional<std::pair<std::int8_t, std::string>> ext_form(const json& j) {
  if (j.size() != 2) return std::nullopt;
  auto t = j.find("ext");
  auto b = j.find("bytes");
  if (t == j.end() || b == j.end() || !b->is_string()) return std::nullopt;
  if (!t->is_number_integer()) return std::nullopt;  // unsigned counts as integer
  auto type = t->get<std::int64_t>();
  if (t->is_number_unsigned() && t->get<std::uint64_t>() > 127) return std::nullopt;
  if (type < -128 || type > 127) return std::nullopt;
  auto raw = parse_hex(b->get_ref<const std::string&>());
  if (!raw) return std::nullopt;
  return std::make_pair(static_cast<std::int8_t>(type), std::move(*raw));
}

struct string_writer {
  std::string* out;
  void write(const char* buf, std::size_t len) { out->append(buf, len); }
};

class json_packer {
 public:
  explicit json_packer(std::string& out) : writer_{&out}, pk_(writer_) {}

  expected<void> pack(const json& j, std::size_t depth) {
    switch (j.type()) {
      case json::value_t::null:
        pk_.pack_nil();
        return {};
      case json::value_t::boolean:
        if (j.get<bool>())
          pk_.pack_true();
        else
          pk_.pack_false();
        return {};
      case json::value_t::number_integer:
        pk_.pack(j.get<std::int64_t>());
        return {};
      case json::value_t::number_unsigned:
        pk_.pack(j.get<std::uint64_t>());
        return {};
      case json::value_t::number_float:
        pack_float64(j.get<double>());
        return {};
      case json::value_t::string: {
        const auto& s = j.get_ref<const std::string&>();
        pk_.pack_str(static_cast<std::uint32_t>(s.size()));
        pk_.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
        return {};
      }
      case json::value_t::binary: {
        const auto& b = j.get_binary();
        auto n = static_cast<std::uint32_t>(b.size());
        const char* p = reinterpret_cast<const char*>(b.data());
        if (b.has_subtype() && b.subtype() <= 127) {
          pk_.pack_ext(n, static_cast<std::int8_t>(b.subtype()));
          pk_.pack_ext_body(p, n);
        } else {
          pk_.pack_bin(n);
          pk_.pack_bin_body(p, n);
        }
        return {};
      }
      case json::value_t::array: {
        if (auto r = enter(depth); !r) return r;
        pk_.pack_array(static_cast<std::uint32_t>(j.size()));
        std::size_t i = 0;
        for (const auto& item : j) {
          path_.push_back(std::to_string(i++));
          if (auto r = pack(item, depth + 1); !r) return r;
          path_.pop_back();
        }
        return {};
      }
      case json::value_t::object: {
        if (auto b = bytes_form(j)) {
          pk_.pack_bin(static_cast<std::uint32_t>(b->size()));
          pk_.pack_bin_body(b->data(), static_cast<std::uint32_t>(b->size()));
          return {};
        }
        if (auto d = double_form(j)) {
          pack_float64(*d);
          return {};
        }
        if (auto e = ext_form(j)) {
          pk_.pack_ext(static_cast<std::uint32_t>(e->second.size()), e->first);
          pk_.pack_ext_body(e->second.data(), static_cast<std::uint32_t>(e->second.size()));
          return {};
        }
        if (auto r = enter(depth); !r) return r;
        pk_.pack_map(static_cast<std::uint32_t>(j.size()));
        for (auto it = j.begin(); it != j.end(); ++it) {
          const auto& name = it.key();
          pk_.pack_str(static_cast<std::uint32_t>(name.size()));
          pk_.pack_str_body(name.data(), static_cast<std::uint32_t>(name.size()));
          path_.push_back(name);
          if (auto r = pack(it.value(), depth + 1); !r) return r;
          path_.pop_back();
        }
        return {};
      }
      case json::value_t::discarded:
        break;
    }
    return error{errc::invalid_argument, where() + ": a discarded JSON value cannot be stored"};
  }

 private:
  // Always a float64 (0xcb): msgpack-c's pack_double() writes integral
  // doubles such as 1.0 or -0.0 as integers, which would turn 1.0 into 1.
  void pack_float64(double d) {
    std::uint64_t u;
    std::memcpy(&u, &d, sizeof u);
    char buf[9];
    buf[0] = static_cast<char>(0xcb);
    for (int i = 0; i < 8; ++i) buf[1 + i] = static_cast<char>(u >> (56 - 8 * i));
    writer_.write(buf, sizeof buf);
  }

  expected<void> enter(std::size_t depth) {
    if (depth + 1 > max_msgpack_depth)
      return error{errc::invalid_argument, where() + ": JSON nests deeper than " +
                                               std::to_string(max_msgpack_depth) +
                                               " levels (the msgpack depth limit)"};
    return {};
  }

  std::string where() const {
    if (path_.empty()) return "value (top level)";
    std::string out = "value at ";
    for (const auto& p : path_) {
      out += "/";
      for (char c : p) {
        if (c == '~')
          out += "~0";
        else if (c == '/')
          out += "~1";
        else
          out.push_back(c);
      }
    }
    return out;
  }

  string_writer writer_;
  msgpack::packer<string_writer> pk_;
  std::vector<std::string> path_;
};

}  // namespace

// --- public API ---------------------------------------------------------------

expected<key> key_from_json_text(std::string_view text) {
  auto j = parse_bounded(text, text_kind::key);
  if (!j) return j.error();
  return key_from_json(*j);
}

expected<key> key_from_json(const nlohmann::json& j) {
  std::vector<std::size_t> path;
  if (j.is_array()) return tuple_from_json(j, path, 1);
  path.push_back(0);
  auto e = element_from_json(j, path, 1);
  if (!e) return e.error();
  return key{std::move(*e)};
}

nlohmann::json key_to_json(const key& k) {
  json out = json::array();
  for (const auto& e : k) out.push_back(element_to_json(e));
  return out;
}

std::string key_to_json_text(const key& k) {
  return json_text(key_to_json(k));
}

nlohmann::json msgpack_to_json(const msgpack::object& obj) {
  return msgpack_to_json_at(obj, 0);
}

expected<nlohmann::json> value_to_json(const value& v) {
  if (v.is_raw()) return json{{"raw", to_hex(v.payload())}};
  auto handle = v.unpack();
  if (!handle) return handle.error();
  return msgpack_to_json(handle->get());
}

expected<value> value_from_json(const nlohmann::json& j) {
  std::string packed;
  json_packer packer(packed);
  try {
    if (auto r = packer.pack(j, 0); !r) return r.error();
  } catch (const std::exception& e) {
    return error{errc::invalid_argument, std::string("could not pack the value: ") + e.what()};
  }
  return value::from_msgpack(packed);
}

expected<value> value_from_json_text(std::string_view text) {
  auto j = parse_bounded(text, text_kind::value);
  if (!j) return j.error();
  return value_from_json(*j);
}

std::string json_text(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace ark::kv
