#pragma once
// The binary cache key of a CPU object (design.md, "Cache keys"): the CPU generator's version,
// the generated source's hash, and the CPU toolchain in the fields NVRTC's identity uses for
// CUDA: the clang option string (triple, CPU and every feature included), LLVM's version, and
// the target (triple, CPU name and the full feature list).

#include "binary_cache.h"
#include "clang/toolchain.h"
#include "generator/source_generator.h"

namespace lla::runtime::cpu {

cache::BinaryKey cpu_binary_key(const compiler::GeneratedSource& source,
                                const compiler::cpu::ToolchainIdentity& toolchain);

}  // namespace lla::runtime::cpu
