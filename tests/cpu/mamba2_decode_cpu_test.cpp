// The CPU decode step against the float64 reference (spec/loglinear.md section 5): positions
// differing across the batch, position 0 reusing a dirty slot, out-of-range positions, the
// advance of the positions, and prefill then decode equal to one forward.

#include <gtest/gtest.h>

#include <cmath>

#include "cpu_forward_support.h"

namespace lla::testing {
namespace {

using compiler::Dtype;
using compiler::cpu::Family;
using reference::Problem;

struct DecodeCall {
  std::vector<double> o;
  std::vector<double> state;
  std::vector<long long> positions;
};

DecodeCall cpu_decode(const ccpu::CpuKernelSpec& spec, const Problem& p, const reference::Inputs& in,
                      const std::vector<long long>& positions, const std::vector<double>& state,
                      long long max_position, bool advance = false) {
  compiler::ProblemShape shape;
  shape.batch = p.batch;
  shape.heads = p.heads;
  shape.groups = p.groups;
  shape.max_position = max_position;
  shape.scale = static_cast<float>(p.scale);
  shape.advance_positions = advance;
  CallTensors t = encode_inputs(in, spec.dtype);
  t.state = HostTensor(to_floats(state));
  t.positions = HostTensor(std::vector<uint8_t>(reinterpret_cast<const uint8_t*>(positions.data()),
                                                reinterpret_cast<const uint8_t*>(positions.data() + positions.size())));
  run_plan(spec, ccpu::plan_decode(spec, shape), t.table());
  DecodeCall out;
  out.o = reference::decode(t.o.raw(), spec.dtype);
  out.state = t.state.floats();
  const auto* pos = reinterpret_cast<const long long*>(t.positions.get());
  out.positions.assign(pos, pos + positions.size());
  return out;
}

Problem decode_problem(int batch, int heads, int groups, int key_dim, int value_dim, int levels, double scale) {
  Problem p = reference::mamba2_problem(batch, 1, heads, groups, key_dim, value_dim);
  p.levels = levels;
  p.scale = scale;
  return p;
}

class DecodeStep : public ::testing::TestWithParam<Dtype> {};

TEST_P(DecodeStep, PositionsDifferingAcrossTheBatch) {
  const Dtype dtype = GetParam();
  const ccpu::CpuKernelSpec spec = host_spec(Family::mamba2_decode, dtype, 32, 48, 13);
  const Problem p = decode_problem(6, 4, 2, 32, 48, 13, 0.6);
  const std::vector<int64_t> positions = {0, 1, 7, 64, 4095, 2048};
  const reference::Inputs in = reference::round_inputs(reference::random_inputs(p, 4), dtype);
  std::vector<double> state = reference::random_state(p, positions, 0.5, 9);
  // Sequence 0 starts in a slot a finished sequence left dirty: the step must clear it.
  const size_t per_sequence = size_t(p.heads) * p.levels * p.key_dim * p.value_dim;
  for (size_t i = 0; i < per_sequence; ++i) state[i] = std::sin(double(i));
  std::vector<double> want_state = state;
  const std::vector<double> want_o = reference::decode_step(p, in, positions, want_state);
  const DecodeCall got = cpu_decode(spec, p, in, {positions.begin(), positions.end()}, state, 4095);
  EXPECT_LT(reference::relative_frobenius_error(got.o, want_o), dtype == Dtype::f32 ? 2e-6 : 6e-3);
  EXPECT_LT(reference::max_relative_error(got.state, want_state), 1e-6);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, DecodeStep, ::testing::Values(Dtype::f32, Dtype::f16, Dtype::bf16),
                         [](const auto& info) { return std::string(compiler::dtype_name(info.param)); });

// A position outside [0, max_position] leaves the state untouched and writes NaN, as on the GPU;
// the advance moves only the accepted positions.
TEST(CpuDecode, OutOfRangePositionsAreNotStepped) {
  const ccpu::CpuKernelSpec spec = host_spec(Family::mamba2_decode, Dtype::bf16, 32, 32, 10);
  const Problem p = decode_problem(3, 2, 2, 32, 32, 10, 1.0);
  const reference::Inputs in = reference::round_inputs(reference::random_inputs(p, 1), Dtype::bf16);
  const std::vector<double> state = reference::random_state(p, {5, 5, 5}, 1.0, 2);
  const DecodeCall got = cpu_decode(spec, p, in, {-1, 5, 300}, state, 200, /*advance=*/true);
  const size_t per_sequence = size_t(p.heads) * p.levels * p.key_dim * p.value_dim;
  const size_t o_per_sequence = size_t(p.heads) * p.value_dim;
  for (int b : {0, 2}) {
    for (size_t i = 0; i < o_per_sequence; ++i) ASSERT_TRUE(std::isnan(got.o[b * o_per_sequence + i])) << b;
    for (size_t i = 0; i < per_sequence; ++i)
      ASSERT_EQ(got.state[b * per_sequence + i], static_cast<float>(state[b * per_sequence + i])) << b;
  }
  for (size_t i = 0; i < o_per_sequence; ++i) ASSERT_TRUE(std::isfinite(got.o[o_per_sequence + i]));
  EXPECT_EQ(got.positions, (std::vector<long long>{-1, 6, 300}));
}

// A prefill of T0 tokens handing on its state, then decode steps to T, equals one forward of T.
TEST(CpuDecode, PrefillThenDecodeEqualsOneForward) {
  const int total = 150, prefill = 131, heads = 2, K = 32, V = 16, L = 9;
  const ccpu::CpuKernelSpec forward = host_spec(Family::mamba2_forward, Dtype::f32, K, V, L);
  const ccpu::CpuKernelSpec decode = host_spec(Family::mamba2_decode, Dtype::f32, K, V, L);
  Problem p = reference::mamba2_problem(1, total, heads, 1, K, V);
  p.levels = L;
  reference::Inputs in = reference::random_inputs(p, 17);
  for (double& g : in.g) g *= 0.05;

  const auto forward_call = [&](int64_t length, bool final_state) {
    compiler::ProblemShape shape;
    shape.seq_len = total;
    shape.heads = heads;
    shape.sequences = {{0, 0, length}};
    shape.final_state = final_state;
    CallTensors t = encode_inputs(in, Dtype::f32);
    t.final_state = HostTensor(std::vector<float>(size_t(heads) * L * K * V, NAN));
    run_plan(forward, ccpu::plan_forward(forward, shape, CpuKernels::instance().pool().size()), t.table());
    return std::make_pair(t.o.floats(), t.final_state.floats());
  };
  const std::vector<double> whole = forward_call(total, false).first;
  auto [o, state] = forward_call(prefill, true);
  const Problem step = decode_problem(1, heads, 1, K, V, L, 1.0);
  for (int t = prefill; t < total; ++t) {
    const reference::Inputs token = slice_rows(p, in, t, 1);
    const DecodeCall got = cpu_decode(decode, step, token, {t}, state, total);
    state = got.state;
    std::copy(got.o.begin(), got.o.end(), o.begin() + size_t(t) * heads * V);
  }
  EXPECT_LT(reference::relative_frobenius_error(o, whole), 1e-5);
}

TEST(CpuDecodePlan, RejectsLevelsThatCannotHoldMaxPosition) {
  const ccpu::CpuKernelSpec spec = host_spec(Family::mamba2_decode, Dtype::f32, 32, 32, 8);
  compiler::ProblemShape shape;
  shape.max_position = 1000;
  try {
    ccpu::plan_decode(spec, shape);
    FAIL() << "accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("levels=8 cannot hold position 1000"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lla::testing
