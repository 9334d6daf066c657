#include "kv_overlay.hpp"

#include <algorithm>
#include <utility>
#include <vector>

namespace ark::detail {

namespace {

using upper_entries = std::vector<std::pair<std::string, std::optional<std::string>>>;

// Merges an ordered list of overlay entries (values or deletions) over a base
// cursor that iterates the same range in the same direction.
class merged_cursor final : public kv::backend_cursor {
 public:
  merged_cursor(std::unique_ptr<kv::backend_cursor> base, upper_entries upper, bool reverse)
      : base_(std::move(base)), upper_(std::move(upper)), reverse_(reverse) {
    settle();
  }

  bool valid() const override { return from_upper_ || from_base_; }
  void next() override {
    if (from_upper_) {
      if (base_ && base_->valid() && base_->key() == upper_[pos_].first) base_->next();
      ++pos_;
    } else if (from_base_) {
      base_->next();
    }
    settle();
  }
  std::string_view key() const override {
    return from_upper_ ? std::string_view(upper_[pos_].first) : base_->key();
  }
  std::string_view value() const override {
    return from_upper_ ? std::string_view(*upper_[pos_].second) : base_->value();
  }
  const error& status() const override { return base_ ? base_->status() : none_; }

 private:
  // Positions on the next visible entry, skipping deletions (and the base
  // entries they hide).
  void settle() {
    for (;;) {
      bool has_upper = pos_ < upper_.size();
      bool has_base = base_ && base_->valid();
      from_upper_ = from_base_ = false;
      if (!has_upper && !has_base) return;
      bool upper_first = has_upper;
      if (has_upper && has_base) {
        auto c = std::string_view(upper_[pos_].first).compare(base_->key());
        upper_first = reverse_ ? c >= 0 : c <= 0;
      }
      if (!upper_first) {
        from_base_ = true;
        return;
      }
      if (upper_[pos_].second) {
        from_upper_ = true;
        return;
      }
      // A deletion: hide the base entry of the same key, move on.
      if (has_base && base_->key() == upper_[pos_].first) base_->next();
      ++pos_;
    }
  }

  std::unique_ptr<kv::backend_cursor> base_;
  upper_entries upper_;
  bool reverse_;
  std::size_t pos_ = 0;
  bool from_upper_ = false;
  bool from_base_ = false;
  error none_;
};

}  // namespace

kv_overlay::kv_overlay(std::shared_ptr<kv::backend> base, std::string space)
    : base_(std::move(base)), space_(std::move(space)) {}

expected<void> kv_overlay::check_space(std::string_view space) const {
  if (space != space_)
    return error{errc::invalid_argument, "an actor's kv() reaches only its own keyspace"};
  return {};
}

std::optional<std::optional<std::string>> kv_overlay::lookup(std::string_view key) const {
  for (const layer* l : {&current_, &inflight_}) {
    auto it = l->entries.find(key);
    if (it != l->entries.end()) return it->second.value;
    if (l->cleared) return std::optional<std::string>{};
  }
  return std::nullopt;
}

expected<std::optional<std::string>> kv_overlay::read(std::string_view key) {
  if (auto hit = lookup(key)) return *hit;
  auto v = base_->get(space_, key);
  if (v) return std::optional<std::string>(std::move(*v));
  if (v.error() == errc::not_found) return std::optional<std::string>{};
  return v.error();
}

expected<std::string> kv_overlay::get(std::string_view space, std::string_view key) {
  ARK_TRY(check_space(space));
  auto v = read(key);
  if (!v) return v.error();
  if (!*v) return error{errc::not_found, "key not found"};
  return std::move(**v);
}

expected<std::vector<std::optional<std::string>>> kv_overlay::get_batch(
    std::string_view space, const std::vector<std::string>& keys) {
  ARK_TRY(check_space(space));
  std::vector<std::optional<std::string>> out;
  out.reserve(keys.size());
  // Keys the overlay does not decide are read from the base in one snapshot.
  std::vector<std::string> misses;
  std::vector<std::size_t> miss_pos;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    auto hit = lookup(keys[i]);
    out.push_back(hit ? *hit : std::nullopt);
    if (!hit) {
      misses.push_back(keys[i]);
      miss_pos.push_back(i);
    }
  }
  if (!misses.empty()) {
    auto got = base_->get_batch(space_, misses);
    if (!got) return got.error();
    for (std::size_t j = 0; j < miss_pos.size(); ++j) out[miss_pos[j]] = std::move((*got)[j]);
  }
  return out;
}

expected<std::unique_ptr<kv::backend_cursor>> kv_overlay::scan(std::string_view space,
                                                               const kv::byte_range& range,
                                                               bool reverse) {
  ARK_TRY(check_space(space));
  // The overlay's entries inside the range, current over inflight, ascending.
  std::map<std::string, std::optional<std::string>, std::less<>> merged;
  auto add = [&](const layer& l) {
    auto it = l.entries.lower_bound(range.begin);
    for (; it != l.entries.end(); ++it) {
      if (range.end && it->first >= *range.end) break;
      merged[it->first] = it->second.value;
    }
  };
  if (!current_.cleared) add(inflight_);
  add(current_);
  upper_entries upper(merged.begin(), merged.end());
  if (reverse) std::reverse(upper.begin(), upper.end());
  std::unique_ptr<kv::backend_cursor> base;
  if (!current_.cleared && !inflight_.cleared) {
    auto c = base_->scan(space_, range, reverse);
    if (!c) return c.error();
    base = std::move(*c);
  }
  return std::unique_ptr<kv::backend_cursor>(
      std::make_unique<merged_cursor>(std::move(base), std::move(upper), reverse));
}

expected<std::uint64_t> kv_overlay::count_visible() {
  auto c = scan(space_, kv::byte_range{}, false);
  if (!c) return c.error();
  std::uint64_t n = 0;
  for (; (*c)->valid(); (*c)->next()) ++n;
  if ((*c)->status()) return (*c)->status();
  return n;
}

expected<std::uint64_t> kv_overlay::apply(const kv::backend_batch& batch) {
  for (const auto& group : batch.groups()) ARK_TRY(check_space(group.space));
  std::uint64_t removed = 0;
  for (const auto& group : batch.groups()) {
    for (const auto& op : group.ops) {
      switch (op.op) {
        case kv::write_op::kind::put:
          current_.entries[op.key] = entry{op.value, 0};
          break;
        case kv::write_op::kind::del: {
          auto old = read(op.key);
          if (!old) return old.error();
          if (*old) ++removed;
          current_.entries[op.key] = entry{std::nullopt, 0};
          break;
        }
        case kv::write_op::kind::clear: {
          auto n = count_visible();
          if (!n) return n.error();
          removed += *n;
          current_.entries.clear();
          current_.cleared = true;
          break;
        }
      }
    }
  }
  return removed;
}

kv::space_writes kv_overlay::take(std::uint64_t seq) {
  kv::space_writes out;
  out.space = space_;
  if (current_.cleared) {
    out.ops.push_back(kv::write_op{kv::write_op::kind::clear, {}, {}});
    inflight_.entries.clear();
    inflight_.cleared = true;
    inflight_.cleared_seq = seq;
  }
  for (auto& [k, e] : current_.entries) {
    if (e.value)
      out.ops.push_back(kv::write_op{kv::write_op::kind::put, k, *e.value});
    else
      out.ops.push_back(kv::write_op{kv::write_op::kind::del, k, {}});
    inflight_.entries[k] = entry{std::move(e.value), seq};
  }
  current_ = layer{};
  return out;
}

void kv_overlay::committed(std::uint64_t seq) {
  for (auto it = inflight_.entries.begin(); it != inflight_.entries.end();) {
    if (it->second.seq <= seq)
      it = inflight_.entries.erase(it);
    else
      ++it;
  }
  if (inflight_.cleared && inflight_.cleared_seq <= seq) inflight_.cleared = false;
}

}  // namespace ark::detail
