#pragma once

// ark::testing's hooks into a runtime (declared in ark/testing.hpp). Not part
// of the public runtime header: production code has no use for them.

namespace ark {
class runtime;
namespace detail {

struct runtime_access {
  // While paused the writer commits nothing (units queue up).
  static void pause_commits(runtime& rt);
  static void resume_commits(runtime& rt);
  // The next shutdown leaves the state journal un-checkpointed.
  static void skip_checkpoint_at_stop(runtime& rt);
};

}  // namespace detail
}  // namespace ark
