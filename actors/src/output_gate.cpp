#include "ark/detail/output_gate.hpp"

#include <iterator>

namespace ark::detail {

void output_gate::fail_outputs(const caf::error& e) {
  for (auto& o : outputs_) o.make_failure(e);
  outputs_.erase(std::remove_if(outputs_.begin(), outputs_.end(),
                                [](const detached_output& o) { return o.empty(); }),
                 outputs_.end());
}

void output_gate::release_outputs() {
  for (auto& o : outputs_) o.release();
  outputs_.clear();
}

void output_gate::attach_outputs(commit_unit& unit) {
  if (unit.outputs.empty())
    unit.outputs = std::move(outputs_);
  else
    unit.outputs.insert(unit.outputs.end(), std::make_move_iterator(outputs_.begin()),
                        std::make_move_iterator(outputs_.end()));
  outputs_.clear();
}

}  // namespace ark::detail
