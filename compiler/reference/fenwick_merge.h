#pragma once
// The merge step of the Fenwick decode recurrence (spec/loglinear.md section 5, step 1), shared
// by the recurrent forms of both variants. Internal to the reference.

#include <algorithm>
#include <cstdint>

#include "levels/fenwick_levels.h"
#include "reference/vector_ops.h"

namespace lla::reference {

// Before the token at `position` >= 1: levels 0..p merge into level p + 1 (p = ctz(position)),
// which was empty, and levels 1..p are cleared. Level 0 is left for the token's write.
// state: one head's levels, [L, level_size].
inline void merge_before_token(int64_t position, double* state, int level_size) {
  const int target = levels::merge_target_level(position);
  double* merged = state + static_cast<size_t>(target) * level_size;
  for (int ell = 0; ell < target; ++ell) {
    add_scaled(1.0, state + static_cast<size_t>(ell) * level_size, merged, level_size);
  }
  std::fill(state + level_size, merged, 0.0);
}

}  // namespace lla::reference
