#pragma once
// The log-linear Mamba-2 forward family (templates/mamba2_forward_*.cuh): its knobs as a typed
// view of its TileConfig, and its descriptor. Plans and sizes: kernels/mamba2_forward_plan.h.

#include "families/kernel_family.h"

namespace lla::compiler::mamba2 {

// How the forward computes: on CUDA cores in fp32 (every dtype), or on tensor cores with fp32
// accumulation (16-bit inputs): mma builds a chunk-state tree in memory and reads it in a
// separate output pass; scan walks each sequence's chunks in one block with the Fenwick states
// on chip (plain calls; calls with a sequence table run the mma kernels of the same module) on
// mma.sync, and scan_wgmma makes the same walk on Hopper warpgroups (wgmma, sm_90a).
enum class Algorithm { fma, mma, scan, scan_wgmma };

const char* algorithm_name(Algorithm a);  // "fma", "mma", "scan", "scan_wgmma"
// Whether an algorithm runs on tensor cores (and so lays its tree out as mma does).
bool uses_tensor_cores(Algorithm a);
// Whether it is one of the chunk scans (scan, scan_wgmma).
bool is_scan(Algorithm a);

// The forward's knobs.
struct ForwardTile {
  int block_k = 32;  // rows of K a thread block owns in state work (fma)
  int block_v = 32;  // columns of V a thread block owns
  int warps = 4;     // threads per block = 32 * warps (mma, scans: chunk / 16; the scan
                     // kernels themselves run twice as many)
  Algorithm algorithm = Algorithm::fma;

  static ForwardTile of(const TileConfig& tile);  // the knobs of a config, defaults for missing ones
  operator TileConfig() const;                    // canonical: every knob, in schema order
};

// The tile of a spec of this family.
inline ForwardTile tile_of(const KernelSpec& spec) { return ForwardTile::of(spec.tile); }

const KernelFamily& forward_family();

}  // namespace lla::compiler::mamba2
