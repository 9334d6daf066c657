#pragma once

#include <memory>

#include "ark/kv/backend.hpp"

namespace ark::kv {

/// A backend that keeps everything in process memory (tests, caches). It
/// behaves exactly like the LMDB backend under the conformance suite, but
/// nothing survives the object.
class memory_backend final : public backend {
 public:
  static std::shared_ptr<memory_backend> create();
  ~memory_backend() override;

  std::string_view name() const override { return "memory"; }
  expected<std::string> get(std::string_view space, std::string_view key) override;
  expected<std::vector<std::optional<std::string>>> get_batch(
      std::string_view space, const std::vector<std::string>& keys) override;
  expected<std::unique_ptr<backend_cursor>> scan(std::string_view space, const byte_range& range,
                                                 bool reverse) override;
  expected<std::uint64_t> apply(const backend_batch& batch) override;
  expected<std::vector<std::string>> spaces(std::string_view after, std::size_t limit) override;

  struct impl;

 private:
  memory_backend();
  std::shared_ptr<impl> impl_;  // shared with open cursors
};

}  // namespace ark::kv
