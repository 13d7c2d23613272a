// The log-linear Mamba-2 forward kernel against the float64 reference on fresh random inputs,
// at awkward shapes and every dtype. Skips visibly without a GPU.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "gpu_test_support.h"
#include "api/validation_checks.h"
#include "reference/dtype_codec.h"
#include "reference/reference.h"
#include "verification/device_forward.h"

namespace lla {
namespace {

struct Shape {
  int batch, seq_len, heads, groups, key_dim, value_dim;
  lla_dtype dtype;
  int chunk;  // 0: lla chooses
  double scale;
};

const char* dtype_name(lla_dtype d) {
  return d == LLA_DTYPE_F32 ? "f32" : d == LLA_DTYPE_F16 ? "f16" : "bf16";
}

std::string describe(const Shape& s) {
  char text[160];
  std::snprintf(text, sizeof text, "B%d_T%d_H%d_G%d_K%d_V%d_%s_C%d", s.batch, s.seq_len, s.heads,
                s.groups, s.key_dim, s.value_dim, dtype_name(s.dtype), s.chunk);
  return text;
}

// Runs one shape on the device and on the reference (same rounded inputs).
void expect_matches_reference(lla_context* ctx, const Shape& s, uint64_t seed) {
  reference::Problem p = reference::mamba2_problem(s.batch, s.seq_len, s.heads, s.groups,
                                                   s.key_dim, s.value_dim);
  p.scale = s.scale;
  const reference::Inputs inputs = reference::round_inputs(
      reference::random_inputs(p, seed), runtime::to_compiler_dtype(s.dtype));

  runtime::DeviceForwardOptions options;
  options.dtype = s.dtype;
  options.chunk = s.chunk;
  const runtime::DeviceForwardRun run = runtime::run_forward_on_device(ctx, p, inputs, options);
  const reference::Result want = reference::forward_chunkwise(p, inputs, 64);

  const double tolerance = s.dtype == LLA_DTYPE_F32 ? 1e-4 : 1e-2;
  EXPECT_EQ(run.unwritten, 0u) << describe(s) << ": output elements left unwritten";
  const double error = reference::relative_frobenius_error(run.o, want.o);
  EXPECT_LT(error, tolerance) << describe(s);
  std::printf("  %-40s rel_frobenius_err=%.3g\n", describe(s).c_str(), error);
}

class Mamba2ForwardGpu : public ::testing::Test {
 protected:
  void SetUp() override { LLA_SKIP_WITHOUT_GPU(); }
};

TEST_F(Mamba2ForwardGpu, AwkwardLengthsEveryDtype) {
  testing::GpuContext ctx("awkward");
  ASSERT_EQ(ctx.status(), LLA_SUCCESS) << ctx.error();
  uint64_t seed = 1;
  for (lla_dtype dtype : {LLA_DTYPE_BF16, LLA_DTYPE_F16, LLA_DTYPE_F32})
    for (int t : {1, 63, 64, 65, 1000})
      expect_matches_reference(ctx.get(), {2, t, 4, 2, 64, 32, dtype, 0, 0.5}, seed++);
}

TEST_F(Mamba2ForwardGpu, LongSequences) {
  testing::GpuContext ctx("long");
  ASSERT_EQ(ctx.status(), LLA_SUCCESS) << ctx.error();
  expect_matches_reference(ctx.get(), {1, 4096, 2, 1, 128, 128, LLA_DTYPE_BF16, 0, 1.0}, 101);
  expect_matches_reference(ctx.get(), {1, 16384, 2, 1, 64, 64, LLA_DTYPE_BF16, 0, 1.0}, 102);
  expect_matches_reference(ctx.get(), {1, 16384, 1, 1, 32, 16, LLA_DTYPE_F32, 0, 1.0}, 103);
  // Few heads: the scan splits each sequence into seeded segments (mamba2::scan_split), on
  // warpgroups here and with mma.sync above.
  expect_matches_reference(ctx.get(), {1, 16384, 4, 1, 64, 64, LLA_DTYPE_BF16, 0, 1.0}, 104);
  expect_matches_reference(ctx.get(), {2, 5000, 3, 3, 128, 128, LLA_DTYPE_F16, 0, 0.5}, 105);
}

TEST_F(Mamba2ForwardGpu, HeadDimsAndChunks) {
  testing::GpuContext ctx("dims");
  ASSERT_EQ(ctx.status(), LLA_SUCCESS) << ctx.error();
  uint64_t seed = 200;
  // K != V both ways, the paper's shapes, the limits, odd multiples of 16, and every chunk.
  const Shape shapes[] = {
      {1, 300, 3, 1, 128, 64, LLA_DTYPE_BF16, 0, 1.0},
      {1, 300, 2, 2, 192, 384, LLA_DTYPE_BF16, 0, 1.0},
      {1, 200, 2, 1, 256, 512, LLA_DTYPE_F16, 0, 1.0},
      {1, 333, 2, 2, 48, 80, LLA_DTYPE_F32, 0, 1.0},
      {2, 257, 2, 1, 16, 16, LLA_DTYPE_BF16, 16, 1.0},
      {2, 257, 2, 1, 64, 64, LLA_DTYPE_BF16, 32, 1.0},
      {2, 513, 2, 1, 64, 64, LLA_DTYPE_F32, 128, 1.0},
  };
  for (const Shape& s : shapes) expect_matches_reference(ctx.get(), s, seed++);
}

// Small shapes for compute-sanitizer (memcheck, racecheck) runs on the device:
// --gtest_filter=Mamba2ForwardGpu.SanitizerShapes
TEST_F(Mamba2ForwardGpu, SanitizerShapes) {
  testing::GpuContext ctx("sanitizer");
  ASSERT_EQ(ctx.status(), LLA_SUCCESS) << ctx.error();
  expect_matches_reference(ctx.get(), {1, 200, 2, 1, 64, 32, LLA_DTYPE_BF16, 0, 1.0}, 300);
  expect_matches_reference(ctx.get(), {2, 65, 4, 2, 32, 64, LLA_DTYPE_F32, 32, 0.7}, 301);
  // Enough sequences and heads (3 x 24 blocks) that the heuristic runs the scan.
  expect_matches_reference(ctx.get(), {3, 130, 24, 8, 64, 32, LLA_DTYPE_BF16, 0, 1.0}, 302);
  // 33 chunks in 32 blocks: the scan split in seeded segments.
  expect_matches_reference(ctx.get(), {4, 2100, 8, 2, 64, 32, LLA_DTYPE_BF16, 0, 1.0}, 303);
}

}  // namespace
}  // namespace lla
