#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "ark/kv/backend.hpp"

namespace ark::detail {

/// The backend under an actor's kv(): one keyspace of a real backend seen
/// through the actor's writes that are not yet durable.
///
/// Two layers lie over the base: `current` holds the writes of the message
/// being handled, `inflight` the writes of earlier messages that went to the
/// writer but are not committed yet. Reads look at current, then inflight,
/// then the base, so a handler sees its own writes and those of every earlier
/// message of the same actor. Writes only ever land in `current`; take()
/// turns them into the unit's operations, and committed() forgets what the
/// base now holds. Used by one actor's thread only.
class kv_overlay final : public kv::backend {
 public:
  kv_overlay(std::shared_ptr<kv::backend> base, std::string space);

  std::string_view name() const override { return base_->name(); }
  expected<std::string> get(std::string_view space, std::string_view key) override;
  expected<std::vector<std::optional<std::string>>> get_batch(
      std::string_view space, const std::vector<std::string>& keys) override;
  expected<std::unique_ptr<kv::backend_cursor>> scan(std::string_view space,
                                                     const kv::byte_range& range,
                                                     bool reverse) override;
  expected<std::uint64_t> apply(const kv::backend_batch& batch) override;
  expected<std::vector<std::string>> spaces(std::string_view after, std::size_t limit) override {
    return base_->spaces(after, limit);
  }

  /// True when writes of earlier messages are still in flight.
  bool has_inflight() const { return inflight_.cleared || !inflight_.entries.empty(); }

  /// True when the current message wrote something.
  bool dirty() const { return current_.cleared || !current_.entries.empty(); }

  /// Moves the current message's writes into the in-flight layer, tagged with
  /// the unit `seq`, and returns them as the unit's operations.
  kv::space_writes take(std::uint64_t seq);

  /// Drops the current message's writes (a failed handler).
  void discard() { current_ = layer{}; }

  /// Forgets in-flight writes of units up to `seq`: the base holds them now.
  void committed(std::uint64_t seq);

  /// Forgets every write not in the base (a failed commit).
  void reset() {
    current_ = layer{};
    inflight_ = layer{};
  }

 private:
  struct entry {
    std::optional<std::string> value;  // nullopt: deleted
    std::uint64_t seq = 0;
  };
  struct layer {
    bool cleared = false;
    std::uint64_t cleared_seq = 0;
    std::map<std::string, entry, std::less<>> entries;
  };

  expected<void> check_space(std::string_view space) const;
  // nullopt: the overlay has no say, ask the base; else the value (or deleted).
  std::optional<std::optional<std::string>> lookup(std::string_view key) const;
  expected<std::optional<std::string>> read(std::string_view key);
  expected<std::uint64_t> count_visible();

  std::shared_ptr<kv::backend> base_;
  std::string space_;
  layer current_;
  layer inflight_;
};

}  // namespace ark::detail
