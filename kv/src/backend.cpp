#include "ark/kv/backend.hpp"

namespace ark::kv {

space_writes& backend_batch::for_space(std::string_view space) {
  if (groups_.empty() || groups_.back().space != space)
    groups_.push_back(space_writes{std::string(space), {}});
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

bool backend_batch::empty() const {
  return op_count() == 0;
}

std::size_t backend_batch::op_count() const {
  std::size_t n = 0;
  for (const auto& g : groups_) n += g.ops.size();
  return n;
}

}  // namespace ark::kv
