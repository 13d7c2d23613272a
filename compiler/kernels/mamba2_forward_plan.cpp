#include "kernels/mamba2_forward_plan.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

#include "levels/fenwick_levels.h"

namespace lla::compiler::mamba2 {

namespace {

constexpr size_t kWorkspaceAlignment = 256;
constexpr int64_t kMaxGridYZ = 65535;

size_t align_up(size_t bytes) {
  return (bytes + kWorkspaceAlignment - 1) / kWorkspaceAlignment * kWorkspaceAlignment;
}

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

unsigned to_grid(int64_t n) { return static_cast<unsigned>(n); }

}  // namespace

int chunk_levels(int64_t num_chunks) {
  return num_chunks <= 1 ? 0 : levels::bit_length(static_cast<uint64_t>(num_chunks - 1));
}

int64_t tree_nodes(int64_t num_chunks) {
  int64_t nodes = 0;
  for (int e = 0; e < chunk_levels(num_chunks); ++e) nodes += num_chunks >> e;
  return nodes;
}

namespace {
int log2_exact(int power_of_two) { return __builtin_ctz(static_cast<unsigned>(power_of_two)); }
}  // namespace

// Layouts: templates/mamba2_forward_fma.cuh and mamba2_forward_mma.cuh (16-bit tiles padded by
// 8 elements a row).
int state_shared_bytes(const KernelSpec& spec) {
  if (spec.tile.algorithm == Algorithm::fma) return 0;
  const int c = spec.chunk, k = spec.key_dim, bv = spec.tile.block_v;
  return 4 * c + 2 * (bv + k) * (c + 8);
}

int output_shared_bytes(const KernelSpec& spec) {
  const int c = spec.chunk, k = spec.key_dim, bk = spec.tile.block_k, bv = spec.tile.block_v;
  if (spec.tile.algorithm == Algorithm::mma) {
    const int intra_levels = log2_exact(c) + 1;
    return 4 * (2 * c + c * intra_levels) + 2 * (2 * c * (k + 8) + bv * (c + 8) + bv * (k + 8));
  }
  const int floats = 2 * c + c * (c + 1) + 2 * c * (bk + 1) + c * (bv + 1) + bk * (bv + 1);
  return floats * 4;
}

std::vector<TileConfig> config_space(const KernelSpec& base) {
  std::vector<TileConfig> space;
  for (int block_k : {16, 32, 64})
    for (int block_v : {16, 32, 64})
      for (int warps : {2, 4, 8}) {
        if (base.key_dim % block_k != 0 || base.value_dim % block_v != 0) continue;
        // Every thread must own at least one element of the chunk x block_v output tile and
        // of the block_k x block_v state tile (ThreadTile in the template).
        const int threads = 32 * warps;
        if (base.chunk * block_v < threads || block_k * block_v < threads) continue;
        space.push_back(TileConfig{block_k, block_v, warps, Algorithm::fma});
      }
  if (base.dtype != Dtype::f32)
    for (int block_v : {16, 32, 64})
      if (base.value_dim % block_v == 0)
        space.push_back(TileConfig{TileConfig{}.block_k, block_v, base.chunk / 16, Algorithm::mma});
  return space;
}

int estimated_registers(const KernelSpec& spec) {
  // Allowances read off ptxas for the smallest tiles (sm_90a): what is not a held tile.
  constexpr int kFmaAllowance = 40, kMmaAllowance = 56;
  const int threads = 32 * spec.tile.warps, bv = spec.tile.block_v;
  if (spec.tile.algorithm == Algorithm::mma) {
    // A warp's 16 x chunk scores, 16 x block_v output and 16 x block_v level part, over 32 lanes.
    return kMmaAllowance + spec.chunk / 2 + bv;
  }
  // Output: chunk x block_v output and level part; states: a block_k x block_v tile.
  const int output = 2 * spec.chunk * bv / threads, states = spec.tile.block_k * bv / threads;
  return kFmaAllowance + std::max(output, states);
}

LaunchPlan plan(const KernelSpec& spec, const ForwardShape& shape) {
  require(shape.batch >= 1, "batch must be at least 1");
  require(shape.seq_len >= 1, "seq_len must be at least 1");
  require(shape.heads >= 1 && shape.groups >= 1 && shape.heads % shape.groups == 0,
          "heads must be a positive multiple of groups");
  require(spec.levels >= levels::num_levels(shape.seq_len),
          "levels=" + std::to_string(spec.levels) + " is below num_levels(seq_len)=" +
              std::to_string(levels::num_levels(shape.seq_len)));

  const int64_t batch_heads = int64_t{shape.batch} * shape.heads;
  const int64_t num_chunks = (shape.seq_len + spec.chunk - 1) / spec.chunk;
  const int64_t nodes = tree_nodes(num_chunks);
  require(batch_heads <= kMaxGridYZ, "batch * heads must be at most 65535");
  require(num_chunks <= kMaxGridYZ, "seq_len / chunk must be at most 65535");
  require(nodes <= std::numeric_limits<int32_t>::max(), "seq_len too large for the state tree");

  const int threads = 32 * spec.tile.warps;
  const int64_t state_elements = int64_t{spec.key_dim} * spec.value_dim;
  const size_t decay_bytes = align_up(static_cast<size_t>(batch_heads * nodes) * sizeof(float));
  const size_t state_bytes = static_cast<size_t>(batch_heads * nodes * state_elements) * sizeof(float);

  LaunchPlan plan;
  plan.workspace_bytes = nodes > 0 ? decay_bytes + state_bytes : 0;
  // One chunk has no inter-chunk levels: the output kernel then reads no tree.
  const KernelArg decays = nodes > 0 ? KernelArg{BufferArg{Buffer::workspace, 0}} : NullPointer{};
  const KernelArg states =
      nodes > 0 ? KernelArg{BufferArg{Buffer::workspace, decay_bytes}} : NullPointer{};
  const auto seq_len = int32_t{shape.seq_len}, heads = int32_t{shape.heads},
             groups = int32_t{shape.groups};
  const auto chunks = static_cast<int32_t>(num_chunks), tree = static_cast<int32_t>(nodes);

  if (nodes > 0) {
    Launch states_launch;
    states_launch.kernel = "lla_mamba2_chunk_states";
    states_launch.grid[0] = to_grid(num_chunks);
    states_launch.grid[1] = to_grid(batch_heads);
    // fma: a block per (block_k x block_v) tile of a node; mma: per block_v rows of its transpose.
    states_launch.grid[2] = to_grid(spec.tile.algorithm == Algorithm::mma
                                        ? spec.value_dim / spec.tile.block_v
                                        : int64_t{spec.key_dim / spec.tile.block_k} *
                                              (spec.value_dim / spec.tile.block_v));
    states_launch.block[0] = threads;
    states_launch.shared_bytes = static_cast<unsigned>(state_shared_bytes(spec));
    states_launch.args = {BufferArg{Buffer::k}, BufferArg{Buffer::v}, BufferArg{Buffer::g},
                          decays, states, seq_len, heads, groups, chunks, tree};
    plan.launches.push_back(states_launch);

    for (int level = 0; level + 1 < chunk_levels(num_chunks); ++level) {
      Launch merge;
      merge.kernel = "lla_mamba2_merge_states";
      merge.grid[0] = to_grid((state_elements + threads - 1) / threads);
      merge.grid[1] = to_grid(num_chunks >> (level + 1));
      merge.grid[2] = to_grid(batch_heads);
      merge.block[0] = threads;
      merge.args = {decays, states, int32_t{level}, chunks, tree};
      plan.launches.push_back(merge);
    }
  }

  Launch output;
  output.kernel = "lla_mamba2_output";
  output.grid[0] = to_grid(spec.value_dim / spec.tile.block_v);
  output.grid[1] = to_grid(num_chunks);
  output.grid[2] = to_grid(batch_heads);
  output.block[0] = threads;
  output.shared_bytes = static_cast<unsigned>(output_shared_bytes(spec));
  output.args = {BufferArg{Buffer::q}, BufferArg{Buffer::k}, BufferArg{Buffer::v},
                 BufferArg{Buffer::g}, BufferArg{Buffer::lambda}, BufferArg{Buffer::o},
                 decays, states, seq_len, heads, groups, chunks, tree, shape.scale};
  plan.launches.push_back(output);
  return plan;
}

}  // namespace lla::compiler::mamba2
