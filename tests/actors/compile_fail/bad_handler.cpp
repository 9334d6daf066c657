// Must NOT compile: ark::actor::handlers(...) with a handler the interface
// does not declare. tests/actors/CMakeLists.txt builds it as a test and
// checks that the compiler names the handler's position in ark's words.
//   ARK_BAD_HANDLER_ARG:   handler #1 takes int where the interface says std::int64_t
//   ARK_MISSING_HANDLER:   the interface's second signature has no handler

#include <cstdint>

#include <ark/actor.hpp>

using add_atom = caf::atom_constant<caf::atom("add")>;
using get_atom = caf::atom_constant<caf::atom("get")>;
using tally_if = caf::typed_actor<caf::replies_to<get_atom>::with<std::int64_t>,
                                  caf::replies_to<add_atom, std::int64_t>::with<std::int64_t>>;

struct tally_state {
  std::int64_t value = 0;
  MSGPACK_DEFINE_MAP(value)
};

class tally : public ark::actor<tally_if, tally_state> {
 public:
  using actor::actor;
  handlers_type make_handlers() override {
#if defined(ARK_BAD_HANDLER_ARG)
    return handlers([this](get_atom) { return state().value; },
                    [this](add_atom, int n) { return state().value += n; });
#elif defined(ARK_MISSING_HANDLER)
    return handlers([this](get_atom) { return state().value; });
#else
    return handlers([this](get_atom) { return state().value; },
                    [this](add_atom, std::int64_t n) { return state().value += n; });
#endif
  }
};

// A derived class cannot reach the runtime's machinery (a private base).
#if defined(ARK_CALLS_INTERNALS)
class sneaky : public ark::actor<tally_if, tally_state> {
 public:
  using actor::actor;
  handlers_type make_handlers() override {
    return handlers([this](get_atom) {
                      checkpoint(true);
                      return state().value;
                    },
                    [this](add_atom, std::int64_t n) { return state().value += n; });
  }
};
#endif
