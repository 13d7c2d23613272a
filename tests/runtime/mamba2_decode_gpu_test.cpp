// lla_decode_step for log-linear Mamba-2 against the float64 reference decode step: every dtype,
// sequences at different positions (0, powers of two, 2^k - 1, around 16K), a state handed over
// from a reference prefill, positions outside the declared range, and a captured CUDA graph
// replayed. Skips visibly without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "api/validation_checks.h"
#include "backend/cuda/cuda_driver.h"
#include "gpu_test_support.h"
#include "reference/decode_reference.h"
#include "reference/dtype_codec.h"
#include "reference/reference.h"
#include "verification/device_decode.h"

namespace lla {
namespace {

using runtime::DeviceDecode;

reference::Problem step_problem(int batch, int heads, int groups, int key_dim, int value_dim,
                                int levels) {
  reference::Problem p;
  p.variant = reference::Variant::mamba2;
  p.batch = batch;
  p.seq_len = 1;
  p.heads = heads;
  p.groups = groups;
  p.key_dim = key_dim;
  p.value_dim = value_dim;
  p.levels = levels;
  p.scale = 0.5;
  return p;
}

double output_tolerance(lla_dtype dtype) { return dtype == LLA_DTYPE_F32 ? 1e-5 : 1e-2; }
constexpr double kStateTolerance = 1e-5;  // fp32 state against float64, same rounded inputs

// Sequence b's part of a [B, ...] tensor.
std::vector<double> sequence_part(const std::vector<double>& x, int batch, int b) {
  const size_t n = x.size() / batch;
  return std::vector<double>(x.begin() + b * n, x.begin() + (b + 1) * n);
}

void expect_close_per_sequence(const std::vector<double>& got, const std::vector<double>& want,
                               const std::vector<int64_t>& positions, double tolerance,
                               const std::string& what) {
  const int batch = static_cast<int>(positions.size());
  for (int b = 0; b < batch; ++b) {
    const double error = reference::relative_frobenius_error(sequence_part(got, batch, b),
                                                             sequence_part(want, batch, b));
    EXPECT_LT(error, tolerance) << what << " of sequence " << b << " at position "
                                << positions[b];
  }
}

// Runs `steps` steps with advance_positions from `positions` on the device and on the
// reference, comparing o after every step and the state and positions at the end.
void expect_steps_match(lla_context* ctx, const reference::Problem& p, lla_dtype dtype,
                        std::vector<int64_t> positions, int64_t max_position, int steps,
                        uint64_t seed) {
  DeviceDecode device(ctx, p, dtype, max_position);
  std::vector<double> state = reference::random_state(p, positions, 0.1, seed);
  std::vector<double> uploaded = state;
  // A sequence starting at position 0 may sit in the slot of a finished one: garbage that the
  // step must clear (the reference ignores it).
  const size_t sequence_state = state.size() / p.batch;
  for (int b = 0; b < p.batch; ++b)
    if (positions[b] == 0)
      for (size_t i = b * sequence_state; i < (b + 1) * sequence_state; ++i) uploaded[i] = 3.0;
  device.upload_state(uploaded);
  device.upload_positions(positions);
  const compiler::Dtype element = runtime::to_compiler_dtype(dtype);
  for (int i = 0; i < steps; ++i) {
    const reference::Inputs token =
        reference::round_inputs(reference::random_inputs(p, seed * 100 + i), element);
    device.upload_inputs(token);
    const std::vector<double> got = device.step(ctx, true);
    const std::vector<double> want = reference::decode_step(p, token, positions, state);
    expect_close_per_sequence(got, want, positions, output_tolerance(dtype),
                              "o of step " + std::to_string(i));
    for (int64_t& t : positions) ++t;
  }
  expect_close_per_sequence(device.download_state(), state, positions, kStateTolerance, "state");
  EXPECT_EQ(device.download_positions(), positions);
}

class Mamba2DecodeGpu : public ::testing::Test {
 protected:
  void SetUp() override { LLA_SKIP_WITHOUT_GPU(); }
};

// Fresh, first tokens, powers of two, 2^k - 1 and around 16K; three steps walk them across
// merges of many levels (16383 -> 16384 merges 15 levels into one).
const std::vector<int64_t> kPositions = {0, 1, 2, 3, 7, 8, 255, 1023, 1024, 12345, 16382, 16383};

TEST_F(Mamba2DecodeGpu, StepsMatchTheReferenceEveryDtype) {
  testing::GpuContext ctx("decode-dtypes");
  ASSERT_EQ(ctx.status(), LLA_SUCCESS) << ctx.error();
  const int64_t max_position = 20000;
  const int levels = lla_num_levels(max_position + 1);
  uint64_t seed = 1;
  for (lla_dtype dtype : {LLA_DTYPE_BF16, LLA_DTYPE_F16, LLA_DTYPE_F32}) {
    SCOPED_TRACE(std::string("dtype ") + std::to_string(dtype));
    expect_steps_match(ctx.get(), step_problem(12, 3, 1, 64, 32, levels), dtype, kPositions,
                       max_position, 3, seed++);
  }
}

TEST_F(Mamba2DecodeGpu, HeadSizesAndGroups) {
  testing::GpuContext ctx("decode-shapes");
  ASSERT_EQ(ctx.status(), LLA_SUCCESS) << ctx.error();
  const int levels = lla_num_levels(16384 + 4);
  const std::vector<int64_t> few = {0, 1023, 12345, 16383};  // keeps the largest state small
  const struct {
    int heads, groups, key_dim, value_dim;
    const std::vector<int64_t>& positions;
  } shapes[] = {{4, 2, 128, 128, kPositions},
                {2, 1, 16, 16, kPositions},
                {2, 2, 48, 80, kPositions},
                {2, 1, 256, 512, few}};
  uint64_t seed = 50;
  for (const auto& s : shapes) {
    SCOPED_TRACE("K=" + std::to_string(s.key_dim) + " V=" + std::to_string(s.value_dim));
    const int batch = static_cast<int>(s.positions.size());
    expect_steps_match(ctx.get(),
                       step_problem(batch, s.heads, s.groups, s.key_dim, s.value_dim, levels),
                       LLA_DTYPE_BF16, s.positions, 16384 + 3, 2, seed++);
  }
}

// The state round trip through the C API: prefill on the reference (chunkwise, final state),
// upload the state, decode on the device, compare with the reference run of whole sequences.
TEST_F(Mamba2DecodeGpu, ContinuesAReferencePrefill) {
  testing::GpuContext ctx("decode-prefill");
  ASSERT_EQ(ctx.status(), LLA_SUCCESS) << ctx.error();
  const std::vector<int> prefill = {64, 100, 1};
  const int steps = 6, longest = 100 + steps;
  const int levels = lla_num_levels(longest);
  reference::Problem all = step_problem(3, 2, 1, 64, 64, levels);
  all.seq_len = longest;
  const reference::Inputs inputs =
      reference::round_inputs(reference::random_inputs(all, 9), compiler::Dtype::bf16);
  reference::Problem one = all;
  one.batch = 1;
  std::vector<double> state;
  std::vector<int64_t> positions;
  std::vector<reference::Result> whole;
  for (int b = 0; b < all.batch; ++b) {
    one.seq_len = prefill[b];
    const reference::Result prefilled = reference::forward_chunkwise(
        one, reference::sequence_prefix(all, inputs, b, prefill[b]), 16);
    state.insert(state.end(), prefilled.final_state.levels.begin(),
                 prefilled.final_state.levels.end());
    positions.push_back(prefill[b]);
    one.seq_len = prefill[b] + steps;
    whole.push_back(reference::forward_recurrent(
        one, reference::sequence_prefix(all, inputs, b, one.seq_len)));
  }
  const reference::Problem p = step_problem(3, 2, 1, 64, 64, levels);
  DeviceDecode device(ctx.get(), p, LLA_DTYPE_BF16, longest - 1);
  device.upload_state(state);
  device.upload_positions(positions);
  const size_t sequence_o = static_cast<size_t>(p.heads) * p.value_dim;
  for (int i = 0; i < steps; ++i) {
    std::vector<int> tokens(prefill.begin(), prefill.end());
    for (int& t : tokens) t += i;
    device.upload_inputs(reference::select_tokens(all, inputs, tokens));
    const std::vector<double> got = device.step(ctx.get(), true);
    for (int b = 0; b < p.batch; ++b) {
      const std::vector<double> want(whole[b].o.begin() + tokens[b] * sequence_o,
                                     whole[b].o.begin() + (tokens[b] + 1) * sequence_o);
      EXPECT_LT(reference::relative_frobenius_error(sequence_part(got, p.batch, b), want), 1e-2)
          << "sequence " << b << " step " << i;
    }
  }
  const std::vector<double> final_state = device.download_state();
  for (int b = 0; b < p.batch; ++b)
    EXPECT_LT(reference::relative_frobenius_error(sequence_part(final_state, p.batch, b),
                                                  whole[b].final_state.levels),
              kStateTolerance)
        << "final state of sequence " << b;
  EXPECT_EQ(device.download_positions(), (std::vector<int64_t>{70, 106, 7}));
}

// A position outside [0, max_position] is the caller's broken promise: that sequence is not
// stepped (state and position unchanged, o NaN); the others are.
TEST_F(Mamba2DecodeGpu, PositionsOutsideTheDeclaredRangeAreNotStepped) {
  testing::GpuContext ctx("decode-range");
  ASSERT_EQ(ctx.status(), LLA_SUCCESS) << ctx.error();
  const int64_t max_position = 100;
  const reference::Problem p = step_problem(3, 2, 1, 32, 32, lla_num_levels(200));
  DeviceDecode device(ctx.get(), p, LLA_DTYPE_F32, max_position);
  const std::vector<int64_t> positions = {5, 101, -1};
  std::vector<double> state = reference::random_state(p, {5, 101, 0}, 0.1, 4);
  device.upload_state(state);
  device.upload_positions(positions);
  const reference::Inputs token = reference::round_inputs(reference::random_inputs(p, 5),
                                                          compiler::Dtype::f32);
  device.upload_inputs(token);
  const std::vector<double> got = device.step(ctx.get(), true);
  const std::vector<double> after = device.download_state();

  reference::Problem first = p;
  first.batch = 1;
  std::vector<double> first_state = sequence_part(state, p.batch, 0);
  const std::vector<double> want =
      reference::decode_step(first, reference::sequence_prefix(p, token, 0, 1), {5}, first_state);
  EXPECT_LT(reference::relative_frobenius_error(sequence_part(got, p.batch, 0), want), 1e-5);
  EXPECT_LT(reference::relative_frobenius_error(sequence_part(after, p.batch, 0), first_state),
            kStateTolerance);
  for (int b : {1, 2}) {
    for (double x : sequence_part(got, p.batch, b)) EXPECT_TRUE(std::isnan(x)) << "sequence " << b;
    // Untouched: exactly the fp32 values uploaded.
    EXPECT_EQ(sequence_part(after, p.batch, b),
              reference::round_to(sequence_part(state, p.batch, b), compiler::Dtype::f32))
        << b;
  }
  EXPECT_EQ(device.download_positions(), (std::vector<int64_t>{6, 101, -1}));
}

// Capture: one call loads the module; lla_decode_step with advance_positions is captured into
// a CUDA graph (global capture mode, the strictest) and replayed; each replay is one step of
// every sequence with the same token inputs.
TEST_F(Mamba2DecodeGpu, CapturedGraphReplaysSteps) {
  testing::GpuContext ctx("decode-graph");
  ASSERT_EQ(ctx.status(), LLA_SUCCESS) << ctx.error();
  const int64_t max_position = 4096;
  const reference::Problem p = step_problem(4, 2, 1, 64, 64, lla_num_levels(max_position + 1));
  std::vector<int64_t> positions = {0, 5, 1023, 4000};
  std::vector<double> state = reference::random_state(p, positions, 0.1, 6);
  DeviceDecode device(ctx.get(), p, LLA_DTYPE_BF16, max_position);
  device.upload_state(state);
  device.upload_positions(positions);
  const reference::Inputs token = reference::round_inputs(reference::random_inputs(p, 7),
                                                          compiler::Dtype::bf16);
  device.upload_inputs(token);

  device.step(ctx.get(), true);  // loads the module (and is step 1)
  reference::decode_step(p, token, positions, state);
  for (int64_t& t : positions) ++t;

  const runtime::driver::CudaDriver& d = runtime::driver::cuda_driver();
  const lla_decode_args args = device.args(true);
  CUgraph graph = nullptr;
  CUgraphExec exec = nullptr;
  ASSERT_EQ(d.cuStreamBeginCapture(static_cast<CUstream>(device.stream().handle()), CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_SUCCESS);
  const lla_status captured = lla_decode_step(ctx.get(), &device.problem(), &args, static_cast<CUstream>(device.stream().handle()));
  ASSERT_EQ(d.cuStreamEndCapture(static_cast<CUstream>(device.stream().handle()), &graph), CUDA_SUCCESS);
  ASSERT_EQ(captured, LLA_SUCCESS) << lla_last_error(ctx.get());
  ASSERT_EQ(d.cuGraphInstantiateWithFlags(&exec, graph, 0), CUDA_SUCCESS);
  const int replays = 4;
  std::vector<double> want;
  for (int i = 0; i < replays; ++i) {
    ASSERT_EQ(d.cuGraphLaunch(exec, static_cast<CUstream>(device.stream().handle())), CUDA_SUCCESS);
    want = reference::decode_step(p, token, positions, state);
    for (int64_t& t : positions) ++t;
  }
  const std::vector<double> got = device.download_o();
  d.cuGraphExecDestroy(exec);
  d.cuGraphDestroy(graph);
  expect_close_per_sequence(got, want, positions, 1e-2, "o of the last replay");
  expect_close_per_sequence(device.download_state(), state, positions, kStateTolerance, "state");
  EXPECT_EQ(device.download_positions(), positions);
}

TEST_F(Mamba2DecodeGpu, ReportsBadCallsClearly) {
  testing::GpuContext ctx("decode-errors");
  ASSERT_EQ(ctx.status(), LLA_SUCCESS) << ctx.error();
  const reference::Problem p = step_problem(2, 2, 1, 32, 32, 8);
  DeviceDecode device(ctx.get(), p, LLA_DTYPE_BF16, 100);
  lla_decode_args args = device.args(false);
  args.state = nullptr;
  EXPECT_EQ(lla_decode_step(ctx.get(), &device.problem(), &args, static_cast<CUstream>(device.stream().handle())),
            LLA_ERR_INVALID_ARGUMENT);
  EXPECT_STREQ(lla_last_error(ctx.get()), "lla_decode_args.state is NULL");
  std::vector<float> host_state(64);
  args = device.args(false);
  args.state = host_state.data();
  EXPECT_EQ(lla_decode_step(ctx.get(), &device.problem(), &args, static_cast<CUstream>(device.stream().handle())),
            LLA_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(lla_last_error(ctx.get())).find("lla_decode_args.state"),
            std::string::npos);
  lla_decode_problem beyond = device.problem();
  beyond.max_position = 128;  // 8 levels hold positions up to 127
  args = device.args(false);
  EXPECT_EQ(lla_decode_step(ctx.get(), &beyond, &args, static_cast<CUstream>(device.stream().handle())), LLA_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(lla_last_error(ctx.get())).find("lla_decode_problem.levels"),
            std::string::npos);
  lla_decode_problem gdn = device.problem();
  gdn.variant = LLA_VARIANT_GATED_DELTANET;
  args.beta = args.g;  // any device memory of the right size
  EXPECT_EQ(lla_decode_step(ctx.get(), &gdn, &args, static_cast<CUstream>(device.stream().handle())), LLA_ERR_NOT_SUPPORTED);
}

}  // namespace
}  // namespace lla
