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
// allows it with the widest V tile whose states fit in shared memory and whose blocks (one
// per sequence, head and V tile) fill enough SMs: 64 where they alone fill 7/8 of them, 32 or
// 16 where they fill half (fewer, and the sequential walk over T loses to the tree); else mma
// with 64-wide V tiles where they divide. Where that is the scan with 32- or 64-wide tiles on
// sm_90a, the scan on warpgroups (scan_wgmma) when it takes the spec and fits, with 64-wide
// tiles too where 32-wide ones would take more than one wave of blocks. fp32 inputs: CUDA cores (fma), 32-wide K and V tiles
// where they divide, 16 otherwise, four warps.
// A chunk of 128 on a device with little shared memory falls back to narrower V, then K tiles.
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
    const int64_t sequence_heads = int64_t{request.shape.batch} * request.shape.heads;
    const auto fits = [&](const compiler::KernelSpec& s) {
      return device.max_shared_per_block_optin <= 0 ||
             compiler::mamba2::scan_shared_bytes(s, request.shape.seq_len) <=
                 device.max_shared_per_block_optin;
    };
    // Wider tiles repeat a chunk's scores less often; measured on the H100 with the mma.sync
    // scan: 128 blocks of 64 beat 256 of 32 by 1.5x, 96 of 64 lose to 192 of 32, and at batch
    // 1, T = 65536, 128 blocks of 16 beat 64 of 32 by 1.26x and the tree by 1.3x.
    const auto scan_serves = [&](int block_v) {
      if (request.value_dim % block_v != 0) return false;
      spec.tile.block_v = block_v;
      const int64_t blocks = sequence_heads * (request.value_dim / block_v);
      const bool fills = block_v == 64 ? 8 * blocks >= 7 * device.sm_count : 2 * blocks >= device.sm_count;
      return fills && fits(spec);
    };
    if (!compiler::mamba2::scan_supports(spec) ||
        (!scan_serves(64) && !scan_serves(32) && !scan_serves(16))) {
      spec.tile.algorithm = compiler::Algorithm::mma;
      spec.tile.block_v = widest_dividing_tile(request.value_dim, {64, 32, 16});
    }
    // Measured on the H100, tuned: 0.48 / 0.53 / 0.55 ms with 64-wide tiles at T = 2048 x 16,
    // 4096 x 8, 8192 x 4 (the mma.sync scan: 0.68 / 0.72 / 0.75), 0.90 with 32-wide ones at
    // 16384 x 2 (1.12), and 1.20 for the paper's 48 heads with 64-wide ones, 96 blocks in one
    // wave where 192 of 32 take 1.45 waves (2.22). The mma.sync scan's 16-wide tile stays
    // ahead at batch 1, T = 65536 (3.81 against 4.28 ms with 32).
    if (spec.tile.algorithm == compiler::Algorithm::scan && spec.tile.block_v >= 32) {
      compiler::KernelSpec warpgroups = spec;
      warpgroups.tile.algorithm = compiler::Algorithm::scan_wgmma;
      if (compiler::mamba2::scan_supports(warpgroups) && fits(warpgroups)) {
        spec = warpgroups;
        warpgroups.tile.block_v = 64;
        if (spec.tile.block_v == 32 && sequence_heads * (request.value_dim / 32) > device.sm_count &&
            request.value_dim % 64 == 0 && fits(warpgroups))
          spec = warpgroups;
      }
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
