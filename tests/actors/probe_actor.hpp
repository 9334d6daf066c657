#pragma once

// A test actor exercising every SDK feature the tests check.

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <ark/actor.hpp>
#include <ark/registry.hpp>

namespace probe {

using add_atom = caf::atom_constant<caf::atom("add")>;
using get_atom = caf::atom_constant<caf::atom("get")>;
using put_kv_atom = caf::atom_constant<caf::atom("putkv")>;
using get_kv_atom = caf::atom_constant<caf::atom("getkv")>;
using del_kv_atom = caf::atom_constant<caf::atom("delkv")>;
using list_kv_atom = caf::atom_constant<caf::atom("listkv")>;
using fail_atom = caf::atom_constant<caf::atom("failafter")>;
using throw_atom = caf::atom_constant<caf::atom("throwafter")>;
using save_throw_atom = caf::atom_constant<caf::atom("savethrow")>;
using forward_atom = caf::atom_constant<caf::atom("forward")>;
using relay_atom = caf::atom_constant<caf::atom("relay")>;
using init_atom = caf::atom_constant<caf::atom("initarg")>;
using promise_throw_atom = caf::atom_constant<caf::atom("promthrow")>;
using relay_throw_atom = caf::atom_constant<caf::atom("relaythrow")>;
using slow_atom = caf::atom_constant<caf::atom("slow")>;
using relay_slow_atom = caf::atom_constant<caf::atom("relayslow")>;

using probe_if = caf::typed_actor<
    caf::replies_to<add_atom, std::int64_t>::with<std::int64_t>,
    caf::replies_to<get_atom>::with<std::int64_t>,
    caf::replies_to<put_kv_atom, std::string, std::string>::with<bool>,
    caf::replies_to<get_kv_atom, std::string>::with<std::string>,
    caf::replies_to<del_kv_atom, std::string>::with<bool>,
    caf::replies_to<list_kv_atom>::with<std::vector<std::string>>,
    caf::replies_to<fail_atom, std::int64_t, std::string>::with<std::int64_t>,
    caf::replies_to<throw_atom, std::int64_t>::with<std::int64_t>,
    caf::replies_to<save_throw_atom, std::int64_t>::with<std::int64_t>,
    caf::replies_to<forward_atom, std::string, std::int64_t>::with<std::int64_t>,
    caf::replies_to<relay_atom, std::string, std::int64_t>::with<std::int64_t>,
    caf::replies_to<init_atom>::with<std::int64_t>,
    caf::replies_to<promise_throw_atom>::with<std::int64_t>,
    caf::replies_to<relay_throw_atom, std::string>::with<std::int64_t>,
    caf::replies_to<slow_atom, std::int64_t>::with<std::int64_t>,
    caf::replies_to<relay_slow_atom, std::string, std::int64_t>::with<std::int64_t>>;

/// Another interface, to check wrong-interface errors.
using other_if = caf::typed_actor<caf::replies_to<get_atom, std::string>::with<std::string>>;

struct probe_state {
  std::int64_t value = 0;
  std::int64_t init_arg = -1;
  std::int64_t forwarded = 0;
  MSGPACK_DEFINE_MAP(value, init_arg, forwarded)
};

/// How often on_initialize ran in this process.
inline std::atomic<int> initialize_runs{0};

class probe_actor : public ark::actor<probe_if, probe_state> {
 public:
  using actor::actor;

  void on_initialize(std::int64_t start) {
    ++initialize_runs;
    state().value = start;
    state().init_arg = start;
  }

  handlers_type make_handlers() override {
    return handlers(
        [this](add_atom, std::int64_t n) { return state().value += n; },
        [this](get_atom) { return state().value; },
        [this](put_kv_atom, const std::string& k, const std::string& v) -> ark::expected<bool> {
          auto r = kv().put(ark::key{"k", k}, v);
          if (!r) return r.error();
          // Read-your-writes inside the message.
          auto back = kv().get<std::string>(ark::key{"k", k});
          return back && *back == v;
        },
        [this](get_kv_atom, const std::string& k) {
          return kv().get<std::string>(ark::key{"k", k});
        },
        [this](del_kv_atom, const std::string& k) {
          return kv().del(ark::key{"k", k});
        },
        [this](list_kv_atom) -> ark::expected<std::vector<std::string>> {
          std::vector<std::string> out;
          ark::kv::list_options opts;
          opts.prefix = ark::key{"k"};
          auto c = kv().list(opts);
          for (; c.valid(); c.next()) out.push_back(c.key()[1].as_string());
          if (c.status()) return c.status();
          return out;
        },
        [this](fail_atom, std::int64_t n, const std::string& k) -> ark::expected<std::int64_t> {
          state().value += n;
          (void)kv().put(ark::key{"k", k}, std::string("written-by-failed-handler"));
          return ark::error{ark::errc::invalid_argument, "refused on purpose"};
        },
        [this](throw_atom, std::int64_t n) -> std::int64_t {
          state().value += n;
          throw std::runtime_error("thrown on purpose");
        },
        [this](save_throw_atom, std::int64_t n) -> std::int64_t {
          state().value += n;
          save_state();
          state().value += 1000;
          throw std::runtime_error("thrown after save_state");
        },
        [this](forward_atom, const std::string& other,
               std::int64_t n) -> ark::expected<std::int64_t> {
          auto h = get_or_create<probe_if>("probe", other, std::int64_t{0});
          if (!h) return h.error();
          ++state().forwarded;
          send(*h, add_atom::value, n);
          return state().forwarded;
        },
        [this](relay_atom, const std::string& other, std::int64_t n) -> ark::promise<std::int64_t> {
          auto p = make_promise<std::int64_t>();
          auto h = get_or_create<probe_if>("probe", other, std::int64_t{0});
          if (!h) {
            p.deliver_error(h.error());
            return p;
          }
          request(*h, std::chrono::seconds(10), add_atom::value, n)
              .then(
                  [this, p](std::int64_t theirs) mutable {
                    state().value += 1;  // the callback's change is persisted too
                    p.deliver(theirs);
                  },
                  [p](caf::error& e) mutable { p.deliver_error(e); });
          return p;
        },
        [this](init_atom) { return state().init_arg; },
        [this](promise_throw_atom) -> ark::promise<std::int64_t> {
          auto p = make_promise<std::int64_t>();
          state().value += 100;
          throw std::runtime_error("thrown after make_promise");
        },
        [this](relay_throw_atom, const std::string& other) -> ark::promise<std::int64_t> {
          auto p = make_promise<std::int64_t>();
          auto h = get_or_create<probe_if>("probe", other, std::int64_t{0});
          request(*h, std::chrono::seconds(10), add_atom::value, std::int64_t{1})
              .then(
                  [this](std::int64_t) {
                    state().value += 100;  // rolled back: the callback throws
                    throw std::runtime_error("thrown in a request callback");
                  },
                  [p](caf::error& e) mutable { p.deliver_error(e); });
          return p;
        },
        [this](slow_atom, std::int64_t ms) {
          std::this_thread::sleep_for(std::chrono::milliseconds(ms));
          return state().value;
        },
        [this](relay_slow_atom, const std::string& other,
               std::int64_t ms) -> ark::promise<std::int64_t> {
          auto p = make_promise<std::int64_t>();
          auto h = get_or_create<probe_if>("probe", other, std::int64_t{0});
          request(*h, std::chrono::seconds(30), slow_atom::value, ms)
              .then([p](std::int64_t v) mutable { p.deliver(v); },
                    [p](caf::error& e) mutable { p.deliver_error(e); });
          return p;
        });
  }
};

/// A probe whose dashboard view is custom.
class viewed_probe : public probe_actor {
 public:
  using probe_actor::probe_actor;
  nlohmann::json inspect_state() const override {
    return nlohmann::json{{"shown", state().value * 10}};
  }
};

}  // namespace probe
