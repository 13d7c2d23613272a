#pragma once
// Launch plan of the log-linear Mamba-2 forward (templates/mamba2_forward.cuh): chunk states,
// one merge per tree level, one output pass.

#include "generator/kernel_spec.h"
#include "kernels/launch_plan.h"

namespace lla::compiler::mamba2 {

// Chunk levels a sequence of `num_chunks` chunks has: bit_length(num_chunks - 1), 0 for one chunk.
int chunk_levels(int64_t num_chunks);

// Nodes per (batch, head) of the chunk-state tree: sum over levels e < chunk_levels of
// num_chunks >> e.
int64_t tree_nodes(int64_t num_chunks);

// Dynamic shared memory of the state and output kernels (0: static only); the generator
// compiles them into the source, where the kernels check them against their own layouts.
int state_shared_bytes(const KernelSpec& spec);
int output_shared_bytes(const KernelSpec& spec);

LaunchPlan plan(const KernelSpec& spec, const ForwardShape& shape);

// Registers a thread of the hungriest kernel needs, estimated before compiling from the tiles
// it holds in registers (fp32 accumulators) plus a fixed allowance for addresses and operands.
// Over 255 the kernel cannot run without spilling, so the tuner need not compile it.
int estimated_registers(const KernelSpec& spec);

// The configuration space of the family for a base spec (dtype, K, V, chunk, levels, arch
// taken from it), in its fixed order (the tuner breaks ties by it): every tile config the
// generator accepts for those dims, fma first, then mma for 16-bit inputs. Static pruning
// (shared memory, registers) is the tuner's.
std::vector<TileConfig> config_space(const KernelSpec& base);

}  // namespace lla::compiler::mamba2
