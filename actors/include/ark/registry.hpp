#pragma once

#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "ark/actor.hpp"
#include "ark/handler_json.hpp"

namespace ark {

/// How the runtime makes an actor of one registered type.
struct actor_type {
  std::string name;
  /// The caf message types of the type's interface, for handle checks.
  std::function<std::set<std::string>(caf::actor_system&)> interface;
  /// Spawns one activation.
  std::function<caf::actor(caf::actor_system&, activation)> spawn;
  detail::init_function initialize = nullptr;
  /// The current state schema version and the migration steps
  /// (ark/migration.hpp); ark-dash migrate runs them through
  /// ark::migrate_snapshot. Never null for a registered class.
  const detail::type_schema* schema = nullptr;
  /// storage_location::memory: state and KV live in the host's memory only.
  bool memory_only = false;
  /// The handlers of its interface, in the interface's order: their names
  /// (statistics, the change feed) and how to call them with JSON (the
  /// admin API's POST /api/v1/call).
  std::vector<detail::handler_info> handlers;
};

/// The process-wide table of actor types and message types. ARK_ACTOR and
/// ARK_MESSAGE_TYPE fill it from static initializers, in a program or in a
/// module the host loads with dlopen (ark_actors is a shared library, so the
/// program and its modules share this one table).
class actor_registry {
 public:
  static actor_registry& global();

  /// Registers `t`. A second registration of the same name is kept out and
  /// recorded in errors(), and so are the problems of its migration steps
  /// (t.schema->errors: a gap in the chain, a step registered twice).
  void add(actor_type t);
  /// The type registered as `name`, or nullptr.
  const actor_type* find(std::string_view name) const;
  std::vector<std::string> names() const;
  /// Registration conflicts since the last call (e.g. a type name twice).
  std::vector<std::string> take_errors();

  /// Records a hook that adds message types to a CAF config.
  void add_message_type(std::function<void(caf::actor_system_config&)> hook);
  /// Runs every message-type hook and registers ark's own message types
  /// (subscription notifications) and error category. Call on every
  /// actor_system_config that talks to ark actors (host and clients).
  void configure(caf::actor_system_config& cfg) const;

 private:
  mutable std::mutex mtx_;
  std::vector<actor_type> types_;
  std::vector<std::string> errors_;
  std::vector<std::function<void(caf::actor_system_config&)>> message_types_;
};

/// Registers actor class T under `name` at static-initialization time.
template <class T>
struct actor_registrar {
  explicit actor_registrar(const char* name) {
    actor_type t;
    t.name = name;
    t.interface = [](caf::actor_system& sys) {
      return sys.message_types<typename T::interface_type>();
    };
    t.spawn = [](caf::actor_system& sys, activation a) {
      a.schema = &detail::schema_of<T>();
      // Activation (snapshot, on_activate) runs with the first message, in
      // the same scheduling of the actor: one wake-up of a worker, not two.
      return caf::actor_cast<caf::actor>(sys.spawn<T, caf::lazy_init>(std::move(a)));
    };
    t.initialize = &T::template initialize_thunk<T>;
    t.memory_only = T::location == storage_location::memory;
    t.schema = &detail::schema_of<T>();
    t.handlers = detail::describe_handlers<typename T::interface_type::signatures>();
    actor_registry::global().add(std::move(t));
  }
};

/// Registers message type T (sent to or from actors across processes) under
/// `name`, on every config passed to actor_registry::configure.
template <class T>
struct message_type_registrar {
  explicit message_type_registrar(const char* name) {
    std::string n = name;
    actor_registry::global().add_message_type(
        [n](caf::actor_system_config& cfg) { cfg.add_message_type<T>(n); });
  }
};

/// The C++ types (demangled, e.g. "leaderboard::standing") that CAF could not
/// name in `message_types` (actor_system::message_types<I>() of this program):
/// types used by the interface that this program never registered, so it can
/// neither send nor receive them across processes. Empty when all are known.
std::vector<std::string> unregistered_types(const std::set<std::string>& message_types);

/// unregistered_type naming the first such type, the interface's user
/// (`what`, e.g. "actor type 'leaderboard'") and the remedy; no error when
/// every type of `message_types` is registered.
error unregistered_type_error(const std::set<std::string>& message_types, const std::string& what);

}  // namespace ark

#define ARK_PP_CAT_(a, b) a##b
#define ARK_PP_CAT(a, b) ARK_PP_CAT_(a, b)

/// ARK_ACTOR("counter", counter): registers actor class `cls` as type `name`.
#define ARK_ACTOR(name, cls)                                                            \
  static const ::ark::actor_registrar<cls> ARK_PP_CAT(ark_actor_registrar_, __LINE__) { \
    name                                                                                \
  }

/// ARK_MESSAGE_TYPE(leaderboard::standing, "leaderboard::standing"):
/// registers a message type of your own (a struct a handler takes or returns)
/// for use across processes. Every program that sends or receives it needs
/// the registration: write the line in the header that declares the type
/// and the interface, next to a CAF inspect() overload, so the module and
/// every client that includes the header register it (the actor system must
/// come from ark::client_config, or call actor_registry::configure on it).
/// `name` is the type's name on the wire: the same in every program, never
/// changed once clients use it. In-process calls (ark::testing) need no
/// registration. A client whose program lacks it gets unregistered_type
/// naming the type from get/create/get_or_create (examples/leaderboard).
///
///   struct standing { std::string player; std::int64_t points = 0; };
///   template <class Inspector>
///   typename Inspector::result_type inspect(Inspector& f, standing& x) {
///     return f(caf::meta::type_name("standing"), x.player, x.points);
///   }
///   ARK_MESSAGE_TYPE(standing, "leaderboard::standing");
#define ARK_MESSAGE_TYPE(type, name)                                                          \
  static const ::ark::message_type_registrar<type> ARK_PP_CAT(ark_msg_registrar_, __LINE__) { \
    name                                                                                      \
  }
