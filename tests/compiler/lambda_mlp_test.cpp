// The lambda MLP of adaptive memory decay (spec/adaptive-lambda.md): the spec's hand-worked
// vectors (Part 5 tests 1-3), both inits, central differences for every input and weight,
// the fixed summation order of the weight gradients, and the MLP in front of the log-linear
// attention backward.

#include "reference/lambda_mlp.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "gradient_checks.h"
#include "levels/fenwick_levels.h"
#include "reference/backward.h"
#include "reference/reference.h"

namespace lla::reference {
namespace {

using namespace test;  // gradient_checks.h

// Spec Part 5 test 1: L = Hm = 2, W1 = I, b1 = (0.1, 0), W2 rows (1, 2) and (-1, 0.5), b2 =
// (0.54, 0.54).
LambdaMlp hand_mlp(LambdaMlpOutput output) {
  return {2, 2, output, {1, 0, 0, 1}, {0.1, 0}, {1, 2, -1, 0.5}, {0.54, 0.54}};
}
const std::vector<double> kHandInput = {0.5, -1.0};

void expect_values(const std::vector<double>& got, const std::vector<double>& want, double tol,
                   const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << what << "[" << i << "]";
}

// The spec prints six significant digits; the tanh-approximate GELU is off at the 1e-4 level.
TEST(LambdaMlp, HandVectorForward) {
  expect_values(lambda_mlp_forward(hand_mlp(LambdaMlpOutput::softplus), kHandInput),
                {1.075409, 0.705839}, 1e-6, "softplus");
  expect_values(lambda_mlp_forward(hand_mlp(LambdaMlpOutput::softmax), kHandInput),
                {0.653150, 0.346850}, 1e-6, "softmax");
}

// Spec Part 5 test 2: loss = sum(lambda).
TEST(LambdaMlp, HandVectorBackward) {
  const LambdaMlpGradients g =
      lambda_mlp_backward(hand_mlp(LambdaMlpOutput::softplus), kHandInput, {1.0, 1.0});
  expect_values(g.db2, {0.658842, 0.506306}, 1e-6, "db2 = d a2");
  expect_values(g.db1, {0.141200, -0.130875}, 1e-6, "db1 = d a1");
  expect_values(g.d_dl, {0.141200, -0.130875}, 1e-6, "d dl (W1 = I)");
  EXPECT_NEAR(g.dw2[0 * 2 + 1], -0.104529, 1e-6);
  // dW1 = d a1 z^T.
  expect_values(g.dw1, {0.141200 * 0.5, -0.141200, -0.130875 * 0.5, 0.130875}, 1e-6, "dw1");
}

// Spec Part 5 test 3.
TEST(LambdaMlp, InitialWeights) {
  const std::vector<double> dl = normal_values(15 * 40, 1);
  const LambdaMlp documented = init_lambda_mlp(15, 64, LambdaMlpInit::documented, 2);
  for (const double lambda : lambda_mlp_forward(documented, dl)) EXPECT_NEAR(lambda, 0.999163, 1e-6);
  const double xavier_bound = std::sqrt(6.0 / (15 + 64));
  double largest = 0.0;
  for (const double w : documented.w1) largest = std::max(largest, std::abs(w));
  EXPECT_LE(largest, xavier_bound);
  EXPECT_GT(largest, 0.9 * xavier_bound);
  for (const double b : documented.b1) EXPECT_EQ(b, 0.0);
  for (const double w : documented.w2) EXPECT_EQ(w, 0.0);

  const LambdaMlp softmax =
      init_lambda_mlp(15, 64, LambdaMlpInit::documented, 2, LambdaMlpOutput::softmax);
  for (const double lambda : lambda_mlp_forward(softmax, dl)) EXPECT_NEAR(lambda, 1.0 / 15, 1e-15);

  const LambdaMlp published = init_lambda_mlp(15, 64, LambdaMlpInit::published_runs, 3);
  for (const double lambda : lambda_mlp_forward(published, std::vector<double>(15 * 3, 0.0))) {
    EXPECT_NEAR(lambda, std::log(2.0), 1e-15);
  }
  double squares = 0.0;
  for (const double w : published.w2) squares += w * w;
  EXPECT_NEAR(std::sqrt(squares / published.w2.size()), 0.02, 0.002);
  for (const double b : published.b2) EXPECT_EQ(b, 0.0);
  EXPECT_EQ(init_lambda_mlp(15, 64, LambdaMlpInit::published_runs, 3).w1, published.w1);
  EXPECT_NE(init_lambda_mlp(15, 64, LambdaMlpInit::published_runs, 4).w1, published.w1);
}

// Above 20 softplus is its argument and its slope 1, as PyTorch's.
TEST(LambdaMlp, SoftplusIsLinearAboveTwenty) {
  LambdaMlp mlp = init_lambda_mlp(3, 4, LambdaMlpInit::documented, 5);
  mlp.b2 = {25.0, 20.5, 19.0};
  const std::vector<double> lambda = lambda_mlp_forward(mlp, {0.0, 0.0, 0.0});
  EXPECT_EQ(lambda[0], 25.0);
  EXPECT_EQ(lambda[1], 20.5);
  EXPECT_EQ(lambda[2], std::log1p(std::exp(19.0)));
  const LambdaMlpGradients g = lambda_mlp_backward(mlp, {0.0, 0.0, 0.0}, {1.0, 1.0, 1.0});
  EXPECT_EQ(g.db2[0], 1.0);
  EXPECT_EQ(g.db2[1], 1.0);
  EXPECT_EQ(g.db2[2], 1.0 / (1.0 + std::exp(-19.0)));
}

// Along a random direction of dl and of every weight, <gradient, direction> against central
// differences of sum(lambda * d_lambda), combined at steps h and h/2 (Richardson).
void expect_matches_central_differences(const LambdaMlp& mlp, const std::vector<double>& dl,
                                        const std::vector<double>& d_lambda) {
  const LambdaMlpGradients g = lambda_mlp_backward(mlp, dl, d_lambda);
  const auto loss = [&](const LambdaMlp& m, const std::vector<double>& z) {
    return dot(lambda_mlp_forward(m, z), d_lambda);
  };
  const std::vector<double> direction = normal_values(dl.size(), 7);
  const double numeric = directional_derivative([&](double h) {
    std::vector<double> moved = dl;
    for (size_t i = 0; i < moved.size(); ++i) moved[i] += h * direction[i];
    return loss(mlp, moved);
  });
  EXPECT_NEAR(dot(g.d_dl, direction), numeric, 1e-9 * (1 + std::abs(numeric))) << "dl";
  struct Weight {
    const char* name;
    std::vector<double> LambdaMlp::*member;
    const std::vector<double>* gradient;
  };
  uint64_t seed = 8;
  for (const Weight& w : {Weight{"w1", &LambdaMlp::w1, &g.dw1}, Weight{"b1", &LambdaMlp::b1, &g.db1},
                          Weight{"w2", &LambdaMlp::w2, &g.dw2}, Weight{"b2", &LambdaMlp::b2, &g.db2}}) {
    const std::vector<double> dir = normal_values((mlp.*w.member).size(), ++seed);
    const double along_weight = directional_derivative([&](double h) {
      LambdaMlp moved = mlp;
      for (size_t i = 0; i < dir.size(); ++i) (moved.*w.member)[i] += h * dir[i];
      return loss(moved, dl);
    });
    EXPECT_NEAR(dot(*w.gradient, dir), along_weight, 1e-9 * (1 + std::abs(along_weight))) << w.name;
  }
}

TEST(LambdaMlp, MatchesCentralDifferences) {
  for (const LambdaMlpOutput output : {LambdaMlpOutput::softplus, LambdaMlpOutput::softmax}) {
    // Weights of size 1 so GELU and softplus are away from their linear parts; rows 2 x 9 x 3.
    LambdaMlp mlp = init_lambda_mlp(6, 16, LambdaMlpInit::published_runs, 11, output, 1.0);
    mlp.b1 = normal_values(16, 12, 0.5);
    mlp.b2 = normal_values(6, 13, 0.5);
    expect_matches_central_differences(mlp, normal_values(6 * 54, 14), normal_values(6 * 54, 15));
  }
}

// The weight gradients of many rows are the single-row ones added in row order, bit for bit.
TEST(LambdaMlp, WeightGradientsAreSummedInRowOrder) {
  const LambdaMlp mlp = init_lambda_mlp(5, 8, LambdaMlpInit::published_runs, 21, LambdaMlpOutput::softplus, 0.7);
  const std::vector<double> dl = normal_values(5 * 30, 22), d_lambda = normal_values(5 * 30, 23);
  const LambdaMlpGradients all = lambda_mlp_backward(mlp, dl, d_lambda);
  LambdaMlpGradients running{{}, std::vector<double>(40, 0.0), std::vector<double>(8, 0.0),
                             std::vector<double>(40, 0.0), std::vector<double>(5, 0.0)};
  for (size_t row = 0; row < 30; ++row) {
    const std::vector<double> z(dl.begin() + row * 5, dl.begin() + (row + 1) * 5);
    const std::vector<double> d(d_lambda.begin() + row * 5, d_lambda.begin() + (row + 1) * 5);
    const LambdaMlpGradients one = lambda_mlp_backward(mlp, z, d);
    for (size_t i = 0; i < 40; ++i) running.dw1[i] += one.dw1[i];
    for (size_t i = 0; i < 8; ++i) running.db1[i] += one.db1[i];
    for (size_t i = 0; i < 40; ++i) running.dw2[i] += one.dw2[i];
    for (size_t i = 0; i < 5; ++i) running.db2[i] += one.db2[i];
    running.d_dl.insert(running.d_dl.end(), one.d_dl.begin(), one.d_dl.end());
  }
  EXPECT_EQ(all.dw1, running.dw1);
  EXPECT_EQ(all.db1, running.db1);
  EXPECT_EQ(all.dw2, running.dw2);
  EXPECT_EQ(all.db2, running.db2);
  EXPECT_EQ(all.d_dl, running.d_dl);
}

// lambda = MLP(dl) in front of log-linear attention: d(dl) and the weight gradients through the
// attention's dlambda match central differences of the whole forward.
TEST(LambdaMlp, ThroughTheAttentionBackward) {
  for (const Variant variant : {Variant::mamba2, Variant::gated_deltanet}) {
    Problem p = mamba2_problem(1, 13, 2, 1, 4, 3);
    p.variant = variant;
    const Inputs base = random_inputs(p, 31);
    const std::vector<double> dl = normal_values(lambda_size(p), 32);
    const std::vector<double> d_o = normal_values(v_size(p), 33);
    LambdaMlp mlp = init_lambda_mlp(p.levels, 8, LambdaMlpInit::published_runs, 34,
                                    LambdaMlpOutput::softplus, 0.8);
    mlp.b2 = normal_values(p.levels, 35, 0.5);
    const auto loss = [&](const LambdaMlp& m, const std::vector<double>& z) {
      Inputs in = base;
      in.lambda = lambda_mlp_forward(m, z);
      return dot(forward_chunkwise(p, in, 4).o, d_o);
    };
    Inputs in = base;
    in.lambda = lambda_mlp_forward(mlp, dl);
    const Gradients attention = backward(p, in, nullptr, {d_o, {}});
    const LambdaMlpGradients g = lambda_mlp_backward(mlp, dl, attention.dlambda);
    const std::vector<double> direction = normal_values(dl.size(), 36);
    const double numeric = directional_derivative([&](double h) {
      std::vector<double> moved = dl;
      for (size_t i = 0; i < dl.size(); ++i) moved[i] += h * direction[i];
      return loss(mlp, moved);
    });
    EXPECT_NEAR(dot(g.d_dl, direction), numeric, 1e-9 * (1 + std::abs(numeric)))
        << variant_name(variant);
    const std::vector<double> w2_direction = normal_values(mlp.w2.size(), 37);
    const double numeric_w2 = directional_derivative([&](double h) {
      LambdaMlp moved = mlp;
      for (size_t i = 0; i < mlp.w2.size(); ++i) moved.w2[i] += h * w2_direction[i];
      return loss(moved, dl);
    });
    EXPECT_NEAR(dot(g.dw2, w2_direction), numeric_w2, 1e-9 * (1 + std::abs(numeric_w2)))
        << variant_name(variant);
  }
}

TEST(LambdaMlp, ValidationNamesTheField) {
  const LambdaMlp mlp = init_lambda_mlp(4, 8, LambdaMlpInit::documented, 41);
  LambdaMlp bad = mlp;
  bad.w1.pop_back();
  expect_invalid_argument([&] { lambda_mlp_forward(bad, {0, 0, 0, 0}); }, "w1");
  bad = mlp;
  bad.b2.push_back(0);
  expect_invalid_argument([&] { lambda_mlp_forward(bad, {0, 0, 0, 0}); }, "b2");
  expect_invalid_argument([&] { lambda_mlp_forward(mlp, {0, 0, 0}); }, "dl");
  expect_invalid_argument([&] { lambda_mlp_backward(mlp, {0, 0, 0, 0}, {1, 1}); }, "d_lambda");
  expect_invalid_argument([&] { init_lambda_mlp(0, 8, LambdaMlpInit::documented, 1); }, "levels");
  expect_invalid_argument([&] { init_lambda_mlp(4, 0, LambdaMlpInit::documented, 1); }, "hidden");
}

}  // namespace
}  // namespace lla::reference
