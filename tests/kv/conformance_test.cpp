// Runs the backend conformance suite against every backend ark ships.
#include <ark/kv/testing/conformance.hpp>

#include "ark/kv/lmdb_backend.hpp"
#include "ark/kv/memory_backend.hpp"
#include "test_util.hpp"

namespace backends {

struct memory {
  std::shared_ptr<ark::kv::backend> backend() {
    if (!b_) b_ = ark::kv::memory_backend::create();
    return b_;
  }
  std::shared_ptr<ark::kv::backend> b_;
};

struct lmdb {
  std::shared_ptr<ark::kv::backend> backend() {
    if (!b_) {
      auto r = ark::kv::lmdb_backend::open(dir_.sub("data"));
      REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message()));
      b_ = *r;
    }
    return b_;
  }
  ark::test::temp_dir dir_;  // declared first: destroyed after the backend
  std::shared_ptr<ark::kv::backend> b_;
};

}  // namespace backends

ARK_KV_CONFORMANCE_SUITE(backends::memory, backends::lmdb)
