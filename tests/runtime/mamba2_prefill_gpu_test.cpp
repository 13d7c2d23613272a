// lla_forward as a prefill (lla.h, "Sequences and states of a forward") against the float64
// reference: final states, continuing from an initial state at positions on and off the chunk
// grid, packed variable-length batches with sequences at their own positions, states updated
// in place, and a GPU prefill handed to GPU decode steps. Both algorithms (bf16: tensor
// cores, f32: CUDA cores). Skips visibly without a GPU.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "api/validation_checks.h"
#include "gpu_test_support.h"
#include "reference/decode_reference.h"
#include "reference/dtype_codec.h"
#include "reference/reference.h"
#include "verification/device_decode.h"
#include "verification/device_forward.h"

namespace lla {
namespace {

constexpr int kChunk = 64;

double output_tolerance(lla_dtype dtype) { return dtype == LLA_DTYPE_F32 ? 1e-4 : 1e-2; }
// The tensor-core state pass rounds decayed values to 16 bits once; fp32 states otherwise.
double state_tolerance(lla_dtype dtype) { return dtype == LLA_DTYPE_F32 ? 1e-5 : 1e-2; }

reference::Problem problem(int batch, int seq_len, int levels) {
  reference::Problem p = reference::mamba2_problem(batch, seq_len, 2, 1, 64, 32);
  p.levels = levels;
  p.scale = 0.5;
  return p;
}

// Tokens [from, from + length) of sequence b, as the inputs of a batch-1 problem.
reference::Inputs token_range(const reference::Problem& p, const reference::Inputs& in, int b,
                              int from, int length) {
  const auto slice = [&](const std::vector<double>& x, size_t per_token) {
    const size_t begin = (static_cast<size_t>(b) * p.seq_len + from) * per_token;
    return std::vector<double>(x.begin() + begin, x.begin() + begin + length * per_token);
  };
  reference::Inputs out;
  out.q = slice(in.q, static_cast<size_t>(p.groups) * p.key_dim);
  out.k = slice(in.k, static_cast<size_t>(p.groups) * p.key_dim);
  out.v = slice(in.v, static_cast<size_t>(p.heads) * p.value_dim);
  out.g = slice(in.g, p.heads);
  out.lambda = slice(in.lambda, static_cast<size_t>(p.heads) * p.levels);
  return out;
}

// Appends the batch-1 inputs `part` to `all` along T (or along B: both are contiguous).
void append(reference::Inputs& all, const reference::Inputs& part) {
  const auto add = [](std::vector<double>& to, const std::vector<double>& from) {
    to.insert(to.end(), from.begin(), from.end());
  };
  add(all.q, part.q);
  add(all.k, part.k);
  add(all.v, part.v);
  add(all.g, part.g);
  add(all.lambda, part.lambda);
}

std::vector<double> part(const std::vector<double>& x, size_t begin, size_t count) {
  return std::vector<double>(x.begin() + begin, x.begin() + begin + count);
}

void expect_close(const std::vector<double>& got, const std::vector<double>& want,
                  double tolerance, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  const double error = reference::relative_frobenius_error(got, want);
  EXPECT_LT(error, tolerance) << what;
  std::printf("  %-56s rel_frobenius_err=%.3g\n", what.c_str(), error);
}

class Mamba2PrefillGpu : public ::testing::Test {
 protected:
  void SetUp() override { LLA_SKIP_WITHOUT_GPU(); }
};

// Two calls, the first handing its final state to the second, give the outputs and final
// state of one call over all tokens, for split points on the grid (64), off it (100, 1, 63)
// and far along (5000, where the state fills prefix nodes of several tree levels).
TEST_F(Mamba2PrefillGpu, SplitPrefillEqualsOneForward) {
  testing::GpuContext ctx("prefill-split");
  ASSERT_EQ(ctx.status(), LLA_SUCCESS) << ctx.error();
  const std::pair<int, int> splits[] = {{64, 150}, {100, 150}, {1, 70}, {63, 1}, {5000, 300}};
  uint64_t seed = 1;
  for (lla_dtype dtype : {LLA_DTYPE_BF16, LLA_DTYPE_F32})
    for (const auto& [split, rest] : splits) {
      const int total = split + rest, batch = 2, levels = lla_num_levels(total);
      const std::string at = std::string(dtype == LLA_DTYPE_F32 ? "f32" : "bf16") + " split " +
                             std::to_string(split) + "+" + std::to_string(rest);
      const reference::Problem whole = problem(batch, total, levels);
      const reference::Inputs inputs = reference::round_inputs(
          reference::random_inputs(whole, seed++), runtime::to_compiler_dtype(dtype));
      const reference::Result want = reference::forward_chunkwise(whole, inputs, kChunk);
      reference::Inputs head, tail;
      for (int b = 0; b < batch; ++b) {
        append(head, token_range(whole, inputs, b, 0, split));
        append(tail, token_range(whole, inputs, b, split, rest));
      }

      runtime::DeviceForwardOptions first;
      first.dtype = dtype;
      first.final_state = true;
      const runtime::DeviceForwardRun prefilled =
          runtime::run_forward_on_device(ctx.get(), problem(batch, split, levels), head, first);
      const reference::Result want_head =
          reference::forward_chunkwise(problem(batch, split, levels), head, kChunk);
      expect_close(prefilled.final_state, want_head.final_state.levels, state_tolerance(dtype),
                   at + ": state after the first call");
      EXPECT_EQ(prefilled.final_positions, (std::vector<long long>{split, split}));

      runtime::DeviceForwardOptions second;
      second.dtype = dtype;
      second.start_positions = {split, split};
      second.initial_state = prefilled.final_state;
      second.final_state = true;
      const runtime::DeviceForwardRun continued =
          runtime::run_forward_on_device(ctx.get(), problem(batch, rest, levels), tail, second);
      EXPECT_EQ(continued.unwritten, 0u) << at;
      const size_t row = static_cast<size_t>(whole.heads) * whole.value_dim;
      for (int b = 0; b < batch; ++b)
        expect_close(part(continued.o, b * rest * row, rest * row),
                     part(want.o, (b * total + split) * row, rest * row), output_tolerance(dtype),
                     at + ": o of sequence " + std::to_string(b));
      expect_close(continued.final_state, want.final_state.levels, state_tolerance(dtype),
                   at + ": final state");
      EXPECT_EQ(continued.final_positions, (std::vector<long long>{total, total}));
    }
}

// One packed call over sequences of different lengths (one empty, one of a single token) at
// their own positions equals each sequence run alone on the reference.
void expect_packed_matches(lla_context* ctx, lla_dtype dtype, bool in_place, uint64_t seed) {
  const std::vector<int> lengths = {100, 1, 257, 0, 64};
  const std::vector<long long> starts = {0, 70, 3000, 5, 128};
  const int levels = lla_num_levels(3257);
  const int count = static_cast<int>(lengths.size());
  const compiler::Dtype element = runtime::to_compiler_dtype(dtype);

  const reference::Problem states_problem = problem(count, 1, levels);
  const std::vector<double> initial = reference::random_state(
      states_problem, std::vector<int64_t>(starts.begin(), starts.end()), 0.1, seed);
  const size_t state_elements = initial.size() / count;
  const size_t row = 2 * 32;  // H * V

  reference::Inputs packed;
  runtime::DeviceForwardOptions options;
  options.dtype = dtype;
  options.seq_offsets = {0};
  options.start_positions = starts;
  options.initial_state = initial;
  options.final_state = true;
  options.state_in_place = in_place;
  std::vector<reference::Result> want(count);
  for (int s = 0; s < count; ++s) {
    options.seq_offsets.push_back(options.seq_offsets.back() + lengths[s]);
    if (lengths[s] == 0) {
      want[s].final_state.levels = part(initial, s * state_elements, state_elements);
      continue;
    }
    const reference::Problem alone = problem(1, lengths[s], levels);
    const reference::Inputs inputs =
        reference::round_inputs(reference::random_inputs(alone, seed * 10 + s), element);
    append(packed, inputs);
    const reference::FenwickState from{starts[s], part(initial, s * state_elements, state_elements)};
    want[s] = reference::forward_chunkwise(alone, inputs, kChunk, starts[s] > 0 ? &from : nullptr);
  }
  const int total = static_cast<int>(options.seq_offsets.back());
  const runtime::DeviceForwardRun run =
      runtime::run_forward_on_device(ctx, problem(1, total, levels), packed, options);
  EXPECT_EQ(run.unwritten, 0u);
  const std::string what = std::string(dtype == LLA_DTYPE_F32 ? "f32" : "bf16") +
                           (in_place ? " in place" : "") + ": sequence ";
  for (int s = 0; s < count; ++s) {
    if (lengths[s] > 0)
      expect_close(part(run.o, options.seq_offsets[s] * row, lengths[s] * row), want[s].o,
                   output_tolerance(dtype), what + std::to_string(s) + " o");
    expect_close(part(run.final_state, s * state_elements, state_elements),
                 want[s].final_state.levels, state_tolerance(dtype),
                 what + std::to_string(s) + " final state");
    EXPECT_EQ(run.final_positions[s], starts[s] + lengths[s]);
  }
}

TEST_F(Mamba2PrefillGpu, PackedSequencesEqualEachAlone) {
  testing::GpuContext ctx("prefill-packed");
  ASSERT_EQ(ctx.status(), LLA_SUCCESS) << ctx.error();
  expect_packed_matches(ctx.get(), LLA_DTYPE_BF16, false, 21);
  expect_packed_matches(ctx.get(), LLA_DTYPE_F32, true, 22);
}

// Small packed calls for compute-sanitizer (memcheck, racecheck) runs on the device:
// --gtest_filter=Mamba2PrefillGpu.SanitizerShapes
TEST_F(Mamba2PrefillGpu, SanitizerShapes) {
  testing::GpuContext ctx("prefill-sanitizer");
  ASSERT_EQ(ctx.status(), LLA_SUCCESS) << ctx.error();
  expect_packed_matches(ctx.get(), LLA_DTYPE_BF16, true, 41);
  expect_packed_matches(ctx.get(), LLA_DTYPE_F32, false, 42);
}

// A GPU prefill of two sequences (64 and 100 tokens, packed) hands its states to GPU decode
// steps; together they equal one forward over every token.
TEST_F(Mamba2PrefillGpu, PrefillThenDecodeEqualsOneForward) {
  testing::GpuContext ctx("prefill-decode");
  ASSERT_EQ(ctx.status(), LLA_SUCCESS) << ctx.error();
  const std::vector<int> prefill = {64, 100};
  const int steps = 5, longest = 100 + steps, levels = lla_num_levels(longest);
  const reference::Problem all = problem(2, longest, levels);
  const reference::Inputs inputs =
      reference::round_inputs(reference::random_inputs(all, 31), compiler::Dtype::bf16);

  reference::Inputs packed;
  runtime::DeviceForwardOptions options;
  options.seq_offsets = {0, prefill[0], prefill[0] + prefill[1]};
  options.final_state = true;
  for (int b = 0; b < 2; ++b) append(packed, token_range(all, inputs, b, 0, prefill[b]));
  const runtime::DeviceForwardRun prefilled = runtime::run_forward_on_device(
      ctx.get(), problem(1, prefill[0] + prefill[1], levels), packed, options);
  EXPECT_EQ(prefilled.final_positions, (std::vector<long long>{64, 100}));

  reference::Problem step = problem(2, 1, levels);
  runtime::DeviceDecode device(ctx.get(), step, LLA_DTYPE_BF16, longest - 1);
  device.upload_state(prefilled.final_state);
  device.upload_positions(std::vector<int64_t>(prefill.begin(), prefill.end()));
  const size_t row = static_cast<size_t>(all.heads) * all.value_dim;
  for (int i = 0; i < steps; ++i) {
    const std::vector<int> tokens = {prefill[0] + i, prefill[1] + i};
    device.upload_inputs(reference::select_tokens(all, inputs, tokens));
    const std::vector<double> got = device.step(ctx.get(), true);
    for (int b = 0; b < 2; ++b) {
      reference::Problem one = problem(1, tokens[b] + 1, levels);
      const reference::Result want =
          reference::forward_chunkwise(one, token_range(all, inputs, b, 0, tokens[b] + 1), kChunk);
      expect_close(part(got, b * row, row), part(want.o, tokens[b] * row, row), 1e-2,
                   "sequence " + std::to_string(b) + " decode step " + std::to_string(i));
    }
  }
}

}  // namespace
}  // namespace lla
