// The hello world of ark: a counter whose value survives restarts.

#include "counter.hpp"

#include <ark/actor.hpp>
#include <ark/registry.hpp>

namespace counter {

struct counter_state {
  std::int64_t value = 0;
  MSGPACK_DEFINE_MAP(value)
};

class counter : public ark::actor<counter_if, counter_state> {
 public:
  using actor::actor;

  // get_or_create("counter", key) starts at 0 (it takes no initial value).
  void on_initialize() {}

  handlers_type make_handlers() override {
    return handlers([this](add_atom, std::int64_t n) { return state().value += n; },
                    [this](get_atom) { return state().value; },
                    [this](reset_atom) { return state().value = 0; });
  }
};

}  // namespace counter

ARK_ACTOR("counter", counter::counter);
