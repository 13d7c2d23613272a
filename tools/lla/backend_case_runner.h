#pragma once
// Golden cases through the kernels of a backend (lla check --backend cuda, ...). Cases with head
// dims that are not multiples of 16 are zero-padded to the kernels' granularity: zero key
// columns add nothing to q.k, and the padded value columns are dropped from o.

#include <memory>
#include <stdexcept>
#include <string>

#include "lla/lla.h"
#include "owned_context.h"
#include "reference/golden_case.h"

namespace lla::tools {

// A case this backend does not cover (yet); lla check reports it as SKIP, never as PASS.
struct CaseSkipped : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class BackendCaseRunner {
 public:
  // An untuned context on the `choice` backend. Throws std::runtime_error saying why when it
  // cannot run here.
  explicit BackendCaseRunner(lla_backend choice);

  // o of the case in fp32 (the final state is not read back yet, so it comes back empty).
  // Throws CaseSkipped for a case whose variant has no forward kernel and for cases that
  // continue a sequence.
  reference::Result run(const reference::GoldenCase& c, int chunk) const;

 private:
  OwnedContext ctx_;
};

}  // namespace lla::tools
