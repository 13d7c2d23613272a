// The Gated DeltaNet reference: its three forms agree with each other, with the hand-worked
// examples of spec/loglinear.md section 10 and with plain gated DeltaNet at lambda = 1, and a
// call continued from a Fenwick state equals one call over the whole sequence.

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "levels/fenwick_levels.h"
#include "reference/decode_reference.h"
#include "reference/reference.h"

namespace lla::reference {
namespace {

constexpr double kFormsAgree = 1e-10;

Problem gdn_problem(int B, int T, int H, int G, int K, int V, bool qk_l2norm) {
  Problem p;
  p.variant = Variant::gated_deltanet;
  p.batch = B;
  p.seq_len = T;
  p.heads = H;
  p.groups = G;
  p.key_dim = K;
  p.value_dim = V;
  p.levels = levels::num_levels(T);
  p.scale = qk_l2norm ? 1.0 / std::sqrt(static_cast<double>(K)) : 1.0;
  p.qk_l2norm = qk_l2norm;
  return p;
}

// Without the in-kernel l2norm, keys of unit size on average keep I - beta k k^T a contraction;
// raw N(0,1) keys would make the state grow geometrically and the comparison meaningless.
Inputs gdn_inputs(const Problem& p, uint64_t seed) {
  Inputs in = random_inputs(p, seed);
  if (!p.qk_l2norm) {
    for (double& x : in.k) x /= std::sqrt(static_cast<double>(p.key_dim));
  }
  return in;
}

struct FormsCase {
  int B, T, H, G, K, V, chunk;
  bool qk_l2norm;
};

std::string case_name(const testing::TestParamInfo<FormsCase>& info) {
  const FormsCase& c = info.param;
  return "B" + std::to_string(c.B) + "_T" + std::to_string(c.T) + "_H" + std::to_string(c.H) +
         "_G" + std::to_string(c.G) + "_K" + std::to_string(c.K) + "_V" + std::to_string(c.V) +
         "_C" + std::to_string(c.chunk) + (c.qk_l2norm ? "_l2norm" : "");
}

class GdnForms : public testing::TestWithParam<FormsCase> {};

TEST_P(GdnForms, MaterializedChunkwiseAndRecurrentAgree) {
  const FormsCase& c = GetParam();
  const Problem p = gdn_problem(c.B, c.T, c.H, c.G, c.K, c.V, c.qk_l2norm);
  const Inputs in = gdn_inputs(p, 1000 + c.T * 7 + c.chunk);
  const Result materialized = forward_materialized(p, in);
  const Result chunkwise = forward_chunkwise(p, in, c.chunk);
  const Result recurrent = forward_recurrent(p, in);
  EXPECT_LT(max_relative_error(materialized.o, recurrent.o), kFormsAgree);
  EXPECT_LT(max_relative_error(chunkwise.o, recurrent.o), kFormsAgree);
  EXPECT_LT(max_relative_error(chunkwise.final_state.levels, recurrent.final_state.levels),
            kFormsAgree);
  EXPECT_EQ(chunkwise.final_state.position, c.T);
  EXPECT_EQ(recurrent.final_state.position, c.T);
}

INSTANTIATE_TEST_SUITE_P(
    RandomInputs, GdnForms,
    testing::Values(FormsCase{1, 1, 1, 1, 4, 3, 1, false}, FormsCase{1, 1, 1, 1, 4, 3, 4, true},
                    FormsCase{1, 5, 1, 1, 3, 2, 1, false}, FormsCase{1, 7, 2, 2, 4, 3, 2, true},
                    FormsCase{1, 13, 1, 1, 5, 4, 4, false},  // 4 chunks, the last partial
                    FormsCase{2, 40, 4, 2, 6, 5, 8, true},   // NT = 5, G < H
                    FormsCase{1, 33, 3, 1, 8, 4, 16, false}, FormsCase{1, 64, 2, 1, 8, 8, 64, true},
                    FormsCase{1, 100, 2, 2, 8, 6, 16, true},  // NT = 7
                    FormsCase{2, 48, 2, 1, 4, 4, 2, false}),  // NT = 24
    case_name);

// A problem of one head with K = 1 or 2 and V = 1, written out by hand (spec section 10).
struct SmallExample {
  Problem problem;
  Inputs inputs;
};

void expect_all_forms_give(const SmallExample& example, const std::vector<double>& expected_o) {
  const std::vector<Result> results = {
      forward_materialized(example.problem, example.inputs),
      forward_recurrent(example.problem, example.inputs),
      forward_chunkwise(example.problem, example.inputs, 1),
      forward_chunkwise(example.problem, example.inputs, 2),
      forward_chunkwise(example.problem, example.inputs, 4),
  };
  for (size_t form = 0; form < results.size(); ++form) {
    ASSERT_EQ(results[form].o.size(), expected_o.size());
    for (size_t t = 0; t < expected_o.size(); ++t) {
      EXPECT_NEAR(results[form].o[t], expected_o[t], 1e-12) << "form " << form << ", t " << t;
    }
  }
}

// Spec 10 E: K = V = 1, q = k = 1, v = [1,2,3,4], alpha = 1/2, beta = 1/2, lambda^ell = ell+1.
TEST(GdnReference, HandWorkedExampleE) {
  SmallExample e{gdn_problem(1, 4, 1, 1, 1, 1, false), {}};
  e.problem.levels = 3;
  e.inputs.q = {1, 1, 1, 1};
  e.inputs.k = {1, 1, 1, 1};
  e.inputs.v = {1, 2, 3, 4};
  e.inputs.g.assign(4, -std::log(2.0));
  e.inputs.beta.assign(4, 0.5);
  for (int t = 0; t < 4; ++t) e.inputs.lambda.insert(e.inputs.lambda.end(), {1, 2, 3});
  expect_all_forms_give(e, {0.5, 1.25, 2.34375, 2.9609375});
}

// Spec 10 F: K = 2, with and without the hierarchical weights.
SmallExample example_f(const std::vector<double>& lambda_per_level) {
  SmallExample f{gdn_problem(1, 4, 1, 1, 2, 1, false), {}};
  f.problem.levels = 4;
  f.inputs.q = {1, 0, 0, 1, 1, 1, 1, -1};
  f.inputs.k = {1, 0, 0, 1, 0.6, 0.8, 0.8, -0.6};
  f.inputs.v = {1, 2, 3, 4};
  for (double alpha : {0.9, 0.8, 0.7, 0.6}) f.inputs.g.push_back(std::log(alpha));
  f.inputs.beta.assign(4, 0.5);
  for (int t = 0; t < 4; ++t) {
    f.inputs.lambda.insert(f.inputs.lambda.end(), lambda_per_level.begin(), lambda_per_level.end());
  }
  return f;
}

TEST(GdnReference, HandWorkedExampleF) {
  expect_all_forms_give(example_f({1, 0.5, 0.25, 0.125}), {0.5, 1, 2.2176, 2.6785});
}

TEST(GdnReference, HandWorkedExampleFWithUnitLambda) {
  expect_all_forms_give(example_f({1, 1, 1, 1}), {0.5, 1, 2.5704, 2.494});
}

// lambda = 1 everywhere is plain gated DeltaNet: one state, S <- A S + beta k v^T, o = S^T q.
TEST(GdnReference, UnitLambdaIsPlainGatedDeltaNet) {
  const Problem p = gdn_problem(1, 37, 1, 1, 5, 3, false);
  Inputs in = gdn_inputs(p, 7);
  in.lambda.assign(in.lambda.size(), 1.0);
  const int K = p.key_dim, V = p.value_dim;
  std::vector<double> S(K * V, 0.0), o(p.seq_len * V, 0.0);
  for (int t = 0; t < p.seq_len; ++t) {
    const double* k = &in.k[t * K];
    const double* q = &in.q[t * K];
    const double alpha = std::exp(in.g[t]), beta = in.beta[t];
    for (int j = 0; j < V; ++j) {
      double k_dot_column = 0.0;
      for (int a = 0; a < K; ++a) k_dot_column += k[a] * S[a * V + j];
      for (int a = 0; a < K; ++a) {
        S[a * V + j] =
            alpha * (S[a * V + j] - beta * k[a] * k_dot_column) + beta * k[a] * in.v[t * V + j];
      }
      for (int a = 0; a < K; ++a) o[t * V + j] += S[a * V + j] * q[a];
    }
  }
  EXPECT_LT(max_relative_error(forward_recurrent(p, in).o, o), kFormsAgree);
  EXPECT_LT(max_relative_error(forward_chunkwise(p, in, 8).o, o), kFormsAgree);
  EXPECT_LT(max_relative_error(forward_materialized(p, in).o, o), kFormsAgree);
}

struct ContinuationCase {
  int T, prefix, chunk;
};

class GdnContinuation : public testing::TestWithParam<ContinuationCase> {};

// Prefill `prefix` tokens, then continue from the state: the same o and final state as one call.
TEST_P(GdnContinuation, ContinuingFromAStateEqualsOneCall) {
  const ContinuationCase& c = GetParam();
  const Problem full = gdn_problem(2, c.T, 2, 1, 6, 4, true);
  const Inputs in = gdn_inputs(full, 42 + c.prefix);
  const Result whole = forward_recurrent(full, in);

  const auto [head_part, head_inputs] = token_range(full, in, 0, c.prefix);
  const auto [tail_part, tail_inputs] = token_range(full, in, c.prefix, c.T);
  const std::vector<double> whole_tail_o = token_range(whole.o, 2, c.T, c.prefix, c.T);

  const Result prefill = forward_chunkwise(head_part, head_inputs, c.chunk);
  ASSERT_EQ(prefill.final_state.position, c.prefix);
  const Result chunkwise_rest =
      forward_chunkwise(tail_part, tail_inputs, c.chunk, &prefill.final_state);
  const Result recurrent_rest = forward_recurrent(tail_part, tail_inputs, &prefill.final_state);
  for (const Result* rest : {&chunkwise_rest, &recurrent_rest}) {
    EXPECT_LT(max_relative_error(rest->o, whole_tail_o), kFormsAgree);
    EXPECT_LT(max_relative_error(rest->final_state.levels, whole.final_state.levels), kFormsAgree);
    EXPECT_EQ(rest->final_state.position, c.T);
  }
  EXPECT_LT(max_relative_error(token_range(prefill.o, 2, c.prefix, 0, c.prefix),
                               token_range(whole.o, 2, c.T, 0, c.prefix)),
            kFormsAgree);
}

INSTANTIATE_TEST_SUITE_P(PrefixLengths, GdnContinuation,
                         testing::Values(ContinuationCase{40, 16, 8},  // prefix on a chunk edge
                                         ContinuationCase{40, 13, 8}, ContinuationCase{37, 1, 4},
                                         ContinuationCase{37, 36, 4}, ContinuationCase{70, 33, 16},
                                         ContinuationCase{9, 5, 1}, ContinuationCase{21, 8, 32}),
                         [](const testing::TestParamInfo<ContinuationCase>& info) {
                           return "T" + std::to_string(info.param.T) + "_P" +
                                  std::to_string(info.param.prefix) + "_C" +
                                  std::to_string(info.param.chunk);
                         });

}  // namespace
}  // namespace lla::reference
