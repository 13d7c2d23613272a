#pragma once
// What VLA's attention reads, made from a layer's projections (spec/vla.md 3.2), in float64:
// the positive features q = ELU(W_q x) + 1 and k = ELU(W_k x) + 1, the unit write-penalty
// direction u = (W_u k_raw) / max(|W_u k_raw|, 1e-12) of each head, and v = W_v x; their
// chain rule; and random inputs.
//
// W_u acts on the raw keys of all heads concatenated, so it mixes heads: its product belongs to
// the layer. Here each head's u_raw is a slice of W_u k_raw, as q_raw, k_raw and v of theirs.

#include <cstdint>
#include <vector>

#include "reference/vla.h"
#include "reference/vla_backward.h"

namespace lla::reference::vla {

// Per head, before the feature maps; every tensor [B,T,H,d].
struct Projections {
  std::vector<double> q_raw;  // W_q x (+ bias)
  std::vector<double> k_raw;  // W_k x (+ bias)
  std::vector<double> u_raw;  // W_u k_raw, the slice of each head
  std::vector<double> v;      // W_v x (+ bias)
};

// ELU(x) + 1: x + 1 for x > 0, exp(x) otherwise (ELU's alpha = 1).
double elu_plus_one(double x);

// q, k, u, v of vla.h from the projections. Throws std::invalid_argument naming the field when
// a size is wrong.
Inputs features(const Problem& p, const Projections& raw);

// Gradients with respect to the projections, from those with respect to the features
// (vla_backward.h): ELU's derivative for q and k; for u the normalisation's,
// (I - u u^T) du / |u_raw| (du / 1e-12 where |u_raw| < 1e-12, the clamp's branch).
Projections feature_backward(const Problem& p, const Projections& raw, const Gradients& g);

// How random projections are drawn (deterministic in the seed).
enum class InputDistribution {
  // q_raw, k_raw, u_raw, v ~ N(0, 1) independently: generic inputs, for agreement and
  // gradient checks.
  standard,
  // A randomly initialised layer as the repository's notebook 07 builds it (the distribution
  // of spec 3.9's stability figures): D = H * d; x_t ~ N(0, I_D), what a LayerNorm in front of
  // the layer hands it at initialisation; W_q, W_k, W_v, W_u ~ N(0, 0.02^2) entrywise, biases 0;
  // u_raw = W_u k_raw across all heads.
  initialised_layer,
};

Projections random_projections(const Problem& p, uint64_t seed,
                               InputDistribution distribution = InputDistribution::standard);

// The projections of a randomly initialised layer (initialised_layer's weights, drawn from
// weight_seed) for the layer inputs x [B,T,D], D = H * d: what initialised_layer does with
// x ~ N(0, I_D), for other inputs (embeddings of tokens, say).
Projections initialised_layer_projections(const Problem& p, const std::vector<double>& x,
                                          uint64_t weight_seed);

// features(p, random_projections(p, seed, distribution)).
Inputs random_inputs(const Problem& p, uint64_t seed,
                     InputDistribution distribution = InputDistribution::standard);

}  // namespace lla::reference::vla
