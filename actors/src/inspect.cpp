#include "ark/inspect.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <vector>

#include "ark/alarm.hpp"
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
  bool corrupt = false;  // its snapshot fails its checksum
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

reader::reader(std::shared_ptr<kv::backend> b, std::shared_ptr<const detail::snapshot_journal> j,
               std::shared_ptr<kv::backend> memory)
    : backend_(std::move(b)), journal_(std::move(j)), memory_(std::move(memory)) {}

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
  // Listed, and marked, even when its snapshot fails its checksum.
  range.keep_damaged = true;
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
      f.corrupt = c->damaged();
      page.emplace(std::move(encoded), std::move(f));
      while (page.size() > q.limit) page.erase(std::prev(page.end()));
    }
  }
  if ((*cur)->status()) return (*cur)->status();
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [encoded, f] : page) {
    list.push_back({{"type", f.type},
                    {"key", kv::key_to_json(f.key)},
                    {"snapshot_bytes", f.snapshot_bytes}});
    if (f.corrupt) list.back()["corrupt"] = true;
  }
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
  kv::byte_range all;
  all.keep_damaged = true;  // counted: they exist, if damaged
  auto cur = backend_->scan(detail::state_space(), all, false);
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
  put_actor_alarms(out, id->type, k);
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

nlohmann::json member_json(const kv::member_row& m, const std::string& self) {
  return nlohmann::json{{"host", m.host},         {"generation", m.generation},
                        {"address", m.address},   {"status", m.status},
                        {"live", m.live},         {"lease_ms", m.lease_ms},
                        {"joined_ms", m.joined_ms}, {"actors", m.actors},
                        {"messages", m.messages}, {"self", !self.empty() && m.host == self}};
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

std::string iso8601_utc(std::int64_t unix_ms) {
  // Civil date from days since 1970-01-01 (H. Hinnant's algorithm): exact
  // for every int64, unlike gmtime on 32-bit time_t or far-off years.
  auto floor_div = [](std::int64_t a, std::int64_t b) { return a / b - (a % b < 0 ? 1 : 0); };
  std::int64_t days = floor_div(unix_ms, 86'400'000);
  std::int64_t ms_of_day = unix_ms - days * 86'400'000;
  std::int64_t z = days + 719'468;
  std::int64_t era = floor_div(z, 146'097);
  std::int64_t doe = z - era * 146'097;
  std::int64_t yoe = (doe - doe / 1460 + doe / 36'524 - doe / 146'096) / 365;
  std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  std::int64_t mp = (5 * doy + 2) / 153;
  std::int64_t day = doy - (153 * mp + 2) / 5 + 1;
  std::int64_t month = mp < 10 ? mp + 3 : mp - 9;
  std::int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  char buf[160];  // room for any int64 fields, so the compiler sees no truncation
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(year), static_cast<long long>(month),
                static_cast<long long>(day), static_cast<long long>(ms_of_day / 3'600'000),
                static_cast<long long>(ms_of_day / 60'000 % 60),
                static_cast<long long>(ms_of_day / 1000 % 60),
                static_cast<long long>(ms_of_day % 1000));
  return buf;
}

namespace {

// The alarm tables: [null, "alarms"] rows and the [null, "alarm_due"] index.
const ark::key alarm_rows_space{nullptr, "alarms"};
const ark::key alarm_due_space{nullptr, "alarm_due"};

// One pending alarm on a page of alarms(): its due-index key
// [due_ms, type, key, name] and the row behind it, once read.
struct alarm_entry {
  ark::key index;
  bool memory = false;
  std::optional<std::string> stored;  // the row's stored value
};

bool is_due_key(const ark::key& k) {
  return k.size() == 4 && k[0].kind() == key_element::type::int64 &&
         k[1].kind() == key_element::type::string && k[2].kind() == key_element::type::tuple &&
         k[3].kind() == key_element::type::string;
}

// An alarm as alarms() lists it, from its index key and its decoded row (an
// error when the row does not decode: the entry then says why).
nlohmann::json alarm_json(const alarm_entry& e, const expected<detail::stored_alarm>* s) {
  auto due_ms = e.index[0].as_int();
  nlohmann::json j{
      {"type", e.index[1].as_string()}, {"key", kv::key_to_json(e.index[2].as_tuple())},
      {"name", e.index[3].as_string()}, {"due_ms", due_ms},
      {"due", iso8601_utc(due_ms)},     {"attempt", nullptr},
      {"max_attempts", nullptr},        {"payload", nullptr}};
  if (e.memory) j["memory"] = true;
  if (!*s) {
    j["error"] = "the alarm entry is damaged: " + s->error().context() +
                 " (ark-dash verify lists every damaged entry)";
    return j;
  }
  const auto& a = **s;
  j["attempt"] = a.attempt;
  j["max_attempts"] = a.max_attempts;
  if (!a.payload.empty()) {
    auto p = kv::value_to_json(kv::value::from_msgpack(a.payload));
    if (p)
      j["payload"] = std::move(*p);
    else
      j["error"] = "the payload does not decode: " + p.error().context();
  }
  return j;
}

expected<detail::stored_alarm> decode_alarm(std::string_view stored) {
  auto v = kv::value::decode(stored);
  if (!v) return v.error();
  return v->as<detail::stored_alarm>();
}

}  // namespace

void reader::put_actor_alarms(nlohmann::json& doc, const std::string& type,
                              const ark::key& k) const {
  alarm_query aq;
  aq.type = type;
  aq.key = k;
  aq.limit = state_alarm_limit;
  if (auto a = alarms(aq)) {
    doc["alarms"] = std::move((*a)["alarms"]);
    doc["alarms_next"] = std::move((*a)["next"]);
  } else {
    // The state stays readable when its alarms are not.
    doc["alarms"] = nullptr;
    doc["alarms_next"] = nullptr;
    doc["alarms_error"] = a.error().message();
  }
}

expected<nlohmann::json> reader::alarms(const alarm_query& q) const {
  if (q.limit == 0 || q.limit > max_page) return bad_limit(q.limit);
  if (q.key && q.type.empty())
    return error{errc::invalid_argument,
                 "parameter key needs parameter type (an actor is a type and a key)"};
  std::vector<std::pair<std::shared_ptr<kv::backend>, bool>> tables{{backend_, false}};
  if (memory_) tables.emplace_back(memory_, true);
  auto after = [&](const ark::key& index) { return !q.after || compare(index, *q.after) > 0; };
  // Up to limit + 1 candidates (one more tells whether a next page exists),
  // in page order, each with its row.
  std::vector<alarm_entry> page;
  nlohmann::json damaged = nlohmann::json::array();  // actor rows without a due time
  for (const auto& [table, memory] : tables) {
    std::vector<alarm_entry> found;
    if (q.key) {
      // One actor: its rows, whatever their number, sorted by due time.
      auto rows = kv::store::open(table, alarm_rows_space);
      if (!rows) return rows.error();
      kv::list_options opts;
      opts.prefix = ark::key{q.type, *q.key};
      auto c = rows->list(opts);
      for (; c.valid(); c.next()) {
        const auto& k = c.key();
        auto s = c.value().as<detail::stored_alarm>();
        if (k.size() != 3 || k[2].kind() != key_element::type::string || !s) {
          if (q.after) continue;  // listed on the first page only
          alarm_entry e{
              ark::key{std::int64_t{0}, q.type, *q.key,
                       k.size() == 3 && k[2].kind() == key_element::type::string ? k[2].as_string()
                                                                                 : k.to_string()},
              memory, std::nullopt};
          expected<detail::stored_alarm> bad =
              s ? error{errc::corrupt_value,
                        "its key " + k.to_string() + " is not [type, key, name]"}
                : s.error();
          auto j = alarm_json(e, &bad);
          j["due_ms"] = nullptr;
          j["due"] = nullptr;
          damaged.push_back(std::move(j));
          continue;
        }
        alarm_entry e{ark::key{s->due_ms, q.type, *q.key, k[2].as_string()}, memory,
                      std::string(c.value().stored())};
        if (after(e.index)) found.push_back(std::move(e));
      }
      if (c.status()) return c.status();
      std::sort(found.begin(), found.end(), [](const alarm_entry& a, const alarm_entry& b) {
        return compare(a.index, b.index) < 0;
      });
      if (found.size() > q.limit + 1) found.resize(q.limit + 1);
    } else {
      // The due index, in time order, from the cursor on.
      auto due = kv::store::open(table, alarm_due_space);
      if (!due) return due.error();
      kv::list_options opts;
      if (q.after) opts.start = *q.after;
      auto c = due->list(opts);
      for (; c.valid() && found.size() <= q.limit; c.next()) {
        const auto& k = c.key();
        if (!is_due_key(k) || !after(k)) continue;  // ark-dash verify reports bad entries
        if (!q.type.empty() && k[1].as_string() != q.type) continue;
        found.push_back(alarm_entry{k, memory, std::nullopt});
      }
      if (c.status()) return c.status();
      // Their rows, from one snapshot.
      std::vector<std::string> row_keys;
      for (const auto& e : found) {
        auto rk = encode_key(ark::key{e.index[1], e.index[2], e.index[3]});
        if (!rk) return rk.error();
        row_keys.push_back(std::move(*rk));
      }
      auto rows = table->get_batch(detail::alarm_space(), row_keys);
      if (!rows) return rows.error();
      for (std::size_t i = 0; i < found.size(); ++i) found[i].stored = std::move((*rows)[i]);
    }
    for (auto& e : found) page.push_back(std::move(e));
  }
  std::sort(page.begin(), page.end(), [](const alarm_entry& a, const alarm_entry& b) {
    return compare(a.index, b.index) < 0;
  });
  bool more = page.size() > q.limit;
  if (more) page.resize(q.limit);
  nlohmann::json list = std::move(damaged);
  for (const auto& e : page) {
    if (!e.stored) continue;  // fired or cancelled between the two reads
    auto s = decode_alarm(*e.stored);
    // Rescheduled between the two reads: its index entry at the new time
    // lists it (on the page that time falls on).
    if (s && s->due_ms != e.index[0].as_int()) continue;
    list.push_back(alarm_json(e, &s));
  }
  return nlohmann::json{{"alarms", std::move(list)},
                        {"next", more ? kv::key_to_json(page.back().index) : nlohmann::json()}};
}

expected<std::uint64_t> reader::pending_alarms() const {
  std::uint64_t n = 0;
  for (const auto& table : {backend_, memory_}) {
    if (!table) continue;
    auto due = kv::store::open(table, alarm_due_space);
    if (!due) return due.error();
    auto c = due->count();
    if (!c) return c.error();
    n += *c;
  }
  return n;
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
  if (endpoint == "alarms") {
    alarm_query q;
    q.type = param(params, "type").value_or("");
    for (auto [name, field] : {std::pair{"key", &q.key}, std::pair{"after", &q.after}}) {
      auto v = key_param(params, name);
      if (!v) return v.error();
      *field = std::move(*v);
    }
    auto limit = number_param(params, "limit", 100);
    if (!limit) return limit.error();
    q.limit = *limit;
    return r.alarms(q);
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
