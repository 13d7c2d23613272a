#pragma once
// The lambda MLP of adaptive memory decay (spec/adaptive-lambda.md), in float64: per (batch,
// token, head) the level weights
//   lambda = softplus(W2 GELU(W1 z + b1) + b2)
// from that row z of the dl projection (L values in, L out). GELU is the exact erf form
// x Phi(x), not the tanh approximation; softplus returns x itself above 20 (PyTorch's
// threshold, for bit-compatibility). One MLP serves every head and token of a layer, so its
// input and output are [rows, L] with rows = B*T*H (or B*H when decoding); the output is the
// lambda [B,T,H,L] of reference.h. The backward takes the gradient with respect to lambda that
// backward() of backward.h returns.

#include <cstdint>
#include <vector>

namespace lla::reference {

// The MLP's last step: softplus (each level's weight on its own, the paper's choice) or
// softmax over the levels (the alternative of spec section 1.8: weights that sum to 1).
enum class LambdaMlpOutput { softplus, softmax };

struct LambdaMlp {
  int levels = 0;  // L: the width of input and output
  int hidden = 0;  // Hm: 64 in every published run
  LambdaMlpOutput output = LambdaMlpOutput::softplus;
  std::vector<double> w1;  // [Hm, L], PyTorch's Linear layout [out, in]
  std::vector<double> b1;  // [Hm]
  std::vector<double> w2;  // [L, Hm]
  std::vector<double> b2;  // [L]
};

enum class LambdaMlpInit {
  // The module's constructor: W1 Xavier-uniform, b1 = 0, W2 = 0, and b2 = 0.54 for softplus
  // (lambda = softplus(0.54) = 0.999163 for any input) or 0 for softmax (lambda = 1/L).
  documented,
  // What the published runs trained from: their models' weight init overwrote the documented
  // one, every weight N(0, weight_std^2) and every bias 0 (lambda = ln 2 at zero input).
  published_runs,
};

// An MLP of this shape, deterministic in seed. weight_std: the published runs' std (0.02, the
// initializer_range of their configs); unused by the documented init.
LambdaMlp init_lambda_mlp(int levels, int hidden, LambdaMlpInit init, uint64_t seed,
                          LambdaMlpOutput output = LambdaMlpOutput::softplus,
                          double weight_std = 0.02);

// Throws std::invalid_argument naming the field when the sizes are inconsistent.
void validate(const LambdaMlp& mlp);

// lambda [rows, L] from dl [rows, L].
std::vector<double> lambda_mlp_forward(const LambdaMlp& mlp, const std::vector<double>& dl);

struct LambdaMlpGradients {
  std::vector<double> d_dl;  // [rows, L]: goes back into the dl slice of the input projection
  // Shaped as the weights; each a sum over every row, accumulated in row order (one running
  // sum per element, rows 0, 1, 2, ...), so the result is the same on every run.
  std::vector<double> dw1, db1, dw2, db2;
};

// The gradients of sum(lambda * d_lambda) (spec section 1.6). The activations are recomputed
// from dl, as a kernel would instead of storing them.
LambdaMlpGradients lambda_mlp_backward(const LambdaMlp& mlp, const std::vector<double>& dl,
                                       const std::vector<double>& d_lambda);

}  // namespace lla::reference
