#pragma once

// A test actor for the activation lifecycle: it counts its on_activate runs
// in its state, relays requests through promises, and records what its
// request callbacks saw (tests/actors/lifecycle_test.cpp, fault_test.cpp).

#include <chrono>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <ark/actor.hpp>
#include <ark/registry.hpp>

namespace life {

using add_atom = caf::atom_constant<caf::atom("add")>;
using value_atom = caf::atom_constant<caf::atom("value")>;
using activations_atom = caf::atom_constant<caf::atom("acts")>;
using relay_atom = caf::atom_constant<caf::atom("relay")>;
using ask_atom = caf::atom_constant<caf::atom("ask")>;
using ask_throw_atom = caf::atom_constant<caf::atom("askthrow")>;

using life_if = caf::typed_actor<
    caf::replies_to<add_atom, std::int64_t>::with<std::int64_t>,
    caf::replies_to<value_atom>::with<std::int64_t>,
    caf::replies_to<activations_atom>::with<std::int64_t>,
    // Asks actor `other` to add 1 through a request; the reply (a promise)
    // is the other's answer.
    caf::replies_to<relay_atom, std::string>::with<std::int64_t>,
    // Adds n to the value and asks `other` to add 1 (the request's outcome
    // is recorded by its callbacks); replies with the new value.
    caf::replies_to<ask_atom, std::string, std::int64_t>::with<std::int64_t>,
    // As ask, then throws.
    caf::replies_to<ask_throw_atom, std::string, std::int64_t>::with<std::int64_t>>;

struct life_state {
  std::int64_t value = 0;
  std::int64_t activations = 0;
  MSGPACK_DEFINE_MAP(value, activations)
};

/// What one request callback saw.
struct callback_seen {
  std::string key;              // the actor's key
  bool ok = false;              // on_value ran
  ark::error error;             // on_error's error
  std::int64_t state_value = 0; // state().value when the callback ran
};

/// Every callback run in this process, in order.
inline std::mutex seen_mtx;
inline std::vector<callback_seen> seen;

inline std::vector<callback_seen> callbacks_of(const std::string& key) {
  std::lock_guard<std::mutex> guard{seen_mtx};
  std::vector<callback_seen> out;
  for (const auto& s : seen)
    if (s.key == key) out.push_back(s);
  return out;
}

class life_actor : public ark::actor<life_if, life_state> {
 public:
  using actor::actor;

  void on_activate() override { ++state().activations; }

  handlers_type make_handlers() override {
    return handlers(
        [this](add_atom, std::int64_t n) { return state().value += n; },
        [this](value_atom) { return state().value; },
        [this](activations_atom) { return state().activations; },
        [this](relay_atom, const std::string& other) -> ark::promise<std::int64_t> {
          auto p = make_promise<std::int64_t>();
          auto h = get_or_create<life_if>("life", other);
          if (!h) {
            p.deliver_error(h.error());
            return p;
          }
          request(*h, std::chrono::seconds(30), add_atom::value, std::int64_t{1})
              .then([p](std::int64_t v) mutable { p.deliver(v); },
                    [p](caf::error& e) mutable { p.deliver_error(e); });
          return p;
        },
        [this](ask_atom, const std::string& other, std::int64_t n) -> std::int64_t {
          ask(other);
          return state().value += n;
        },
        [this](ask_throw_atom, const std::string& other, std::int64_t n) -> std::int64_t {
          ask(other);
          state().value += n;
          throw std::runtime_error("thrown after the request");
        });
  }

 private:
  std::string my_key() const { return key()[0].as_string(); }

  void ask(const std::string& other) {
    auto h = get_or_create<life_if>("life", other);
    if (!h) throw std::runtime_error(h.error().message());
    request(*h, std::chrono::seconds(30), add_atom::value, std::int64_t{1})
        .then(
            [this](std::int64_t) {
              std::lock_guard<std::mutex> guard{seen_mtx};
              seen.push_back(callback_seen{my_key(), true, {}, state().value});
            },
            [this](caf::error& e) {
              std::lock_guard<std::mutex> guard{seen_mtx};
              seen.push_back(callback_seen{my_key(), false, ark::from_caf(e), state().value});
            });
  }
};

}  // namespace life
