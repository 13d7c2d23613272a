#pragma once
// The inline-PTX wrappers of the wgmma instructions a kernel uses, generated per N: an
// instruction names each of its N / 2 accumulator registers, so the wrappers differ in every
// operand list and are written out here rather than copied into the templates.

#include <string>
#include <vector>

#include "generator/kernel_spec.h"

namespace lla::compiler {

// CUDA source defining `template <int kN> struct Wgmma` and its specializations for each of
// `widths` (N, a multiple of 8 in [8, 256]): m64 nN k16, fp32 accumulators, `dtype` inputs
// (f16 or bf16), each with
//   shared_a<kTransposeB>(float (&d)[N / 2], desc_a, desc_b, bool accumulate)
//   register_a<kTransposeB>(float (&d)[N / 2], const unsigned (&a)[4], desc_b, bool accumulate)
// (A from shared memory, K-major, or from registers; D = A B, plus D when `accumulate`).
// The text belongs in namespace lla_ptx after templates/ptx/sm90.cuh (its WgmmaDescriptor).
// Throws std::invalid_argument for another dtype or width.
std::string wgmma_wrappers(Dtype dtype, const std::vector<int>& widths);

}  // namespace lla::compiler
