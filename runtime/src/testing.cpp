#include "ark/testing.hpp"

#include <algorithm>
#include <thread>

#include <caf/all.hpp>

#include "ark/detail/actor_core.hpp"
#include "runtime_access.hpp"
#include "ark/errors.hpp"
#include "ark/inspect.hpp"
#include "ark/kv/memory_backend.hpp"
#include "ark/kv/store.hpp"
#include "ark/kv/value.hpp"
#include "ark/registry.hpp"

namespace ark::testing {

void pause_commits(ark::runtime& rt) {
  detail::runtime_access::pause_commits(rt);
}
void resume_commits(ark::runtime& rt) {
  detail::runtime_access::resume_commits(rt);
}
void skip_checkpoint_at_stop(ark::runtime& rt) {
  detail::runtime_access::skip_checkpoint_at_stop(rt);
}

namespace {

// The memory backend that plays the disk, with a switch that makes it die
// at a chosen commit (crash_at_commit).
class crashable_backend final : public kv::backend {
 public:
  crashable_backend() : base_(kv::memory_backend::create()) {}

  std::string_view name() const override { return "memory"; }
  expected<std::string> get(std::string_view space, std::string_view key) override {
    return base_->get(space, key);
  }
  expected<std::vector<std::optional<std::string>>> get_batch(
      std::string_view space, const std::vector<std::string>& keys) override {
    return base_->get_batch(space, keys);
  }
  expected<std::unique_ptr<kv::backend_cursor>> scan(std::string_view space,
                                                     const kv::byte_range& range,
                                                     bool reverse) override {
    return base_->scan(space, range, reverse);
  }
  expected<std::vector<std::string>> spaces(std::string_view after, std::size_t limit) override {
    return base_->spaces(after, limit);
  }

  expected<std::uint64_t> apply(const kv::backend_batch& batch) override {
    std::lock_guard<std::mutex> guard{mtx_};
    if (crashed_) return dead();
    if (countdown_ > 0 && --countdown_ == 0) {
      crashed_ = true;
      if (point_ == crash_point::after_commit) {
        if (auto r = base_->apply(batch); r) ++commits_;
      }
      return dead();
    }
    auto r = base_->apply(batch);
    if (r) ++commits_;
    return r;
  }

  void arm(crash_point p, std::size_t nth) {
    std::lock_guard<std::mutex> guard{mtx_};
    point_ = p;
    countdown_ = std::max<std::size_t>(nth, 1);
  }
  void revive() {
    std::lock_guard<std::mutex> guard{mtx_};
    crashed_ = false;
    countdown_ = 0;
  }
  bool crashed() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return crashed_;
  }
  std::uint64_t commits() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return commits_;
  }

 private:
  static error dead() {
    return error{errc::storage_failed, "the host crashed (ark::testing crash injection)",
                 "call world::restart(): the host comes back over what was durable"};
  }

  std::shared_ptr<kv::backend> base_;
  mutable std::mutex mtx_;
  crash_point point_ = crash_point::before_commit;
  std::size_t countdown_ = 0;
  bool crashed_ = false;
  std::uint64_t commits_ = 0;
};

// Waits until `done()` holds, at most `limit` (real time).
template <class F>
bool wait_for(F done, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

}  // namespace

struct world::impl {
  world_options opts;
  std::shared_ptr<crashable_backend> disk = std::make_shared<crashable_backend>();
  std::shared_ptr<virtual_clock> clk;
  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::shared_ptr<ark::runtime> rt;
  mutable std::mutex log_mtx;
  std::vector<std::string> lines;

  void open() {
    runtime_options ro;
    ro.data_dir = "(ark::testing memory storage)";
    ro.backend = disk;
    ro.clock = clk;
    ro.idle_timeout = opts.idle_timeout;
    ro.max_active = opts.max_active;
    ro.checkpoint_bytes = 0;  // one storage commit per group commit: countable
    ro.alarm_ack_timeout = opts.call_timeout;
    ro.log = [this](const std::string& line) {
      std::lock_guard<std::mutex> guard{log_mtx};
      lines.push_back(line);
    };
    auto r = ark::runtime::open(*sys, ro);
    // Over memory storage nothing can refuse the open but a bug.
    if (!r) throw std::runtime_error("ark::testing: cannot open the runtime: " + r.error().message());
    rt = std::move(*r);
  }

  void close() {
    if (!rt) return;
    rt->shutdown(std::chrono::seconds(10));
    rt.reset();
  }

  // Waits for the alarm deliveries in flight.
  expected<void> settle_alarms() {
    if (!wait_for([&] { return rt->stats().alarms_in_flight == 0; }, opts.call_timeout))
      return error{errc::unreachable, "alarm deliveries did not settle within " +
                                          std::to_string(opts.call_timeout.count()) + " ms"};
    return {};
  }

  // Waits until the writer let go of every unit: a unit holds its actor, and
  // an actor with a handle outside the host only drops its state when asked
  // to passivate (it stays active). Its caller may have its reply already.
  void settle_commits() {
    wait_for([&] { return detail::runtime_access::commits_idle(*rt); }, opts.call_timeout);
  }

  // Waits until `n` more idle checks than `base` were handled (a sweep or a
  // passivation request settled). An actor that ended meanwhile never
  // answers, so the wait is bounded.
  void settle_idle(std::uint64_t base, std::size_t n) {
    wait_for([&] { return rt->idle_checks() >= base + n; }, std::chrono::seconds(2));
  }
};

world::world(world_options opts) : opts_(opts), impl_(std::make_unique<impl>()) {
  impl_->opts = opts;
  impl_->clk = std::make_shared<virtual_clock>(opts.start);
  impl_->cfg = std::make_unique<caf::actor_system_config>();
  actor_registry::global().configure(*impl_->cfg);
  impl_->sys = std::make_unique<caf::actor_system>(*impl_->cfg);
  impl_->open();
}

world::~world() {
  impl_->close();
  impl_->sys.reset();
}

caf::actor_system& world::system() {
  return *impl_->sys;
}
ark::runtime& world::runtime() {
  return *impl_->rt;
}
ark::virtual_clock& world::clock() {
  return *impl_->clk;
}
std::shared_ptr<kv::backend> world::storage() {
  return impl_->disk;
}

expected<void> world::advance(std::chrono::milliseconds d) {
  auto target = impl_->clk->now() + d;
  auto target_ms = to_unix_ms(target);
  // Alarm by alarm, in time order: a handler may schedule one that is due
  // within the span.
  for (int rounds = 0;; ++rounds) {
    if (rounds > 100000)
      return error{errc::invalid_argument,
                   "advance: alarms keep rescheduling themselves at the same time"};
    auto next = impl_->rt->next_alarm_ms();
    if (!next || *next > target_ms) break;
    auto now = impl_->clk->now();
    if (from_unix_ms(*next) > now) impl_->clk->advance(from_unix_ms(*next) - now);
    if (impl_->rt->run_due_alarms() == 0) {
      // Everything due is in flight or waits for a retry: let it settle.
      ARK_TRY(impl_->settle_alarms());
      if (impl_->rt->run_due_alarms() == 0) break;
    }
    ARK_TRY(impl_->settle_alarms());
  }
  auto now = impl_->clk->now();
  if (target > now) impl_->clk->advance(target - now);
  impl_->rt->run_due_alarms();
  ARK_TRY(impl_->settle_alarms());
  // An actor that was busy a moment ago may still be referenced by CAF's
  // scheduler (a worker drops its reference after the actor's turn), or by
  // the writer (a unit holds its actor until its batch is done): it then
  // only drops its state (soft passivation). Sweep again until no actor
  // newly did, so idle actors leave as the idle timeout says. An actor whose
  // handle a test holds is passive after the first round: two rounds.
  for (int round = 0; round < 50; ++round) {
    impl_->settle_commits();
    auto soft = detail::runtime_access::soft_passivations(*impl_->rt);
    auto base = impl_->rt->idle_checks();
    impl_->settle_idle(base, impl_->rt->sweep_idle());
    if (detail::runtime_access::soft_passivations(*impl_->rt) == soft) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return {};
}

expected<void> world::restart_actor(std::string_view type, const ark::key& k) {
  auto id = inspect::encode_identity(type, k);
  if (!id) return id.error();
  impl_->settle_commits();
  auto base = impl_->rt->idle_checks();
  if (!impl_->rt->passivate(*id))
    return error{errc::not_found,
                 "actor " + std::string(type) + " " + k.to_string() + " is not active"};
  impl_->settle_idle(base, 1);
  return {};
}

void world::restart() {
  impl_->close();
  impl_->disk->revive();
  impl_->open();
  // Alarms whose time passed while the host was down fire at start.
  impl_->rt->run_due_alarms();
  (void) impl_->settle_alarms();
}

void world::crash_at_commit(crash_point p, std::size_t nth) {
  impl_->disk->arm(p, nth);
}

bool world::crashed() const {
  return impl_->disk->crashed();
}

std::uint64_t world::commits() const {
  return impl_->disk->commits();
}

expected<void> world::settle_actor(const caf::actor& h) {
  caf::scoped_actor self{system()};
  expected<void> out;
  self->request(h, caf::duration{opts_.call_timeout}, sync_atom::value)
      .receive([](sync_atom) {},
               [&](caf::error& e) {
                 // A failed commit (the actor reports it) settled too; only
                 // silence is an error.
                 if (e == caf::sec::request_timeout)
                   out = error{errc::unreachable, "an actor did not settle within " +
                                                      std::to_string(opts_.call_timeout.count()) +
                                                      " ms"};
               });
  return out;
}

expected<void> world::wait_until_idle() {
  // Rounds: each waits for every alarm delivery and every active actor to
  // settle (sync_atom: behind its queued messages and its units, so its
  // outputs are enqueued). Messages they sent each other show as work done
  // in the next round; two rounds in a row without any is quiet.
  auto until = std::chrono::steady_clock::now() + opts_.call_timeout;
  auto work = [&] {
    auto s = impl_->rt->stats();
    return std::make_tuple(s.messages, s.commits, s.failed_units, s.alarms_answered,
                           s.active_actors);
  };
  for (int quiet = 0; quiet < 2;) {
    if (std::chrono::steady_clock::now() > until)
      return error{errc::unreachable, "the world did not become idle within " +
                                          std::to_string(opts_.call_timeout.count()) +
                                          " ms: actors keep working"};
    auto before = work();
    ARK_TRY(impl_->settle_alarms());
    for (const auto& h : impl_->rt->active_actors()) ARK_TRY(settle_actor(h));
    quiet = work() == before ? quiet + 1 : 0;
  }
  return {};
}

expected<nlohmann::json> world::stored_state_json(std::string_view type, const ark::key& k) {
  auto r = inspect::reader::open(impl_->disk);
  if (!r) return r.error();
  return r->state(type, k);
}

expected<std::string> world::stored_state_msgpack(std::string_view type, const ark::key& k) {
  auto r = inspect::reader::open(impl_->disk);
  if (!r) return r.error();
  auto stored = r->snapshot(type, k);
  if (!stored) return stored.error();
  auto snap = detail::parse_snapshot(*stored);
  if (!snap) return snap.error();
  std::string out;
  kv::detail::string_writer w{&out};
  msgpack::pack(w, snap->state);
  return out;
}

expected<std::vector<alarm>> world::stored_alarms(std::string_view type, const ark::key& k) {
  auto table = kv::store::open(impl_->disk, ark::key{nullptr, "alarms"});
  if (!table) return table.error();
  kv::list_options opts;
  opts.prefix = ark::key{std::string(type), k};
  std::vector<alarm> out;
  auto c = table->list(opts);
  for (; c.valid(); c.next()) {
    auto s = c.value().as<detail::stored_alarm>();
    if (!s) return s.error();
    out.push_back(detail::to_alarm(c.key()[2].as_string(), *s));
  }
  if (c.status()) return c.status();
  std::sort(out.begin(), out.end(), [](const alarm& a, const alarm& b) { return a.due < b.due; });
  return out;
}

std::vector<std::string> world::log() const {
  std::lock_guard<std::mutex> guard{impl_->log_mtx};
  return impl_->lines;
}

}  // namespace ark::testing
