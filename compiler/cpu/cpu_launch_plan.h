#pragma once
// Launch plans of the CPU kernel families: pure data in the vocabulary of
// compiler/kernels/launch_plan.h, read the CPU way:
//   Launch::kernel        the entry point (templates/cpu/kernel_params.h's signature)
//   Launch::grid[0]       work items (grid[1] = grid[2] = 1), run over the thread pool
//   Launch::block         unused (1, 1, 1)
//   Launch::shared_bytes  scratch each worker needs (scratch_bytes of the spec)
//   Launch::args          the fields of the entry point's parameter struct, in declaration
//                         order (runtime/cpu/plan_runner.h packs them by the C layout rules)
//   LaunchPlan::upload    the sequence and item tables, copied to the start of the workspace
// Launches run one after the other; the items of one launch are independent.

#include <cstdint>

#include "cpu/cpu_kernel_spec.h"
#include "kernels/launch_plan.h"
#include "kernels/mamba2_decode_plan.h"

namespace lla::compiler::cpu {

// Chunks of a piece of a split sequence (a power of two: pieces tile the chunk-level buckets
// of a segment's start).
inline constexpr int kPieceChunks = 8;

// How the forward's items cut one sequence of `chunks` chunks from position 0 when the call
// has `items` (sequence, head) items for `threads` workers: segments of segment_chunks chunks
// (a multiple of kPieceChunks), one segment when cutting does not pay or is not asked for.
struct SequenceSplit {
  int64_t segments = 1;
  int64_t segment_chunks = 0;
};
SequenceSplit split_sequence(const CpuKernelSpec& spec, int64_t chunks, int64_t items, int threads);

// The forward of `shape` (plain or with sequences and states, as for the GPU plans) with the
// module of `spec`, for a pool of `threads` workers. Throws std::invalid_argument naming the
// field when the shape does not fit the spec (levels too few for a sequence's end, positions
// past 2^31 - 1, rows outside the call).
LaunchPlan plan_forward(const CpuKernelSpec& spec, const ProblemShape& shape, int threads);

// One decode step (and the advance of the positions when asked), with the module of `spec`.
// Throws std::invalid_argument naming the field (levels that cannot hold max_position, ...).
LaunchPlan plan_decode(const CpuKernelSpec& spec, const ProblemShape& shape);

}  // namespace lla::compiler::cpu
