#pragma once

// State schema versions and migrations (doc/migrations.md).
//
// An actor type declares the version of its state layout; every snapshot
// records the version it was written with. When an actor activates with an
// older snapshot, the type's migration steps (n -> n+1, typed on both sides)
// bring the state to the current version, and the result is committed with
// the steps' KV writes in one transaction before any message is handled.
//
//   struct profile_v1 {  // schema 1: "count" is renamed to "visits" in 2
//     std::string name;
//     std::int64_t count = 0;
//     MSGPACK_DEFINE_MAP(name, count)
//   };
//   struct profile {     // the current state (schema 2)
//     std::string name;
//     std::int64_t visits = 0;
//     MSGPACK_DEFINE_MAP(name, visits)
//   };
//
//   class profile_actor : public ark::actor<profile_if, profile> {
//    public:
//     using actor::actor;
//     static constexpr std::uint32_t schema = 2;
//     static void migrations(ark::migration_chain<profile_actor>& m) {
//       m.step<1, profile_v1, profile>([](profile_v1&& old, ark::migration_context&) {
//         return profile{std::move(old.name), old.count};
//       });
//     }
//     handlers_type make_handlers() override { ... }
//   };
//   ARK_ACTOR("profile", profile_actor);

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include <msgpack.hpp>

#include "ark/detail/host.hpp"
#include "ark/expected.hpp"
#include "ark/kv/backend.hpp"
#include "ark/kv/store.hpp"
#include "ark/kv/value.hpp"

namespace ark {

/// What a migration step may use besides the old state: the identity of the
/// actor being migrated, the versions of the step, and the actor's KV.
/// Valid only during the step's call.
class migration_context {
 public:
  migration_context(const detail::identity& id, std::uint32_t from, std::uint32_t to, kv::store& kv)
      : id_(&id), from_(from), to_(to), kv_(&kv) {}

  const std::string& type_name() const { return id_->type; }
  const ark::key& key() const { return id_->key; }
  /// "actor TYPE KEY", for messages.
  std::string describe() const;
  /// The step's versions: it turns a `from_version()` state into a
  /// `to_version()` one (to = from + 1).
  std::uint32_t from_version() const { return from_; }
  std::uint32_t to_version() const { return to_; }

  /// The actor's KV, for data moves. Reads see the stored entries and the
  /// writes of this migration's earlier steps. The writes are committed in one
  /// transaction with the migrated snapshot, or dropped with it when any step
  /// fails (`ark-dash migrate --dry-run` collects them without applying).
  kv::store& kv() { return *kv_; }

 private:
  const detail::identity* id_;
  std::uint32_t from_, to_;
  kv::store* kv_;
};

template <class Actor>
class migration_chain;

namespace detail {

/// One registered step: turns the msgpack state of schema `from` into the
/// msgpack bytes of the state of schema from + 1.
struct migration_step {
  std::uint32_t from = 0;
  std::string old_type, new_type;  ///< readable C++ type names, for messages
  /// The step, type-erased. Errors: the step's own error, or
  /// migration_failed naming what did not convert.
  std::function<expected<std::string>(const msgpack::object& in, migration_context& ctx)> run;
};

/// What a registered actor type knows about its state schema: the current
/// version, the migration steps (by from-version), and a way to check a state
/// against the state type. One per actor class (schema_of<T>()).
struct type_schema {
  std::uint32_t current = 1;
  std::string state_type;  ///< readable name of the state type
  std::map<std::uint32_t, migration_step> steps;
  /// Converts a state object into the state type and packs it again; error
  /// corrupt_snapshot when it does not convert.
  expected<std::string> (*repack)(const msgpack::object& state) = nullptr;
  /// Problems found while registering (two steps from one version, a gap in
  /// the chain); the registry reports them.
  std::vector<std::string> errors;

  /// Adds `s`, or records an error when a step from s.from exists already.
  void add(migration_step s);
  /// Records a gap: the steps must cover every version from the lowest one
  /// registered up to current - 1.
  void check_chain();
  /// "1->2, 2->3" (or "none").
  std::string describe_steps() const;
};

/// A readable name of a C++ type (demangled).
std::string type_name_of(const std::type_info& t);

// "actor TYPE KEY" for messages (ark/stored_format.hpp).
using stored::describe;

/// The first piece of `stored` that a conversion into a type dropped:
/// `repacked` is the msgpack of the converted value. Walks maps (by string
/// key) and arrays; returns the path of a map field `stored` has and
/// `repacked` lacks ("settings.theme"), or of array elements beyond the
/// repacked length ("items[3]"); nullopt when nothing was dropped.
std::optional<std::string> dropped_field(const msgpack::object& stored, std::string_view repacked);

/// Runs the steps of `schema` on `state` (a snapshot of schema `from`, below
/// schema.current) and returns the msgpack of the state at schema.current.
/// The steps' KV writes go through `kv`; the caller drops them on failure.
/// Errors: migration_failed naming the actor, from-version, current version
/// and the step that is missing or failed (and why). Checks that every step
/// is present before running any.
expected<std::string> run_migrations(const type_schema& schema, const identity& id,
                                     std::uint32_t from, const msgpack::object& state,
                                     kv::store& kv);

/// format_version naming the actor, both versions and the remedy: a snapshot
/// of schema `stored` is newer than this code's `current`.
error newer_snapshot(const identity& id, std::uint32_t stored, std::uint32_t current);

/// migration_failed: `what` (a path dropped_field found) would be lost.
error dropped_field_error(const identity& id, std::uint32_t schema, const std::string& field,
                          const std::string& type);

template <class T>
std::string pack_payload(const T& v) {
  std::string out;
  kv::detail::string_writer w{&out};
  msgpack::pack(w, v);
  return out;
}

template <class State>
expected<std::string> repack_as(const msgpack::object& obj) {
  State s{};
  if (!kv::detail::convert(obj, s))
    return error{errc::corrupt_snapshot,
                 "the state does not convert into " + type_name_of(typeid(State))};
  try {
    return pack_payload(s);
  } catch (const std::exception& e) {
    return error{errc::corrupt_snapshot, std::string("packing the state failed: ") + e.what()};
  }
}

template <class T, class = void>
struct has_migrations_member : std::false_type {};
template <class T>
struct has_migrations_member<T, std::void_t<decltype(&T::migrations)>> : std::true_type {};

template <class T, class = void>
struct has_migrations : std::false_type {};
template <class T>
struct has_migrations<T, std::void_t<decltype(T::migrations(std::declval<migration_chain<T>&>()))>>
    : std::true_type {};

/// The schema of actor class T: T::schema, T::state_type, and the steps
/// T::migrations registers (built once, on first use).
template <class T>
const type_schema& schema_of();

}  // namespace detail

/// The migration steps of actor class `Actor`, filled by its static
/// `migrations(ark::migration_chain<Actor>&)`.
template <class Actor>
class migration_chain {
 public:
  explicit migration_chain(detail::type_schema& s) : schema_(&s) {}

  /// Registers the step from schema `From` to From + 1: `f(Old&&,
  /// migration_context&)` returns `New` or `ark::expected<New>`. The stored
  /// state of version From is converted into `Old` (a type that declares
  /// every field of that version: a field the stored map has and Old lacks
  /// fails the step rather than being lost), and the result is packed for the
  /// next step, whose Old it must convert into. The step to Actor::schema
  /// must produce the actor's state type. Register each version once; the
  /// steps must cover every version from the lowest registered one up to
  /// Actor::schema - 1. An error returned or an exception thrown fails the
  /// activation (nothing is written).
  template <std::uint32_t From, class Old, class New, class F>
  migration_chain& step(F f) {
    static_assert(From >= 1, "schema versions start at 1");
    static_assert(From < Actor::schema,
                  "a migration step must start below the actor's schema (Actor::schema)");
    static_assert(From + 1 != Actor::schema || std::is_same_v<New, typename Actor::state_type>,
                  "the step to the actor's current schema must produce its state type");
    static_assert(std::is_default_constructible_v<Old>,
                  "a step's Old type must be "
                  "default-constructible (like a state)");
    using result = std::invoke_result_t<F&, Old&&, migration_context&>;
    static_assert(std::is_same_v<result, New> || std::is_same_v<result, expected<New>>,
                  "a migration step returns New or ark::expected<New>");
    detail::migration_step s;
    s.from = From;
    s.old_type = detail::type_name_of(typeid(Old));
    s.new_type = detail::type_name_of(typeid(New));
    s.run = [f = std::move(f), old_type = s.old_type](
                const msgpack::object& in,
                migration_context& ctx) mutable -> expected<std::string> {
      Old old{};
      if (!kv::detail::convert(in, old))
        return error{errc::migration_failed, "the stored state does not convert into " + old_type +
                                                 " (a field's type differs)"};
      std::string repacked;
      try {
        repacked = detail::pack_payload(old);
      } catch (const std::exception& e) {
        return error{errc::migration_failed, "packing " + old_type + " threw: " + e.what()};
      }
      if (auto lost = detail::dropped_field(in, repacked))
        return error{errc::migration_failed, "the stored state has the field '" + *lost +
                                                 "' that " + old_type +
                                                 " does not declare (it would be lost): "
                                                 "declare it in " +
                                                 old_type};
      try {
        if constexpr (std::is_same_v<result, expected<New>>) {
          auto r = f(std::move(old), ctx);
          if (!r) return r.error();
          return detail::pack_payload(*r);
        } else {
          return detail::pack_payload(f(std::move(old), ctx));
        }
      } catch (const std::exception& e) {
        return error{errc::migration_failed, std::string("the step threw: ") + e.what()};
      } catch (...) {
        return error{errc::migration_failed, "the step threw an unknown exception"};
      }
    };
    schema_->add(std::move(s));
    return *this;
  }

 private:
  detail::type_schema* schema_;
};

namespace detail {

template <class T>
const type_schema& schema_of() {
  static const type_schema schema = [] {
    static_assert(T::schema >= 1, "an actor's schema starts at 1");
    type_schema s;
    s.current = T::schema;
    s.state_type = type_name_of(typeid(typename T::state_type));
    s.repack = &repack_as<typename T::state_type>;
    if constexpr (has_migrations_member<T>::value) {
      static_assert(has_migrations<T>::value,
                    "declare migrations as: static void migrations(ark::migration_chain<T>& m)");
      migration_chain<T> chain(s);
      try {
        T::migrations(chain);
      } catch (const std::exception& e) {
        s.errors.push_back(std::string("its migrations() threw: ") + e.what());
      }
    }
    s.check_chain();
    return s;
  }();
  return schema;
}

}  // namespace detail

/// What migrating one stored snapshot does, computed in memory
/// (migrate_snapshot): the versions, the state before and after, and the
/// KV writes the steps made.
struct migration_outcome {
  std::uint32_t from = 0;  ///< the snapshot's schema
  std::uint32_t to = 0;    ///< the code's schema (== from: nothing to migrate)
  std::string before;      ///< msgpack of the stored state
  std::string after;       ///< msgpack of the state at `to`, as the state type packs it
  kv::space_writes kv;     ///< the steps' writes to the actor's KV space (not applied)
};

/// Runs what an activation of actor `id` would do with its stored snapshot
/// `stored`, in memory: the migration chain of `schema` (KV reads see
/// `storage` plus the steps' own writes; the writes are collected in the
/// outcome, never applied), then the check that the state type keeps every
/// field. Used by `ark-dash migrate`. Errors: corrupt_snapshot (the snapshot
/// does not decode or convert), format_version (newer than the code),
/// migration_failed (a missing or failing step, a field that would be lost),
/// each naming the actor.
expected<migration_outcome> migrate_snapshot(const detail::type_schema& schema,
                                             std::shared_ptr<kv::backend> storage,
                                             const stored::identity& id, std::string_view stored);

}  // namespace ark
