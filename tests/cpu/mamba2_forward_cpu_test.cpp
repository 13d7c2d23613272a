// The CPU forward against the float64 reference (spec/loglinear.md sections 3 and 7), for real:
// awkward lengths, grouped heads, K != V, every dtype, several chunk sizes, packed sequences with
// empty ones, initial states at any position, final states, and long sequences split over the
// pool.

#include <gtest/gtest.h>

#include <cmath>

#include "cpu_forward_support.h"

namespace lla::testing {
namespace {

using compiler::Dtype;
using compiler::cpu::Family;
using compiler::SequenceSpan;
using reference::Problem;

// Error bounds against float64 on the same rounded inputs: fp32 arithmetic, then o rounded to
// its dtype.
double tolerance(Dtype d) { return d == Dtype::f32 ? 5e-5 : d == Dtype::f16 ? 1.5e-3 : 6e-3; }

struct Outcome {
  std::vector<double> o;
  std::vector<double> final_state;
};

// One CPU forward of the spans (or plain when empty) over inputs `in` of a batch-1 problem of
// all rows (or B x T when plain).
Outcome cpu_forward(const ccpu::CpuKernelSpec& spec, const Problem& p, const reference::Inputs& in,
                    const std::vector<SequenceSpan>& spans, const std::vector<double>* initial,
                    bool final_state, bool in_place = false, int split = 0) {
  ccpu::CpuKernelSpec s = spec;
  s.tile.split = split;
  compiler::ProblemShape shape;
  shape.batch = p.batch;
  shape.seq_len = p.seq_len;
  shape.heads = p.heads;
  shape.groups = p.groups;
  shape.scale = static_cast<float>(p.scale);
  shape.sequences = spans;
  shape.initial_state = initial != nullptr;
  shape.final_state = final_state;
  CallTensors t = encode_inputs(in, spec.dtype);
  const size_t state_floats = spans.size() * size_t(p.heads) * p.levels * p.key_dim * p.value_dim;
  if (initial) t.initial_state = HostTensor(to_floats(*initial));
  if (final_state) t.final_state = HostTensor(std::vector<float>(state_floats, NAN));
  if (in_place) t.final_state = HostTensor(to_floats(*initial));
  rcpu::BufferTable buffers = t.table();
  if (in_place) buffers.set(compiler::Buffer::initial_state, t.final_state.get());
  run_plan(s, ccpu::plan_forward(s, shape, CpuKernels::instance().pool().size()), buffers);
  Outcome out;
  out.o = reference::decode(t.o.raw(), spec.dtype);
  if (final_state) out.final_state = t.final_state.floats();
  return out;
}

// The reference of each span continuing from its part of `initial`, assembled like the call.
Outcome reference_forward(const Problem& p, const reference::Inputs& in,
                          const std::vector<SequenceSpan>& spans, const std::vector<double>* initial) {
  const size_t rows_size = size_t(p.heads) * p.value_dim;
  const size_t state_size = size_t(p.heads) * p.levels * p.key_dim * p.value_dim;
  Outcome out;
  out.o.assign(in.v.size(), 0.0);
  out.final_state.assign(spans.size() * state_size, 0.0);
  for (size_t s = 0; s < spans.size(); ++s) {
    const SequenceSpan& span = spans[s];
    std::vector<double> start_state;
    if (initial && span.start > 0)
      start_state.assign(initial->begin() + s * state_size, initial->begin() + (s + 1) * state_size);
    if (span.length == 0) {
      if (!start_state.empty()) std::copy(start_state.begin(), start_state.end(), out.final_state.begin() + s * state_size);
      continue;
    }
    Problem one = p;
    one.batch = 1;
    one.seq_len = static_cast<int>(span.length);
    const reference::Inputs part = slice_rows(p, in, span.row0, span.length);
    reference::FenwickState prefix{span.start, start_state};
    const reference::Result r =
        reference::forward_chunkwise(one, part, 16, start_state.empty() ? nullptr : &prefix);
    std::copy(r.o.begin(), r.o.end(), out.o.begin() + span.row0 * rows_size);
    std::copy(r.final_state.levels.begin(), r.final_state.levels.end(),
              out.final_state.begin() + s * state_size);
  }
  return out;
}

void expect_close(const std::vector<double>& got, const std::vector<double>& want, double tol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (double x : got) ASSERT_TRUE(std::isfinite(x)) << what << ": a non-finite value";
  EXPECT_LT(reference::relative_frobenius_error(got, want), tol) << what;
}

Problem make_problem(int batch, int seq_len, int heads, int groups, int key_dim, int value_dim, int levels,
                     double scale = 1.0) {
  Problem p = reference::mamba2_problem(batch, seq_len, heads, groups, key_dim, value_dim);
  p.levels = levels;
  p.scale = scale;
  return p;
}

// perf.md's g ~ -U(0, 0.1) forgets a token within a few hundred positions; a twentieth of it
// keeps the far levels of the Fenwick state (and so the slots, the pieces and the initial
// states) visible in o.
reference::Inputs slow_decay(reference::Inputs in) {
  for (double& g : in.g) g *= 0.05;
  return in;
}

std::vector<SequenceSpan> plain_spans(int batch, int seq_len) {
  std::vector<SequenceSpan> spans;
  for (int b = 0; b < batch; ++b) spans.push_back({int64_t{b} * seq_len, 0, seq_len});
  return spans;
}

class PlainForward : public ::testing::TestWithParam<Dtype> {};

// T in {1, 63, 64, 65, 1000, 4096}: below, at and past a chunk, and many chunks (4096: a
// non-trivial Fenwick tree of 64 chunks); G < H, K != V, scale != 1.
TEST_P(PlainForward, MatchesTheReference) {
  const Dtype dtype = GetParam();
  const ccpu::CpuKernelSpec spec = host_spec(Family::mamba2_forward, dtype, 32, 48, 13);
  for (int seq_len : {1, 63, 64, 65, 1000, 4096}) {
    const int batch = seq_len >= 1000 ? 1 : 2;
    const Problem p = make_problem(batch, seq_len, 4, 2, 32, 48, 13, 0.7);
    const reference::Inputs in = reference::round_inputs(slow_decay(reference::random_inputs(p, 11 + seq_len)), dtype);
    const Outcome got = cpu_forward(spec, p, in, {}, nullptr, false);
    const Outcome want = reference_forward(make_problem(1, batch * seq_len, 4, 2, 32, 48, 13, 0.7),
                                           in, plain_spans(batch, seq_len), nullptr);
    expect_close(got.o, want.o, tolerance(dtype), "o, T=" + std::to_string(seq_len));
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, PlainForward, ::testing::Values(Dtype::f32, Dtype::f16, Dtype::bf16),
                         [](const auto& info) { return std::string(compiler::dtype_name(info.param)); });

// Chunks of 16 and 128: more chunk levels in the slots, and a chunk larger than most sequences.
TEST(CpuForward, OtherChunkSizes) {
  for (int chunk : {16, 128}) {
    const ccpu::CpuKernelSpec spec = host_spec(Family::mamba2_forward, Dtype::f32, 64, 32, 12, chunk);
    const Problem p = make_problem(1, 777, 2, 1, 64, 32, 12);
    const reference::Inputs in = slow_decay(reference::random_inputs(p, 5));
    const Outcome got = cpu_forward(spec, p, in, {}, nullptr, false);
    const Outcome want = reference_forward(p, in, plain_spans(1, 777), nullptr);
    expect_close(got.o, want.o, tolerance(Dtype::f32), "chunk " + std::to_string(chunk));
  }
}

// Packed sequences, some empty, continuing from initial states at aligned and unaligned
// positions (and position 0), handing on final states; also with the final state written over
// the initial state's memory.
TEST(CpuForward, PackedSequencesWithStates) {
  for (Dtype dtype : {Dtype::f32, Dtype::bf16}) {
    const ccpu::CpuKernelSpec spec = host_spec(Family::mamba2_forward, dtype, 32, 16, 12);
    const std::vector<int64_t> lengths = {0, 37, 130, 0, 64, 1, 200, 5};
    const std::vector<int64_t> starts = {0, 5, 64, 3, 128, 0, 77, 1000};
    std::vector<SequenceSpan> spans;
    int64_t rows = 0;
    for (size_t s = 0; s < lengths.size(); ++s) {
      spans.push_back({rows, starts[s], lengths[s]});
      rows += lengths[s];
    }
    const Problem p = make_problem(1, static_cast<int>(rows), 4, 2, 32, 16, 12, 0.5);
    const reference::Inputs in = reference::round_inputs(slow_decay(reference::random_inputs(p, 3)), dtype);
    std::vector<double> initial;
    for (size_t s = 0; s < spans.size(); ++s) {
      Problem one = p;
      one.batch = 1;
      const std::vector<double> state = reference::random_state(one, {spans[s].start}, 0.3, 100 + s);
      initial.insert(initial.end(), state.begin(), state.end());
    }
    const Outcome want = reference_forward(p, in, spans, &initial);
    for (bool in_place : {false, true}) {
      const Outcome got = cpu_forward(spec, p, in, spans, &initial, true, in_place);
      const std::string what = std::string(compiler::dtype_name(dtype)) + (in_place ? " in place" : "");
      expect_close(got.o, want.o, tolerance(dtype), "o, " + what);
      expect_close(got.final_state, want.final_state, 5e-5, "final state, " + what);
    }
  }
}

// A prefill in two calls (the second continuing from the first's final state) gives the same
// o and final state as one call, at a cut inside a chunk and at a chunk boundary.
TEST(CpuForward, SplitPrefillEqualsOneForward) {
  const ccpu::CpuKernelSpec spec = host_spec(Family::mamba2_forward, Dtype::f32, 32, 32, 12);
  const int total = 1000;
  const Problem p = make_problem(1, total, 2, 1, 32, 32, 12);
  const reference::Inputs in = slow_decay(reference::random_inputs(p, 8));
  const Outcome whole = cpu_forward(spec, p, in, {{0, 0, total}}, nullptr, true);
  for (int cut : {300, 320}) {
    const Outcome first = cpu_forward(spec, p, in, {{0, 0, cut}, {cut, 0, 0}}, nullptr, true);
    // Sequence 0's state after the cut becomes sequence 1's initial state.
    const size_t half = first.final_state.size() / 2;
    std::vector<double> initial(half, 0.0);
    initial.insert(initial.end(), first.final_state.begin(), first.final_state.begin() + half);
    const Outcome second = cpu_forward(spec, p, in, {{0, 0, 0}, {cut, cut, total - cut}}, &initial, true);
    std::vector<double> o(first.o.begin(), first.o.begin() + size_t(cut) * 2 * 32);
    o.insert(o.end(), second.o.begin() + size_t(cut) * 2 * 32, second.o.end());
    expect_close(o, whole.o, 1e-5, "o, cut " + std::to_string(cut));
    const std::vector<double> second_state(second.final_state.begin() + second.final_state.size() / 2,
                                           second.final_state.end());
    const std::vector<double> whole_state(whole.final_state.begin(), whole.final_state.end());
    expect_close(second_state, whole_state, 1e-5, "final state, cut " + std::to_string(cut));
  }
}

// One long sequence and fewer items than workers: the plan cuts it into segments seeded by the
// pieces' states; every cut gives the reference's o and final state.
TEST(CpuForward, LongSequenceSplitOverThePool) {
  const ccpu::CpuKernelSpec spec = host_spec(Family::mamba2_forward, Dtype::f32, 32, 32, 14);
  const int seq_len = 5000;
  const Problem p = make_problem(1, seq_len, 1, 1, 32, 32, 14);
  const reference::Inputs in = slow_decay(reference::random_inputs(p, 21));
  const Outcome want = reference_forward(p, in, {{0, 0, seq_len}}, nullptr);
  for (int split : {1, 2, 3, 7}) {
    const ccpu::SequenceSplit cut = ccpu::split_sequence([&] {
      ccpu::CpuKernelSpec s = spec;
      s.tile.split = split;
      return s;
    }(), (seq_len + 63) / 64, 1, 2);
    EXPECT_EQ(cut.segments > 1, split > 1) << split;
    const Outcome got = cpu_forward(spec, p, in, {{0, 0, seq_len}}, nullptr, true, false, split);
    expect_close(got.o, want.o, tolerance(Dtype::f32), "o, split " + std::to_string(split));
    expect_close(got.final_state, want.final_state, 5e-5, "final state, split " + std::to_string(split));
  }
}

TEST(CpuForwardPlan, RejectsLevelsTooFewForASequence) {
  const ccpu::CpuKernelSpec spec = host_spec(Family::mamba2_forward, Dtype::f32, 32, 32, 8);
  compiler::ProblemShape shape;
  shape.seq_len = 100;
  shape.sequences = {{0, 200, 100}};
  shape.initial_state = true;
  try {
    ccpu::plan_forward(spec, shape, 2);
    FAIL() << "accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("levels=8"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lla::testing
