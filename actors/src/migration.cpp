#include "ark/migration.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <unordered_map>

#include "ark/detail/actor_core.hpp"
#include "ark/kv/json.hpp"
#include "kv_overlay.hpp"

namespace ark {

std::string migration_context::describe() const {
  return detail::describe(*id_);
}

namespace detail {

std::string type_name_of(const std::type_info& t) {
  int status = 0;
  char* name = abi::__cxa_demangle(t.name(), nullptr, nullptr, &status);
  if (status != 0 || name == nullptr) return t.name();
  std::string out(name);
  std::free(name);
  return out;
}

void type_schema::add(migration_step s) {
  auto from = s.from;
  if (!steps.emplace(from, std::move(s)).second)
    errors.push_back("two migration steps from schema " + std::to_string(from) +
                     " are registered; register each version's step once");
}

void type_schema::check_chain() {
  if (steps.empty()) return;
  for (auto v = steps.begin()->first; v < current; ++v) {
    if (steps.count(v)) continue;
    errors.push_back("its migration steps (" + describe_steps() + ") have a gap: no step from " +
                     std::to_string(v) + " to " + std::to_string(v + 1) +
                     ", so no snapshot older than schema " + std::to_string(v + 1) +
                     " could reach schema " + std::to_string(current) + "; register step<" +
                     std::to_string(v) + ", ...>");
    return;
  }
}

std::string type_schema::describe_steps() const {
  std::string out;
  for (const auto& [from, s] : steps)
    out += (out.empty() ? "" : ", ") + std::to_string(from) + "->" + std::to_string(from + 1);
  return out.empty() ? "none" : out;
}

namespace {

std::string object_key(const msgpack::object& k) {
  return std::string(k.via.str.ptr, k.via.str.size);
}

std::optional<std::string> dropped_in(const msgpack::object& stored,
                                      const msgpack::object& repacked, const std::string& path) {
  if (stored.type == msgpack::type::MAP && repacked.type == msgpack::type::MAP) {
    std::unordered_map<std::string_view, const msgpack::object*> fields;
    for (std::uint32_t i = 0; i < repacked.via.map.size; ++i) {
      const auto& kv = repacked.via.map.ptr[i];
      if (kv.key.type == msgpack::type::STR)
        fields.emplace(std::string_view(kv.key.via.str.ptr, kv.key.via.str.size), &kv.val);
    }
    for (std::uint32_t i = 0; i < stored.via.map.size; ++i) {
      const auto& kv = stored.via.map.ptr[i];
      if (kv.key.type != msgpack::type::STR) continue;  // not a field name
      auto name = object_key(kv.key);
      auto sub = path.empty() ? name : path + "." + name;
      auto it = fields.find(name);
      if (it == fields.end()) return sub;
      if (auto lost = dropped_in(kv.val, *it->second, sub)) return lost;
    }
    return std::nullopt;
  }
  if (stored.type == msgpack::type::ARRAY && repacked.type == msgpack::type::ARRAY) {
    auto n = repacked.via.array.size;
    if (stored.via.array.size > n) return path + "[" + std::to_string(n) + "]";
    for (std::uint32_t i = 0; i < stored.via.array.size; ++i)
      if (auto lost = dropped_in(stored.via.array.ptr[i], repacked.via.array.ptr[i],
                                 path + "[" + std::to_string(i) + "]"))
        return lost;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> dropped_field(const msgpack::object& stored, std::string_view repacked) {
  // The common case, a state written by the same type, repacks to the same
  // bytes: no walk needed.
  std::string again;
  try {
    again = pack_payload(stored);
  } catch (...) {
  }
  if (again == repacked) return std::nullopt;
  auto h = kv::value::from_msgpack(repacked).unpack();
  if (!h) return std::nullopt;  // cannot happen: we packed it
  return dropped_in(stored, h->get(), "");
}

error newer_snapshot(const identity& id, std::uint32_t stored, std::uint32_t current) {
  return error{errc::format_version,
               describe(id) + ": its snapshot has state schema " + std::to_string(stored) +
                   ", newer than this code's schema " + std::to_string(current) +
                   " (it was written by newer code; older code never reads newer data). Deploy "
                   "code whose actor type declares schema " +
                   std::to_string(stored) +
                   " or later, or restore the data directory from a backup taken before the "
                   "upgrade"};
}

error dropped_field_error(const identity& id, std::uint32_t schema, const std::string& field,
                          const std::string& type) {
  return error{errc::migration_failed,
               describe(id) + ": its snapshot (schema " + std::to_string(schema) +
                   ") has the state field '" + field + "' that " + type +
                   " does not declare, so it would be lost at the next write. A field was "
                   "renamed or removed without a migration: raise the actor's schema to " +
                   std::to_string(schema + 1) + " and add a step from " + std::to_string(schema) +
                   " that moves or explicitly drops it"};
}

expected<std::string> run_migrations(const type_schema& schema, const identity& id,
                                     std::uint32_t from, const msgpack::object& state,
                                     kv::store& kv) {
  auto versions = "from schema " + std::to_string(from) + " to " + std::to_string(schema.current);
  for (auto v = from; v < schema.current; ++v) {
    if (schema.steps.count(v)) continue;
    return error{errc::migration_failed,
                 describe(id) + ": its snapshot has schema " + std::to_string(from) +
                     " and this code's schema is " + std::to_string(schema.current) +
                     ", but no migration step from " + std::to_string(v) + " to " +
                     std::to_string(v + 1) + " is registered (steps: " + schema.describe_steps() +
                     "); add step<" + std::to_string(v) +
                     ", ...> to the actor type's migrations()"};
  }
  const msgpack::object* current = &state;
  std::optional<msgpack::object_handle> holder;
  std::string bytes;
  for (auto v = from; v < schema.current; ++v) {
    const auto& step = schema.steps.at(v);
    migration_context ctx(id, v, v + 1, kv);
    auto r = step.run(*current, ctx);
    if (!r) {
      const auto& e = r.error();
      auto why = e == errc::migration_failed
                     ? e.context()
                     : std::string(to_string(e.code())) + ": " + e.context();
      return error{errc::migration_failed, describe(id) + ": the migration " + versions +
                                               " failed in the step " + std::to_string(v) + " -> " +
                                               std::to_string(v + 1) + " (" + step.old_type +
                                               " -> " + step.new_type + "): " + why};
    }
    bytes = std::move(*r);
    auto h = kv::value::from_msgpack(bytes).unpack();
    if (!h)
      return error{errc::migration_failed, describe(id) + ": the step " + std::to_string(v) +
                                               " -> " + std::to_string(v + 1) +
                                               " produced msgpack that does not decode (" +
                                               h.error().context() + ")"};
    holder = std::move(*h);
    current = &holder->get();
  }
  return bytes;
}

}  // namespace detail

expected<migration_outcome> migrate_snapshot(const detail::type_schema& schema,
                                             std::shared_ptr<kv::backend> storage,
                                             const stored::identity& id, std::string_view stored) {
  auto snap = detail::parse_snapshot(stored);
  if (!snap)
    return error{errc::corrupt_snapshot,
                 detail::describe(id) + ": its state snapshot is damaged (" +
                     snap.error().context() + "); ark-dash verify lists every damaged entry"};
  if (snap->schema > schema.current)
    return detail::newer_snapshot(id, snap->schema, schema.current);
  migration_outcome out;
  out.from = snap->schema;
  out.to = schema.current;
  out.before = detail::pack_payload(snap->state);
  auto overlay = std::make_shared<detail::kv_overlay>(std::move(storage), id.encoded);
  std::string migrated;
  if (out.from < out.to) {
    auto store = kv::store::open(overlay, ark::key{id.type, id.key});
    if (!store) return store.error();
    store->set_owner(detail::describe(id));
    auto r = detail::run_migrations(schema, id, out.from, snap->state, *store);
    if (!r) return r.error();
    migrated = std::move(*r);
  }
  std::optional<msgpack::object_handle> holder;
  if (!migrated.empty()) {
    auto h = kv::value::from_msgpack(migrated).unpack();
    if (!h) return error{errc::migration_failed, detail::describe(id) + ": " + h.error().context()};
    holder = std::move(*h);
  }
  const msgpack::object& state = holder ? holder->get() : snap->state;
  auto repacked = schema.repack(state);
  if (!repacked) {
    if (out.from < out.to)
      return error{errc::migration_failed,
                   detail::describe(id) + ": the migrated state " + repacked.error().context()};
    return error{errc::corrupt_snapshot,
                 detail::describe(id) +
                     ": its state snapshot does not convert into the state "
                     "type " +
                     schema.state_type + " (it is damaged, or was written by incompatible code)"};
  }
  if (out.from == out.to) {
    if (auto lost = detail::dropped_field(state, *repacked))
      return detail::dropped_field_error(id, out.from, *lost, schema.state_type);
  }
  out.after = std::move(*repacked);
  out.kv = overlay->take(1);
  return out;
}

}  // namespace ark
