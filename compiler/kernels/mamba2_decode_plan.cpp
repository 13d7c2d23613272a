#include "kernels/mamba2_decode_plan.h"

#include <stdexcept>
#include <string>

#include "levels/fenwick_levels.h"

namespace lla::compiler::mamba2_decode {

namespace {

constexpr int64_t kMaxGridYZ = 65535;
constexpr int kAdvanceThreads = 256;
constexpr int kFloatsPerAccess = 4;
// A thread keeps one 16-byte vector per row it owns in registers while merging: more than 16
// rows (64 registers) spill.
constexpr int kMaxRowsPerThread = 16;

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

}  // namespace

int rows_per_pass(const DecodeTile& tile) {
  return 32 * tile.warps * kFloatsPerAccess / tile.block_v;
}

LaunchPlan plan(const KernelSpec& spec, const ProblemShape& shape) {
  require(spec.family == mamba2::decode_family().key(),
          std::string("family=") + family_for(spec.family).name() + ": not a decode family");
  const DecodeTile tile = tile_of(spec);
  require(shape.batch >= 1 && shape.batch <= kMaxGridYZ, "batch must be in [1, 65535]");
  require(shape.heads >= 1 && shape.heads <= kMaxGridYZ, "heads must be in [1, 65535]");
  require(shape.groups >= 1 && shape.heads % shape.groups == 0,
          "heads must be a positive multiple of groups");
  require(shape.max_position >= 0, "max_position must not be negative");
  const int needed = levels::num_levels(shape.max_position + 1);
  require(spec.levels >= needed, "levels=" + std::to_string(spec.levels) +
                                     " cannot hold position " +
                                     std::to_string(shape.max_position) + ", which needs " +
                                     std::to_string(needed));
  const int rows = rows_per_pass(tile);
  require(rows >= 1 && spec.key_dim % rows == 0,
          "tile.warps=" + std::to_string(tile.warps) + " with tile.block_v=" +
              std::to_string(tile.block_v) + " covers " + std::to_string(rows) +
              " rows per pass, which must divide key_dim=" + std::to_string(spec.key_dim));

  const auto batch = int32_t{shape.batch}, heads = int32_t{shape.heads},
             groups = int32_t{shape.groups};
  LaunchPlan plan;
  Launch step;
  step.kernel = "lla_mamba2_decode_step";
  step.grid[0] = static_cast<unsigned>(spec.value_dim / tile.block_v);
  step.grid[1] = static_cast<unsigned>(shape.heads);
  step.grid[2] = static_cast<unsigned>(shape.batch);
  step.block[0] = static_cast<unsigned>(32 * tile.warps);
  step.args = {BufferArg{Buffer::q},      BufferArg{Buffer::k},     BufferArg{Buffer::v},
               BufferArg{Buffer::g},      BufferArg{Buffer::lambda}, BufferArg{Buffer::o},
               BufferArg{Buffer::state},  BufferArg{Buffer::positions}, heads,
               groups,                    shape.max_position,         shape.scale};
  plan.launches.push_back(step);

  if (shape.advance_positions) {
    Launch advance;
    advance.kernel = "lla_decode_advance_positions";
    advance.grid[0] = static_cast<unsigned>((shape.batch + kAdvanceThreads - 1) / kAdvanceThreads);
    advance.block[0] = kAdvanceThreads;
    advance.args = {BufferArg{Buffer::positions}, batch, shape.max_position};
    plan.launches.push_back(advance);
  }
  return plan;
}

std::vector<TileConfig> config_space(const KernelSpec& base) {
  std::vector<TileConfig> space;
  for (int block_v : {16, 32, 64})
    for (int warps : {1, 2, 4, 8}) {
      const DecodeTile tile{block_v, warps};
      const int rows = rows_per_pass(tile);
      if (base.value_dim % block_v != 0 || base.key_dim % rows != 0 ||
          base.key_dim / rows > kMaxRowsPerThread)
        continue;
      space.push_back(tile);
    }
  return space;
}

int64_t level_blocks_moved(int64_t position, int levels) {
  if (position == 0) return levels;
  const int64_t p = levels::merge_target_level(position) - 1;
  return 2 * p + 2 * __builtin_popcountll(static_cast<uint64_t>(position)) + 1;
}

}  // namespace lla::compiler::mamba2_decode
