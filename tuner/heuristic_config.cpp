#include "heuristic_config.h"

#include <stdexcept>

#include "kernels/mamba2_decode_plan.h"
#include "kernels/mamba2_forward_plan.h"

namespace lla::tuner {

namespace {

constexpr int kDefaultChunk = 64;

// The widest tile of `candidates` (widest first) that divides `dim`.
int widest_dividing_tile(int dim, std::initializer_list<int> candidates) {
  for (int tile : candidates)
    if (dim % tile == 0) return tile;
  throw std::invalid_argument("no tile divides " + std::to_string(dim));
}

}  // namespace

std::string arch_for_compute_capability(int major, int minor) {
  if (major == 9 && minor == 0) return "sm_90a";
  return "sm_" + std::to_string(major) + std::to_string(minor);
}

// Rule: chunk 64 (the models' chunk and the best balance of intra-chunk work against state
// work at K = V = 128). 16-bit inputs: tensor cores, a warp per 16 rows; the scan where K
// allows it with the widest V tile whose states fit in shared memory and whose blocks (one per
// sequence, head, V tile and segment of a split sequence: mamba2::scan_split) fill enough SMs:
// 64 where they fill 7/8 of them, 32 or 16 where they fill half (fewer, and the sequential
// walk loses to the tree); else mma with 64-wide V tiles where they divide. On sm_90a a scan
// with 32- or 64-wide tiles runs on warpgroups (scan_wgmma) where it takes the spec.
// fp32 inputs: CUDA cores (fma), 32-wide K and V tiles where they divide, 16 otherwise, four
// warps. A chunk of 128 on a device with little shared memory falls back to narrower V, then K
// tiles.
compiler::KernelSpec heuristic_forward_spec(const ForwardRequest& request, const DeviceInfo& device) {
  compiler::KernelSpec spec;
  spec.family = request.family;
  spec.dtype = request.dtype;
  spec.key_dim = request.key_dim;
  spec.value_dim = request.value_dim;
  spec.levels = request.levels;
  spec.chunk = request.chunk ? request.chunk : kDefaultChunk;
  spec.arch = device.arch;
  if (request.dtype == compiler::Dtype::f32) {
    spec.tile.block_k = widest_dividing_tile(request.key_dim, {32, 16});
    spec.tile.block_v = widest_dividing_tile(request.value_dim, {32, 16});
    spec.tile.warps = 4;
  } else {
    spec.tile.warps = spec.chunk / 16;
    spec.tile.algorithm = compiler::Algorithm::scan;
    compiler::ForwardShape shape = request.shape;
    shape.multiprocessors = device.sm_count;
    const auto fits = [&](const compiler::KernelSpec& s) {
      return device.max_shared_per_block_optin <= 0 ||
             compiler::mamba2::scan_shared_bytes(s, shape.seq_len) <= device.max_shared_per_block_optin;
    };
    // The scan of a V tile, on warpgroups where it takes the spec. Wider tiles repeat a chunk's
    // scores less often; measured on the H100, tuned: 64-wide tiles 0.48 / 0.53 / 0.55 ms at
    // T = 2048 x 16, 4096 x 8, 8192 x 4, where 32-wide ones are slower.
    const auto scan_serves = [&](int block_v) {
      if (request.value_dim % block_v != 0) return false;
      spec.tile.block_v = block_v;
      spec.tile.algorithm = compiler::Algorithm::scan_wgmma;
      if (block_v == 16 || !compiler::mamba2::scan_supports(spec)) spec.tile.algorithm = compiler::Algorithm::scan;
      if (!compiler::mamba2::scan_supports(spec) || !fits(spec)) return false;
      const int64_t blocks = int64_t{shape.batch} * shape.heads * (request.value_dim / block_v) *
                             compiler::mamba2::scan_split(spec, shape).segments;
      return block_v == 64 ? 8 * blocks >= 7 * device.sm_count : 2 * blocks >= device.sm_count;
    };
    if (!scan_serves(64) && !scan_serves(32) && !scan_serves(16)) {
      spec.tile.algorithm = compiler::Algorithm::mma;
      spec.tile.block_v = widest_dividing_tile(request.value_dim, {64, 32, 16});
    }
  }
  while (device.max_shared_per_block_optin > 0 &&
         compiler::mamba2::output_shared_bytes(spec) > device.max_shared_per_block_optin) {
    if (spec.tile.block_v > 16) spec.tile.block_v /= 2;
    else if (spec.tile.algorithm == compiler::Algorithm::fma && spec.tile.block_k > 16)
      spec.tile.block_k /= 2;
    else break;  // the chunk alone is too large: the launch reports it
  }
  return spec;
}

// Rule: the step streams the state once, so what matters is enough blocks in flight. 32-wide V
// tiles (8 rows of 16-byte accesses per thread at K = 128, 72 registers) unless that leaves
// fewer than two blocks per SM, then 16-wide; four warps, halved until a pass's rows divide K.
compiler::KernelSpec heuristic_decode_spec(const DecodeRequest& request, const DeviceInfo& device) {
  compiler::KernelSpec spec;
  spec.family = compiler::Family::mamba2_decode;
  spec.dtype = request.dtype;
  spec.key_dim = request.key_dim;
  spec.value_dim = request.value_dim;
  spec.levels = request.levels;
  spec.arch = device.arch;
  spec.tile.block_k = compiler::mamba2_decode::kUnusedBlockK;
  spec.tile.block_v = widest_dividing_tile(request.value_dim, {32, 16});
  const int64_t sequence_heads = int64_t{request.batch} * request.heads;
  if (sequence_heads * (request.value_dim / spec.tile.block_v) < 2 * int64_t{device.sm_count})
    spec.tile.block_v = 16;
  spec.tile.warps = 4;
  while (spec.tile.warps > 1 &&
         request.key_dim % compiler::mamba2_decode::rows_per_pass(spec.tile) != 0)
    spec.tile.warps /= 2;
  return spec;
}

}  // namespace lla::tuner
