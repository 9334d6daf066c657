#pragma once

// The bank example's interface: shared by the actor module and clients.
//
// Every account is an actor of type "account" whose key is the account name
// (a string). Money moves between accounts only by messages: transfer debits
// the sender and asks the receiver to credit the amount; see bank.cpp for how
// the outbox makes that exactly-once across restarts and crashes.

#include <cstdint>
#include <string>

#include <caf/all.hpp>

namespace bank {

using deposit_atom = caf::atom_constant<caf::atom("deposit")>;
using withdraw_atom = caf::atom_constant<caf::atom("withdraw")>;
using balance_atom = caf::atom_constant<caf::atom("balance")>;
using transfer_atom = caf::atom_constant<caf::atom("transfer")>;
using credit_atom = caf::atom_constant<caf::atom("credit")>;

/// deposit(amount) -> new balance; withdraw(amount) -> new balance (error
/// invalid_argument on insufficient funds); balance -> balance;
/// transfer(to_account, amount) -> the sender's balance right after the debit,
/// replied once the receiver acknowledged the credit; credit(from_account,
/// transfer_id, amount) -> true (internal: what transfer sends the receiver;
/// idempotent per (from_account, transfer_id)).
using account_if = caf::typed_actor<
    caf::replies_to<deposit_atom, std::int64_t>::with<std::int64_t>,
    caf::replies_to<withdraw_atom, std::int64_t>::with<std::int64_t>,
    caf::replies_to<balance_atom>::with<std::int64_t>,
    caf::replies_to<transfer_atom, std::string, std::int64_t>::with<std::int64_t>,
    caf::replies_to<credit_atom, std::string, std::uint64_t, std::int64_t>::with<bool>>;

}  // namespace bank
