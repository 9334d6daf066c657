#pragma once

// The load both ark-crash and ark-soak drive through a real ark-host: random
// requests to the counter, bank and chat_room example actors, and a ledger of
// what the host acknowledged, against which check() compares the host's state.
//
// Every request ends in one of four outcomes. acked: a reply with a value,
// so its effect must be durable. refused: an error reply that promises no
// effect (a transfer over the balance). uncertain: no reply because the
// host died (or the call failed): the effect may or may not be there, but at
// most once. error: any other failure, which the invariants do not allow.
// check() turns each uncertain request into applied or not applied, from what
// the host shows, so later checks are exact again.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <ark/client.hpp>

namespace ark::load {

/// A broken invariant: which one (e.g. "(a) acknowledged effect lost") and
/// the evidence.
struct violation {
  std::string invariant;
  std::string detail;
};

/// Outcome counts of one workload's requests.
struct tally {
  std::uint64_t acked = 0;
  std::uint64_t refused = 0;
  std::uint64_t uncertain = 0;
  std::uint64_t errors = 0;
  std::uint64_t applied = 0;  // uncertain ones a check found applied
  std::uint64_t turned_away = 0;  // shutting_down replies: certainly not applied

  tally& operator+=(const tally& t) {
    acked += t.acked;
    refused += t.refused;
    uncertain += t.uncertain;
    errors += t.errors;
    applied += t.applied;
    turned_away += t.turned_away;
    return *this;
  }
};

/// How a failed call counts.
enum class failure_policy {
  crash,   ///< unreachable (the host was killed) is uncertain, shutting_down (the
           ///< host drains on SIGTERM) is not applied, other failures are errors
  strict,  ///< every failure is an error: nothing may fail (the soak test)
};

/// One kind of load with its ledger. step() may run on many threads at once;
/// attach() and check() only while no step() runs.
class workload {
 public:
  workload(failure_policy policy, std::chrono::milliseconds call_timeout)
      : policy_(policy), call_timeout_(call_timeout) {}
  virtual ~workload() = default;
  workload(const workload&) = delete;
  workload& operator=(const workload&) = delete;

  /// "counter", "bank", "chat".
  virtual std::string name() const = 0;

  /// Sends the following requests through `c` (which must outlive them),
  /// dropping the handles resolved through an earlier connection.
  void attach(ark::client& c);
  /// Drops the connection and the handles resolved through it. Call before
  /// the actor system of the attached client goes away.
  void detach();

  /// Sends one random request on behalf of client `client` (a small number,
  /// unique per thread) and records its outcome. Returns false once the host
  /// is unreachable: the client stops then, so each client has at most one
  /// uncertain request per host run.
  virtual bool step(std::size_t client, std::mt19937_64& rng) = 0;

  /// Activates this workload's actors (resolving their handles): those with
  /// index % parts == part, so `parts` threads can share the work. A load
  /// then starts on a host whose working set is in memory. Errors as
  /// client::get_or_create.
  virtual expected<void> activate(std::size_t part, std::size_t parts) = 0;

  /// Compares the host's state with the ledger and appends every broken
  /// invariant to `out`, including the error replies since the last check.
  /// Then the state found becomes the ledger's baseline: uncertain requests
  /// are resolved as applied or not.
  virtual void check(std::vector<violation>& out) = 0;

  /// Outcome counts since construction.
  tally totals() const;

 protected:
  /// The handle of actor (type, key), cached per `slot` until the next
  /// attach(). Errors as client::get_or_create.
  template <class Interface>
  expected<Interface> handle(std::size_t slot, const std::string& type, const ark::key& k) {
    {
      std::lock_guard<std::mutex> guard{handles_mtx_};
      auto i = handles_.find(slot);
      if (i != handles_.end()) return caf::actor_cast<Interface>(i->second);
    }
    auto h = client_.get_or_create_actor(type, k, caf::make_message(),
                                         system().message_types<Interface>());
    if (!h) return h.error();
    std::lock_guard<std::mutex> guard{handles_mtx_};
    handles_.emplace(slot, *h);
    return caf::actor_cast<Interface>(std::move(*h));
  }

  /// Sends `xs...` to `dest` and waits for the reply (see ark::call).
  template <class R, class Handle, class... Ts>
  expected<R> call(const Handle& dest, Ts&&... xs) {
    return ark::call<R>(system(), dest, call_timeout_, std::forward<Ts>(xs)...);
  }

  caf::actor_system& system() const { return client_.system(); }

  /// Records a failed call `what`, uncertain under the crash policy when the
  /// host is unreachable, an error otherwise. Either way the caller's ledger
  /// treats its effect as uncertain, so one error does not cascade into false
  /// violations. Returns whether the client goes on (see step()).
  bool record_failure(const std::string& what, const ark::error& e);
  /// Records a failure to resolve a handle: no request left, so nothing is
  /// uncertain; an error unless the host is unreachable under the crash
  /// policy. Returns whether the client goes on.
  bool record_resolve_failure(const std::string& what, const ark::error& e);
  /// True when `e` says the host refused the request because it is
  /// stopping (crash policy only): the effect is certainly absent, the
  /// caller records it with turned_away().
  bool stopping(const ark::error& e) const {
    return policy_ == failure_policy::crash && e == errc::shutting_down;
  }
  /// Records a request refused by a stopping host; returns false (the client
  /// stops: the host is going away).
  bool turned_away() {
    bump(&tally::turned_away);
    return false;
  }
  void record_acked() { bump(&tally::acked); }
  void record_refused() { bump(&tally::refused); }
  /// Records that a check found `n` uncertain requests applied.
  void record_applied(std::uint64_t n);
  /// Appends one violation per error recorded since the last call, at most
  /// a few with their text and then a count.
  void report_errors(std::vector<violation>& out);

 private:
  void bump(std::uint64_t tally::*field);

  failure_policy policy_;
  std::chrono::milliseconds call_timeout_;
  ark::client client_;
  std::mutex handles_mtx_;
  std::unordered_map<std::size_t, caf::actor> handles_;
  mutable std::mutex tally_mtx_;
  tally tally_;
  std::vector<std::string> errors_;  // since the last report_errors
  std::uint64_t unreported_errors_ = 0;
};

/// Counters ("counter", [prefix, i]) for i < count; each request adds 1.
/// Checks: value >= baseline + acked adds (a) and <= that + uncertain adds
/// (b).
class counter_load : public workload {
 public:
  counter_load(failure_policy policy, std::chrono::milliseconds timeout, std::string prefix,
               std::size_t count);
  std::string name() const override { return "counter"; }
  bool step(std::size_t client, std::mt19937_64& rng) override;
  expected<void> activate(std::size_t part, std::size_t parts) override;
  void check(std::vector<violation>& out) override;

 private:
  struct entry {
    std::int64_t base = 0;       // the value found at the last check
    std::int64_t acked = 0;      // acked adds since
    std::int64_t uncertain = 0;  // uncertain adds since
  };
  ark::key key_of(std::size_t i) const;

  std::string prefix_;
  std::mutex mtx_;
  std::vector<entry> ledger_;
};

/// Accounts ("account", "<prefix>-<i>") for i < count, each seeded with a
/// deposit; each request transfers 1..max_amount between two random
/// accounts. Checks: the total is what was deposited (c), once the outboxes
/// of transfers cut by a crash are delivered (waits up to 10 s); every
/// balance is its baseline plus the acked transfers plus some subset of the
/// uncertain ones, the same subset for all accounts (a, b).
class bank_load : public workload {
 public:
  bank_load(failure_policy policy, std::chrono::milliseconds timeout, std::string prefix,
            std::size_t count, std::int64_t initial_deposit, std::int64_t max_amount);
  std::string name() const override { return "bank"; }
  /// Deposits initial_deposit into every account. REQUIRES: fresh accounts
  /// (the ledger starts at 0), no client running.
  expected<void> seed();
  bool step(std::size_t client, std::mt19937_64& rng) override;
  expected<void> activate(std::size_t part, std::size_t parts) override;
  void check(std::vector<violation>& out) override;

 private:
  struct transfer {
    std::size_t from = 0;
    std::size_t to = 0;
    std::int64_t amount = 0;
  };
  std::string account_name(std::size_t i) const;
  expected<std::vector<std::int64_t>> read_balances();
  // The first subset of uncertain_ (as a bit mask) under which the ledger
  // predicts `found`; -1 if none.
  std::int64_t matching_subset(const std::vector<std::int64_t>& found) const;
  std::string describe_mismatch(const std::vector<std::int64_t>& found) const;

  std::string prefix_;
  std::size_t count_;
  std::int64_t initial_;
  std::int64_t max_amount_;
  std::int64_t deposited_ = 0;
  std::mutex mtx_;
  std::vector<std::int64_t> base_;   // balances found at the last check
  std::vector<std::int64_t> delta_;  // acked transfers since
  std::vector<transfer> uncertain_;  // uncertain transfers since
};

/// Chat rooms ("chat_room", [prefix, n]); each request posts a text that is
/// a unique id "c<client>-<n>" to one of `active` rooms. A room that took
/// `capacity` posts is retired for a new one (0: never), so its whole
/// history fits one history() call (at most max_history lines). Checks per
/// room: count within acked..acked+uncertain posts (a, b); the history
/// holds seqs count, count-1, ...; each id at most once (b), every acked id
/// with its acked seq (a), no id that is unknown or was found absent before.
class chat_load : public workload {
 public:
  chat_load(failure_policy policy, std::chrono::milliseconds timeout, std::string prefix,
            std::size_t active, std::size_t capacity);
  std::string name() const override { return "chat"; }
  bool step(std::size_t client, std::mt19937_64& rng) override;
  expected<void> activate(std::size_t part, std::size_t parts) override;
  void check(std::vector<violation>& out) override;
  /// Rooms used so far.
  std::size_t rooms() const;

 private:
  enum class state { acked, uncertain, present, absent, unknown };
  struct message {
    std::size_t room = 0;
    state st = state::uncertain;
    std::int64_t seq = 0;  // acked or present: its seq
  };
  struct room {
    std::int64_t base = 0;  // the count found at the last check
    std::int64_t acked = 0;
    std::int64_t uncertain = 0;
    std::size_t attempts = 0;
    std::vector<std::string> ids;  // every id ever posted to it
  };
  ark::key key_of(std::size_t room) const;
  void check_room(std::size_t r, std::vector<violation>& out);

  std::string prefix_;
  std::size_t capacity_;
  mutable std::mutex mtx_;
  std::vector<room> rooms_;
  std::vector<std::size_t> active_;  // rooms taking posts
  std::unordered_map<std::string, message> messages_;
  std::uint64_t next_id_ = 0;
};

/// Client threads that call step() on workloads until stop() or until a
/// step() returns false (the host is gone). Each thread
/// picks, per request, a workload of its mix with probability proportional
/// to its weight; thread i is client i and seeds its generator from
/// (seed, i).
class client_pool {
 public:
  explicit client_pool(std::uint64_t seed) : seed_(seed) {}
  ~client_pool() { stop(); }
  client_pool(const client_pool&) = delete;
  client_pool& operator=(const client_pool&) = delete;

  /// Starts one client thread with this weighted mix.
  void spawn(std::vector<std::pair<workload*, unsigned>> mix);
  /// Tells every client to stop after its current request and joins them.
  void stop();

 private:
  std::uint64_t seed_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

}  // namespace ark::load
