// Gated DeltaNet reference (spec/loglinear.md sections 4, 5, 7): being written.
#include <stdexcept>

#include "reference/reference.h"

namespace lla::reference {

Result gdn_forward_materialized(const Problem&, const Inputs&) {
  throw std::logic_error("gdn_forward_materialized: not written yet");
}

Result gdn_forward_chunkwise(const Problem&, const Inputs&, int, const FenwickState*) {
  throw std::logic_error("gdn_forward_chunkwise: not written yet");
}

Result gdn_forward_recurrent(const Problem&, const Inputs&, const FenwickState*) {
  throw std::logic_error("gdn_forward_recurrent: not written yet");
}

}  // namespace lla::reference
