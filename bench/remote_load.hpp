#pragma once

// Load from a client process: request loops over counter handles (local or
// remote), shared by the remote and cluster scenarios.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include "ark/call_many.hpp"
#include "bench.hpp"
#include "counter/counter.hpp"

namespace ark::bench {

using done_counter = std::shared_ptr<std::atomic<std::uint64_t>>;
using stop_flag = std::shared_ptr<std::atomic<bool>>;
using again_fn = std::shared_ptr<std::function<void()>>;

/// Calls send(again) until `stop`: send makes one request whose success
/// handler calls (*again)() (the next request); on an error it quits.
template <class Send>
void loop_requests(caf::event_based_actor* self, stop_flag stop, Send send) {
  auto next = std::make_shared<std::function<void()>>();
  *next = [self, stop, send, next] {
    if (*stop) {
      self->quit();
      return;
    }
    send(next);
  };
  self->attach_functor([next] { *next = nullptr; });  // `next` holds itself
  (*next)();
}

/// Adds 1 to random counters of `handles` until `stop`, one request at a
/// time; `done` counts the replies. An error ends the actor.
inline void counter_load_actor(caf::event_based_actor* self,
                               std::vector<counter::counter_if> handles, done_counter done,
                               stop_flag stop, std::uint32_t seed) {
  auto rng = std::make_shared<std::minstd_rand>(seed);
  loop_requests(self, stop, [self, handles, done, rng](again_fn again) {
    const auto& h = handles[(*rng)() % handles.size()];
    self->request(h, std::chrono::seconds(10), counter::add_atom::value, std::int64_t{1})
        .then(
            [done, again](std::int64_t) {
              ++*done;
              (*again)();
            },
            [self](caf::error&) { self->quit(); });
  });
}

/// The same with ark::call_many: batches of `batch` adds to random counters,
/// one batch at a time through the host's directory `dir`; `done` counts
/// the calls answered.
inline void counter_batch_load_actor(caf::event_based_actor* self, directory_actor dir,
                                     std::string token, std::vector<counter::counter_if> handles,
                                     int batch, done_counter done, stop_flag stop,
                                     std::uint32_t seed) {
  auto rng = std::make_shared<std::minstd_rand>(seed);
  loop_requests(self, stop, [self, dir, token, handles, batch, done, rng](again_fn again) {
    ark::call_batch b;
    for (int i = 0; i < batch; ++i)
      (void)b.add(handles[(*rng)() % handles.size()], counter::add_atom::value, std::int64_t{1});
    self->request(dir, std::chrono::seconds(10), directory_many_atom::value, token,
                  b.destinations(), b.messages())
        .then(
            [self, done, again](std::vector<caf::message>& replies) {
              for (auto& r : replies)
                if (!r.match_elements<std::int64_t>()) {
                  self->quit();
                  return;
                }
              *done += replies.size();
              (*again)();
            },
            [self](caf::error&) { self->quit(); });
  });
}


/// Replies a second of `inflight` load actors (spawn(i, done, stop) starts
/// actor i), measured over `window` after `warmup`.
inline double measure_load(caf::actor_system& sys, int inflight, std::chrono::milliseconds warmup,
                           std::chrono::milliseconds window,
                           const std::function<void(int, done_counter, stop_flag)>& spawn) {
  auto done = std::make_shared<std::atomic<std::uint64_t>>(0);
  auto stop = std::make_shared<std::atomic<bool>>(false);
  for (int a = 0; a < inflight; ++a) spawn(a, done, stop);
  std::this_thread::sleep_for(warmup);
  auto n0 = done->load();
  auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(window);
  auto rate = static_cast<double>(done->load() - n0) / seconds_since(t0);
  *stop = true;
  sys.await_all_actors_done();
  return rate;
}

/// Replies a second with `inflight` counter_load_actors over `handles`
/// (actor i takes handles_for(i)), measured over `window` after `warmup`.
inline double load_rate(caf::actor_system& sys,
                        const std::function<std::vector<counter::counter_if>(int)>& handles_for,
                        int inflight, std::chrono::milliseconds warmup,
                        std::chrono::milliseconds window) {
  return measure_load(sys, inflight, warmup, window, [&](int a, done_counter done, stop_flag stop) {
    sys.spawn(counter_load_actor, handles_for(a), done, stop, static_cast<std::uint32_t>(a + 1));
  });
}

/// The same, every actor over all of `handles`.
inline double load_rate(caf::actor_system& sys, const std::vector<counter::counter_if>& handles,
                        int inflight, std::chrono::milliseconds warmup,
                        std::chrono::milliseconds window) {
  return load_rate(sys, [&](int) { return handles; }, inflight, warmup, window);
}

/// `n` sequential adds to `h` from a scoped actor of `sys`: their latencies
/// in µs (empty when one failed).
inline std::vector<double> sequential_add_latencies(caf::actor_system& sys,
                                                    const counter::counter_if& h, int n) {
  std::vector<double> us;
  caf::scoped_actor self{sys};
  for (int i = 0; i < n; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    bool ok = false;
    self->request(h, std::chrono::seconds(10), counter::add_atom::value, std::int64_t{1})
        .receive([&](std::int64_t) { ok = true; }, [&](caf::error&) {});
    if (!ok) return {};
    us.push_back(seconds_since(t0) * 1e6);
  }
  return us;
}

}  // namespace ark::bench
