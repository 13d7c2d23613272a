#pragma once
// Kernel spec -> one self-contained CUDA source: a header naming the spec, common.cuh, the
// parts of the device library (templates/ptx/) the spec's kernels use, the spec's compile-time
// constants (namespace lla_config), then the family's template text. NVRTC gets no headers, so
// the source includes nothing.

#include <string>
#include <vector>

#include "generator/kernel_spec.h"

namespace lla::compiler {

// Part of every binary cache key: bump it whenever the generated text changes for an
// unchanged spec and unchanged templates.
inline constexpr const char* kGeneratorVersion = "1";

struct GeneratedSource {
  std::string name;    // file-name-safe, unique per spec, e.g.
                       // "mamba2_forward_bf16_k128_v128_c64_l15_bk32_bv32_w4_fma_sm_90a"
  std::string source;  // the complete CUDA translation unit
  std::vector<std::string> entry_points;  // extern "C" kernels the module defines
};

// Validates `spec` (std::invalid_argument naming the field) and generates its CUDA source from
// its family's parts (KernelFamily::cuda_source), byte-identical for equal specs. Throws
// std::invalid_argument for a target that is not CUDA, std::logic_error naming a template
// missing from this build.
GeneratedSource generate(const KernelSpec& spec);

// "constexpr int <name> = <value>;\n": a line of namespace lla_config.
std::string cuda_constant(const char* name, int value);

}  // namespace lla::compiler
