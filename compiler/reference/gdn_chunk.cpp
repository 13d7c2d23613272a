#include "reference/gdn_chunk.h"

#include <cmath>

#include "levels/fenwick_levels.h"
#include "reference/vector_ops.h"

namespace lla::reference {
namespace {

// (I + N)^-1 for a strictly lower triangular row-major n x n matrix N, by forward substitution.
std::vector<double> unit_lower_inverse(const std::vector<double>& N, int n) {
  std::vector<double> inverse(static_cast<size_t>(n) * n, 0.0);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j <= i; ++j) {
      double x = i == j ? 1.0 : 0.0;
      for (int m = j; m < i; ++m) x -= N[i * n + m] * inverse[m * n + j];
      inverse[i * n + j] = x;
    }
  }
  return inverse;
}

}  // namespace

DeltaChunk prepare_chunk(const HeadSlice& head, const ChunkGrid& grid, int64_t c) {
  const int K = head.key_dim, V = head.value_dim;
  DeltaChunk chunk;
  chunk.begin = grid.begin(c);
  chunk.end = grid.end(c);
  const int n = chunk.size();
  const auto token = [&](int i) { return chunk.begin + i; };
  const auto at = [n](auto& m, int i, int j) -> auto& { return m[i * n + j]; };
  const auto row = [](std::vector<double>& m, int i, int width) { return &m[i * width]; };

  std::vector<double>& Gc = chunk.Gc;
  Gc.resize(n);
  double running = 0.0;
  for (int i = 0; i < n; ++i) Gc[i] = running += head.g[token(i)];
  chunk.decay = Gc[n - 1];
  std::vector<double>& gamma = chunk.gamma;
  std::vector<double>& A_raw = chunk.A_raw;
  std::vector<double>& qk = chunk.qk;
  gamma.assign(n * n, 0.0);
  A_raw.assign(n * n, 0.0);
  qk.assign(n * n, 0.0);
  std::vector<double> A_gated(n * n, 0.0);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j <= i; ++j) {
      at(gamma, i, j) = std::exp(Gc[i] - Gc[j]);
      at(qk, i, j) = dot(head.q_row(token(i)), head.k_row(token(j)), K);
      if (j == i) continue;
      at(A_raw, i, j) = head.beta[token(i)] * dot(head.k_row(token(i)), head.k_row(token(j)), K);
      at(A_gated, i, j) = at(A_raw, i, j) * at(gamma, i, j);
    }
  }
  chunk.A_w = unit_lower_inverse(A_raw, n);
  chunk.A_u = unit_lower_inverse(A_gated, n);
  const std::vector<double>& A_w = chunk.A_w;
  const std::vector<double>& A_u = chunk.A_u;

  std::vector<double>& w = chunk.w;
  w.assign(n * K, 0.0);
  chunk.u.assign(n * V, 0.0);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j <= i; ++j) {
      const double beta_j = head.beta[token(j)];
      add_scaled(at(A_w, i, j) * beta_j, head.k_row(token(j)), row(w, i, K), K);
      add_scaled(at(A_u, i, j) * beta_j, head.v_row(token(j)), row(chunk.u, i, V), V);
    }
  }

  // Intra (step 2): X = tril(q k^T) Aw holds sum_{m=j..i} (q_i . k_m) Aw_mj.
  chunk.x.assign(n * n, 0.0);
  chunk.score.assign(n * n, 0.0);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j <= i; ++j) {
      double& x = at(chunk.x, i, j);
      for (int m = j; m <= i; ++m) x += at(qk, i, m) * at(A_w, m, j);
      const int ell = levels::level(grid.start + token(i), grid.start + token(j));
      at(chunk.score, i, j) =
          x * at(gamma, i, j) * head.beta[token(j)] * head.lambda_at(token(i), ell);
    }
  }

  // Inter-level inputs (step 3).
  chunk.k_new.assign(n * K, 0.0);
  chunk.w_new.assign(n * K, 0.0);
  chunk.q_new.assign(n * K, 0.0);
  for (int i = 0; i < n; ++i) {
    add_scaled(std::exp(chunk.decay - Gc[i]), head.k_row(token(i)), row(chunk.k_new, i, K), K);
    add_scaled(std::exp(Gc[i]), row(w, i, K), row(chunk.w_new, i, K), K);
  }
  for (int i = 0; i < n; ++i) {
    add_scaled(std::exp(Gc[i]), head.q_row(token(i)), row(chunk.q_new, i, K), K);
    for (int j = 0; j <= i; ++j) {
      add_scaled(-at(qk, i, j) * at(gamma, i, j), row(chunk.w_new, j, K), row(chunk.q_new, i, K),
                 K);
    }
  }
  // The chunk's end state from its own tokens is k_new^T u = sum_j (Au^T k_new)_j beta_j v_j^T.
  chunk.end_keys.assign(n * K, 0.0);
  for (int j = 0; j < n; ++j) {
    for (int i = j; i < n; ++i) {
      add_scaled(at(A_u, i, j), row(chunk.k_new, i, K), row(chunk.end_keys, j, K), K);
    }
  }
  return chunk;
}

// h <- (A_last ... A_first) h over the chunk's tokens, in WY form:
// exp(decay) h - k_new^T (w_new h).
void carry_through(const DeltaChunk& chunk, double* h, int K, int V) {
  const int n = chunk.size();
  std::vector<double> w_h(static_cast<size_t>(n) * V, 0.0);
  for (int i = 0; i < n; ++i) {
    for (int a = 0; a < K; ++a) add_scaled(chunk.w_new[i * K + a], h + a * V, &w_h[i * V], V);
  }
  scale_in_place(std::exp(chunk.decay), h, K * V);
  for (int i = 0; i < n; ++i) add_outer(-1.0, &chunk.k_new[i * K], &w_h[i * V], h, K, V);
}

}  // namespace lla::reference
