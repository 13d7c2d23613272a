#include "kernels/mamba2_forward_plan.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>
#include <variant>

#include "families/kernel_family.h"

namespace lla::compiler {
namespace {

using mamba2::Algorithm;
using mamba2::ForwardTile;

ProblemShape shape(int batch, int seq_len, int heads, int groups) {
  ProblemShape s;
  s.batch = batch;
  s.seq_len = seq_len;
  s.heads = heads;
  s.groups = groups;
  return s;
}

KernelSpec spec_for(int seq_len) {
  KernelSpec s;
  s.levels = std::max(1, 64 - __builtin_clzll(static_cast<unsigned long long>(seq_len - 1)) + 1);
  return s;
}

TEST(Mamba2ForwardPlan, TreeLevelsAndNodes) {
  // Chunks [0, n): levels bit_length(n - 1), level e holding ceil(n / 2^e) nodes.
  EXPECT_EQ(mamba2::tree_levels(0), 0);
  EXPECT_EQ(mamba2::tree_levels(1), 1);
  EXPECT_EQ(mamba2::tree_levels(2), 2);
  EXPECT_EQ(mamba2::tree_levels(255), 8);
  EXPECT_EQ(mamba2::tree_levels(256), 9);
  EXPECT_EQ(mamba2::tree_nodes(0, 0), 0);
  EXPECT_EQ(mamba2::tree_nodes(0, 1), 2);
  EXPECT_EQ(mamba2::tree_nodes(0, 5), 6 + 3 + 2);
  EXPECT_EQ(mamba2::tree_nodes(0, 255), 510);
  // Chunks [5, 6] of a continued sequence: level 0 keeps prefix node 4, level 1 node 1
  // (chunks 2-3, before chunk 5's pair) through node 3, level 2 node 0 (chunks 0-3) and 1.
  EXPECT_EQ(mamba2::tree_first(0, 5), 4);
  EXPECT_EQ(mamba2::tree_first(1, 5), 1);
  EXPECT_EQ(mamba2::tree_first(2, 5), 0);
  EXPECT_EQ(mamba2::tree_nodes(5, 6), 3 + 3 + 2);
}

TEST(Mamba2ForwardPlan, OneChunkReadsNoTree) {
  const LaunchPlan plan = plan_launches(spec_for(64), shape(2, 64, 4, 2));
  ASSERT_EQ(plan.launches.size(), 1u);
  EXPECT_EQ(plan.workspace_bytes, 0u);
  const Launch& output = plan.launches[0];
  EXPECT_EQ(output.kernel, "lla_mamba2_output");
  EXPECT_TRUE(std::holds_alternative<NullPointer>(output.args[0]));  // sequences
  EXPECT_TRUE(std::holds_alternative<NullPointer>(output.args[8]));  // decays
  EXPECT_TRUE(std::holds_alternative<NullPointer>(output.args[9]));  // states
}

TEST(Mamba2ForwardPlan, StatesThenOneMergePerTreeLevelThenOutput) {
  const KernelSpec spec = spec_for(16384);
  const LaunchPlan plan = plan_launches(spec, shape(2, 16384, 16, 16));
  // 256 chunks: 8 chunk levels, so states + 7 merges + output.
  ASSERT_EQ(plan.launches.size(), 9u);
  EXPECT_EQ(plan.launches.front().kernel, "lla_mamba2_chunk_states");
  EXPECT_EQ(plan.launches.front().grid[0], (128u / 32) * (128 / 32));
  EXPECT_EQ(plan.launches.front().grid[1], 256u);
  EXPECT_EQ(plan.launches.front().grid[2], 32u);
  for (int level = 0; level < 7; ++level) {
    const Launch& merge = plan.launches[1 + level];
    EXPECT_EQ(merge.kernel, "lla_mamba2_merge_states");
    EXPECT_EQ(merge.grid[1], 256u >> (level + 1));
    EXPECT_EQ(std::get<int32_t>(merge.args[4]), level);
  }
  const Launch& output = plan.launches.back();
  EXPECT_EQ(output.kernel, "lla_mamba2_output");
  EXPECT_EQ(output.grid[0], 128u / 32);
  EXPECT_EQ(output.grid[1], 256u);
  EXPECT_EQ(output.shared_bytes, static_cast<unsigned>(mamba2::output_shared_bytes(spec)));
  // Levels 0..7 of 256 chunks: 256 + 128 + ... + 2 nodes a head.
  const size_t decay_bytes = (2 * 16 * 510 * 4 + 255) / 256 * 256;
  EXPECT_EQ(plan.workspace_bytes, decay_bytes + size_t{2} * 16 * 510 * 128 * 128 * 4);
  EXPECT_EQ(std::get<BufferArg>(output.args[9]).offset_bytes, decay_bytes);
  EXPECT_TRUE(plan.upload.empty());
}

TEST(Mamba2ForwardPlan, PartialLastChunkCounts) {
  const LaunchPlan plan = plan_launches(spec_for(65), shape(1, 65, 1, 1));
  ASSERT_EQ(plan.launches.size(), 2u);  // 2 chunks, one chunk level: no merge
  EXPECT_EQ(plan.launches.back().grid[1], 2u);
}

TEST(Mamba2ForwardPlan, SequencesPlanFromAnUploadedTable) {
  KernelSpec spec = spec_for(512);
  ProblemShape s = shape(1, 300, 4, 2);
  // Sequence 0: tokens 0..99 (chunks 0-1); sequence 1 continues from position 70 (chunks 1-4).
  s.sequences = {{0, 0, 100}, {100, 70, 200}};
  s.initial_state = true;
  s.final_state = true;
  const LaunchPlan plan = plan_launches(spec, s);
  std::vector<std::string> kernels;
  for (const Launch& l : plan.launches) kernels.push_back(l.kernel);
  EXPECT_EQ(kernels, (std::vector<std::string>{"lla_mamba2_chunk_states", "lla_mamba2_seed_prefix",
                                               "lla_mamba2_merge_states", "lla_mamba2_merge_states",
                                               "lla_mamba2_output", "lla_mamba2_final_state"}));
  // Sequence 1 merges level 1 nodes 0 (prefix chunk 0 with chunk 1) and 1, then level 2 node 0.
  EXPECT_EQ(plan.launches[2].grid[1], 2u);
  EXPECT_EQ(plan.launches[3].grid[1], 1u);
  const Launch& output = plan.launches[4];
  EXPECT_EQ(output.grid[1], 2u + 4u);  // every chunk of every sequence, no padding
  EXPECT_EQ(output.grid[2], 4u);       // heads
  EXPECT_EQ(plan.upload.size(), 2 * mamba2::kSequenceEntryBytes + (6 + 2 + 1) * mamba2::kItemBytes);
  EXPECT_EQ(plan.launches.back().grid[1], 2u);  // one final state per sequence
  // Sequence 1 starts inside chunk 1 (70 % 64 = 6): 7 in-chunk prefix slots a head.
  const size_t slots = std::get<BufferArg>(output.args[10]).offset_bytes;
  EXPECT_EQ(plan.workspace_bytes, slots + size_t{4} * 7 * 128 * 128 * 4);
}

TEST(Mamba2ForwardPlan, SequencesMustFitTheRowsAndLevels) {
  KernelSpec spec = spec_for(512);
  ProblemShape s = shape(1, 300, 4, 2);
  s.sequences = {{0, 0, 100}, {100, 0, 201}};
  EXPECT_THROW(plan_launches(spec, s), std::invalid_argument);  // rows 100..301 of 300
  s.sequences = {{0, 600, 100}};
  EXPECT_THROW(plan_launches(spec, s), std::invalid_argument);  // position 699 needs 11 levels
}

TEST(Mamba2ForwardPlan, RejectsShapesTheSpecCannotServe) {
  EXPECT_THROW(plan_launches(spec_for(64), shape(1, 65, 1, 1)), std::invalid_argument);  // levels
  EXPECT_THROW(plan_launches(spec_for(64), shape(1, 64, 3, 2)), std::invalid_argument);  // groups
  EXPECT_THROW(plan_launches(spec_for(64), shape(0, 64, 1, 1)), std::invalid_argument);  // batch
  EXPECT_THROW(plan_launches(spec_for(64), shape(65536, 64, 1, 1)), std::invalid_argument);
}

TEST(Mamba2ForwardPlan, MmaPlanUsesAWarpPer16RowsAndDynamicStateMemory) {
  KernelSpec spec = spec_for(4096);
  spec.tile = ForwardTile{32, 64, 4, Algorithm::mma};
  const LaunchPlan plan = plan_launches(spec, shape(1, 4096, 2, 1));
  const Launch& states = plan.launches.front();
  EXPECT_EQ(states.grid[0], 128u / 64);
  EXPECT_EQ(states.block[0], 128u);
  EXPECT_EQ(states.shared_bytes, static_cast<unsigned>(4 * 64 + 2 * (64 + 128) * (64 + 8)));
  const Launch& output = plan.launches.back();
  EXPECT_EQ(output.grid[0], 2u);
  EXPECT_EQ(output.shared_bytes,
            static_cast<unsigned>(4 * (2 * 64 + 64 * 7) +
                                  2 * (2 * 64 * 136 + 64 * 72 + 64 * 136)));
}

// A scan at B = 2, T = 16384, H = 16, block_v = 32: one launch of 256 threads (two warps per
// 16 rows, or two warpgroups) a (sequence, head, V tile), and nothing goes to memory but o.
Launch the_one_scan_launch(Algorithm scan) {
  KernelSpec spec = spec_for(16384);
  spec.tile = ForwardTile{32, 32, 4, scan};
  const LaunchPlan plan = plan_launches(spec, shape(2, 16384, 16, 16));
  EXPECT_EQ(plan.launches.size(), 1u);
  EXPECT_EQ(plan.workspace_bytes, 0u);
  const Launch scan_launch = plan.launches.at(0);
  EXPECT_EQ(scan_launch.kernel, "lla_mamba2_scan");
  EXPECT_EQ(scan_launch.grid[0], 128u / 32);
  EXPECT_EQ(scan_launch.grid[1], 2u * 16);
  EXPECT_EQ(scan_launch.block[0], 256u);
  return scan_launch;
}

TEST(Mamba2ForwardPlan, ScanIsOneLaunchWithAStateSlotPerChunkLevel) {
  KernelSpec spec = spec_for(16384);
  spec.tile = ForwardTile{32, 32, 4, Algorithm::scan};
  const Launch scan = the_one_scan_launch(Algorithm::scan);
  // Two stages (q, k, v tiles, g, lambda rows), the warps' exchange, the 8 slots' decays (in
  // 16-byte steps), then 8 slots for chunks 0..255.
  const int stage = 2 * (2 * 64 * 136 + 64 * 40) + 4 * 64 + 2 * 64 * 15;
  const int fixed = 2 * stage + 8 * 4 * 16 * 16 + 32;
  EXPECT_EQ(mamba2::scan_fixed_bytes(spec), fixed);
  EXPECT_EQ(scan.shared_bytes, static_cast<unsigned>(fixed + 8 * 2 * 32 * 136));
  EXPECT_EQ(mamba2::scan_shared_bytes(spec, 64), fixed);  // one chunk: no slot
  EXPECT_EQ(mamba2::scan_shared_bytes(spec, 65), fixed + 2 * 32 * 136);
}

TEST(Mamba2ForwardPlan, ScanOnWarpgroupsLaunchesAsTheScanWithUnpaddedSwizzledTiles) {
  KernelSpec spec = spec_for(16384);
  spec.tile = ForwardTile{32, 32, 4, Algorithm::scan_wgmma};
  const Launch scan = the_one_scan_launch(Algorithm::scan_wgmma);
  // 1024 bytes to align, two stages on 1024 bytes (q, k, v tiles unpadded, g, lambda rows), each
  // warpgroup's half of the columns for the other (rows of 16 + 8 floats; at V tile 64 in the
  // stage's tiles), the slots' decays, then 8 slots of K x block_v.
  const int stage = (2 * (2 * 64 * 128 + 64 * 32) + 4 * 64 + 2 * 64 * 15 + 1023) / 1024 * 1024;
  const int fixed = 1024 + 2 * stage + 2 * 64 * 24 * 4 + 32;
  EXPECT_EQ(mamba2::scan_fixed_bytes(spec), fixed);
  EXPECT_EQ(mamba2::scan_slot_bytes(spec), 2 * 128 * 32);
  EXPECT_EQ(scan.shared_bytes, static_cast<unsigned>(fixed + 8 * 2 * 128 * 32));
  EXPECT_TRUE(mamba2::scan_supports(spec));
  spec.tile.set("block_v", 64);
  const int stage64 = (2 * (2 * 64 * 128 + 64 * 64) + 4 * 64 + 2 * 64 * 15 + 1023) / 1024 * 1024;
  EXPECT_EQ(mamba2::scan_fixed_bytes(spec), 1024 + 2 * stage64 + 32);
  EXPECT_LE(mamba2::scan_shared_bytes(spec, 16384), 227 * 1024);  // fits an H100 at T = 16384
  spec.target = cuda_target("sm_80");
  EXPECT_FALSE(mamba2::scan_supports(spec));
}

// scan_wgmma with V tile 64 for sequences of seq_len, the split's tests' kernel.
KernelSpec wgmma_scan_spec(int seq_len) {
  KernelSpec spec = spec_for(seq_len);
  spec.tile = ForwardTile{32, 64, 4, Algorithm::scan_wgmma};
  return spec;
}
// `shape` on an H100's 132 multiprocessors.
ProblemShape on_h100(ProblemShape s) {
  s.multiprocessors = 132;
  return s;
}

// 16384 x 2 with 16 heads and V tile 64 is 64 blocks: half of an H100's 132 SMs idle for the
// whole walk. Split in two segments of 128 chunks, the scan fills 128; the second segment is
// seeded from the 8 pieces of 16 chunks before it, one seed (chunk 128: bit 7).
TEST(Mamba2ForwardPlan, ScanSplitsALongSequenceIntoSeededSegmentsToFillTheDevice) {
  const KernelSpec spec = wgmma_scan_spec(16384);
  const ProblemShape s = on_h100(shape(2, 16384, 16, 16));
  const mamba2::ScanSplit split = mamba2::scan_split(spec, s);
  EXPECT_EQ(split.segments, 2);
  EXPECT_EQ(split.segment_chunks, 128);
  EXPECT_EQ(split.piece_chunks, 16);
  EXPECT_EQ(split.pieces, 8);
  EXPECT_EQ(split.seeds_per_head, 1);

  const LaunchPlan plan = plan_launches(spec, s);
  ASSERT_EQ(plan.launches.size(), 3u);
  const Launch& pieces = plan.launches[0];
  EXPECT_EQ(pieces.kernel, "lla_mamba2_scan_pieces");
  EXPECT_EQ(std::vector<unsigned>(pieces.grid, pieces.grid + 3), (std::vector<unsigned>{2, 32, 8}));
  EXPECT_EQ(pieces.block[0], 256u);
  EXPECT_EQ(pieces.shared_bytes, static_cast<unsigned>(mamba2::scan_fixed_bytes(spec)));
  const Launch& seeds = plan.launches[1];
  EXPECT_EQ(seeds.kernel, "lla_mamba2_scan_seeds");
  EXPECT_EQ(std::vector<unsigned>(seeds.grid, seeds.grid + 3), (std::vector<unsigned>{128 * 128 / 4 / 256, 32, 1}));
  const Launch& scan = plan.launches[2];
  EXPECT_EQ(scan.kernel, "lla_mamba2_scan");
  EXPECT_EQ(std::vector<unsigned>(scan.grid, scan.grid + 3), (std::vector<unsigned>{2, 32, 2}));
  EXPECT_EQ(std::get<int32_t>(scan.args.at(12)), 128);  // segment_chunks
  EXPECT_EQ(std::get<int32_t>(scan.args.at(13)), 1);    // seeds_per_head

  // Workspace: the pieces' states and decays, then the seeds' (256-byte aligned regions).
  const size_t state = 128 * 128 * 4;
  const auto at = [](const KernelArg& a) { return std::get<BufferArg>(a).offset_bytes; };
  EXPECT_EQ(at(pieces.args.at(3)), 0u);
  EXPECT_EQ(at(pieces.args.at(4)), 32 * 8 * state);
  EXPECT_EQ(at(scan.args.at(6)), 32 * 8 * state + 1024);
  EXPECT_EQ(at(scan.args.at(7)), 32 * 8 * state + 1024 + 32 * state);
  EXPECT_EQ(plan.workspace_bytes, 32 * 8 * state + 1024 + 32 * state + 32 * 4);
  EXPECT_EQ(at(seeds.args.at(2)), at(scan.args.at(6)));
}

TEST(Mamba2ForwardPlan, ScanStaysWholeWhereItsBlocksFillTheDeviceOrTheDeviceIsUnknown) {
  const KernelSpec spec = wgmma_scan_spec(2048);
  ProblemShape s = on_h100(shape(16, 2048, 16, 16));  // 512 blocks: 3.9 waves
  EXPECT_EQ(mamba2::scan_split(spec, s).segments, 1);
  EXPECT_EQ(plan_launches(spec, s).launches.size(), 1u);
  s = on_h100(shape(1, 1000, 1, 1));  // 16 chunks: too few to split
  EXPECT_EQ(mamba2::scan_split(spec, s).segments, 1);
  s = shape(1, 65536, 16, 16);
  EXPECT_EQ(mamba2::scan_split(spec, s).segments, 1) << "no multiprocessors given";
}

// At batch 1, T = 65536 (1024 chunks, 32 blocks of V tile 64) the segments are whole pieces,
// the pieces every chunk before the last segment, and a segment's seeds its first chunk's set
// bits.
TEST(Mamba2ForwardPlan, ScanSegmentsAreWholePiecesSeededByTheirFirstChunksBits) {
  const KernelSpec spec = wgmma_scan_spec(65536);
  const ProblemShape s = on_h100(shape(1, 65536, 16, 16));
  const mamba2::ScanSplit split = mamba2::scan_split(spec, s);
  ASSERT_GT(split.segments, 2);
  EXPECT_EQ(split.segment_chunks % split.piece_chunks, 0);
  EXPECT_EQ(split.segments, (1024 + split.segment_chunks - 1) / split.segment_chunks);
  EXPECT_EQ(split.pieces, (split.segments - 1) * split.segment_chunks / split.piece_chunks);
  int64_t seeds = 0;
  for (int64_t segment = 1; segment < split.segments; ++segment)
    seeds += __builtin_popcountll(static_cast<unsigned long long>(segment * split.segment_chunks));
  EXPECT_EQ(split.seeds_per_head, seeds);
  EXPECT_LE(split.segments * 32, 2 * 132) << "at most two waves";
}

TEST(Mamba2ForwardPlan, ScanServesSequencesWithTheTensorCoreTree) {
  KernelSpec spec = spec_for(512);
  spec.tile = ForwardTile{32, 32, 4, Algorithm::scan};
  ProblemShape s = shape(1, 300, 4, 2);
  s.sequences = {{0, 0, 100}, {100, 70, 200}};
  const LaunchPlan plan = plan_launches(spec, s);
  ASSERT_EQ(plan.launches.front().kernel, "lla_mamba2_chunk_states");
  EXPECT_EQ(plan.launches.front().grid[0], 128u / 32);  // block_v rows of a node, as mma
  EXPECT_EQ(plan.launches.front().block[0], 128u);
  EXPECT_EQ(plan.launches.back().kernel, "lla_mamba2_output");
}

TEST(Mamba2ForwardPlan, RegisterEstimateFollowsTheHeldTiles) {
  KernelSpec s;
  s.tile = ForwardTile{32, 32, 4, Algorithm::fma};
  EXPECT_EQ(mamba2::estimated_registers(s), 40 + 2 * 64 * 32 / 128);
  s.tile = ForwardTile{64, 64, 1, Algorithm::fma};
  EXPECT_EQ(mamba2::estimated_registers(s), 40 + 2 * 64 * 64 / 32);
  s.tile = ForwardTile{32, 64, 4, Algorithm::mma};
  EXPECT_EQ(mamba2::estimated_registers(s), 56 + 32 + 64);  // ptxas: 168 with 3 blocks an SM
  s.tile = ForwardTile{32, 32, 4, Algorithm::scan};
  EXPECT_EQ(mamba2::estimated_registers(s), 56 + 16 + 32 + 8 + 32);  // ptxas: 169
  s.tile = ForwardTile{32, 32, 4, Algorithm::scan_wgmma};
  EXPECT_EQ(mamba2::estimated_registers(s), 56 + 16 + 16 + 32 + 32);
}

TEST(Mamba2ForwardPlan, SharedMemoryFollowsTheLayout) {
  KernelSpec s;
  s.chunk = 64;
  s.tile = ForwardTile{32, 32, 4};
  EXPECT_EQ(mamba2::output_shared_bytes(s), 46720);
  s.chunk = 128;
  s.tile = ForwardTile{64, 64, 4};
  EXPECT_EQ(mamba2::output_shared_bytes(s),
            4 * (2 * 128 + 128 * 129 + 2 * 128 * 65 + 128 * 65 + 64 * 65));
}

TEST(Mamba2ForwardPlan, ConfigSpaceHoldsEveryDividingTileInAFixedOrder) {
  KernelSpec base;
  base.key_dim = 128;
  base.value_dim = 64;
  const std::vector<TileConfig> space = mamba2::config_space(base);
  // scan_wgmma with V tiles of 32 and 64, scan and mma with each, then fma tiles.
  EXPECT_EQ(space.size(), 2u + 3u + 3u + 27u);
  EXPECT_EQ(space.front(), (TileConfig(ForwardTile{32, 32, 4, Algorithm::scan_wgmma})));
  EXPECT_EQ(space[1], (TileConfig(ForwardTile{32, 64, 4, Algorithm::scan_wgmma})));
  EXPECT_EQ(space[2], (TileConfig(ForwardTile{32, 16, 4, Algorithm::scan})));
  EXPECT_EQ(space[4], (TileConfig(ForwardTile{32, 64, 4, Algorithm::scan})));
  EXPECT_EQ(space[7], (TileConfig(ForwardTile{32, 64, 4, Algorithm::mma})));
  EXPECT_EQ(space[8], (TileConfig(ForwardTile{16, 16, 2, Algorithm::fma})));
  EXPECT_EQ(space.back(), (TileConfig(ForwardTile{64, 64, 8, Algorithm::fma})));
  EXPECT_EQ(mamba2::config_space(base), space);
  for (const TileConfig& t : space) {
    KernelSpec s = base;
    s.tile = t;
    EXPECT_NO_THROW(validate(s));
  }
  base.dtype = Dtype::f32;
  EXPECT_EQ(mamba2::config_space(base).size(), 27u);  // no tensor cores for fp32 inputs
  base.key_dim = 48;
  base.value_dim = 80;
  EXPECT_EQ(mamba2::config_space(base).size(), 3u);  // 16 x 16 tiles, three warp counts
  base.dtype = Dtype::bf16;
  EXPECT_EQ(mamba2::config_space(base).size(), 4u);  // and mma; no scan: K is not a multiple of 32
  base.key_dim = 64;
  base.value_dim = 64;
  base.chunk = 128;
  EXPECT_EQ(mamba2::config_space(base).front(), (TileConfig(ForwardTile{32, 16, 8, Algorithm::mma})));  // no scan
  base.chunk = 32;
  EXPECT_EQ(mamba2::config_space(base).front(), (TileConfig(ForwardTile{32, 16, 2, Algorithm::scan})));  // no wgmma
  base.chunk = 64;
  base.target = cuda_target("sm_80");
  EXPECT_EQ(mamba2::config_space(base).front(), (TileConfig(ForwardTile{32, 16, 4, Algorithm::scan})));  // no wgmma
}

}  // namespace
}  // namespace lla::compiler
