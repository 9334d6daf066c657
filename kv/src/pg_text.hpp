#pragma once

// Text helpers shared by the PostgreSQL backend and the cluster membership
// (kv/src/pg_backend.cpp, kv/src/pg_membership.cpp).

#include <string>
#include <string_view>

namespace ark::kv::pg_text {

/// `sql` with every "{s}" replaced by the schema name.
inline std::string with_schema(std::string_view sql, const std::string& schema) {
  std::string out;
  out.reserve(sql.size() + 32);
  for (std::size_t i = 0; i < sql.size(); ++i) {
    if (sql.compare(i, 3, "{s}") == 0) {
      out += schema;
      i += 2;
    } else {
      out += sql[i];
    }
  }
  return out;
}

/// A schema name ark accepts: lowercase letters, digits and '_', starting
/// with a letter, at most 63 characters (so it needs no quoting in SQL).
inline bool valid_schema_name(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!(s[0] >= 'a' && s[0] <= 'z')) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

/// libpq's message text on one line, without the trailing newline.
inline std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (auto& c : s)
    if (c == '\n') c = ' ';
  return s;
}

}  // namespace ark::kv::pg_text
