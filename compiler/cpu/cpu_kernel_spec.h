#pragma once
// What to compile for the CPU backend: a kernel family specialised on every compile-time
// constant of templates/cpu/ (head dims, chunk, levels, dtype, register tiles) and on the
// vector width of the CPU it targets. Two equal specs give byte-identical source.

#include <string>
#include <vector>

#include "generator/kernel_spec.h"

namespace lla::compiler::cpu {

// The CPU kernel families. They keep their own names until the CPU backend joins the family
// registry (compiler/families); the strings are the registry's family names.
enum class Family { mamba2_forward, mamba2_decode };
const char* family_name(Family f);  // "mamba2_forward", "mamba2_decode"

// The tuner's knobs on the CPU. Fields a family does not use stay at their defaults.
struct CpuTileConfig {
  // forward: the product's register tile, row_tile rows by col_vectors vectors (of the
  // target's width); its accumulators must fit the register file (16 vector registers with
  // AVX2, 32 with AVX-512).
  int row_tile = 6;
  int col_vectors = 2;
  // decode: V columns a pass keeps in registers (a multiple of the vector width dividing V).
  int value_tile = 32;
  // forward, plan only (the source does not change): segments a sequence starting at 0 is cut
  // into when the call has fewer (sequence, head) items than threads. 0: as many as the
  // threads need; 1: never cut.
  int split = 0;
  bool operator==(const CpuTileConfig& o) const {
    return row_tile == o.row_tile && col_vectors == o.col_vectors && value_tile == o.value_tile &&
           split == o.split;
  }
  bool operator!=(const CpuTileConfig& o) const { return !(*this == o); }
};

struct CpuKernelSpec {
  Family family = Family::mamba2_forward;
  Dtype dtype = Dtype::f32;
  int key_dim = 128;    // K
  int value_dim = 128;  // V
  int chunk = 64;       // C, a power of two (forward)
  int levels = 15;      // L
  CpuTileConfig tile;
  int vector_floats = 8;  // the target's vector width (compiler/clang/toolchain.h)
};

// e.g. "cpu mamba2_forward dtype=f32 K=128 V=128 C=64 L=15 row_tile=6 col_vectors=2 vector=8".
// Fields the family does not use are left out.
std::string describe(const CpuKernelSpec& s);

// Throws std::invalid_argument naming the field when the spec cannot be generated: K or V not
// a multiple of 16 (and of the vector width) or too large, a chunk not a power of two in
// [16, 128], levels outside [1, 32], a register tile that does not fit the vector registers, a
// V tile that does not divide V, a vector width other than 4, 8 or 16.
void validate(const CpuKernelSpec& s);

// The register budget: vector registers of the target (16 below AVX-512, 32 with it).
int vector_registers(int vector_floats);

// The family's configuration space for a base spec, in a fixed order (the tuner breaks ties
// by it): forward, every register tile whose accumulators plus one row of b and one broadcast
// fit the registers, by rows then vectors; decode, every V tile of 1, 2, 4, 8 vectors that
// divides V. Plan knobs (split) at their default.
std::vector<CpuTileConfig> config_space(const CpuKernelSpec& base);

// The documented untuned choice for a base spec (always in config_space).
CpuTileConfig heuristic_config(const CpuKernelSpec& base);

// A spec of these sizes for a target of `vector_floats` floats a vector, with the heuristic's
// tile (chunk is the forward's; decode ignores it).
CpuKernelSpec make_spec(Family family, Dtype dtype, int key_dim, int value_dim, int levels,
                        int chunk, int vector_floats);

}  // namespace lla::compiler::cpu
