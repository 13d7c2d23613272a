#include "forward_cost.h"

namespace lla::tools {

ForwardCost mamba2_forward_cost(const reference::Problem& p, int chunk, int dtype_bytes) {
  const double kv = double(p.key_dim) * p.value_dim;
  double per_head = 0;
  for (int64_t t = 0; t < p.seq_len; ++t)
    per_head += 2.0 * chunk * (p.key_dim + p.value_dim) + 2.0 * kv +
                2.0 * kv * __builtin_popcountll(static_cast<uint64_t>(t / chunk));
  ForwardCost cost;
  cost.flops = per_head * p.batch * p.heads;
  const double tokens = double(p.batch) * p.seq_len;
  cost.bytes = tokens * (dtype_bytes * (2.0 * p.groups * p.key_dim + 2.0 * p.heads * p.value_dim +
                                        double(p.heads) * p.levels) +
                         4.0 * p.heads);
  return cost;
}

}  // namespace lla::tools
