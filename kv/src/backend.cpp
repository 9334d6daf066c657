#include "ark/kv/backend.hpp"

namespace ark::kv {

space_writes& backend_batch::for_space(std::string_view space) {
  if (groups_.empty() || groups_.back().space != space || groups_.back().fence != 0)
    groups_.push_back(space_writes{std::string(space), {}, 0});
  return groups_.back();
}

void backend_batch::put(std::string_view space, std::string key, std::string value) {
  for_space(space).ops.push_back({write_op::kind::put, std::move(key), std::move(value)});
}

void backend_batch::del(std::string_view space, std::string key) {
  for_space(space).ops.push_back({write_op::kind::del, std::move(key), {}});
}

void backend_batch::clear(std::string_view space) {
  for_space(space).ops.push_back({write_op::kind::clear, {}, {}});
}

std::uint32_t backend_batch::add_fence(std::string owner, std::uint64_t epoch) {
  fences_.push_back(fence{std::move(owner), epoch});
  return static_cast<std::uint32_t>(fences_.size());
}

bool backend_batch::empty() const {
  return op_count() == 0;
}

std::size_t backend_batch::op_count() const {
  std::size_t n = 0;
  for (const auto& g : groups_) n += g.ops.size();
  return n;
}

expected<claim_result> backend::claim(std::string_view space, std::string_view key) {
  auto v = get(space, key);
  if (v) {
    claim_result out;
    out.value = std::move(*v);
    return out;
  }
  if (v.error() == errc::not_found) return claim_result{};
  return v.error();
}

expected<apply_result> backend::apply_fenced(const backend_batch& batch) {
  auto r = apply(batch);
  if (!r) return r.error();
  return apply_result{*r, {}};
}

}  // namespace ark::kv
