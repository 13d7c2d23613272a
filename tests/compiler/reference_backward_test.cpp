// The float64 reference backward (spec/loglinear.md sections 6 and 7.1): its three forms
// against each other and against central finite differences of the forward, with and without
// initial and final states, for both variants; split runs against one run; properties that
// hold exactly; validation.

#include "reference/backward.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "gradient_checks.h"
#include "levels/fenwick_levels.h"
#include "reference/decode_reference.h"
#include "reference/reference.h"

namespace lla::reference {
namespace {

using namespace test;  // gradient_checks.h

// A backward problem: the forward's arguments and what the loss sends back.
struct BackwardCase {
  Problem p;
  Inputs in;
  FenwickState initial;  // position 0: none
  OutputGradients out;

  const FenwickState* state() const { return initial.position > 0 ? &initial : nullptr; }
};

struct Shape {
  Variant variant;
  int B, T, H, G, K, V;
  int64_t P;  // start position
  bool qk_l2norm = false;
  bool d_final = true;
  int extra_levels = 0;
};

std::string shape_name(const Shape& s) {
  return std::string(variant_name(s.variant)) + "_B" + std::to_string(s.B) + "_T" +
         std::to_string(s.T) + "_H" + std::to_string(s.H) + "_G" + std::to_string(s.G) + "_K" +
         std::to_string(s.K) + "_V" + std::to_string(s.V) + "_P" + std::to_string(s.P) +
         (s.qk_l2norm ? "_l2norm" : "") + (s.d_final ? "_dfinal" : "") +
         (s.extra_levels ? "_spare" + std::to_string(s.extra_levels) : "");
}

BackwardCase make_case(const Shape& s, uint64_t seed) {
  BackwardCase setup;
  Problem& p = setup.p;
  p.variant = s.variant;
  p.batch = s.B;
  p.seq_len = s.T;
  p.heads = s.H;
  p.groups = s.G;
  p.key_dim = s.K;
  p.value_dim = s.V;
  p.levels = levels::num_levels(s.P + s.T) + s.extra_levels;
  p.qk_l2norm = s.qk_l2norm;
  p.scale = s.qk_l2norm ? 1.0 / std::sqrt(static_cast<double>(s.K)) : 0.8;
  setup.in = random_inputs(p, seed);
  // Keys of unit size on average keep I - beta k k^T a contraction (as in the forward's tests).
  if (s.variant == Variant::gated_deltanet && !s.qk_l2norm) {
    for (double& x : setup.in.k) x /= std::sqrt(static_cast<double>(s.K));
  }
  setup.initial.position = s.P;
  setup.initial.levels = random_state(p, std::vector<int64_t>(s.B, s.P), 0.5, seed + 1);
  setup.out.d_o = normal_values(v_size(p), seed + 2);
  // d_final on every level, the empty ones too: those must have no effect.
  if (s.d_final) setup.out.d_final_state = normal_values(state_size(p), seed + 3);
  return setup;
}

// sum(o * d_o) + sum(final_state * d_final), through the recurrent forward.
double loss(const BackwardCase& s, const Inputs& in, const FenwickState* initial) {
  const Result r = forward_recurrent(s.p, in, initial);
  double sum = 0.0;
  for (size_t i = 0; i < r.o.size(); ++i) sum += r.o[i] * s.out.d_o[i];
  for (size_t i = 0; i < s.out.d_final_state.size(); ++i) {
    sum += r.final_state.levels[i] * s.out.d_final_state[i];
  }
  return sum;
}

// Every gradient tensor of Gradients, with its name.
struct GradientTensor {
  const char* name;
  std::vector<double> Gradients::*member;
};
const GradientTensor kGradientTensors[] = {
    {"dq", &Gradients::dq},         {"dk", &Gradients::dk},
    {"dv", &Gradients::dv},         {"dg", &Gradients::dg},
    {"dlambda", &Gradients::dlambda}, {"dbeta", &Gradients::dbeta},
    {"d_initial_state", &Gradients::d_initial_state}};

void expect_gradients_agree(const Gradients& got, const Gradients& want, double tolerance,
                            const std::string& label) {
  for (const GradientTensor& tensor : kGradientTensors) {
    const std::string what = label + " " + tensor.name;
    const std::vector<double>& got_values = got.*tensor.member;
    const std::vector<double>& want_values = want.*tensor.member;
    ASSERT_EQ(got_values.size(), want_values.size()) << what;
    if (want_values.empty()) continue;
    EXPECT_LT(max_relative_error(got_values, want_values), tolerance) << what;
  }
}

// ---- The three forms agree, and central differences agree with them --------------------------

class BackwardForms : public testing::TestWithParam<Shape> {};

TEST_P(BackwardForms, RecurrentAndChunkwiseAgreeWithMaterialized) {
  const BackwardCase s = make_case(GetParam(), 100 + GetParam().T);
  const Gradients materialized =
      backward(s.p, s.in, s.state(), s.out, {BackwardForm::materialized});
  expect_gradients_agree(backward(s.p, s.in, s.state(), s.out, {BackwardForm::recurrent}),
                         materialized, 1e-12, "recurrent");
  for (const int chunk : {1, 2, 4, 8, 64}) {
    expect_gradients_agree(
        backward(s.p, s.in, s.state(), s.out, {BackwardForm::chunkwise, chunk}), materialized,
        1e-12, "chunkwise C=" + std::to_string(chunk));
  }
}

// Along a random direction of each input, <gradient, direction> against the directional
// derivative of the loss.
TEST_P(BackwardForms, MatchCentralDifferences) {
  const BackwardCase s = make_case(GetParam(), 200 + GetParam().T);
  const Gradients g = backward(s.p, s.in, s.state(), s.out, {BackwardForm::chunkwise, 4});
  constexpr double kTolerance = 1e-9;
  struct Input {
    const char* name;
    std::vector<double> Inputs::*field;
    const std::vector<double>* gradient;
  };
  const Input inputs[] = {{"q", &Inputs::q, &g.dq},         {"k", &Inputs::k, &g.dk},
                          {"v", &Inputs::v, &g.dv},         {"g", &Inputs::g, &g.dg},
                          {"lambda", &Inputs::lambda, &g.dlambda}, {"beta", &Inputs::beta, &g.dbeta}};
  uint64_t seed = 300;
  for (const Input& input : inputs) {
    const std::vector<double>& x = s.in.*input.field;
    if (x.empty()) continue;
    const std::vector<double> direction = normal_values(x.size(), ++seed);
    const double numeric = directional_derivative([&](double h) {
      Inputs moved = s.in;
      for (size_t i = 0; i < x.size(); ++i) (moved.*input.field)[i] += h * direction[i];
      return loss(s, moved, s.state());
    });
    const double analytic = dot(*input.gradient, direction);
    EXPECT_NEAR(analytic, numeric, kTolerance * (1.0 + std::abs(numeric))) << input.name;
  }
  if (s.state()) {
    // Only the occupied levels are inputs: the empty ones are zero by the state's invariant.
    const std::vector<double> direction =
        random_state(s.p, std::vector<int64_t>(s.p.batch, s.initial.position), 1.0, ++seed);
    const double numeric = directional_derivative([&](double h) {
      FenwickState moved = s.initial;
      for (size_t i = 0; i < direction.size(); ++i) moved.levels[i] += h * direction[i];
      return loss(s, s.in, &moved);
    });
    EXPECT_NEAR(dot(g.d_initial_state, direction), numeric, kTolerance * (1.0 + std::abs(numeric)))
        << "initial_state";
  }
}

std::vector<Shape> form_shapes() {
  std::vector<Shape> shapes;
  for (const Variant v : {Variant::mamba2, Variant::gated_deltanet}) {
    shapes.push_back({v, 1, 1, 1, 1, 4, 3, 0});
    shapes.push_back({v, 1, 9, 2, 2, 4, 3, 0, false, false});
    shapes.push_back({v, 2, 13, 4, 2, 5, 4, 0, true});  // 4 chunks of 4, the last partial
    shapes.push_back({v, 1, 20, 2, 1, 4, 3, 0, false, true, 2});  // spare levels
    shapes.push_back({v, 1, 24, 2, 1, 4, 4, 8});   // on the grid of chunks 1..8
    shapes.push_back({v, 1, 19, 1, 1, 3, 4, 16, true});
    shapes.push_back({v, 2, 21, 2, 1, 4, 3, 3});   // off every grid but chunk 1
    shapes.push_back({v, 1, 17, 2, 2, 4, 5, 13, true, false});
    shapes.push_back({v, 1, 1, 2, 1, 4, 3, 7, true});  // one decode step
    shapes.push_back({v, 1, 3, 1, 1, 3, 3, 64});
  }
  return shapes;
}

INSTANTIATE_TEST_SUITE_P(Shapes, BackwardForms, testing::ValuesIn(form_shapes()),
                         [](const testing::TestParamInfo<Shape>& info) {
                           return shape_name(info.param);
                         });

// ---- Training in segments (spec 7.1): a split run's gradients are one run's -------------------

// Prefill `split` tokens, continue from the state, push the continuation's d(initial_state) back
// as the prefill's d(final_state): the gradients of every token are those of one run over all
// of them, whose loss also reads the final state.
void expect_split_run_matches_one_run(const Shape& shape, int split, const BackwardOptions& options) {
  const BackwardCase whole = make_case(shape, 500 + split);
  const std::string label =
      std::string(backward_form_name(options.form)) + " C=" + std::to_string(options.chunk) +
      " split at " + std::to_string(split);
  const Gradients one_run = backward(whole.p, whole.in, nullptr, whole.out, options);

  const auto [first_p, first_in] = token_range(whole.p, whole.in, 0, split);
  const auto [second_p, second_in] = token_range(whole.p, whole.in, split, whole.p.seq_len);
  const FenwickState middle = forward_chunkwise(first_p, first_in, 4).final_state;
  ASSERT_EQ(middle.position, split);
  const Gradients second = backward(
      second_p, second_in, &middle,
      {token_range(whole.out.d_o, whole.p.batch, whole.p.seq_len, split, whole.p.seq_len),
       whole.out.d_final_state},
      options);
  const Gradients first = backward(
      first_p, first_in, nullptr,
      {token_range(whole.out.d_o, whole.p.batch, whole.p.seq_len, 0, split),
       second.d_initial_state},
      options);

  Gradients joined;
  const int B = whole.p.batch;
  joined.dq = join_tokens(first.dq, second.dq, B);
  joined.dk = join_tokens(first.dk, second.dk, B);
  joined.dv = join_tokens(first.dv, second.dv, B);
  joined.dg = join_tokens(first.dg, second.dg, B);
  joined.dlambda = join_tokens(first.dlambda, second.dlambda, B);
  joined.dbeta = join_tokens(first.dbeta, second.dbeta, B);
  expect_gradients_agree(joined, one_run, 1e-12, label);
}

class SplitRun : public testing::TestWithParam<Variant> {};

TEST_P(SplitRun, GradientsEqualOneRun) {
  const Shape shape{GetParam(), 2, 45, 2, 1, 4, 3, 0, GetParam() == Variant::gated_deltanet};
  for (const int split : {8, 16, 32}) {  // on the grid of chunk 8
    expect_split_run_matches_one_run(shape, split, {BackwardForm::chunkwise, 8});
  }
  for (const int split : {1, 5, 13, 21, 44}) {  // off it
    expect_split_run_matches_one_run(shape, split, {BackwardForm::chunkwise, 8});
  }
  expect_split_run_matches_one_run(shape, 13, {BackwardForm::recurrent});
  expect_split_run_matches_one_run(shape, 13, {BackwardForm::materialized});
}

INSTANTIATE_TEST_SUITE_P(Variants, SplitRun,
                         testing::Values(Variant::mamba2, Variant::gated_deltanet),
                         [](const testing::TestParamInfo<Variant>& info) {
                           return std::string(variant_name(info.param));
                         });

// ---- Properties that hold exactly --------------------------------------------------------------

class BackwardProperties : public testing::TestWithParam<Variant> {};

// Spec 10 G.3: lambda_t^l of an empty bucket of t, or of a level above every bucket, weighs no
// source, so its gradient is exactly zero; an occupied one's is not.
TEST_P(BackwardProperties, UnusedLambdaHasZeroGradient) {
  const BackwardCase s = make_case({GetParam(), 1, 37, 2, 1, 4, 3, 0, false, true, 2}, 600);
  const Gradients g = backward(s.p, s.in, nullptr, s.out, {BackwardForm::chunkwise, 4});
  int zeros = 0, nonzeros = 0;
  for (int t = 0; t < s.p.seq_len; ++t) {
    for (int h = 0; h < s.p.heads; ++h) {
      for (int ell = 0; ell < s.p.levels; ++ell) {
        const double d = g.dlambda[(static_cast<size_t>(t) * s.p.heads + h) * s.p.levels + ell];
        if (levels::level_occupied(t, ell) && ell < levels::num_levels(s.p.seq_len)) {
          EXPECT_NE(d, 0.0) << "t " << t << " level " << ell;
          ++nonzeros;
        } else {
          EXPECT_EQ(d, 0.0) << "t " << t << " level " << ell;
          ++zeros;
        }
      }
    }
  }
  EXPECT_GT(zeros, s.p.seq_len);
  EXPECT_GT(nonzeros, s.p.seq_len);
}

// dlambda_t^l = d_o_t . (o_t of the same inputs with lambda_t = e_l): o_t is linear in lambda_t,
// and the final state does not read it. Forward only on the right-hand side.
TEST_P(BackwardProperties, DlambdaIsTheOutputOfOneLevel) {
  const BackwardCase s = make_case({GetParam(), 1, 23, 2, 1, 4, 3, 11}, 700);
  const Gradients g = backward(s.p, s.in, s.state(), s.out, {BackwardForm::chunkwise, 4});
  const int H = s.p.heads, L = s.p.levels, V = s.p.value_dim;
  std::vector<double> want(g.dlambda.size());
  for (int ell = 0; ell < L; ++ell) {
    Inputs one_level = s.in;
    for (size_t i = 0; i < one_level.lambda.size(); ++i) {
      one_level.lambda[i] = static_cast<int>(i % L) == ell ? 1.0 : 0.0;
    }
    const std::vector<double> o = forward_recurrent(s.p, one_level, s.state()).o;
    for (size_t row = 0; row < static_cast<size_t>(s.p.seq_len) * H; ++row) {
      double sum = 0.0;
      for (int j = 0; j < V; ++j) sum += o[row * V + j] * s.out.d_o[row * V + j];
      want[row * L + ell] = sum;
    }
  }
  EXPECT_LT(max_relative_error(g.dlambda, want), 1e-13);
}

// The loss is linear in lambda and q (o reads each once; the state reads neither), and jointly
// in (v, initial state) for both variants and in (k, initial state) for Mamba-2: Euler's
// identity <x, dx> = loss for each.
TEST_P(BackwardProperties, EulerIdentities) {
  const BackwardCase s = make_case({GetParam(), 2, 19, 2, 1, 4, 3, 6}, 800);
  const Gradients g = backward(s.p, s.in, s.state(), s.out, {BackwardForm::chunkwise, 2});
  const Result r = forward_recurrent(s.p, s.in, s.state());
  const double output_part = dot(r.o, s.out.d_o);
  const double whole = output_part + dot(r.final_state.levels, s.out.d_final_state);
  const double state_part = dot(s.initial.levels, g.d_initial_state);
  const double tolerance = 1e-12 * (std::abs(whole) + std::abs(output_part));
  EXPECT_NEAR(dot(s.in.lambda, g.dlambda), output_part, tolerance);
  EXPECT_NEAR(dot(s.in.q, g.dq), output_part, tolerance);
  EXPECT_NEAR(dot(s.in.v, g.dv) + state_part, whole, tolerance);
  if (GetParam() == Variant::mamba2) {
    EXPECT_NEAR(dot(s.in.k, g.dk) + state_part, whole, tolerance);
  }
}

// The gradients are linear in what the loss sends back.
TEST_P(BackwardProperties, LinearInTheOutputGradients) {
  const BackwardCase a = make_case({GetParam(), 1, 21, 2, 2, 4, 3, 5, true}, 900);
  BackwardCase b = a;
  b.out.d_o = normal_values(a.out.d_o.size(), 901);
  b.out.d_final_state = normal_values(a.out.d_final_state.size(), 902);
  BackwardCase sum = a;
  for (size_t i = 0; i < sum.out.d_o.size(); ++i) sum.out.d_o[i] = 2 * a.out.d_o[i] + b.out.d_o[i];
  for (size_t i = 0; i < sum.out.d_final_state.size(); ++i) {
    sum.out.d_final_state[i] = 2 * a.out.d_final_state[i] + b.out.d_final_state[i];
  }
  const BackwardOptions options{BackwardForm::chunkwise, 8};
  const Gradients ga = backward(a.p, a.in, a.state(), a.out, options);
  const Gradients gb = backward(b.p, b.in, b.state(), b.out, options);
  Gradients combined = ga;
  for (const GradientTensor& tensor : kGradientTensors) {
    std::vector<double>& x = combined.*tensor.member;
    for (size_t i = 0; i < x.size(); ++i) x[i] = 2 * x[i] + (gb.*tensor.member)[i];
  }
  expect_gradients_agree(backward(sum.p, sum.in, sum.state(), sum.out, options), combined, 1e-13,
                         "2a + b");
}

// An empty d_final_state (the loss does not read the final state) is a zero one.
TEST_P(BackwardProperties, EmptyFinalGradientIsZeroFinalGradient) {
  BackwardCase s = make_case({GetParam(), 1, 14, 1, 1, 3, 3, 9, false, false}, 1000);
  const Gradients without = backward(s.p, s.in, s.state(), s.out);
  s.out.d_final_state.assign(state_size(s.p), 0.0);
  const Gradients with_zero = backward(s.p, s.in, s.state(), s.out);
  expect_gradients_agree(with_zero, without, 1e-300, "zero d_final");
}

INSTANTIATE_TEST_SUITE_P(Variants, BackwardProperties,
                         testing::Values(Variant::mamba2, Variant::gated_deltanet),
                         [](const testing::TestParamInfo<Variant>& info) {
                           return std::string(variant_name(info.param));
                         });

// ---- Longer sequences: several chunk levels, NT not a power of two ------------------------------

TEST(ReferenceBackward, ChunkwiseAgreesWithRecurrentOnLongerSequences) {
  for (const Variant v : {Variant::mamba2, Variant::gated_deltanet}) {
    const BackwardCase s = make_case({v, 1, 300, 1, 1, 16, 8, 0, v == Variant::gated_deltanet}, 1100);
    const Gradients recurrent = backward(s.p, s.in, nullptr, s.out, {BackwardForm::recurrent});
    for (const int chunk : {16, 64}) {
      expect_gradients_agree(backward(s.p, s.in, nullptr, s.out, {BackwardForm::chunkwise, chunk}),
                             recurrent, 1e-12,
                             std::string(variant_name(v)) + " C=" + std::to_string(chunk));
    }
    const BackwardCase continued =
        make_case({v, 1, 200, 1, 1, 16, 8, 128, v == Variant::gated_deltanet}, 1101);
    expect_gradients_agree(
        backward(continued.p, continued.in, continued.state(), continued.out,
                 {BackwardForm::chunkwise, 32}),
        backward(continued.p, continued.in, continued.state(), continued.out,
                 {BackwardForm::recurrent}),
        1e-12, std::string(variant_name(v)) + " from 128, C=32");
  }
}

// ---- Validation --------------------------------------------------------------------------------

TEST(ReferenceBackward, ValidationNamesTheField) {
  const BackwardCase s = make_case({Variant::mamba2, 1, 12, 2, 1, 4, 3, 4}, 1200);
  BackwardCase bad = s;
  bad.out.d_o.pop_back();
  expect_invalid_argument([&] { backward(bad.p, bad.in, bad.state(), bad.out); }, "d_o");
  bad = s;
  bad.out.d_final_state.push_back(0.0);
  expect_invalid_argument([&] { backward(bad.p, bad.in, bad.state(), bad.out); }, "d_final_state");
  bad = s;
  bad.in.lambda.pop_back();
  expect_invalid_argument([&] { backward(bad.p, bad.in, bad.state(), bad.out); }, "lambda");
  expect_invalid_argument([&] { backward(s.p, s.in, s.state(), s.out, {BackwardForm::chunkwise, 6}); },
                 "chunk");
  bad = s;
  bad.initial.position = 60;  // positions up to 71 need 8 levels
  expect_invalid_argument([&] { backward(bad.p, bad.in, &bad.initial, bad.out); }, "levels");
  bad = s;
  bad.initial.position = 2;  // level 2 is empty after 2 tokens, but holds values
  expect_invalid_argument([&] { backward(bad.p, bad.in, &bad.initial, bad.out); }, "state");
}

TEST(ReferenceBackward, FormNames) {
  EXPECT_STREQ(backward_form_name(BackwardForm::materialized), "materialized");
  EXPECT_STREQ(backward_form_name(BackwardForm::recurrent), "recurrent");
  EXPECT_STREQ(backward_form_name(BackwardForm::chunkwise), "chunkwise");
}

// ---- The oracle at training size (run with --gtest_also_run_disabled_tests) -------------------

// T = 16384, K = V = 128, one head, chunk 64: the chunkwise backward's time, and its gradients
// along a random direction of v, g and lambda against central differences of the chunkwise
// forward (each evaluation a full forward at this size).
void time_chunkwise_backward_at_16k(Variant variant) {
  Shape shape{variant, 1, 16384, 1, 1, 128, 128, 0, variant == Variant::gated_deltanet, false};
  BackwardCase s = make_case(shape, 1300);
  const auto start = std::chrono::steady_clock::now();
  const Gradients g = backward(s.p, s.in, nullptr, s.out, {BackwardForm::chunkwise, 64});
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s chunkwise backward, T=16384 K=V=128, one head, C=64: %.2f s\n",
              variant_name(variant), seconds);
  testing::Test::RecordProperty("backward_seconds", std::to_string(seconds));
  const auto forward_loss = [&](const Inputs& in) {
    return dot(forward_chunkwise(s.p, in, 64).o, s.out.d_o);
  };
  for (const auto& [field, gradient] :
       {std::pair{&Inputs::v, &g.dv}, std::pair{&Inputs::g, &g.dg},
        std::pair{&Inputs::lambda, &g.dlambda}}) {
    const std::vector<double> direction = normal_values((s.in.*field).size(), 1301);
    const double h = 1e-4;
    const auto along = [&](double step) {
      Inputs moved = s.in;
      for (size_t i = 0; i < direction.size(); ++i) (moved.*field)[i] += step * direction[i];
      return forward_loss(moved);
    };
    const double numeric = (along(h) - along(-h)) / (2 * h);
    EXPECT_NEAR(dot(*gradient, direction), numeric, 1e-6 * (1.0 + std::abs(numeric)));
  }
}

TEST(ReferenceBackwardAtScale, DISABLED_Mamba2ChunkwiseAt16K) {
  time_chunkwise_backward_at_16k(Variant::mamba2);
}

TEST(ReferenceBackwardAtScale, DISABLED_GatedDeltaNetChunkwiseAt16K) {
  time_chunkwise_backward_at_16k(Variant::gated_deltanet);
}

}  // namespace
}  // namespace lla::reference
