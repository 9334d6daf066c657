#include "load_driver.hpp"

#include <algorithm>
#include <numeric>
#include <sstream>
#include <unordered_set>

#include "bank/bank.hpp"
#include "chat_room/chat_room.hpp"
#include "counter/counter.hpp"

namespace ark::load {

namespace {

// Error texts kept per check for the report; the rest are only counted.
constexpr std::size_t max_error_samples = 5;

// Longest time check() waits for transfers cut by a crash to be completed by
// their senders' outboxes.
constexpr auto outbox_settle_timeout = std::chrono::seconds(10);

// More uncertain transfers than this are not matched subset by subset.
constexpr std::size_t max_subset_bits = 16;

std::string str(std::int64_t v) {
  return std::to_string(v);
}

}  // namespace

// -- workload -----------------------------------------------------------------

void workload::attach(ark::client& c) {
  client_ = c;
  std::lock_guard<std::mutex> guard{handles_mtx_};
  handles_.clear();
}

void workload::detach() {
  {
    std::lock_guard<std::mutex> guard{handles_mtx_};
    handles_.clear();
  }
  client_ = ark::client{};
}

tally workload::totals() const {
  std::lock_guard<std::mutex> guard{tally_mtx_};
  return tally_;
}

void workload::bump(std::uint64_t tally::*field) {
  std::lock_guard<std::mutex> guard{tally_mtx_};
  ++(tally_.*field);
}

void workload::record_applied(std::uint64_t n) {
  std::lock_guard<std::mutex> guard{tally_mtx_};
  tally_.applied += n;
}

bool workload::record_failure(const std::string& what, const ark::error& e) {
  std::lock_guard<std::mutex> guard{tally_mtx_};
  if (policy_ == failure_policy::crash && e == errc::unreachable) {
    ++tally_.uncertain;
  } else {
    ++tally_.errors;
    ++unreported_errors_;
    if (errors_.size() < max_error_samples) errors_.push_back(what + ": " + e.message());
  }
  return e != errc::unreachable;
}

bool workload::record_resolve_failure(const std::string& what, const ark::error& e) {
  if (policy_ == failure_policy::crash && e == errc::unreachable) return false;
  if (stopping(e)) return turned_away();
  std::lock_guard<std::mutex> guard{tally_mtx_};
  ++tally_.errors;
  ++unreported_errors_;
  if (errors_.size() < max_error_samples) errors_.push_back(what + ": " + e.message());
  return e != errc::unreachable;
}

void workload::report_errors(std::vector<violation>& out) {
  std::lock_guard<std::mutex> guard{tally_mtx_};
  for (const auto& e : errors_) out.push_back({"unexpected error reply (" + name() + ")", e});
  if (unreported_errors_ > errors_.size())
    out.push_back({"unexpected error reply (" + name() + ")",
                   std::to_string(unreported_errors_ - errors_.size()) + " more"});
  errors_.clear();
  unreported_errors_ = 0;
}

// -- counter_load -------------------------------------------------------------

counter_load::counter_load(failure_policy policy, std::chrono::milliseconds timeout,
                           std::string prefix, std::size_t count)
    : workload(policy, timeout), prefix_(std::move(prefix)), ledger_(count) {}

ark::key counter_load::key_of(std::size_t i) const {
  return ark::key{prefix_, i};
}

bool counter_load::step(std::size_t, std::mt19937_64& rng) {
  auto i = static_cast<std::size_t>(rng() % ledger_.size());
  auto what = "counter " + key_of(i).to_string() + " add 1";
  auto h = handle<counter::counter_if>(i, "counter", key_of(i));
  if (!h) return record_resolve_failure(what, h.error());
  auto r = call<std::int64_t>(*h, counter::add_atom::value, std::int64_t{1});
  if (!r && stopping(r.error())) return turned_away();
  {
    std::lock_guard<std::mutex> guard{mtx_};
    (r ? ledger_[i].acked : ledger_[i].uncertain) += 1;
  }
  if (!r) return record_failure(what, r.error());
  record_acked();
  return true;
}

expected<void> counter_load::activate(std::size_t part, std::size_t parts) {
  for (auto i = part; i < ledger_.size(); i += parts)
    if (auto h = handle<counter::counter_if>(i, "counter", key_of(i)); !h) return h.error();
  return {};
}

void counter_load::check(std::vector<violation>& out) {
  report_errors(out);
  for (std::size_t i = 0; i < ledger_.size(); ++i) {
    auto& e = ledger_[i];
    auto name = "counter " + key_of(i).to_string();
    auto h = handle<counter::counter_if>(i, "counter", key_of(i));
    auto v = h ? call<std::int64_t>(*h, counter::get_atom::value) : h.error();
    if (!v) {
      out.push_back({"check could not read", name + ": " + v.error().message()});
      continue;
    }
    auto lo = e.base + e.acked;
    auto hi = lo + e.uncertain;
    if (*v < lo)
      out.push_back({"(a) acknowledged effect lost", name + " holds " + str(*v) + ", but it was " +
                                                         str(e.base) + " and " + str(e.acked) +
                                                         " adds of 1 were acknowledged since (" +
                                                         str(e.uncertain) + " more uncertain)"});
    if (*v > hi)
      out.push_back({"(b) effect applied twice",
                     name + " holds " + str(*v) + ", at most " + str(hi) + " possible: it was " +
                         str(e.base) + ", " + str(e.acked) + " acked and " + str(e.uncertain) +
                         " uncertain adds of 1 since"});
    if (*v >= lo && *v <= hi) record_applied(static_cast<std::uint64_t>(*v - lo));
    e = entry{*v, 0, 0};
  }
}

// -- bank_load ----------------------------------------------------------------

bank_load::bank_load(failure_policy policy, std::chrono::milliseconds timeout, std::string prefix,
                     std::size_t count, std::int64_t initial_deposit, std::int64_t max_amount)
    : workload(policy, timeout),
      prefix_(std::move(prefix)),
      count_(count),
      initial_(initial_deposit),
      max_amount_(max_amount),
      base_(count, 0),
      delta_(count, 0) {}

std::string bank_load::account_name(std::size_t i) const {
  return prefix_ + "-" + std::to_string(i);
}

expected<void> bank_load::seed() {
  for (std::size_t i = 0; i < count_; ++i) {
    auto h = handle<bank::account_if>(i, "account", ark::key{account_name(i)});
    auto r = h ? call<std::int64_t>(*h, bank::deposit_atom::value, initial_) : h.error();
    if (!r)
      return error{r.error().code(),
                   "seeding account " + account_name(i) + ": " + r.error().message()};
    deposited_ += initial_;
    delta_[i] += initial_;
  }
  return {};
}

bool bank_load::step(std::size_t, std::mt19937_64& rng) {
  transfer t;
  t.from = static_cast<std::size_t>(rng() % count_);
  t.to = (t.from + 1 + static_cast<std::size_t>(rng() % (count_ - 1))) % count_;
  t.amount = 1 + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(max_amount_));
  auto what =
      "transfer " + str(t.amount) + " from " + account_name(t.from) + " to " + account_name(t.to);
  auto h = handle<bank::account_if>(t.from, "account", ark::key{account_name(t.from)});
  if (!h) return record_resolve_failure(what, h.error());
  auto r = call<std::int64_t>(*h, bank::transfer_atom::value, account_name(t.to), t.amount);
  if (r) {
    record_acked();
    std::lock_guard<std::mutex> guard{mtx_};
    delta_[t.from] -= t.amount;
    delta_[t.to] += t.amount;
    return true;
  }
  if (r.error() == errc::invalid_argument) {
    record_refused();  // insufficient funds: nothing moved
    return true;
  }
  if (stopping(r.error())) return turned_away();
  {
    std::lock_guard<std::mutex> guard{mtx_};
    uncertain_.push_back(t);
  }
  return record_failure(what, r.error());
}

expected<void> bank_load::activate(std::size_t part, std::size_t parts) {
  for (auto i = part; i < count_; i += parts)
    if (auto h = handle<bank::account_if>(i, "account", ark::key{account_name(i)}); !h)
      return h.error();
  return {};
}

expected<std::vector<std::int64_t>> bank_load::read_balances() {
  std::vector<std::int64_t> found(count_);
  for (std::size_t i = 0; i < count_; ++i) {
    auto h = handle<bank::account_if>(i, "account", ark::key{account_name(i)});
    auto r = h ? call<std::int64_t>(*h, bank::balance_atom::value) : h.error();
    if (!r)
      return error{r.error().code(), "account " + account_name(i) + ": " + r.error().message()};
    found[i] = *r;
  }
  return found;
}

std::int64_t bank_load::matching_subset(const std::vector<std::int64_t>& found) const {
  if (uncertain_.size() > max_subset_bits) {
    // Too many to enumerate: accept when every balance lies within the range
    // the uncertain transfers allow.
    for (std::size_t i = 0; i < count_; ++i) {
      auto lo = base_[i] + delta_[i];
      auto hi = lo;
      for (const auto& t : uncertain_) {
        if (t.from == i) lo -= t.amount;
        if (t.to == i) hi += t.amount;
      }
      if (found[i] < lo || found[i] > hi) return -1;
    }
    return 0;
  }
  std::vector<std::int64_t> expect(count_);
  for (std::uint64_t mask = 0; mask < (std::uint64_t{1} << uncertain_.size()); ++mask) {
    for (std::size_t i = 0; i < count_; ++i) expect[i] = base_[i] + delta_[i];
    for (std::size_t u = 0; u < uncertain_.size(); ++u) {
      if (!(mask & (std::uint64_t{1} << u))) continue;
      expect[uncertain_[u].from] -= uncertain_[u].amount;
      expect[uncertain_[u].to] += uncertain_[u].amount;
    }
    if (expect == found) return static_cast<std::int64_t>(mask);
  }
  return -1;
}

std::string bank_load::describe_mismatch(const std::vector<std::int64_t>& found) const {
  std::ostringstream os;
  os << "balances found vs. baseline + acked transfers:";
  for (std::size_t i = 0; i < count_; ++i) {
    auto want = base_[i] + delta_[i];
    os << ' ' << account_name(i) << '=' << found[i];
    if (found[i] != want) os << " (expected " << want << ')';
  }
  os << "; uncertain transfers:";
  if (uncertain_.empty()) os << " none";
  for (const auto& t : uncertain_)
    os << ' ' << account_name(t.from) << "->" << account_name(t.to) << ':' << t.amount;
  return os.str();
}

void bank_load::check(std::vector<violation>& out) {
  report_errors(out);
  // Reading a balance activates the account, and an activation re-sends the
  // credits its outbox holds: transfers cut by a crash complete now. Until
  // they have, money is in flight and the total is short.
  auto deadline = std::chrono::steady_clock::now() + outbox_settle_timeout;
  for (;;) {
    auto found = read_balances();
    if (!found) {
      out.push_back({"check could not read", found.error().message()});
      return;
    }
    auto total = std::accumulate(found->begin(), found->end(), std::int64_t{0});
    if (total > deposited_) {
      out.push_back({"(c) bank total not conserved",
                     "accounts hold " + str(total) + " in all, only " + str(deposited_) +
                         " was deposited (a credit applied twice?); " + describe_mismatch(*found)});
    } else if (total == deposited_) {
      auto mask = matching_subset(*found);
      if (mask < 0)
        out.push_back(
            {"(c) balances inconsistent with acknowledged transfers", describe_mismatch(*found)});
      else if (uncertain_.size() <= max_subset_bits)
        record_applied(static_cast<std::uint64_t>(
            __builtin_popcountll(static_cast<unsigned long long>(mask))));
    } else if (std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    } else {
      out.push_back({"(c) bank total not conserved",
                     "accounts hold " + str(total) + " in all after waiting " +
                         str(std::chrono::seconds(outbox_settle_timeout).count()) +
                         " s for outboxes, but " + str(deposited_) +
                         " was deposited (a transfer lost or stuck); " +
                         describe_mismatch(*found)});
    }
    base_ = *found;
    std::fill(delta_.begin(), delta_.end(), 0);
    uncertain_.clear();
    return;
  }
}

// -- chat_load ----------------------------------------------------------------

chat_load::chat_load(failure_policy policy, std::chrono::milliseconds timeout, std::string prefix,
                     std::size_t active, std::size_t capacity)
    : workload(policy, timeout), prefix_(std::move(prefix)), capacity_(capacity) {
  rooms_.resize(active);
  for (std::size_t r = 0; r < active; ++r) active_.push_back(r);
}

ark::key chat_load::key_of(std::size_t room) const {
  return ark::key{prefix_, room};
}

std::size_t chat_load::rooms() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return rooms_.size();
}

bool chat_load::step(std::size_t client, std::mt19937_64& rng) {
  std::size_t r;
  std::string id;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto slot = static_cast<std::size_t>(rng() % active_.size());
    r = active_[slot];
    if (capacity_ != 0 && ++rooms_[r].attempts >= capacity_) {
      active_[slot] = rooms_.size();  // r takes this last post, then retires
      rooms_.emplace_back();
    }
    id = "c" + std::to_string(client) + "-" + std::to_string(next_id_++);
    rooms_[r].ids.push_back(id);
    messages_.emplace(id, message{r, state::uncertain, 0});
    rooms_[r].uncertain += 1;  // until the reply says otherwise
  }
  auto what = "chat " + key_of(r).to_string() + " post " + id;
  auto h = handle<chat_room::chat_room_if>(r, "chat_room", key_of(r));
  auto seq =
      h ? call<std::int64_t>(*h, chat_room::post_atom::value, "c" + std::to_string(client), id)
        : h.error();
  std::lock_guard<std::mutex> guard{mtx_};
  auto& m = messages_[id];
  if (seq) {
    record_acked();
    m.st = state::acked;
    m.seq = *seq;
    rooms_[r].uncertain -= 1;
    rooms_[r].acked += 1;
    return true;
  }
  if (!h || stopping(seq.error())) {
    m.st = state::absent;  // never sent, or refused by a stopping host
    rooms_[r].uncertain -= 1;
    return h ? turned_away() : record_resolve_failure(what, h.error());
  }
  return record_failure(what, seq.error());  // stays uncertain
}

expected<void> chat_load::activate(std::size_t part, std::size_t parts) {
  auto n = rooms();
  for (auto r = part; r < n; r += parts)
    if (auto h = handle<chat_room::chat_room_if>(r, "chat_room", key_of(r)); !h) return h.error();
  return {};
}

void chat_load::check(std::vector<violation>& out) {
  report_errors(out);
  for (std::size_t r = 0; r < rooms_.size(); ++r) check_room(r, out);
  // Resolve the rooms that replace retired ones now: a get_or_create cut by
  // a crash waits for its whole timeout (client::get_or_create does not see
  // the connection drop), a post does not.
  for (auto r = rooms_.size(); r < rooms_.size() + active_.size(); ++r) {
    auto h = handle<chat_room::chat_room_if>(r, "chat_room", key_of(r));
    if (!h)
      out.push_back({"check could not read",
                     "chat room " + key_of(r).to_string() + ": " + h.error().message()});
  }
}

void chat_load::check_room(std::size_t r, std::vector<violation>& out) {
  auto& rm = rooms_[r];
  auto name = "chat room " + key_of(r).to_string();
  auto h = handle<chat_room::chat_room_if>(r, "chat_room", key_of(r));
  auto count = h ? call<std::int64_t>(*h, chat_room::count_atom::value) : h.error();
  if (!count) {
    out.push_back({"check could not read", name + ": " + count.error().message()});
    return;
  }
  auto c = *count;
  auto lo = rm.base + rm.acked;
  auto hi = lo + rm.uncertain;
  if (c < lo)
    out.push_back({"(a) acknowledged effect lost",
                   name + " counts " + str(c) + " messages, but it had " + str(rm.base) + " and " +
                       str(rm.acked) + " posts were acknowledged since"});
  if (c > hi)
    out.push_back({"(b) effect applied twice",
                   name + " counts " + str(c) + " messages, at most " + str(hi) + " possible"});
  auto window = std::min<std::int64_t>(c, chat_room::max_history);
  std::vector<std::string> lines;
  if (window > 0) {
    auto hist = call<std::vector<std::string>>(*h, chat_room::history_atom::value, window);
    if (!hist) {
      out.push_back({"check could not read", name + " history: " + hist.error().message()});
      return;
    }
    lines = std::move(*hist);
  }
  if (static_cast<std::int64_t>(lines.size()) != window)
    out.push_back({"(b) chat history inconsistent with its count",
                   name + " counts " + str(c) + " messages, history(" + str(window) + ") has " +
                       str(static_cast<std::int64_t>(lines.size())) + " lines"});
  std::unordered_set<std::string> seen;
  for (std::size_t n = 0; n < lines.size(); ++n) {
    // "seq user: text"
    const auto& line = lines[n];
    auto sp = line.find(' ');
    auto colon = line.find(": ");
    if (sp == std::string::npos || colon == std::string::npos) {
      out.push_back({"chat history unreadable", name + ": line '" + line + "'"});
      continue;
    }
    auto seq = std::strtoll(line.c_str(), nullptr, 10);
    auto text = line.substr(colon + 2);
    auto want_seq = c - static_cast<std::int64_t>(n);
    if (seq != want_seq)
      out.push_back({"(b) chat history inconsistent with its count",
                     name + ": line " + std::to_string(n) + " has seq " + str(seq) + ", expected " +
                         str(want_seq) + " (seqs count down from the count)"});
    if (!seen.insert(text).second) {
      out.push_back({"(b) effect applied twice", name + ": message " + text + " stored twice"});
      continue;
    }
    auto m = messages_.find(text);
    if (m == messages_.end() || m->second.room != r) {
      out.push_back({"(b) effect applied twice",
                     name + ": message '" + text + "' was never posted to this room"});
      continue;
    }
    auto& msg = m->second;
    if (msg.st == state::absent)
      out.push_back({"(b) effect applied twice",
                     name + ": message " + text + " was absent at an earlier check, now appears"});
    if ((msg.st == state::acked || msg.st == state::present) && msg.seq != seq)
      out.push_back({"(a) acknowledged effect lost", name + ": message " + text +
                                                         " was acked as seq " + str(msg.seq) +
                                                         ", history shows it as seq " + str(seq)});
    if (msg.st == state::uncertain || msg.st == state::unknown) msg.seq = seq;
  }
  // Every message that must be in the window, is; the uncertain ones are
  // resolved when the window is the whole history.
  bool whole = window == c;
  for (const auto& id : rm.ids) {
    auto& msg = messages_[id];
    bool in = seen.count(id) != 0;
    switch (msg.st) {
      case state::acked:
      case state::present:
        if (!in && (whole || msg.seq > c - window))
          out.push_back({"(a) acknowledged effect lost", name + ": acked message " + id + " (seq " +
                                                             str(msg.seq) +
                                                             ") is missing from its history"});
        msg.st = state::present;
        break;
      case state::uncertain:
      case state::unknown:
        if (in) record_applied(1);
        msg.st = in ? state::present : whole ? state::absent : state::unknown;
        break;
      case state::absent:
        break;
    }
  }
  rm.base = c;
  rm.acked = 0;
  rm.uncertain = 0;
}

// -- client_pool --------------------------------------------------------------

void client_pool::spawn(std::vector<std::pair<workload*, unsigned>> mix) {
  auto client = threads_.size();
  std::seed_seq seq{static_cast<std::uint32_t>(seed_), static_cast<std::uint32_t>(seed_ >> 32),
                    static_cast<std::uint32_t>(client)};
  std::mt19937_64 rng(seq);
  threads_.emplace_back([this, client, mix = std::move(mix), rng]() mutable {
    unsigned total = 0;
    for (const auto& m : mix) total += m.second;
    while (!stop_.load(std::memory_order_relaxed)) {
      auto pick = static_cast<unsigned>(rng() % total);
      for (const auto& [w, weight] : mix) {
        if (pick < weight) {
          if (!w->step(client, rng)) return;  // the host is gone
          break;
        }
        pick -= weight;
      }
    }
  });
}

void client_pool::stop() {
  stop_ = true;
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  stop_ = false;
}

}  // namespace ark::load
