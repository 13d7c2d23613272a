// The Mamba-2 decode step's plan, configuration space and byte accounting, and NVRTC
// compiling its template for every configuration of the benchmark shape on sm_80 and sm_90a.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <variant>

#include "generator/source_generator.h"
#include "kernels/mamba2_decode_plan.h"
#include "nvrtc/nvrtc_compiler.h"

namespace lla::compiler {
namespace {

using ::testing::HasSubstr;
namespace decode = mamba2_decode;

// A few registers' worth of spill is ptxas's business; more means the tile is too large.
constexpr int kMaxSpillBytes = 16;

KernelSpec decode_spec(int key_dim, int value_dim, int block_v, int warps) {
  KernelSpec s;
  s.family = {Variant::mamba2, Pass::decode};
  s.key_dim = key_dim;
  s.value_dim = value_dim;
  s.levels = 15;
  s.tile = decode::DecodeTile{block_v, warps};
  return s;
}

ProblemShape shape_of(int batch, int heads, int groups, int64_t max_position) {
  ProblemShape shape;
  shape.batch = batch;
  shape.heads = heads;
  shape.groups = groups;
  shape.max_position = max_position;
  shape.scale = 0.5f;
  return shape;
}

TEST(Mamba2DecodePlan, OneStepLaunchOverTilesHeadsAndSequences) {
  const LaunchPlan plan = decode::plan(decode_spec(128, 128, 32, 4), shape_of(64, 16, 2, 16383));
  ASSERT_EQ(plan.launches.size(), 1u);
  EXPECT_EQ(plan.workspace_bytes, 0u);
  const Launch& step = plan.launches[0];
  EXPECT_EQ(step.kernel, "lla_mamba2_decode_step");
  EXPECT_EQ(step.grid[0], 4u);
  EXPECT_EQ(step.grid[1], 16u);
  EXPECT_EQ(step.grid[2], 64u);
  EXPECT_EQ(step.block[0], 128u);
  ASSERT_EQ(step.args.size(), 12u);
  EXPECT_EQ(std::get<BufferArg>(step.args[6]).buffer, Buffer::state);
  EXPECT_EQ(std::get<BufferArg>(step.args[7]).buffer, Buffer::positions);
  EXPECT_EQ(std::get<int64_t>(step.args[10]), 16383);
  EXPECT_EQ(std::get<float>(step.args[11]), 0.5f);
}

TEST(Mamba2DecodePlan, AdvancingAddsALaunchOverTheBatch) {
  ProblemShape shape = shape_of(300, 16, 1, 100);
  shape.advance_positions = true;
  const LaunchPlan plan = decode::plan(decode_spec(128, 128, 32, 4), shape);
  ASSERT_EQ(plan.launches.size(), 2u);
  const Launch& advance = plan.launches[1];
  EXPECT_EQ(advance.kernel, "lla_decode_advance_positions");
  EXPECT_EQ(advance.grid[0] * advance.block[0] >= 300u, true);
  EXPECT_EQ(std::get<BufferArg>(advance.args[0]).buffer, Buffer::positions);
  EXPECT_EQ(std::get<int32_t>(advance.args[1]), 300);
}

void expect_plan_rejected(const KernelSpec& spec, const ProblemShape& shape,
                          const std::string& why) {
  try {
    decode::plan(spec, shape);
    ADD_FAILURE() << "accepted; expected: " << why;
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr(why));
  }
}

TEST(Mamba2DecodePlan, RejectsWhatTheKernelCannotRun) {
  expect_plan_rejected(decode_spec(128, 128, 32, 4), shape_of(1, 16, 1, 16384),
                       "levels=15 cannot hold position 16384, which needs 16");
  expect_plan_rejected(decode_spec(16, 16, 16, 4), shape_of(1, 1, 1, 0),
                       "covers 32 rows per pass, which must divide key_dim=16");
  expect_plan_rejected(decode_spec(128, 128, 32, 4), shape_of(70000, 1, 1, 0), "batch");
  expect_plan_rejected(decode_spec(128, 128, 32, 4), shape_of(1, 6, 4, 0), "groups");
  KernelSpec forward = decode_spec(128, 128, 32, 4);
  forward.family = {Variant::mamba2, Pass::forward};
  expect_plan_rejected(forward, shape_of(1, 1, 1, 0), "not a decode family");
}

TEST(Mamba2DecodePlan, ConfigSpaceHoldsOnlyPlannableTiles) {
  for (int key_dim : {16, 48, 128, 256}) {
    const std::vector<TileConfig> space = decode::config_space(decode_spec(key_dim, 48, 16, 1));
    ASSERT_FALSE(space.empty()) << key_dim;
    for (const TileConfig& config : space) {
      const decode::DecodeTile tile = decode::DecodeTile::of(config);
      KernelSpec spec = decode_spec(key_dim, 48, tile.block_v, tile.warps);
      EXPECT_NO_THROW(validate(spec));
      EXPECT_NO_THROW(decode::plan(spec, shape_of(2, 2, 1, 5)));
    }
  }
  // V = 48: only 16-wide tiles divide it; K = 16: 8 or 16 rows per pass.
  for (const TileConfig& config : decode::config_space(decode_spec(16, 48, 16, 1))) {
    const decode::DecodeTile tile = decode::DecodeTile::of(config);
    EXPECT_EQ(tile.block_v, 16);
    EXPECT_LE(tile.warps, 2);
  }
}

TEST(Mamba2DecodePlan, LevelBlocksMovedFollowTheMergeRule) {
  EXPECT_EQ(decode::level_blocks_moved(0, 15), 15);  // clears levels 1..14, writes level 0
  // t = 1: p = 0: read 0, write 1 (merged) and 0.
  EXPECT_EQ(decode::level_blocks_moved(1, 15), 3);
  // t = 8 = 0b1000: p = 3: read 0..3, clear 1..3, write 4 and 0.
  EXPECT_EQ(decode::level_blocks_moved(8, 15), 9);
  // t = 7 = 0b111: p = 0: read 0, write 1; levels 2, 3 read and written; write 0.
  EXPECT_EQ(decode::level_blocks_moved(7, 15), 7);
  // t = 12 = 0b1100: p = 2: read 0..2, clear 1..2, write 3; level 4 read and written; write 0.
  EXPECT_EQ(decode::level_blocks_moved(12, 15), 9);
}

// Every configuration of the benchmark shape (K = V = 128, bf16) and the extremes of the head
// sizes (with the heuristic's tiles) compile on both targets without spilling.
TEST(Mamba2DecodeCompile, EveryConfigOfTheBenchmarkShapeCompiles) {
  for (const char* arch : {"sm_80", "sm_90a"}) {
    std::vector<KernelSpec> specs;
    for (const TileConfig& config : decode::config_space(decode_spec(128, 128, 16, 1))) {
      const decode::DecodeTile tile = decode::DecodeTile::of(config);
      KernelSpec s = decode_spec(128, 128, tile.block_v, tile.warps);
      s.target = cuda_target(arch);
      specs.push_back(s);
    }
    KernelSpec small = decode_spec(16, 16, 16, 1), large = decode_spec(256, 512, 32, 4);
    small.dtype = Dtype::f32;
    large.dtype = Dtype::f16;
    small.target = large.target = cuda_target(arch);
    specs.push_back(small);
    specs.push_back(large);
    for (const KernelSpec& spec : specs) {
      SCOPED_TRACE(describe(spec));
      const GeneratedSource src = generate(spec);
      CompiledModule module;
      ASSERT_NO_THROW(module = compile(src, spec.target.name));
      for (const std::string& entry : src.entry_points) {
        auto found = std::find_if(module.resources.begin(), module.resources.end(),
                                  [&](const KernelResources& r) { return r.kernel == entry; });
        ASSERT_NE(found, module.resources.end()) << entry;
        EXPECT_LE(found->spill_store_bytes, kMaxSpillBytes) << entry;
        std::printf("%-90s %-30s %3d regs\n", describe(spec).c_str(), entry.c_str(),
                    found->registers);
      }
    }
  }
}

}  // namespace
}  // namespace lla::compiler
