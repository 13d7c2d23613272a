#pragma once
// Launch plan of the log-linear Mamba-2 decode step (templates/mamba2_decode.cuh): one step
// launch over (V tiles, heads, sequences), then, when asked, the launch that advances the
// positions.

#include <cstdint>
#include <vector>

#include "families/mamba2_decode.h"
#include "generator/kernel_spec.h"
#include "kernels/launch_plan.h"

namespace lla::compiler::mamba2_decode {

// Rows of K one pass of a block covers: each of the 32 * warps threads owns 4 columns of the
// block_v-wide tile. It must divide K.
int rows_per_pass(const DecodeTile& tile);

// The step for a decode shape (batch, heads, groups, max_position, scale, advance_positions).
// Throws std::invalid_argument naming the field when the shape or the tile does not fit the
// spec (a grid too large, levels that cannot hold max_position, rows_per_pass not dividing K).
LaunchPlan plan(const KernelSpec& spec, const ProblemShape& shape);

// Every tile config the template accepts for the base spec's dims, in a fixed order:
// block_v 16, 32, 64 (dividing V) by warps 1, 2, 4, 8 (rows_per_pass dividing K, at most 16
// rows per thread, which would spill).
std::vector<TileConfig> config_space(const KernelSpec& base);

// [K, V] level blocks a step at `position` reads plus writes for one (sequence, head):
// position 0 writes all `levels`; otherwise, with p = ctz(position), it reads levels 0..p and
// writes zeros to 1..p (the merge), writes level p + 1, reads and writes the other
// popcount(position) - 1 live levels (the decay) and writes level 0:
// 2 p + 2 popcount(position) + 1.
int64_t level_blocks_moved(int64_t position, int levels);

}  // namespace lla::compiler::mamba2_decode
