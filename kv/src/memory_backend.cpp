#include "ark/kv/memory_backend.hpp"

#include "ark/kv/key.hpp"
#include "ark/kv/store.hpp"

#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>

namespace ark::kv {

// Multi-version maps so that cursors see the snapshot they were opened on,
// exactly like LMDB read transactions. Each key keeps a short history of
// (version, value-or-tombstone); versions older than every open snapshot are
// pruned on write.
struct memory_backend::impl {
  struct version {
    std::uint64_t at;
    std::optional<std::string> value;  // empty = deleted
  };
  using history = std::vector<version>;  // ascending by `at`
  using space_map = std::map<std::string, history, std::less<>>;

  mutable std::shared_mutex mu;
  std::map<std::string, space_map, std::less<>> spaces;
  std::uint64_t current = 0;
  std::multiset<std::uint64_t> snapshots;  // versions held by open cursors

  // The value of `h` visible at version `at`. REQUIRES: mu held.
  static const std::optional<std::string>* visible(const history& h, std::uint64_t at) {
    for (auto it = h.rbegin(); it != h.rend(); ++it)
      if (it->at <= at) return &it->value;
    return nullptr;
  }

  static bool present(const history& h, std::uint64_t at) {
    auto v = visible(h, at);
    return v != nullptr && v->has_value();
  }

  // Records `value` for `key` at version `at`, dropping history no snapshot
  // can see. REQUIRES: mu held exclusively.
  void record(space_map& m, const std::string& key, std::optional<std::string> value,
              std::uint64_t at) {
    auto& h = m[key];
    if (snapshots.empty()) {
      h.clear();
    } else {
      // Keep the newest entry at or below the oldest snapshot (it is what
      // that snapshot sees) and everything after it.
      const std::uint64_t oldest = *snapshots.begin();
      std::size_t keep_from = 0;
      for (std::size_t i = 0; i < h.size(); ++i)
        if (h[i].at <= oldest) keep_from = i;
      h.erase(h.begin(), h.begin() + static_cast<std::ptrdiff_t>(keep_from));
    }
    if (!h.empty() && h.back().at == at)
      h.back().value = std::move(value);
    else
      h.push_back({at, std::move(value)});
    if (h.size() == 1 && !h.front().value && snapshots.empty()) m.erase(key);
  }
};

namespace {

class memory_cursor final : public backend_cursor {
 public:
  memory_cursor(std::shared_ptr<memory_backend::impl> db, std::string space, byte_range range,
                bool reverse)
      : db_(std::move(db)), space_(std::move(space)), range_(std::move(range)), reverse_(reverse) {
    std::unique_lock lock(db_->mu);
    snapshot_ = db_->current;
    db_->snapshots.insert(snapshot_);
    seek(true);
  }

  ~memory_cursor() override {
    std::unique_lock lock(db_->mu);
    db_->snapshots.erase(db_->snapshots.find(snapshot_));
  }

  bool valid() const override { return valid_; }
  void next() override {
    std::shared_lock lock(db_->mu);
    seek(false);
  }
  std::string_view key() const override { return key_; }
  std::string_view value() const override { return value_; }
  const error& status() const override { return status_; }

 private:
  // Positions on the first visible key (first = true) or the one after key_.
  // REQUIRES: db_->mu held.
  void seek(bool first) {
    valid_ = false;
    auto sit = db_->spaces.find(space_);
    if (sit == db_->spaces.end()) return;
    const auto& m = sit->second;
    if (!reverse_) {
      auto it = first ? m.lower_bound(range_.begin) : m.upper_bound(key_);
      for (; it != m.end(); ++it) {
        if (range_.end && it->first >= *range_.end) return;
        if (take(*it)) return;
      }
    } else {
      auto it = first ? (range_.end ? m.lower_bound(*range_.end) : m.end()) : m.lower_bound(key_);
      while (it != m.begin()) {
        --it;
        if (it->first < range_.begin) return;
        if (take(*it)) return;
      }
    }
  }

  bool take(const std::pair<const std::string, memory_backend::impl::history>& e) {
    auto v = memory_backend::impl::visible(e.second, snapshot_);
    if (v == nullptr || !v->has_value()) return false;
    key_ = e.first;
    value_ = **v;
    valid_ = true;
    return true;
  }

  std::shared_ptr<memory_backend::impl> db_;
  std::string space_;
  byte_range range_;
  bool reverse_;
  std::uint64_t snapshot_ = 0;
  bool valid_ = false;
  std::string key_;
  std::string value_;
  error status_;
};

}  // namespace

memory_backend::memory_backend() : impl_(std::make_shared<impl>()) {}
memory_backend::~memory_backend() = default;

std::shared_ptr<memory_backend> memory_backend::create() {
  return std::shared_ptr<memory_backend>(new memory_backend());
}

expected<std::string> memory_backend::get(std::string_view space, std::string_view key) {
  std::shared_lock lock(impl_->mu);
  auto sit = impl_->spaces.find(space);
  if (sit != impl_->spaces.end()) {
    auto it = sit->second.find(key);
    if (it != sit->second.end()) {
      auto v = impl::visible(it->second, impl_->current);
      if (v && *v) return **v;
    }
  }
  return error{errc::not_found, "key " + to_hex(key)};
}

expected<std::vector<std::optional<std::string>>> memory_backend::get_batch(
    std::string_view space, const std::vector<std::string>& keys) {
  std::shared_lock lock(impl_->mu);
  std::vector<std::optional<std::string>> out(keys.size());
  auto sit = impl_->spaces.find(space);
  if (sit == impl_->spaces.end()) return out;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    auto it = sit->second.find(keys[i]);
    if (it == sit->second.end()) continue;
    auto v = impl::visible(it->second, impl_->current);
    if (v && *v) out[i] = **v;
  }
  return out;
}

expected<std::unique_ptr<backend_cursor>> memory_backend::scan(std::string_view space,
                                                               const byte_range& range,
                                                               bool reverse) {
  // The cursor shares ownership of the maps, so it may outlive this object.
  return std::unique_ptr<backend_cursor>(
      std::make_unique<memory_cursor>(impl_, std::string(space), range, reverse));
}

expected<std::uint64_t> memory_backend::apply(const backend_batch& batch) {
  // Validate first: a batch either applies completely or not at all.
  for (const auto& g : batch.groups()) {
    for (const auto& op : g.ops) {
      if (op.op != write_op::kind::clear && op.key.size() > max_key_size)
        return error{errc::key_too_large, "encoded key " + to_hex(op.key.substr(0, 32)) +
                                              "... is " + std::to_string(op.key.size()) +
                                              " bytes, limit " + std::to_string(max_key_size)};
    }
  }
  std::unique_lock lock(impl_->mu);
  const std::uint64_t at = impl_->current + 1;
  std::uint64_t removed = 0;
  for (const auto& g : batch.groups()) {
    auto& m = impl_->spaces[g.space];
    for (const auto& op : g.ops) {
      switch (op.op) {
        case write_op::kind::put:
          impl_->record(m, op.key, op.value, at);
          break;
        case write_op::kind::del: {
          auto it = m.find(op.key);
          if (it != m.end() && impl::present(it->second, at)) {
            ++removed;
            impl_->record(m, op.key, std::nullopt, at);
          }
          break;
        }
        case write_op::kind::clear: {
          std::vector<std::string> live;
          for (const auto& [k, h] : m)
            if (impl::present(h, at)) live.push_back(k);
          for (const auto& k : live) impl_->record(m, k, std::nullopt, at);
          removed += live.size();
          break;
        }
      }
    }
    if (m.empty()) impl_->spaces.erase(g.space);
  }
  impl_->current = at;
  return removed;
}

expected<std::vector<std::string>> memory_backend::spaces(std::string_view after,
                                                          std::size_t limit) {
  std::shared_lock lock(impl_->mu);
  std::vector<std::string> out;
  for (auto it = impl_->spaces.upper_bound(after); it != impl_->spaces.end(); ++it) {
    if (limit != 0 && out.size() >= limit) break;
    for (const auto& [k, h] : it->second) {
      if (impl::present(h, impl_->current)) {
        out.push_back(it->first);
        break;
      }
    }
  }
  return out;
}

}  // namespace ark::kv
