#include "reference/lambda_mlp.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <string>

#include "reference/checks.h"
#include "reference/vector_ops.h"

namespace lla::reference {
namespace {

constexpr double kSoftplusThreshold = 20.0;  // PyTorch's softplus is x itself above this
constexpr double kDocumentedSoftplusBias = 0.54;

// Rows of an [rows, L] tensor; its size must be a whole number of rows.
size_t row_count(const std::vector<double>& x, int levels, const char* field) {
  require(x.size() % levels == 0, field,
          "has " + std::to_string(x.size()) + " elements, not a multiple of L = " +
              std::to_string(levels));
  return x.size() / levels;
}

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }
double normal_pdf(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI); }
double gelu(double x) { return x * normal_cdf(x); }
double gelu_derivative(double x) { return normal_cdf(x) + x * normal_pdf(x); }
double softplus(double x) { return x > kSoftplusThreshold ? x : std::log1p(std::exp(x)); }
double softplus_derivative(double x) {
  return x > kSoftplusThreshold ? 1.0 : 1.0 / (1.0 + std::exp(-x));
}

// One row's activations: a1 = W1 z + b1, h = GELU(a1), a2 = W2 h + b2, lambda.
struct RowActivations {
  std::vector<double> a1, h, a2, lambda;
};

RowActivations forward_row(const LambdaMlp& mlp, const double* z) {
  const int L = mlp.levels, Hm = mlp.hidden;
  RowActivations r{mlp.b1, std::vector<double>(Hm), mlp.b2, std::vector<double>(L)};
  for (int i = 0; i < Hm; ++i) {
    r.a1[i] += dot(&mlp.w1[static_cast<size_t>(i) * L], z, L);
    r.h[i] = gelu(r.a1[i]);
  }
  for (int ell = 0; ell < L; ++ell) r.a2[ell] += dot(&mlp.w2[static_cast<size_t>(ell) * Hm], r.h.data(), Hm);
  if (mlp.output == LambdaMlpOutput::softplus) {
    for (int ell = 0; ell < L; ++ell) r.lambda[ell] = softplus(r.a2[ell]);
  } else {
    const double largest = *std::max_element(r.a2.begin(), r.a2.end());
    double sum = 0.0;
    for (int ell = 0; ell < L; ++ell) sum += r.lambda[ell] = std::exp(r.a2[ell] - largest);
    for (double& x : r.lambda) x /= sum;
  }
  return r;
}

}  // namespace

LambdaMlp init_lambda_mlp(int levels, int hidden, LambdaMlpInit init, uint64_t seed,
                          LambdaMlpOutput output, double weight_std) {
  require(levels > 0, "levels", "must be positive");
  require(hidden > 0, "hidden", "must be positive");
  require(std::isfinite(weight_std) && weight_std >= 0.0, "weight_std",
          "must be a finite number >= 0");
  LambdaMlp mlp;
  mlp.levels = levels;
  mlp.hidden = hidden;
  mlp.output = output;
  const size_t weights = static_cast<size_t>(levels) * hidden;
  mlp.w1.resize(weights);
  mlp.b1.assign(hidden, 0.0);
  mlp.w2.assign(weights, 0.0);
  mlp.b2.assign(levels, 0.0);
  std::mt19937_64 rng(seed);
  if (init == LambdaMlpInit::documented) {
    const double bound = std::sqrt(6.0 / (levels + hidden));  // Xavier-uniform, gain 1
    std::uniform_real_distribution<double> uniform(-bound, bound);
    for (double& w : mlp.w1) w = uniform(rng);
    if (output == LambdaMlpOutput::softplus) mlp.b2.assign(levels, kDocumentedSoftplusBias);
  } else {
    std::normal_distribution<double> normal(0.0, weight_std);
    for (double& w : mlp.w1) w = normal(rng);
    for (double& w : mlp.w2) w = normal(rng);
  }
  return mlp;
}

void validate(const LambdaMlp& mlp) {
  require(mlp.levels > 0, "levels", "must be positive");
  require(mlp.hidden > 0, "hidden", "must be positive");
  const size_t weights = static_cast<size_t>(mlp.levels) * mlp.hidden;
  require_size(mlp.w1, weights, "w1");
  require_size(mlp.b1, mlp.hidden, "b1");
  require_size(mlp.w2, weights, "w2");
  require_size(mlp.b2, mlp.levels, "b2");
}

std::vector<double> lambda_mlp_forward(const LambdaMlp& mlp, const std::vector<double>& dl) {
  validate(mlp);
  const int L = mlp.levels;
  const size_t rows = row_count(dl, L, "dl");
  std::vector<double> lambda(dl.size());
  for (size_t row = 0; row < rows; ++row) {
    const RowActivations r = forward_row(mlp, &dl[row * L]);
    std::copy(r.lambda.begin(), r.lambda.end(), lambda.begin() + row * L);
  }
  return lambda;
}

LambdaMlpGradients lambda_mlp_backward(const LambdaMlp& mlp, const std::vector<double>& dl,
                                       const std::vector<double>& d_lambda) {
  validate(mlp);
  const int L = mlp.levels, Hm = mlp.hidden;
  const size_t rows = row_count(dl, L, "dl");
  require_size(d_lambda, dl.size(), "d_lambda");
  LambdaMlpGradients g{std::vector<double>(dl.size(), 0.0), std::vector<double>(mlp.w1.size(), 0.0),
                       std::vector<double>(Hm, 0.0), std::vector<double>(mlp.w2.size(), 0.0),
                       std::vector<double>(L, 0.0)};
  std::vector<double> d_a2(L), d_a1(Hm);
  for (size_t row = 0; row < rows; ++row) {
    const double* z = &dl[row * L];
    const double* d_out = &d_lambda[row * L];
    const RowActivations r = forward_row(mlp, z);
    if (mlp.output == LambdaMlpOutput::softplus) {
      for (int ell = 0; ell < L; ++ell) d_a2[ell] = d_out[ell] * softplus_derivative(r.a2[ell]);
    } else {
      const double mean = dot(d_out, r.lambda.data(), L);
      for (int ell = 0; ell < L; ++ell) d_a2[ell] = r.lambda[ell] * (d_out[ell] - mean);
    }
    std::fill(d_a1.begin(), d_a1.end(), 0.0);
    for (int ell = 0; ell < L; ++ell) {
      add_scaled(d_a2[ell], r.h.data(), &g.dw2[static_cast<size_t>(ell) * Hm], Hm);
      g.db2[ell] += d_a2[ell];
      add_scaled(d_a2[ell], &mlp.w2[static_cast<size_t>(ell) * Hm], d_a1.data(), Hm);
    }
    for (int i = 0; i < Hm; ++i) {
      d_a1[i] *= gelu_derivative(r.a1[i]);
      add_scaled(d_a1[i], z, &g.dw1[static_cast<size_t>(i) * L], L);
      g.db1[i] += d_a1[i];
      add_scaled(d_a1[i], &mlp.w1[static_cast<size_t>(i) * L], &g.d_dl[row * L], L);
    }
  }
  return g;
}

}  // namespace lla::reference
