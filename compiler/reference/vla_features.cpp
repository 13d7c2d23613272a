#include "reference/vla_features.h"

#include <cmath>
#include <random>

#include "reference/checks.h"
#include "reference/vla_ops.h"

namespace lla::reference::vla {
namespace {

constexpr double kInitialisedWeightStd = 0.02;  // notebook 07's init of every Linear weight

void validate(const Problem& p, const Projections& raw) {
  vla::validate(p);
  require_size(raw.q_raw, token_size(p), "q_raw");
  require_size(raw.k_raw, token_size(p), "k_raw");
  require_size(raw.u_raw, token_size(p), "u_raw");
  require_size(raw.v, token_size(p), "v");
}

double elu_plus_one_derivative(double x) { return x > 0.0 ? 1.0 : std::exp(x); }

std::vector<double> normal_values(size_t n, double sigma, std::mt19937_64& rng) {
  std::normal_distribution<double> normal(0.0, sigma);
  std::vector<double> x(n);
  for (double& e : x) e = normal(rng);
  return x;
}

// y = W x for every token: x [B*T, D] rows, W [D, D] row-major.
std::vector<double> project(const std::vector<double>& W, const std::vector<double>& x, int D) {
  std::vector<double> y(x.size(), 0.0);
  for (size_t token = 0; token < x.size() / D; ++token) {
    for (int out = 0; out < D; ++out) {
      y[token * D + out] = dot(&W[static_cast<size_t>(out) * D], &x[token * D], D);
    }
  }
  return y;
}

}  // namespace

double elu_plus_one(double x) { return x > 0.0 ? x + 1.0 : std::exp(x); }

Inputs features(const Problem& p, const Projections& raw) {
  validate(p, raw);
  Inputs in;
  in.q.resize(raw.q_raw.size());
  in.k.resize(raw.k_raw.size());
  for (size_t i = 0; i < raw.q_raw.size(); ++i) {
    in.q[i] = elu_plus_one(raw.q_raw[i]);
    in.k[i] = elu_plus_one(raw.k_raw[i]);
  }
  in.u.resize(raw.u_raw.size());
  const int d = p.head_dim;
  for (size_t row = 0; row < raw.u_raw.size(); row += d)
    unit_direction(&raw.u_raw[row], d, &in.u[row]);
  in.v = raw.v;
  return in;
}

Projections feature_backward(const Problem& p, const Projections& raw, const Gradients& g) {
  validate(p, raw);
  require_size(g.dq, token_size(p), "dq");
  require_size(g.dk, token_size(p), "dk");
  require_size(g.du, token_size(p), "du");
  require_size(g.dv, token_size(p), "dv");
  Projections d;
  d.q_raw.resize(g.dq.size());
  d.k_raw.resize(g.dk.size());
  for (size_t i = 0; i < g.dq.size(); ++i) {
    d.q_raw[i] = g.dq[i] * elu_plus_one_derivative(raw.q_raw[i]);
    d.k_raw[i] = g.dk[i] * elu_plus_one_derivative(raw.k_raw[i]);
  }
  const int dim = p.head_dim;
  d.u_raw.assign(g.du.size(), 0.0);
  std::vector<double> u(dim);
  for (size_t row = 0; row < g.du.size(); row += dim) {
    const double norm = unit_direction(&raw.u_raw[row], dim, u.data());
    unit_direction_backward(u.data(), norm, &g.du[row], dim, &d.u_raw[row]);
  }
  d.v = g.dv;
  return d;
}

Projections random_projections(const Problem& p, uint64_t seed, InputDistribution distribution) {
  vla::validate(p);
  const size_t n = token_size(p);
  std::mt19937_64 rng(seed);
  Projections raw;
  if (distribution == InputDistribution::standard) {
    raw.q_raw = normal_values(n, 1.0, rng);
    raw.k_raw = normal_values(n, 1.0, rng);
    raw.u_raw = normal_values(n, 1.0, rng);
    raw.v = normal_values(n, 1.0, rng);
    return raw;
  }
  return initialised_layer_projections(p, normal_values(n, 1.0, rng), rng());
}

Projections initialised_layer_projections(const Problem& p, const std::vector<double>& x,
                                          uint64_t weight_seed) {
  vla::validate(p);
  require_size(x, token_size(p), "x");
  // A [B,T,H,d] tensor is [B*T, D] rows with D = H*d: the heads of a token side by side.
  const int D = p.heads * p.head_dim;
  const size_t weights = static_cast<size_t>(D) * D;
  std::mt19937_64 rng(weight_seed);
  const std::vector<double> Wq = normal_values(weights, kInitialisedWeightStd, rng);
  const std::vector<double> Wk = normal_values(weights, kInitialisedWeightStd, rng);
  const std::vector<double> Wv = normal_values(weights, kInitialisedWeightStd, rng);
  const std::vector<double> Wu = normal_values(weights, kInitialisedWeightStd, rng);
  Projections raw;
  raw.q_raw = project(Wq, x, D);
  raw.k_raw = project(Wk, x, D);
  raw.v = project(Wv, x, D);
  raw.u_raw = project(Wu, raw.k_raw, D);
  return raw;
}

Inputs random_inputs(const Problem& p, uint64_t seed, InputDistribution distribution) {
  return features(p, random_projections(p, seed, distribution));
}

}  // namespace lla::reference::vla
