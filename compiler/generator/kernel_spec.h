#pragma once
// What to compile: a kernel family specialised on every compile-time constant it has.
// Two equal specs give byte-identical source (the generator is deterministic).

#include <string>

namespace lla::compiler {

enum class Dtype { f32, f16, bf16 };
enum class Family { mamba2_forward, mamba2_decode };

// How a family computes: on CUDA cores in fp32 (every dtype), or on tensor cores with fp32
// accumulation (16-bit inputs): mma builds a chunk-state tree in memory and reads it in a
// separate output pass; scan walks each sequence's chunks in one block with the Fenwick states
// on chip (plain calls; calls with a sequence table run the mma kernels of the same module) on
// mma.sync, and scan_wgmma makes the same walk on Hopper warpgroups (wgmma, sm_90a).
enum class Algorithm { fma, mma, scan, scan_wgmma };

// Whether an algorithm runs on tensor cores (and so lays its tree out as mma does).
bool uses_tensor_cores(Algorithm a);
// Whether it is one of the chunk scans (scan, scan_wgmma).
bool is_scan(Algorithm a);

const char* dtype_name(Dtype d);     // "f32", "f16", "bf16"
const char* algorithm_name(Algorithm a);  // "fma", "mma", "scan", "scan_wgmma"
const char* family_name(Family f);   // "mamba2_forward", "mamba2_decode"
int dtype_bytes(Dtype d);

// The tuner's knobs for one family. Fields a family does not use must stay at their defaults.
struct TileConfig {
  int block_k = 32;  // rows of K a thread block owns in state work (fma)
  int block_v = 32;  // columns of V a thread block owns
  int warps = 4;     // threads per block = 32 * warps (mma, scans: chunk / 16; the scan
                     // kernels themselves run twice as many)
  Algorithm algorithm = Algorithm::fma;
  bool operator==(const TileConfig& o) const {
    return block_k == o.block_k && block_v == o.block_v && warps == o.warps &&
           algorithm == o.algorithm;
  }
  bool operator!=(const TileConfig& o) const { return !(*this == o); }
};

struct KernelSpec {
  Family family = Family::mamba2_forward;
  Dtype dtype = Dtype::bf16;
  int key_dim = 128;    // K
  int value_dim = 128;  // V
  int chunk = 64;       // C, a power of two
  int levels = 15;      // L, lambda levels
  TileConfig tile;
  std::string arch = "sm_90a";  // NVRTC target, suffix included
};

// A canonical one-line description, e.g.
// "mamba2_forward dtype=bf16 K=128 V=128 C=64 L=15 block_k=32 block_v=32 warps=4 algorithm=fma
// arch=sm_90a".
// Used in generated source headers, logs and the in-process kernel table.
std::string describe(const KernelSpec& s);

// The numeric SM of a supported NVRTC target: 90 for "sm_90a", 80 for "sm_80".
// Throws std::invalid_argument naming `arch` when lla does not support it.
int arch_sm_number(const std::string& arch);

// Throws std::invalid_argument naming the field when the spec cannot be generated
// (K or V not a multiple of 16 or too large, chunk not a power of two in [16, 128], a tile that
// does not divide its dimension, unknown arch, ...).
void validate(const KernelSpec& s);

}  // namespace lla::compiler
