// Reproduces, with plain CAF 0.17.6 and no ark code, the leak that
// runtime/src/basp_shutdown.hpp works around: with middleman heartbeats on,
// a heartbeat tick that reaches the BASP broker after it terminated stays in
// its never-closed mailbox and keeps the broker (and all it owns) alive.
//
//   g++ -std=c++17 -O1 -g1 -fsanitize=address scripts/caf-basp-leak.cpp \
//       -o /tmp/caf-basp-leak -lcaf_io -lcaf_core -lpthread
//   for i in $(seq 20); do /tmp/caf-basp-leak 5 2>&1 | grep -c 'leak of'; done
//
// The argument is the heartbeat interval in ms (ark's clients use 1000: the
// window is the same few milliseconds, so about 1 run in 60 leaks there; at
// 5 ms most runs do). 0 turns heartbeats off: no run leaks.

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <chrono>
#include <cstdlib>

using add_atom = caf::atom_constant<caf::atom("add")>;
using calc = caf::typed_actor<caf::replies_to<add_atom, int>::with<int>>;

class calc_impl : public calc::base {
 public:
  explicit calc_impl(caf::actor_config& cfg) : calc::base(cfg) {}
  behavior_type make_behavior() override {
    return {[](add_atom, int x) { return x + 1; }};
  }
};

int main(int argc, char** argv) {
  auto interval = std::chrono::milliseconds(argc > 1 ? std::atoi(argv[1]) : 5);
  caf::actor_system_config server_cfg;
  caf::actor_system_config client_cfg;
  for (auto* cfg : {&server_cfg, &client_cfg}) {
    cfg->load<caf::io::middleman>();
    cfg->set("middleman.heartbeat-interval", caf::timespan{interval});
  }
  caf::actor_system server{server_cfg};
  auto a = server.spawn<calc_impl>();
  auto port = server.middleman().publish(a, 0, "127.0.0.1");
  if (!port) return 2;
  {
    caf::actor_system client{client_cfg};
    auto h = client.middleman().remote_actor<calc>("127.0.0.1", *port);
    if (!h) return 3;
    caf::scoped_actor self{client};
    int got = 0;
    self->request(*h, std::chrono::seconds(10), add_atom::value, 1)
        .receive([&](int r) { got = r; }, [&](caf::error&) {});
    if (got != 2) return 4;
  }
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  return 0;
}
