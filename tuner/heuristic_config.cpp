#include "heuristic_config.h"

#include <stdexcept>

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
// work at K = V = 128); 32-wide K and V tiles where they divide, 16 otherwise; four warps.
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
  spec.tile.block_k = widest_dividing_tile(request.key_dim, {32, 16});
  spec.tile.block_v = widest_dividing_tile(request.value_dim, {32, 16});
  spec.tile.warps = 4;
  while (device.max_shared_per_block_optin > 0 &&
         compiler::mamba2::output_shared_bytes(spec) > device.max_shared_per_block_optin) {
    if (spec.tile.block_v > 16) spec.tile.block_v /= 2;
    else if (spec.tile.block_k > 16) spec.tile.block_k /= 2;
    else break;  // the chunk alone is too large: the launch reports it
  }
  return spec;
}

}  // namespace lla::tuner
