#pragma once
// The work and traffic no forward implementation can avoid (perf.md "Floors"), to report
// achieved TFLOP/s and GB/s against.

#include <cstdint>

#include "reference/reference.h"

namespace lla::tools {

struct ForwardCost {
  double flops = 0;  // multiply-add = 2
  double bytes = 0;  // q, k, v, o, lambda in the dtype and g in fp32, each moved once
};

// Log-linear Mamba-2 per (token, head): 2*C*(K+V) intra-chunk, 2*K*V for its chunk's state
// write, and 2*K*V for each occupied chunk level it reads (popcount of its chunk index).
ForwardCost mamba2_forward_cost(const reference::Problem& p, int chunk, int dtype_bytes);

}  // namespace lla::tools
