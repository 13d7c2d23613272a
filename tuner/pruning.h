#pragma once
// Resource rules that reject a configuration before it is timed, each with a reason the
// tuner records. Static rules run before any compile; compiled rules read ptxas's report.

#include <optional>
#include <string>
#include <vector>

#include "families/kernel_family.h"
#include "nvrtc/nvrtc_compiler.h"

namespace lla::tuner {

// Registers of one SM (and the most one block may use) on every architecture lla targets.
inline constexpr int kRegistersPerSm = 65536;
// The most registers one thread can hold.
inline constexpr int kMaxRegistersPerThread = 255;

// Why `spec` cannot run `shape` on `device`, judged without compiling: its family rejects it
// (divisibility, sizes), its launch plan rejects the shape, its family's register estimate
// exceeds what a thread holds, or its dynamic shared memory exceeds the device's per-block
// limit. nullopt when it may run.
std::optional<std::string> static_prune_reason(const compiler::KernelSpec& spec,
                                               const compiler::ProblemShape& shape,
                                               const compiler::DeviceInfo& device);

// Why a compiled module is not worth timing: a kernel that spills to local memory, whose
// registers times its block size exceed an SM's registers, or whose static plus dynamic shared
// memory exceeds the device's per-block limit (these two cannot launch). Judged per kernel of
// the launch plan, whose block and shared sizes it reads; the module's other kernels are not
// judged. nullopt when none applies.
std::optional<std::string> compiled_prune_reason(
    const compiler::LaunchPlan& plan, const std::vector<compiler::KernelResources>& resources,
    const compiler::DeviceInfo& device);

}  // namespace lla::tuner
