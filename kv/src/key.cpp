#include "ark/kv/key.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>

namespace ark {
namespace {

// Type codes of the key encoding (doc/key_encoding.md), a subset of the
// FoundationDB tuple layer. On-disk constants: never change these values.
constexpr unsigned char code_null = 0x00;
constexpr unsigned char code_bytes = 0x01;
constexpr unsigned char code_string = 0x02;
constexpr unsigned char code_tuple = 0x05;
constexpr unsigned char code_int_zero = 0x14;  // 0x0c..0x13 negative, 0x15..0x1c positive
constexpr unsigned char code_double = 0x21;
constexpr unsigned char code_false = 0x26;
constexpr unsigned char code_true = 0x27;
constexpr unsigned char escape = 0xff;  // 0x00 0xff is an escaped 0x00 byte / nested null

std::string hex_byte(unsigned char c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", c);
  return buf;
}

// Offset of the first invalid UTF-8 byte, or npos.
std::size_t invalid_utf8_at(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    auto n = utf8_sequence_length(s, i);
    if (n == 0) return i;
    i += n;
  }
  return std::string_view::npos;
}

std::uint64_t double_bits(double d) {
  std::uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  // Sign-flip transform: byte order of the result is numeric order.
  return (u & (std::uint64_t{1} << 63)) ? ~u : u ^ (std::uint64_t{1} << 63);
}

double bits_double(std::uint64_t t) {
  std::uint64_t u = (t & (std::uint64_t{1} << 63)) ? t ^ (std::uint64_t{1} << 63) : ~t;
  double d;
  std::memcpy(&d, &u, sizeof d);
  return d;
}

void put_escaped(std::string& out, unsigned char code, std::string_view s) {
  out.push_back(static_cast<char>(code));
  for (char c : s) {
    out.push_back(c);
    if (c == '\0') out.push_back(static_cast<char>(escape));
  }
  out.push_back('\0');
}

void put_int(std::string& out, std::int64_t v) {
  if (v == 0) {
    out.push_back(static_cast<char>(code_int_zero));
    return;
  }
  std::uint64_t mag = v > 0 ? static_cast<std::uint64_t>(v) : 0 - static_cast<std::uint64_t>(v);
  int n = 0;
  for (std::uint64_t m = mag; m != 0; m >>= 8) ++n;
  std::uint64_t body = v > 0 ? mag : ~mag;  // one's complement for negatives
  out.push_back(static_cast<char>(v > 0 ? code_int_zero + n : code_int_zero - n));
  for (int i = n - 1; i >= 0; --i) out.push_back(static_cast<char>(body >> (8 * i)));
}

expected<void> encode_elements(const key& k, std::string& out, std::size_t depth, bool nested) {
  if (depth > max_key_depth)
    return error{errc::nesting_too_deep,
                 "tuples nest deeper than " + std::to_string(max_key_depth) + " levels"};
  std::size_t index = 0;
  for (const auto& e : k) {
    switch (e.kind()) {
      case key_element::type::null:
        out.push_back(static_cast<char>(code_null));
        if (nested) out.push_back(static_cast<char>(escape));
        break;
      case key_element::type::bytes:
        put_escaped(out, code_bytes, e.as_bytes());
        break;
      case key_element::type::string: {
        auto bad = invalid_utf8_at(e.as_string());
        if (bad != std::string_view::npos)
          return error{errc::invalid_key, "element " + std::to_string(index) +
                                              " is not valid UTF-8 (byte " + std::to_string(bad) +
                                              "); store binary data as ark::bytes"};
        put_escaped(out, code_string, e.as_string());
        break;
      }
      case key_element::type::tuple:
        out.push_back(static_cast<char>(code_tuple));
        if (auto r = encode_elements(e.as_tuple(), out, depth + 1, true); !r) return r;
        out.push_back('\0');
        break;
      case key_element::type::int64:
        put_int(out, e.as_int());
        break;
      case key_element::type::float64: {
        out.push_back(static_cast<char>(code_double));
        auto t = double_bits(e.as_double());
        for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(t >> (8 * i)));
        break;
      }
      case key_element::type::boolean:
        out.push_back(static_cast<char>(e.as_bool() ? code_true : code_false));
        break;
    }
    ++index;
  }
  return {};
}

class decoder {
 public:
  explicit decoder(std::string_view in) : in_(in) {}

  expected<key> run() {
    key out;
    if (auto r = elements(out, 1, false); !r) return r.error();
    return out;
  }

 private:
  error fail(const std::string& what) const {
    return error{errc::invalid_key, what + " at offset " + std::to_string(pos_) + " of " +
                                        std::to_string(in_.size()) + " bytes"};
  }

  unsigned char peek(std::size_t k = 0) const { return static_cast<unsigned char>(in_[pos_ + k]); }

  // Reads an escaped byte string up to its 0x00 terminator.
  expected<std::string> escaped(const char* what) {
    std::string out;
    for (;;) {
      if (pos_ >= in_.size()) return fail(std::string("unterminated ") + what);
      char c = in_[pos_++];
      if (c != '\0') {
        out.push_back(c);
        continue;
      }
      if (pos_ < in_.size() && peek() == escape) {
        out.push_back('\0');
        ++pos_;
        continue;
      }
      return out;
    }
  }

  expected<void> elements(key& out, std::size_t depth, bool nested) {
    if (depth > max_key_depth)
      return error{errc::nesting_too_deep, "tuples nest deeper than " +
                                               std::to_string(max_key_depth) +
                                               " levels at offset " + std::to_string(pos_)};
    while (pos_ < in_.size()) {
      const unsigned char code = peek();
      if (nested && code == 0x00) {
        if (pos_ + 1 < in_.size() && peek(1) == escape) {
          pos_ += 2;
          out.push_back(nullptr);
          continue;
        }
        return {};  // the nested tuple's terminator; the caller consumes it
      }
      const std::size_t start = pos_++;
      if (code == code_null) {
        out.push_back(nullptr);
      } else if (code == code_bytes) {
        auto s = escaped("bytes");
        if (!s) return s.error();
        out.push_back(ark::bytes(std::move(*s)));
      } else if (code == code_string) {
        auto s = escaped("string");
        if (!s) return s.error();
        auto bad = invalid_utf8_at(*s);
        if (bad != std::string_view::npos) {
          pos_ = start;
          return fail("string is not valid UTF-8");
        }
        out.push_back(std::move(*s));
      } else if (code == code_tuple) {
        key inner;
        if (auto r = elements(inner, depth + 1, true); !r) return r;
        if (pos_ >= in_.size()) return fail("unterminated nested tuple");
        ++pos_;  // terminator
        out.push_back(std::move(inner));
      } else if (code >= code_int_zero - 8 && code <= code_int_zero + 8) {
        auto v = integer(code);
        if (!v) return v.error();
        out.push_back(*v);
      } else if (code == code_double) {
        if (in_.size() - pos_ < 8) return fail("truncated double");
        std::uint64_t t = 0;
        for (int i = 0; i < 8; ++i) t = (t << 8) | peek(static_cast<std::size_t>(i));
        pos_ += 8;
        out.push_back(bits_double(t));
      } else if (code == code_false || code == code_true) {
        out.push_back(code == code_true);
      } else {
        pos_ = start;
        if (code == 0x0b || code == 0x1d)
          return fail("integer wider than 64 bits (type code " + hex_byte(code) + ")");
        return fail("unsupported type code " + hex_byte(code));
      }
    }
    if (nested) return fail("unterminated nested tuple");
    return {};
  }

  expected<std::int64_t> integer(unsigned char code) {
    if (code == code_int_zero) return std::int64_t{0};
    const bool positive = code > code_int_zero;
    const std::size_t n = positive ? code - code_int_zero : code_int_zero - code;
    if (in_.size() - pos_ < n) return fail("truncated integer");
    std::uint64_t body = 0;
    for (std::size_t i = 0; i < n; ++i) body = (body << 8) | peek(i);
    const unsigned char first = peek();
    if (positive ? first == 0x00 : first == 0xff)
      return fail("non-canonical integer (leading " + hex_byte(first) + " byte)");
    pos_ += n;
    if (positive) {
      if (body > static_cast<std::uint64_t>(INT64_MAX)) return fail("integer above INT64_MAX");
      return static_cast<std::int64_t>(body);
    }
    const std::uint64_t mask = n == 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * n)) - 1;
    const std::uint64_t mag = ~body & mask;
    if (mag > (std::uint64_t{1} << 63)) return fail("integer below INT64_MIN");
    return static_cast<std::int64_t>(0 - mag);
  }

  std::string_view in_;
  std::size_t pos_ = 0;
};

int type_rank(key_element::type t) {
  switch (t) {
    case key_element::type::null:
      return 0;
    case key_element::type::bytes:
      return 1;
    case key_element::type::string:
      return 2;
    case key_element::type::tuple:
      return 3;
    case key_element::type::int64:
      return 4;
    case key_element::type::float64:
      return 5;
    case key_element::type::boolean:
      return 6;  // false < true within
  }
  return 7;
}

template <class T>
int three_way(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

int compare_bytes(const std::string& a, const std::string& b) {
  int c = std::memcmp(a.data(), b.data(), std::min(a.size(), b.size()));
  if (c != 0) return c < 0 ? -1 : 1;
  return three_way(a.size(), b.size());
}

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

void append_element(std::string& out, const key_element& e);

void append_tuple(std::string& out, const key& k) {
  out.push_back('[');
  bool first = true;
  for (const auto& e : k) {
    if (!first) out += ", ";
    first = false;
    append_element(out, e);
  }
  out.push_back(']');
}

void append_element(std::string& out, const key_element& e) {
  switch (e.kind()) {
    case key_element::type::null:
      out += "null";
      break;
    case key_element::type::bytes:
      out += "b\"" + to_hex(e.as_bytes()) + "\"";
      break;
    case key_element::type::string:
      append_json_string(out, e.as_string());
      break;
    case key_element::type::tuple:
      append_tuple(out, e.as_tuple());
      break;
    case key_element::type::int64:
      out += std::to_string(e.as_int());
      break;
    case key_element::type::float64: {
      double d = e.as_double();
      if (std::isnan(d)) {
        out += std::signbit(d) ? "-nan" : "nan";
      } else if (std::isinf(d)) {
        out += d < 0 ? "-inf" : "inf";
      } else {
        char buf[40];
        std::snprintf(buf, sizeof buf, "%.17g", d);
        std::string s = buf;
        if (s.find_first_of(".e") == std::string::npos) s += ".0";  // keep it a double
        out += s;
      }
      break;
    }
    case key_element::type::boolean:
      out += e.as_bool() ? "true" : "false";
      break;
  }
}

}  // namespace

std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  auto cont = [&](std::size_t k) { return i + k < s.size() && (b(k) & 0xc0) == 0x80; };
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c < 0xc2) return 0;
  if (c < 0xe0) return cont(1) ? 2 : 0;
  if (c < 0xf0) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xe0 && b(1) < 0xa0) return 0;   // overlong
    if (c == 0xed && b(1) >= 0xa0) return 0;  // surrogate
    return 3;
  }
  if (c < 0xf5) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xf0 && b(1) < 0x90) return 0;   // overlong
    if (c == 0xf4 && b(1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

// --- key ------------------------------------------------------------------------

key::key(std::initializer_list<key_element> elements) : elements_(elements) {}
key::key(std::vector<key_element> elements) : elements_(std::move(elements)) {}
key::key(const char* s) {
  elements_.emplace_back(s);
}
key::key(std::string s) {
  elements_.emplace_back(std::move(s));
}
key::key(std::string_view s) {
  elements_.emplace_back(s);
}
key::key(ark::bytes b) {
  elements_.emplace_back(std::move(b));
}
key::key(std::nullptr_t) {
  elements_.emplace_back(nullptr);
}
key::key(bool b) {
  elements_.emplace_back(b);
}
key::key(double d) {
  elements_.emplace_back(d);
}
key::key(std::int64_t i, int64_tag) {
  elements_.emplace_back(i);
}

key& key::push_back(key_element e) {
  elements_.push_back(std::move(e));
  return *this;
}

bool key::starts_with(const key& prefix) const {
  if (prefix.size() > size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (key_element::compare(elements_[i], prefix.elements_[i]) != 0) return false;
  return true;
}

std::string key::to_string() const {
  std::string out;
  append_tuple(out, *this);
  return out;
}

bool operator==(const key& a, const key& b) {
  return compare(a, b) == 0;
}
bool operator<(const key& a, const key& b) {
  return compare(a, b) < 0;
}

int compare(const key& a, const key& b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i)
    if (int c = key_element::compare(a[i], b[i]); c != 0) return c;
  return three_way(a.size(), b.size());
}

int key_element::compare(const key_element& a, const key_element& b) {
  if (a.kind() != b.kind()) return three_way(type_rank(a.kind()), type_rank(b.kind()));
  switch (a.kind()) {
    case type::null:
      return 0;
    case type::bytes:
      return compare_bytes(a.as_bytes(), b.as_bytes());
    case type::string:
      return compare_bytes(a.as_string(), b.as_string());
    case type::tuple:
      return ark::compare(a.as_tuple(), b.as_tuple());
    case type::int64:
      return three_way(a.as_int(), b.as_int());
    case type::float64:
      return three_way(double_bits(a.as_double()), double_bits(b.as_double()));
    case type::boolean:
      return three_way(a.as_bool(), b.as_bool());
  }
  return 0;
}

// --- codec ----------------------------------------------------------------------

expected<void> encode_key(const key& k, std::string& out) {
  return encode_elements(k, out, 1, false);
}

expected<std::string> encode_key(const key& k) {
  std::string out;
  out.reserve(16 * k.size());
  if (auto r = encode_key(k, out); !r) return r.error();
  return out;
}

expected<key> decode_key(std::string_view encoded) {
  return decoder(encoded).run();
}

std::optional<std::string> prefix_successor(std::string_view prefix) {
  std::string out(prefix);
  while (!out.empty() && static_cast<unsigned char>(out.back()) == 0xff) out.pop_back();
  if (out.empty()) return std::nullopt;
  out.back() = static_cast<char>(static_cast<unsigned char>(out.back()) + 1);
  return out;
}

std::string to_hex(std::string_view data) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (unsigned char c : data) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 0x0f]);
  }
  return out;
}

expected<std::string> parse_hex(std::string_view hex) {
  if (hex.size() % 2 != 0)
    return error{errc::invalid_argument,
                 "hex string has an odd number of digits (" + std::to_string(hex.size()) + ")"};
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      std::size_t bad = hi < 0 ? i : i + 1;
      return error{errc::invalid_argument, "'" + std::string(1, hex[bad]) + "' at position " +
                                               std::to_string(bad) + " is not a hex digit"};
    }
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

}  // namespace ark
