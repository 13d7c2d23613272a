#pragma once
// Launch plan of the log-linear Mamba-2 decode step (templates/mamba2_decode.cuh): one step
// launch over (V tiles, heads, sequences), then, when asked, the launch that advances the
// positions.

#include <cstdint>
#include <vector>

#include "generator/kernel_spec.h"
#include "kernels/launch_plan.h"

namespace lla::compiler::mamba2_decode {

// The sizes of one decode call (everything that is not compiled into the kernel).
struct DecodeShape {
  int batch = 1;
  int heads = 1;
  int groups = 1;
  int64_t max_position = 0;  // the largest position the call may see (checked against levels)
  float scale = 1.0f;
  bool advance_positions = false;  // add a launch that increments every stepped position
};

// The tile field decoding does not use; kept at 16, which divides every supported K.
inline constexpr int kUnusedBlockK = 16;

// Rows of K one pass of a block covers: each of the 32 * warps threads owns 4 columns of the
// block_v-wide tile. It must divide K.
int rows_per_pass(const TileConfig& tile);

// Throws std::invalid_argument naming the field when the shape or the tile does not fit the
// spec (a grid too large, levels that cannot hold max_position, rows_per_pass not dividing K).
LaunchPlan plan(const KernelSpec& spec, const DecodeShape& shape);

// Every tile config the template accepts for the base spec's dims, in a fixed order:
// block_v 16, 32, 64 (dividing V) by warps 1, 2, 4, 8 (rows_per_pass dividing K, at most 16
// rows per thread, which would spill); block_k = kUnusedBlockK.
std::vector<TileConfig> config_space(const KernelSpec& base);

// [K, V] level blocks a step at `position` reads plus writes for one (sequence, head):
// position 0 writes all `levels`; otherwise, with p = ctz(position), it reads levels 0..p and
// writes zeros to 1..p (the merge), writes level p + 1, reads and writes the other
// popcount(position) - 1 live levels (the decay) and writes level 0:
// 2 p + 2 popcount(position) + 1.
int64_t level_blocks_moved(int64_t position, int levels);

}  // namespace lla::compiler::mamba2_decode
