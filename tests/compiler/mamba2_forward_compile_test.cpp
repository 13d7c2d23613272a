// NVRTC compiles the real mamba2_forward template across the supported spec space, for the
// two targets lla ships first (sm_80, sm_90a). The full product (3 dtypes x 6 head-dim pairs x
// 3 chunks x 2 archs) takes minutes on one core, so the grid below covers every dtype, head-dim
// pair and chunk on each arch, and every dtype x chunk pair overall, in 18 compiles.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <future>
#include <string>
#include <vector>

#include "families/mamba2_forward.h"
#include "generator/source_generator.h"
#include "nvrtc/nvrtc_compiler.h"

namespace lla::compiler {
namespace {

// Spill bytes per kernel above which a spec counts as broken rather than merely slow: a few
// registers' worth is ptxas's business, more means the template needs a look.
constexpr int kMaxSpillBytes = 256;

struct GridPoint {
  Dtype dtype;
  int key_dim, value_dim, chunk;
  const char* arch;
};

const GridPoint kGrid[] = {
    {Dtype::f32, 16, 16, 16, "sm_80"},       {Dtype::f16, 64, 64, 64, "sm_80"},
    {Dtype::bf16, 128, 128, 128, "sm_80"},   {Dtype::bf16, 128, 64, 16, "sm_80"},
    {Dtype::f32, 192, 384, 64, "sm_80"},     {Dtype::f16, 256, 512, 128, "sm_80"},
    {Dtype::f16, 16, 16, 128, "sm_80"},      {Dtype::bf16, 64, 64, 16, "sm_80"},
    {Dtype::f32, 128, 128, 64, "sm_80"},     {Dtype::bf16, 16, 16, 64, "sm_90a"},
    {Dtype::f32, 64, 64, 128, "sm_90a"},     {Dtype::f16, 128, 128, 16, "sm_90a"},
    {Dtype::f16, 128, 64, 64, "sm_90a"},     {Dtype::bf16, 192, 384, 128, "sm_90a"},
    {Dtype::f32, 256, 512, 16, "sm_90a"},    {Dtype::bf16, 128, 128, 64, "sm_90a"},
    {Dtype::f32, 128, 64, 128, "sm_90a"},    {Dtype::f16, 192, 384, 16, "sm_90a"},
};

// The default tile where it divides the dimension, else the largest tile width that does.
int tile_for(int dim, int preferred) {
  if (dim % preferred == 0) return preferred;
  for (int width : {64, 32, 16})
    if (dim % width == 0) return width;
  return 16;
}

KernelSpec spec_for(const GridPoint& p) {
  KernelSpec s;
  s.dtype = p.dtype;
  s.key_dim = p.key_dim;
  s.value_dim = p.value_dim;
  s.chunk = p.chunk;
  s.target = cuda_target(p.arch);
  const mamba2::ForwardTile defaults;
  s.tile = mamba2::ForwardTile{tile_for(p.key_dim, defaults.block_k), tile_for(p.value_dim, defaults.block_v)};
  return s;
}

struct Outcome {
  KernelSpec spec;
  std::vector<std::string> entry_points;
  CompiledModule module;
  std::string error;
};

TEST(Mamba2ForwardCompile, EveryGridPointCompilesForItsArch) {
  const size_t count = std::size(kGrid);
  std::vector<Outcome> outcomes(count);
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next++) < count;) {
      Outcome& o = outcomes[i];
      o.spec = spec_for(kGrid[i]);
      try {
        const GeneratedSource src = generate(o.spec);
        o.entry_points = src.entry_points;
        o.module = compile(src, o.spec.target.name);
      } catch (const std::exception& e) {
        o.error = e.what();
      }
    }
  };
  std::future<void> second = std::async(std::launch::async, worker);
  worker();
  second.get();

  for (const Outcome& o : outcomes) {
    SCOPED_TRACE(describe(o.spec));
    ASSERT_TRUE(o.error.empty()) << o.error;
    EXPECT_FALSE(o.module.cubin.empty());
    std::printf("%-100s %7.0f ms\n", describe(o.spec).c_str(), o.module.compile_ms);
    for (const std::string& entry : o.entry_points) {
      auto found = std::find_if(o.module.resources.begin(), o.module.resources.end(),
                                [&](const KernelResources& r) { return r.kernel == entry; });
      ASSERT_NE(found, o.module.resources.end()) << entry << " missing from\n" << o.module.log;
      std::printf("    %-24s %3d regs %6d B smem %4d B stack %4d/%4d B spill st/ld\n",
                  entry.c_str(), found->registers, found->shared_bytes, found->stack_frame_bytes,
                  found->spill_store_bytes, found->spill_load_bytes);
      EXPECT_LE(found->spill_store_bytes, kMaxSpillBytes) << entry;
      EXPECT_LE(found->spill_load_bytes, kMaxSpillBytes) << entry;
    }
  }
}

}  // namespace
}  // namespace lla::compiler
