#include "ark/inspect.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <vector>

#include "ark/detail/actor_core.hpp"
#include "ark/detail/host.hpp"
#include "ark/detail/journal.hpp"
#include "ark/kv/json.hpp"
#include "ark/kv/store.hpp"

namespace ark::inspect {

namespace {

error bad_limit(std::size_t limit) {
  return error{errc::invalid_argument, "limit " + std::to_string(limit) + " is outside 1.." +
                                           std::to_string(max_page)};
}

// One actor found in the state space or the journal.
struct found {
  std::string type;
  ark::key key;
  std::size_t snapshot_bytes = 0;
};

// Decodes an encoded identity ([type, key]); nullopt for an entry that is not
// one (verify reports those).
std::optional<found> decode_identity(std::string_view encoded) {
  auto k = decode_key(encoded);
  if (!k || k->size() != 2 || (*k)[0].kind() != key_element::type::string ||
      (*k)[1].kind() != key_element::type::tuple)
    return std::nullopt;
  return found{(*k)[0].as_string(), (*k)[1].as_tuple(), 0};
}

bool starts_with(const ark::key& k, const ark::key& prefix) {
  if (prefix.size() > k.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (compare(ark::key{k[i]}, ark::key{prefix[i]}) != 0) return false;
  return true;
}

}  // namespace

std::uint64_t directory_bytes(const std::string& dir) {
  std::uint64_t bytes = 0;
  std::error_code ec;
  for (const auto& f : std::filesystem::directory_iterator(dir, ec))
    if (f.is_regular_file(ec)) bytes += f.file_size(ec);
  return bytes;
}

expected<std::string> encode_identity(std::string_view type, const ark::key& k) {
  auto id = detail::make_identity(type, k);
  if (!id) return id.error();
  return std::move(id->encoded);
}

expected<reader> reader::open(std::shared_ptr<kv::backend> b) {
  auto j = detail::snapshot_journal::load(*b);
  if (!j) return j.error();
  return reader(std::move(b), std::move(*j));
}

reader::reader(std::shared_ptr<kv::backend> b, std::shared_ptr<const detail::snapshot_journal> j)
    : backend_(std::move(b)), journal_(std::move(j)) {}

expected<nlohmann::json> reader::actors(const actor_query& q) const {
  if (q.limit == 0 || q.limit > max_page) return bad_limit(q.limit);
  // The range of encoded identities to look at: one type's, or all.
  kv::byte_range range;
  std::string type_prefix;
  if (!q.type.empty()) {
    auto p = encode_key(ark::key{q.type});
    if (!p) return p.error();
    type_prefix = std::move(*p);
    range.begin = type_prefix;
    range.end = prefix_successor(type_prefix);
  }
  std::string after;
  if (q.after) {
    auto a = encode_identity(q.type.empty() ? q.after_type : q.type, *q.after);
    if (!a) return a.error();
    after = std::move(*a);
    range.begin = std::max(range.begin, after);
  }
  auto wanted = [&](std::string_view encoded, found& f) {
    if (encoded <= after && !after.empty()) return false;
    if (!type_prefix.empty() && encoded.substr(0, type_prefix.size()) != type_prefix)
      return false;
    auto d = decode_identity(encoded);
    if (!d || (q.prefix && !starts_with(d->key, *q.prefix))) return false;
    f = std::move(*d);
    return true;
  };
  // The journal first: a checkpoint between the two reads moves snapshots
  // from it into the state space, never the other way, so nothing is missed.
  std::map<std::string, found> page;
  if (journal_) {
    for (auto& [encoded, bytes] : journal_->journaled()) {
      found f;
      if (!wanted(encoded, f)) continue;
      f.snapshot_bytes = bytes;
      page.emplace(encoded, std::move(f));
    }
  }
  // Only the first `limit` journaled ones can be on this page.
  while (page.size() > q.limit) page.erase(std::prev(page.end()));
  auto cur = backend_->scan(detail::state_space(), range, false);
  if (!cur) return cur.error();
  for (auto& c = *cur; c->valid(); c->next()) {
    found f;
    if (!wanted(c->key(), f)) continue;
    auto encoded = std::string(c->key());
    // Past the last journaled candidate with a full page: done.
    if (page.size() >= q.limit && encoded > std::prev(page.end())->first) break;
    auto it = page.find(encoded);
    if (it == page.end()) {
      f.snapshot_bytes = c->value().size();
      page.emplace(std::move(encoded), std::move(f));
      while (page.size() > q.limit) page.erase(std::prev(page.end()));
    }
  }
  if ((*cur)->status()) return (*cur)->status();
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [encoded, f] : page)
    list.push_back({{"type", f.type},
                    {"key", kv::key_to_json(f.key)},
                    {"snapshot_bytes", f.snapshot_bytes}});
  nlohmann::json out{{"actors", list}, {"next", nullptr}, {"next_type", nullptr}};
  if (page.size() == q.limit && !page.empty()) {
    // A next page may exist; the client asks for it with this key.
    const auto& last = std::prev(page.end())->second;
    out["next"] = kv::key_to_json(last.key);
    out["next_type"] = last.type;
  }
  return out;
}

expected<nlohmann::json> reader::types() const {
  std::map<std::string, std::size_t> counts;
  std::set<std::string> journaled;
  if (journal_) {
    for (auto& [encoded, bytes] : journal_->journaled()) {
      if (auto d = decode_identity(encoded)) {
        ++counts[d->type];
        journaled.insert(encoded);
      }
    }
  }
  auto cur = backend_->scan(detail::state_space(), kv::byte_range{}, false);
  if (!cur) return cur.error();
  for (auto& c = *cur; c->valid(); c->next()) {
    if (journaled.count(std::string(c->key()))) continue;
    if (auto d = decode_identity(c->key())) ++counts[d->type];
  }
  if ((*cur)->status()) return (*cur)->status();
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [type, n] : counts) list.push_back({{"type", type}, {"actors", n}});
  return nlohmann::json{{"types", list}};
}

expected<nlohmann::json> reader::state(std::string_view type, const ark::key& k,
                                       std::size_t preview_limit) const {
  auto id = detail::make_identity(type, k);
  if (!id) return id.error();
  auto describe = "actor " + id->type + " " + kv::key_to_json_text(k);
  auto stored = snapshot(type, k);
  if (!stored) return stored.error();
  auto snap = detail::parse_snapshot(*stored);
  if (!snap)
    return error{errc::corrupt_snapshot, describe + ": " + snap.error().context() +
                                             " (ark-dash verify lists every damaged entry)"};
  nlohmann::json out{{"type", id->type},
                     {"key", kv::key_to_json(k)},
                     {"schema", snap->schema},
                     {"snapshot_bytes", stored->size()}};
  put_state_preview(out, kv::msgpack_to_json(snap->state), preview_limit);
  return out;
}

expected<std::string> reader::snapshot(std::string_view type, const ark::key& k) const {
  auto id = detail::make_identity(type, k);
  if (!id) return id.error();
  auto stored = journal_ ? journal_->get(*backend_, id->encoded)
                         : backend_->get(detail::state_space(), id->encoded);
  if (!stored && stored.error() == errc::not_found)
    return error{errc::not_found, "actor " + id->type + " " + kv::key_to_json_text(k) +
                                      " does not exist (it has no snapshot)"};
  return stored;
}

void put_state_preview(nlohmann::json& doc, nlohmann::json state, std::size_t cap) {
  doc.erase("preview");
  doc.erase("state_bytes");
  auto text = kv::json_text(state);
  if (text.size() <= cap) {
    doc["state"] = std::move(state);
    doc["truncated"] = false;
    return;
  }
  doc["state"] = nullptr;
  doc["truncated"] = true;
  doc["state_bytes"] = text.size();
  text.resize(cap);
  doc["preview"] = std::move(text);
}

expected<nlohmann::json> reader::kv(std::string_view type, const ark::key& k,
                                    const kv_query& q) const {
  if (q.limit == 0 || q.limit > max_page) return bad_limit(q.limit);
  auto id = detail::make_identity(type, k);
  if (!id) return id.error();
  auto store = kv::store::open(backend_, ark::key{id->type, k});
  if (!store) return store.error();
  kv::list_options opts;
  opts.prefix = q.prefix;
  opts.start = q.start;
  opts.end = q.end;
  opts.reverse = q.reverse;
  opts.limit = q.limit + 1;  // one more tells whether a next page exists
  if (q.after) {
    if (q.reverse) {
      opts.end = q.after;  // exclusive
    } else {
      opts.start = q.after;
      opts.limit += 1;  // `after` itself comes first and is skipped
    }
  }
  nlohmann::json entries = nlohmann::json::array();
  std::optional<ark::key> last;
  bool more = false;
  auto c = store->list(opts);
  for (; c.valid(); c.next()) {
    if (q.after && !q.reverse && compare(c.key(), *q.after) == 0) continue;
    if (entries.size() == q.limit) {
      more = true;
      break;
    }
    auto v = kv::value_to_json(c.value());
    if (!v)
      return error{v.error().code(), "actor " + id->type + " " + kv::key_to_json_text(k) +
                                         ", key " + kv::key_to_json_text(c.key()) + ": " +
                                         v.error().context()};
    entries.push_back({{"key", kv::key_to_json(c.key())},
                       {"value", std::move(*v)},
                       {"bytes", c.value().stored().size()}});
    last = c.key();
  }
  if (c.status()) return c.status();
  return nlohmann::json{{"type", id->type},
                        {"key", kv::key_to_json(k)},
                        {"entries", std::move(entries)},
                        {"next", more && last ? kv::key_to_json(*last) : nlohmann::json()}};
}

namespace {

std::optional<std::string> param(const query_params& p, const char* name) {
  auto it = p.find(name);
  if (it == p.end()) return std::nullopt;
  return it->second;
}

expected<std::string> required_text(const query_params& p, const char* name) {
  auto v = param(p, name);
  if (!v || v->empty())
    return error{errc::invalid_argument, std::string("parameter ") + name + " is missing"};
  return *v;
}

expected<ark::key> required_key(const query_params& p, const char* name) {
  auto k = key_param(p, name);
  if (!k) return k.error();
  if (!*k) return error{errc::invalid_argument, std::string("parameter ") + name + " is missing"};
  return std::move(**k);
}

expected<std::size_t> number_param(const query_params& p, const char* name, std::size_t fallback) {
  auto v = param(p, name);
  if (!v) return fallback;
  std::size_t pos = 0;
  unsigned long long n = 0;
  try {
    n = std::stoull(*v, &pos);
  } catch (const std::exception&) {
    pos = 0;
  }
  if (pos == 0 || pos != v->size() || (*v)[0] == '-')
    return error{errc::invalid_argument,
                 std::string("parameter ") + name + " must be a number, got '" + *v + "'"};
  return static_cast<std::size_t>(n);
}

}  // namespace

expected<std::size_t> preview_cap(const query_params& params, std::size_t preview_limit) {
  auto limit = number_param(params, "limit", preview_limit);
  if (!limit) return limit.error();
  return std::min(*limit, preview_limit);
}

expected<std::optional<ark::key>> key_param(const query_params& params, const char* name) {
  auto v = param(params, name);
  if (!v || v->empty()) return std::optional<ark::key>{};
  auto k = kv::key_from_json_text(*v);
  if (!k)
    return error{k.error().code(), std::string("parameter ") + name + ": " + k.error().context()};
  return std::optional<ark::key>{std::move(*k)};
}

expected<nlohmann::json> answer(const reader& r, const std::string& endpoint,
                                const query_params& params, std::size_t preview_limit) {
  if (endpoint == "types") return r.types();
  if (endpoint == "actors") {
    actor_query q;
    q.type = param(params, "type").value_or("");
    auto prefix = key_param(params, "prefix");
    if (!prefix) return prefix.error();
    q.prefix = std::move(*prefix);
    auto after = key_param(params, "after");
    if (!after) return after.error();
    q.after = std::move(*after);
    q.after_type = param(params, "after_type").value_or("");
    auto limit = number_param(params, "limit", 100);
    if (!limit) return limit.error();
    q.limit = *limit;
    return r.actors(q);
  }
  if (endpoint != "state" && endpoint != "kv")
    return error{errc::not_found,
                 "no admin endpoint /api/v1/" + endpoint + " (see doc/admin_api.md)"};
  auto type = required_text(params, "type");
  if (!type) return type.error();
  auto k = required_key(params, "key");
  if (!k) return k.error();
  if (endpoint == "state") {
    auto cap = preview_cap(params, preview_limit);
    if (!cap) return cap.error();
    return r.state(*type, *k, *cap);
  }
  kv_query q;
  for (auto [name, field] : {std::pair{"prefix", &q.prefix}, std::pair{"start", &q.start},
                             std::pair{"end", &q.end}, std::pair{"after", &q.after}}) {
    auto v = key_param(params, name);
    if (!v) return v.error();
    *field = std::move(*v);
  }
  auto rev = param(params, "reverse").value_or("");
  q.reverse = rev == "1" || rev == "true";
  auto limit = number_param(params, "limit", 100);
  if (!limit) return limit.error();
  q.limit = *limit;
  return r.kv(*type, *k, q);
}

}  // namespace ark::inspect
