#pragma once
// The log-linear Mamba-2 decode step family (templates/mamba2_decode.cuh): its knobs as a typed
// view of its TileConfig, and its descriptor. Plan: kernels/mamba2_decode_plan.h.

#include "families/kernel_family.h"

namespace lla::compiler::mamba2_decode {

// The step's knobs: the V tile a block owns and its warps (each thread streams 4 columns of
// rows_per_pass-apart rows).
struct DecodeTile {
  int block_v = 32;
  int warps = 4;

  static DecodeTile of(const TileConfig& tile);  // defaults for missing knobs
  operator TileConfig() const;                   // canonical
};

inline DecodeTile tile_of(const KernelSpec& spec) { return DecodeTile::of(spec.tile); }

}  // namespace lla::compiler::mamba2_decode

namespace lla::compiler::mamba2 {
const KernelFamily& decode_family();
}  // namespace lla::compiler::mamba2
