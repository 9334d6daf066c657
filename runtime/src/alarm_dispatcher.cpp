#include "alarm_dispatcher.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <caf/all.hpp>

#include "ark/alarm.hpp"
#include "ark/detail/actor_core.hpp"
#include "ark/kv/store.hpp"

namespace ark::detail {

namespace {

using deliver_atom = caf::atom_constant<caf::atom("arkdeliver")>;

// Deliveries one pass sends at most; the next pass follows at once.
constexpr std::size_t max_per_pass = 1000;

// The longest sleep: the thread looks again at least this often (the wall
// clock may jump).
constexpr std::chrono::seconds max_sleep{30};

}  // namespace

struct alarm_dispatcher::state : std::enable_shared_from_this<alarm_dispatcher::state> {
  options opts;
  mutable std::mutex mtx;
  std::condition_variable cv;
  // In flight: the due-index key (with its table's number in front) -> when
  // it may be sent again.
  struct pending {
    std::chrono::steady_clock::time_point until;
    bool delivering;  // false: waiting out a failed activation
  };
  std::unordered_map<std::string, pending> inflight;
  std::int64_t next_due = INT64_MAX;  // the earliest due time seen by the last pass
  bool stopping = false;
  bool wake = false;
  std::uint64_t answered = 0;
  caf::actor courier;
  std::thread thread;

  void done(const std::string& id, const caf::error& err) {
    {
      std::lock_guard<std::mutex> guard{mtx};
      inflight.erase(id);
      ++answered;
      wake = true;
    }
    if (err && err != caf::sec::request_timeout && opts.log && !stopping)
      opts.log("alarm delivery failed (it is retried): " + caf::to_string(err));
    cv.notify_all();
  }

  std::size_t run_due() {
    std::vector<std::shared_ptr<kv::backend>> tables;
    std::function<expected<caf::actor>(const std::string&, const ark::key&)> activate;
    {
      // A commit or an answer that arrives during the pass asks for another.
      std::lock_guard<std::mutex> guard{mtx};
      if (stopping) return 0;
      wake = false;
      tables = opts.tables;
      activate = opts.activate;
    }
    auto now_ms = to_unix_ms(opts.clock->now());
    auto now = std::chrono::steady_clock::now();
    std::int64_t next = INT64_MAX;
    std::size_t sent = 0;
    for (std::size_t t = 0; t < tables.size(); ++t) {
      auto table = kv::store::open(tables[t], ark::key{nullptr, "alarm_due"});
      if (!table) continue;
      auto c = table->list();
      for (; c.valid(); c.next()) {
        const auto& k = c.key();
        if (k.size() != 4 || k[0].kind() != key_element::type::int64 ||
            k[1].kind() != key_element::type::string || k[2].kind() != key_element::type::tuple ||
            k[3].kind() != key_element::type::string) {
          if (opts.log) opts.log("alarm index entry " + k.to_string() + " is damaged; skipped");
          continue;
        }
        auto due = k[0].as_int();
        if (due > now_ms) {
          next = std::min(next, due);
          break;
        }
        if (sent >= max_per_pass) {
          next = INT64_MIN;
          break;
        }
        auto encoded = encode_key(k);
        if (!encoded) continue;
        std::string id(1, static_cast<char>(t));
        id += *encoded;
        {
          std::lock_guard<std::mutex> guard{mtx};
          if (stopping) return sent;
          auto it = inflight.find(id);
          if (it != inflight.end() && it->second.until > now) continue;
        }
        const auto& type = k[1].as_string();
        auto handle = activate(type, k[2].as_tuple());
        std::lock_guard<std::mutex> guard{mtx};
        if (!handle) {
          if (handle.error() == errc::shutting_down) return sent;
          if (opts.log)
            opts.log("alarm '" + k[3].as_string() + "' of actor " + type + " " +
                     k[2].as_tuple().to_string() + " cannot be delivered (retried in " +
                     std::to_string(opts.activation_retry.count() / 1000) +
                     " s): " + handle.error().message());
          inflight[id] = {now + opts.activation_retry, false};
          continue;
        }
        inflight[id] = {now + opts.ack_timeout, true};
        caf::anon_send(courier, deliver_atom::value, std::move(*handle), k[3].as_string(), due,
                       std::move(id));
        ++sent;
      }
      if (c.status() && opts.log) opts.log("reading the alarm index: " + c.status().message());
    }
    std::lock_guard<std::mutex> guard{mtx};
    if (!wake) next_due = next;
    return sent;
  }

  void loop() {
    for (;;) {
      run_due();
      std::unique_lock<std::mutex> lock{mtx};
      if (stopping) return;
      if (wake) continue;
      auto until = std::chrono::steady_clock::now() + max_sleep;
      if (next_due != INT64_MAX) {
        auto wait_ms = next_due - to_unix_ms(opts.clock->now());
        until = std::min(until, std::chrono::steady_clock::now() +
                                    std::chrono::milliseconds(std::max<std::int64_t>(wait_ms, 0)));
      }
      for (const auto& [id, p] : inflight) until = std::min(until, p.until);
      cv.wait_until(lock, until, [&] { return stopping || wake; });
      if (stopping) return;
    }
  }
};

alarm_dispatcher::alarm_dispatcher(options opts) : st_(std::make_shared<state>()) {
  st_->opts = std::move(opts);
  // Its inputs are spawn arguments, not captures: spawned without arguments,
  // CAF 0.17 binds a reference to a null tuple (undefined behaviour).
  auto courier = [](caf::event_based_actor* self, std::weak_ptr<state> weak,
                    std::chrono::milliseconds timeout) -> caf::behavior {
    return {
        [=](deliver_atom, const caf::actor& target, const std::string& name, std::int64_t due,
            const std::string& id) {
          self->request(target, timeout, alarm_atom::value, name, due)
              .then(
                  [=](bool) {
                    if (auto s = weak.lock()) s->done(id, caf::error{});
                  },
                  [=](caf::error& err) {
                    if (auto s = weak.lock()) s->done(id, err);
                  });
        },
    };
  };
  st_->courier = st_->opts.system->spawn(courier, std::weak_ptr<state>(st_), st_->opts.ack_timeout);
}

alarm_dispatcher::~alarm_dispatcher() {
  stop();
}

void alarm_dispatcher::start() {
  if (st_->opts.clock->is_virtual() || st_->thread.joinable()) return;
  st_->thread = std::thread([s = st_] { s->loop(); });
}

void alarm_dispatcher::stop() {
  {
    std::lock_guard<std::mutex> guard{st_->mtx};
    if (st_->stopping) return;
    st_->stopping = true;
  }
  st_->cv.notify_all();
  if (st_->thread.joinable()) st_->thread.join();
  caf::anon_send_exit(st_->courier, caf::exit_reason::user_shutdown);
  std::lock_guard<std::mutex> guard{st_->mtx};
  st_->courier = nullptr;
  st_->opts.tables.clear();  // the owner closes the data directory next
  st_->opts.activate = nullptr;
}

void alarm_dispatcher::scheduled(std::int64_t due_ms) {
  {
    std::lock_guard<std::mutex> guard{st_->mtx};
    st_->next_due = std::min(st_->next_due, due_ms);
    st_->wake = true;
  }
  st_->cv.notify_all();
}

std::size_t alarm_dispatcher::run_due() {
  return st_->run_due();
}

std::optional<std::int64_t> alarm_dispatcher::earliest_due() const {
  std::optional<std::int64_t> out;
  std::vector<std::shared_ptr<kv::backend>> tables;
  {
    std::lock_guard<std::mutex> guard{st_->mtx};
    tables = st_->opts.tables;
  }
  for (const auto& t : tables) {
    auto table = kv::store::open(t, ark::key{nullptr, "alarm_due"});
    if (!table) continue;
    kv::list_options first;
    first.limit = 1;
    auto c = table->list(first);
    if (c.valid() && c.key().size() > 0 && c.key()[0].kind() == key_element::type::int64)
      out = std::min(out.value_or(INT64_MAX), c.key()[0].as_int());
  }
  return out;
}

std::size_t alarm_dispatcher::in_flight() const {
  std::lock_guard<std::mutex> guard{st_->mtx};
  // Entries waiting out an activation retry are not deliveries.
  return static_cast<std::size_t>(std::count_if(st_->inflight.begin(), st_->inflight.end(),
                                                [](const auto& e) { return e.second.delivering; }));
}

std::uint64_t alarm_dispatcher::answered() const {
  std::lock_guard<std::mutex> guard{st_->mtx};
  return st_->answered;
}

}  // namespace ark::detail
