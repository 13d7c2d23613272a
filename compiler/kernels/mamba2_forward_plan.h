#pragma once
// Launch plan of the log-linear Mamba-2 forward (templates/mamba2_forward.cuh): chunk states,
// one merge per tree level, one output pass.

#include "families/mamba2_forward.h"
#include "generator/kernel_spec.h"
#include "kernels/launch_plan.h"

namespace lla::compiler::mamba2 {

// The chunk-state tree of one (sequence, head) over its absolute chunks [first_chunk,
// last_chunk] (the layout of templates/common.cuh): tree_levels(last_chunk) = bit_length of it
// levels, level e holding nodes tree_first(e, first_chunk) .. last_chunk >> e.
int tree_levels(int64_t last_chunk);
int64_t tree_first(int level, int64_t first_chunk);
int64_t tree_nodes(int64_t first_chunk, int64_t last_chunk);

// Bytes of the kernels' per-sequence table entries (lla_sequence, lla_item).
inline constexpr size_t kSequenceEntryBytes = 32;
inline constexpr size_t kItemBytes = 8;

// Dynamic shared memory of the state and output kernels (0: static only); the generator
// compiles them into the source, where the kernels check them against their own layouts.
int state_shared_bytes(const KernelSpec& spec);
int output_shared_bytes(const KernelSpec& spec);

// Dynamic shared memory of the scan kernels (templates/mamba2_forward_scan.cuh and
// mamba2_forward_scan_wgmma.cuh): two chunk stages and the warps' exchange of partial outputs,
// then one state slot per chunk level of the call.
int scan_fixed_bytes(const KernelSpec& spec);
int scan_slot_bytes(const KernelSpec& spec);
int scan_shared_bytes(const KernelSpec& spec, int64_t seq_len);
// Whether the spec's scan algorithm (its tile's algorithm, scan or scan_wgmma) can be generated
// for its dtype, K, chunk and arch (the family's rules), for some V tile.
bool scan_supports(const KernelSpec& spec);

// How a plain call's scan walks its sequences (templates/mamba2_forward_scan_split.cuh): in
// segments of segment_chunks chunks, each after the first seeded from the states of pieces of
// piece_chunks chunks (every chunk before the last segment, pieces per (sequence, head)), with
// seeds_per_head seeds in all. One segment (of every chunk) when splitting would not pay: the
// blocks, one per (sequence, head, V tile, segment) and one an SM, are counted in waves over
// the shape's multiprocessors, and each piece costs a fraction of a scanned chunk.
struct ScanSplit {
  int64_t segment_chunks = 0;
  int64_t segments = 1;
  int64_t piece_chunks = 0;
  int64_t pieces = 0;
  int64_t seeds_per_head = 0;
};
ScanSplit scan_split(const KernelSpec& spec, const ProblemShape& shape);

LaunchPlan plan(const KernelSpec& spec, const ProblemShape& shape);

// Registers a thread of the hungriest kernel needs, estimated before compiling from the tiles
// it holds in registers (fp32 accumulators) plus a fixed allowance for addresses and operands.
// Over 255 the kernel cannot run without spilling, so the tuner need not compile it.
int estimated_registers(const KernelSpec& spec);

// The configuration space of the family for a base spec (dtype, K, V, chunk, levels, arch
// taken from it), in its fixed order (the tuner breaks ties by it, and a search cut short by
// its budget reaches the first ones): every tile config the generator accepts for those dims,
// the tensor-core algorithms first for 16-bit inputs (scan, then mma), then fma. Static
// pruning (shared memory, registers) is the tuner's.
std::vector<TileConfig> config_space(const KernelSpec& base);

}  // namespace lla::compiler::mamba2
