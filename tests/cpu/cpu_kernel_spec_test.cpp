// The CPU kernel specs, generator and plans without compiling anything.

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

#include "cpu/cpu_kernel_spec.h"
#include "cpu/cpu_launch_plan.h"
#include "cpu/cpu_source_generator.h"

namespace lla::compiler::cpu {
namespace {

std::string rejection(const CpuKernelSpec& s) {
  try {
    validate(s);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(CpuKernelSpec, RejectionsNameTheField) {
  const CpuKernelSpec base = make_spec(Family::mamba2_forward, Dtype::bf16, 128, 64, 15, 64, 8);
  EXPECT_EQ(rejection(base), "");
  CpuKernelSpec s = base;
  s.key_dim = 40;
  EXPECT_NE(rejection(s).find("key_dim=40"), std::string::npos);
  s = base;
  s.chunk = 48;
  EXPECT_NE(rejection(s).find("chunk=48"), std::string::npos);
  s = base;
  s.tile.row_tile = 8;
  s.tile.col_vectors = 2;  // 16 accumulators + 2 + 1 > 16 registers
  EXPECT_NE(rejection(s).find("tile.row_tile=8"), std::string::npos);
  s.vector_floats = 16;  // fits AVX-512's 32
  EXPECT_EQ(rejection(s), "");
  s = make_spec(Family::mamba2_decode, Dtype::f32, 64, 48, 10, 64, 8);
  EXPECT_EQ(rejection(s), "");
  s.tile.value_tile = 32;  // does not divide V = 48
  EXPECT_NE(rejection(s).find("tile.value_tile=32"), std::string::npos);
  s.vector_floats = 6;
  EXPECT_NE(rejection(s).find("vector_floats=6"), std::string::npos);
}

TEST(CpuKernelSpec, TheHeuristicIsInTheConfigurationSpace) {
  for (Family f : {Family::mamba2_forward, Family::mamba2_decode})
    for (int w : {4, 8, 16})
      for (int v : {16, 48, 64, 128}) {
        const CpuKernelSpec s = make_spec(f, Dtype::f32, 64, v, 12, 64, w);
        if (f == Family::mamba2_decode && v % w != 0) continue;
        const std::vector<CpuTileConfig> space = config_space(s);
        EXPECT_NE(std::find(space.begin(), space.end(), s.tile), space.end())
            << describe(s);
        for (const CpuTileConfig& t : space) {
          CpuKernelSpec c = s;
          c.tile = t;
          EXPECT_EQ(rejection(c), "") << describe(c);
        }
      }
}

TEST(CpuSourceGenerator, SelfContainedAndDeterministic) {
  for (Family f : {Family::mamba2_forward, Family::mamba2_decode}) {
    const CpuKernelSpec s = make_spec(f, Dtype::f16, 64, 32, 12, 32, 8);
    const GeneratedSource a = generate(s), b = generate(s);
    EXPECT_EQ(a.source, b.source);
    EXPECT_EQ(a.source.find("#include"), std::string::npos);
    EXPECT_NE(a.source.find("constexpr int kScratchBytes = " + std::to_string(scratch_bytes(s))),
              std::string::npos);
    for (const std::string& entry : a.entry_points) {
      EXPECT_NE(a.source.find("extern \"C\" void " + entry + "("), std::string::npos) << entry;
      EXPECT_NE(a.source.find(entry + "_params_bytes"), std::string::npos) << entry;
    }
    CpuKernelSpec other = s;
    other.levels = 13;
    EXPECT_NE(generate(other).name, a.name);
  }
}

// Fewer (sequence, head) items than workers: a long sequence from position 0 is cut into
// segments of whole pieces; the pieces launch comes first and covers every chunk before the
// last segment.
TEST(CpuForwardPlan, CutsALongSequenceForIdleWorkers) {
  const CpuKernelSpec s = make_spec(Family::mamba2_forward, Dtype::f32, 64, 64, 14, 64, 8);
  ProblemShape shape;
  shape.seq_len = 4096;  // 64 chunks
  const LaunchPlan plan = plan_forward(s, shape, 4);
  ASSERT_EQ(plan.launches.size(), 2u);
  EXPECT_EQ(plan.launches[0].kernel, "lla_mamba2_forward_pieces");
  EXPECT_EQ(plan.launches[1].kernel, "lla_mamba2_forward_scan");
  EXPECT_EQ(plan.launches[1].grid[0], 4u);             // four segments of 16 chunks
  EXPECT_EQ(plan.launches[0].grid[0], 48u / kPieceChunks);  // the 48 chunks before the last
  EXPECT_EQ(plan.launches[1].shared_bytes, scratch_bytes(s));
  EXPECT_GT(plan.workspace_bytes, 6 * 64 * 64 * sizeof(float));

  shape.heads = 4;  // as many items as workers: no cut
  const LaunchPlan whole = plan_forward(s, shape, 4);
  ASSERT_EQ(whole.launches.size(), 1u);
  EXPECT_EQ(whole.launches[0].grid[0], 4u);
  CpuKernelSpec never = s;
  never.tile.split = 1;
  shape.heads = 1;
  EXPECT_EQ(plan_forward(never, shape, 4).launches.size(), 1u);
}

}  // namespace
}  // namespace lla::compiler::cpu
