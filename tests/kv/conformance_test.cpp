// Runs the backend conformance suite against every backend ark ships.
#include <ark/kv/testing/conformance.hpp>

#include "ark/kv/lmdb_backend.hpp"
#include "ark/kv/memory_backend.hpp"
#include "ark/kv/sqlite_backend.hpp"
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

struct sqlite {
  std::shared_ptr<ark::kv::backend> backend() {
    if (!b_) {
      auto r = ark::kv::sqlite_backend::open(dir_.sub("data"));
      REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message()));
      b_ = *r;
    }
    return b_;
  }
  ark::test::temp_dir dir_;  // declared first: destroyed after the backend
  std::shared_ptr<ark::kv::backend> b_;
};

}  // namespace backends

ARK_KV_CONFORMANCE_SUITE(backends::memory, backends::lmdb, backends::sqlite)

// Found by tests/fuzz/fuzz_key_decode (corpus: crash-prefix-string-nul): the
// prefix range was the byte-prefix range of encode(prefix), which also holds
// keys whose last string, bytes or nested tuple merely continues the prefix's.
TEST_CASE_TEMPLATE("list with a prefix skips keys that only extend the prefix's last element", F,
                   backends::memory, backends::lmdb, backends::sqlite) {
  using namespace ark;
  using namespace ark::kv::testing;
  F fixture;
  auto s = open_store(fixture.backend(), key{"space"});
  const key user_nul{std::string("user\0", 5)};
  const key bytes_nul{ark::bytes(std::string("ab\0\xff", 4))};
  const key t1{ark::key_element(key{"t", 1})};  // [["t", 1]]
  const key nested_null{ark::key_element(key{"t", 1, nullptr})};
  const key ab{ark::bytes(std::string("ab"))};
  for (const auto& k :
       {key{"user"}, user_nul, key{"user", 7}, bytes_nul, ab, nested_null, t1, key{key{"t", 1}, 2}})
    must(s.put(k, 0));
  ark::kv::list_options o;
  o.prefix = key{"user"};
  CHECK(list_keys(s, o) == std::vector<key>{key{"user"}, key{"user", 7}});
  o.prefix = user_nul;
  CHECK(list_keys(s, o) == std::vector<key>{user_nul});
  o.prefix = ab;
  CHECK(list_keys(s, o) == std::vector<key>{ab});
  o.prefix = t1;
  CHECK(list_keys(s, o) == std::vector<key>{t1, key{key{"t", 1}, 2}});
  CHECK(s.count(o).value() == 2);
}
