// The bank example: accounts are actors, money moves between them by messages,
// and the total is conserved across restarts and crashes.
//
// A transfer uses the outbox pattern. In ONE message the sender debits its
// balance and records the transfer in its KV outbox under ["out", id]; ark
// commits both atomically, and the credit request to the receiver leaves only
// once that commit is durable. The receiver credits the amount and records
// ["in", from, id] in the same commit, so a repeated credit of the same
// transfer is acknowledged without effect. When the acknowledgement arrives
// the sender deletes the outbox entry. If the host dies (or the request fails)
// in between, the entry stays, and the sender re-sends the credit with the
// same id: a second after the failure (an alarm, so also when this host died
// and the account moved to another host of a cluster) and at its next
// activation. Every debit is credited exactly once.

#include <chrono>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <ark/actor.hpp>
#include <ark/registry.hpp>

#include "bank.hpp"

namespace bank {

namespace {

// How long a credit request waits for the receiver's acknowledgement.
constexpr auto credit_timeout = std::chrono::seconds(10);

ark::error bad_amount(std::string_view what, std::int64_t amount) {
  return ark::error{ark::errc::invalid_argument,
                    std::string(what) + " amount must be positive, got " + std::to_string(amount)};
}

// Turns a failed KV operation into an exception: the handler then commits
// nothing and the caller gets handler_failed naming the cause.
template <class T>
T checked(ark::expected<T> r) {
  if (!r) throw std::runtime_error(r.error().message());
  if constexpr (!std::is_void_v<T>) return std::move(*r);
}

}  // namespace

/// A transfer that is debited but not yet acknowledged by the receiver.
struct pending_transfer {
  std::string to;
  std::int64_t amount = 0;
  MSGPACK_DEFINE_MAP(to, amount)
};

struct account_state {
  std::int64_t balance = 0;
  std::uint64_t next_transfer = 0;  // id of this account's next outgoing transfer
  MSGPACK_DEFINE_MAP(balance, next_transfer)
};

class account : public ark::actor<account_if, account_state> {
 public:
  using actor::actor;

  // get_or_create("account", name) opens an account with balance 0.
  void on_initialize() {}

  // Completes the transfers an earlier activation debited but did not see
  // acknowledged (a crash, a stop, a failed request): their credit requests
  // are sent again with the same ids, which the receivers deduplicate.
  void on_activate() override { resend_outbox(); }

  // A credit request failed (its receiver's host died, say): the alarm
  // send_credit set sends the pending ones again, without waiting for this
  // account's next activation.
  ark::expected<void> on_alarm(const ark::alarm&) override {
    resend_outbox();
    return {};
  }

  void resend_outbox() {
    std::vector<std::pair<std::uint64_t, pending_transfer>> outbox;
    ark::kv::list_options opts;
    opts.prefix = ark::key{"out"};
    auto c = kv().list(opts);
    for (; c.valid(); c.next()) {
      auto p = checked(c.value().as<pending_transfer>());
      outbox.emplace_back(static_cast<std::uint64_t>(c.key()[1].as_int()), std::move(p));
    }
    if (c.status()) throw std::runtime_error(c.status().message());
    for (const auto& [id, p] : outbox) {
      auto to = get_or_create<account_if>("account", p.to);
      if (to)
        send_credit(*to, id, p.amount, {}, 0);
      else
        (void)schedule_after("resend", std::chrono::seconds(1));
    }
  }

  handlers_type make_handlers() override {
    return handlers(
        [this](deposit_atom, std::int64_t amount) -> ark::expected<std::int64_t> {
          if (amount <= 0) return bad_amount("deposit", amount);
          if (amount > std::numeric_limits<std::int64_t>::max() - state().balance)
            return ark::error{ark::errc::invalid_argument,
                              "account " + account_name() + ": a deposit of " +
                                  std::to_string(amount) + " would overflow the balance " +
                                  std::to_string(state().balance)};
          return state().balance += amount;
        },
        [this](withdraw_atom, std::int64_t amount) -> ark::expected<std::int64_t> {
          if (amount <= 0) return bad_amount("withdraw", amount);
          if (amount > state().balance) return insufficient_funds("withdraw", amount);
          return state().balance -= amount;
        },
        [this](balance_atom) { return state().balance; },
        [this](transfer_atom, std::string to, std::int64_t amount) {
          auto target = check_transfer(to, amount);
          if (!target) {
            auto refused = make_promise<std::int64_t>();
            refused.deliver_error(target.error());
            return refused;
          }
          // The debit and the outbox entry: one atomic commit, durable before
          // the credit request leaves. (The promise is made after the last
          // step that can throw: a request whose promise exists gets no
          // error reply from a handler that throws.)
          state().balance -= amount;
          auto id = state().next_transfer++;
          checked(kv().put(outbox_key(id), pending_transfer{to, amount}));
          auto reply = make_promise<std::int64_t>();
          send_credit(*target, id, amount, reply, state().balance);
          return reply;
        },
        [this](credit_atom, std::string from, std::uint64_t id,
               std::int64_t amount) -> ark::expected<bool> {
          if (amount <= 0) return bad_amount("credit", amount);
          ark::key marker{"in", from, static_cast<std::int64_t>(id)};
          auto seen = kv().get_value(marker);
          if (seen) return true;  // a retry of a transfer already credited
          if (seen.error() != ark::errc::not_found) return seen.error();
          if (amount > std::numeric_limits<std::int64_t>::max() - state().balance)
            return ark::error{ark::errc::invalid_argument,
                              "account " + account_name() + ": crediting " +
                                  std::to_string(amount) + " would overflow the balance"};
          state().balance += amount;
          checked(kv().put(marker, true));
          return true;
        });
  }

 private:
  // The account name: the actor's key.
  std::string account_name() const {
    if (key().size() == 1 && key()[0].kind() == ark::key_element::type::string)
      return key()[0].as_string();
    return key().to_string();
  }

  ark::error insufficient_funds(std::string_view what, std::int64_t amount) const {
    return ark::error{ark::errc::invalid_argument, "insufficient funds: account " + account_name() +
                                                       " has " + std::to_string(state().balance) +
                                                       ", cannot " + std::string(what) + " " +
                                                       std::to_string(amount)};
  }

  // The receiver of a transfer of `amount` to `to`, or the error to refuse it
  // with (nothing changed).
  ark::expected<account_if> check_transfer(const std::string& to, std::int64_t amount) {
    if (amount <= 0) return bad_amount("transfer", amount);
    if (to == account_name())
      return ark::error{ark::errc::invalid_argument,
                        "account " + account_name() + " cannot transfer to itself"};
    if (amount > state().balance) return insufficient_funds("transfer", amount);
    return get_or_create<account_if>("account", to);
  }

  // Requests the credit of transfer `id` (gated: it leaves once the debit and
  // the outbox entry are durable). On acknowledgement the entry is deleted and
  // `reply` (if any) gets `reply_value`; on error the entry stays for a retry
  // and `reply` gets unreachable: the debit is durable and the credit will
  // follow, so the receiver's error (e.g. shutting_down, which promises
  // "nothing applied") must not reach the client as the transfer's outcome.
  // Unless the error is rolled_back: then the debit's own commit failed, the
  // request never left, and there is neither a debit nor an outbox entry.
  void send_credit(const account_if& target, std::uint64_t id, std::int64_t amount,
                   std::optional<ark::promise<std::int64_t>> reply, std::int64_t reply_value) {
    request(target, credit_timeout, credit_atom::value, account_name(), id, amount)
        .then(
            [this, id, reply, reply_value](bool) mutable {
              // The transfer is complete either way: an entry whose delete
              // failed is only re-sent (and deduplicated) at a later activation.
              (void)kv().del(outbox_key(id));
              if (reply) reply->deliver(reply_value);
            },
            [this, reply, id, amount](caf::error& e) mutable {
              if (!reply) {
                // A re-sent credit failed again: again in a second.
                if (ark::from_caf(e) != ark::errc::rolled_back)
                  (void)schedule_after("resend", std::chrono::seconds(1));
                return;
              }
              auto err = ark::from_caf(e);
              if (err == ark::errc::rolled_back) {
                reply->deliver_error(
                    ark::error{ark::errc::commit_failed,
                               "transfer " + std::to_string(id) + " of " + std::to_string(amount) +
                                   " from account " + account_name() +
                                   " was not made, nothing was debited (" + err.context() + ")"});
                return;
              }
              // Try again in a second (an alarm: it survives this host).
              (void)schedule_after("resend", std::chrono::seconds(1));
              // The cause's code and context, and one remedy: this actor's.
              reply->deliver_error(ark::error{
                  ark::errc::unreachable,
                  "transfer " + std::to_string(id) + " of " + std::to_string(amount) +
                      " is debited from account " + account_name() +
                      " but its credit is not yet acknowledged (" + ark::from_caf(e).summary() +
                      ")",
                  "nothing to redo: the transfer completes by itself (the account sends the "
                  "credit again every second until it is acknowledged); check the balances "
                  "then"});
            });
  }

  static ark::key outbox_key(std::uint64_t id) {
    return ark::key{"out", static_cast<std::int64_t>(id)};
  }
};

}  // namespace bank

ARK_ACTOR("account", bank::account);
