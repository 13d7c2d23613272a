#pragma once
// CPU kernel spec -> one self-contained C++ translation unit: a header naming the spec, the
// spec's compile-time constants (lla_config), then templates/cpu/'s text: the parameter
// structs, the shared library and the family's kernels. It includes nothing.

#include <cstddef>

#include "cpu/cpu_kernel_spec.h"
#include "generator/source_generator.h"

namespace lla::compiler::cpu {

// Part of every CPU binary cache key: bump it whenever the generated text changes for an
// unchanged spec and unchanged templates.
inline constexpr const char* kCpuGeneratorVersion = "cpu-1";

// Validates `spec` (std::invalid_argument naming the field) and generates its source.
GeneratedSource generate(const CpuKernelSpec& spec);

// The FMA peak probe (templates/cpu/fma_peak.h) for a vector width: entry point
// "lla_fma_peak", lla_cpu::FmaPeakParams, one item per worker, no scratch. Returns the source
// and sets *flops_per_iteration to the FLOPs one iteration of one item does.
GeneratedSource generate_fma_peak(int vector_floats, double* flops_per_iteration);

// Bytes of one worker's scratch for the family's items (the template's scratch struct, which
// static_asserts the same size).
size_t scratch_bytes(const CpuKernelSpec& spec);

}  // namespace lla::compiler::cpu
