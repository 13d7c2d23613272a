#include "reference/vla_chunk.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "reference/vector_ops.h"
#include "reference/vla_ops.h"

namespace lla::reference::vla {
namespace {

const double* row(const std::vector<double>& x, int i, int width) {
  return &x[static_cast<size_t>(i) * width];
}
double* row(std::vector<double>& x, int i, int width) { return &x[static_cast<size_t>(i) * width]; }

// The precision block of tokens [first, first + n) of the chunk from `A` (updated in place to
// A_end), writing alpha's rows.
PrecisionBlock precision_block_forward(const Hyper& hyper, int d, int first, int n,
                                       bool nudge_at_end, const ChunkTrace& trace,
                                       std::vector<double>& A, std::vector<double>& alpha) {
  PrecisionBlock b;
  b.first = first;
  b.n = n;
  b.nudge_at_end = nudge_at_end;
  b.A0 = A;
  const double* u = row(trace.u_scaled, first, d);
  const double* k = row(trace.k_hat, first, d);
  b.W.assign(static_cast<size_t>(n) * d, 0.0);
  for (int i = 0; i < n; ++i) add_product(1.0, b.A0.data(), u + i * d, row(b.W, i, d), d, d);
  std::vector<double> gram(static_cast<size_t>(n) * n, 0.0);  // I + U~ W^T, lower triangle
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j <= i; ++j) {
      gram[static_cast<size_t>(i) * n + j] =
          (i == j ? 1.0 : 0.0) + dot(u + i * d, row(b.W, j, d), d);
    }
  }
  b.L = cholesky_lower(gram, n);
  // L_ii^2 is token i's delta. The block form has no clamp: where the recurrence would clamp
  // (only when eps_stab > 1, delta being >= 1 while A is positive definite), it cannot agree.
  for (int i = 0; i < n; ++i) {
    const double delta = b.L[static_cast<size_t>(i) * n + i] * b.L[static_cast<size_t>(i) * n + i];
    if (delta < hyper.eps_stab) {
      throw std::domain_error("delta " + std::to_string(delta) + " is below eps_stab " +
                              std::to_string(hyper.eps_stab) +
                              ": the chunkwise form has no delta clamp (spec/vla.md 3.5); the "
                              "recurrent form applies it");
    }
  }
  b.M = solve_lower(b.L, b.W, n, d);
  for (int i = 0; i < n; ++i) {
    double* a = row(alpha, first + i, d);
    std::fill(a, a + d, 0.0);
    add_product(1.0, b.A0.data(), k + i * d, a, d, d);
    for (int j = 0; j <= i; ++j) {
      const double* m = row(b.M, j, d);
      add_scaled(-dot(m, k + i * d, d), m, a, d);
    }
  }
  for (int j = 0; j < n; ++j) add_outer(-1.0, row(b.M, j, d), row(b.M, j, d), A.data(), d, d);
  if (nudge_at_end) {
    add_scaled(hyper.eps_per, k + (n - 1) * d, row(alpha, first + n - 1, d), d);
    for (int i = 0; i < d; ++i) A[static_cast<size_t>(i) * d + i] += hyper.eps_per;
  }
  return b;
}

// The reverse of precision_block_forward: gA holds the gradient with respect to A_end on entry
// and with respect to A0 on return; d_alpha's rows are read, d_u_scaled's and d_k_hat's added to.
void precision_block_backward(const Hyper& hyper, int d, const PrecisionBlock& b,
                              const ChunkTrace& trace, const std::vector<double>& d_alpha,
                              std::vector<double>& gA, std::vector<double>& d_u_scaled,
                              std::vector<double>& d_k_hat) {
  const int n = b.n;
  const double* u = row(trace.u_scaled, b.first, d);
  const double* k = row(trace.k_hat, b.first, d);
  const double* da = row(d_alpha, b.first, d);
  double* du = row(d_u_scaled, b.first, d);
  double* dk = row(d_k_hat, b.first, d);
  if (b.nudge_at_end) add_scaled(hyper.eps_per, da + (n - 1) * d, dk + (n - 1) * d, d);

  // A_end = A0 - M^T M: dM_j = -(G + G^T) m_j with G the gradient of A_end.
  std::vector<double> dM(static_cast<size_t>(n) * d, 0.0);
  for (int j = 0; j < n; ++j) {
    add_product(-1.0, gA.data(), row(b.M, j, d), row(dM, j, d), d, d);
    add_transposed_product(-1.0, gA.data(), row(b.M, j, d), row(dM, j, d), d, d);
  }
  // alpha_i = A0 k^_i - sum_{j<=i} (m_j.k^_i) m_j.
  for (int i = 0; i < n; ++i) {
    add_outer(1.0, da + i * d, k + i * d, gA.data(), d, d);
    add_transposed_product(1.0, b.A0.data(), da + i * d, dk + i * d, d, d);
    for (int j = 0; j <= i; ++j) {
      const double* m = row(b.M, j, d);
      add_scaled(-dot(da + i * d, m, d), m, dk + i * d, d);
      add_scaled(-dot(k + i * d, m, d), da + i * d, row(dM, j, d), d);
      add_scaled(-dot(da + i * d, m, d), k + i * d, row(dM, j, d), d);
    }
  }
  // L M = W: dW = L^-T dM, dL_ij = -dW_i.m_j (j <= i).
  const std::vector<double> dW_from_M = solve_lower_transposed(b.L, dM, n, d);
  std::vector<double> dW = dW_from_M;
  // L = chol(G) read from G's lower triangle (Murray 2016): with B = L^T dL and C its lower
  // triangle, diagonal halved, X = L^-T C L^-1; then dG_ij = X_ij + X_ji (i > j), dG_ii = X_ii.
  std::vector<double> B(static_cast<size_t>(n) * n, 0.0);
  for (int r = 0; r < n; ++r) {
    for (int c = 0; c <= r; ++c) {
      // B_rc = sum_s L_sr dL_sc over s >= max(r, c) = r, with dL_sc = -dW_s.m_c.
      double sum = 0.0;
      for (int s = r; s < n; ++s) {
        sum += b.L[static_cast<size_t>(s) * n + r] * -dot(row(dW_from_M, s, d), row(b.M, c, d), d);
      }
      B[static_cast<size_t>(r) * n + c] = r == c ? 0.5 * sum : sum;
    }
  }
  const std::vector<double> Y = solve_lower_transposed(b.L, B, n, n);  // L^-T C
  std::vector<double> Yt(static_cast<size_t>(n) * n);
  for (int r = 0; r < n; ++r) {
    for (int c = 0; c < n; ++c)
      Yt[static_cast<size_t>(c) * n + r] = Y[static_cast<size_t>(r) * n + c];
  }
  const std::vector<double> Xt = solve_lower_transposed(b.L, Yt, n, n);  // (L^-T C L^-1)^T
  // G_ij = [i == j] + u~_i.W_j for j <= i.
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j <= i; ++j) {
      const double x_ij = Xt[static_cast<size_t>(j) * n + i],
                   x_ji = Xt[static_cast<size_t>(i) * n + j];
      const double dG = i == j ? x_ij : x_ij + x_ji;
      add_scaled(dG, row(b.W, j, d), du + i * d, d);
      add_scaled(dG, u + i * d, row(dW, j, d), d);
    }
  }
  // W_i = A0 u~_i.
  for (int i = 0; i < n; ++i) {
    add_outer(1.0, row(dW, i, d), u + i * d, gA.data(), d, d);
    add_transposed_product(1.0, b.A0.data(), row(dW, i, d), du + i * d, d, d);
  }
}

}  // namespace

std::vector<std::pair<int, int>> chunk_bounds(int64_t start, int T, int chunk) {
  std::vector<std::pair<int, int>> bounds;
  for (int begin = 0; begin < T;) {
    const int64_t to_boundary = chunk - (start + begin) % chunk;
    const int end = static_cast<int>(std::min<int64_t>(T, begin + to_boundary));
    bounds.emplace_back(begin, end);
    begin = end;
  }
  return bounds;
}

ChunkTrace chunk_forward(const Hyper& hyper, const HeadInputs& head, int64_t start, int begin,
                         int end, HeadState& state, double* o) {
  const int d = head.head_dim, m = end - begin;
  const size_t rows = static_cast<size_t>(m) * d;
  ChunkTrace t;
  t.begin = begin;
  t.end = end;
  t.u_scaled.resize(rows);
  t.k_hat.resize(rows);
  t.k_norm.resize(m);
  const double u_scale = 1.0 / std::sqrt(static_cast<double>(d));
  for (int i = 0; i < m; ++i) {
    for (int c = 0; c < d; ++c)
      t.u_scaled[static_cast<size_t>(i) * d + c] = head.u_row(begin + i)[c] * u_scale;
    t.k_norm[i] = unit_direction(head.k_row(begin + i), d, row(t.k_hat, i, d));
  }

  // The precision path, block by block.
  t.alpha.resize(rows);
  int first = 0;
  for (int i = 0; i < m; ++i) {
    const bool nudge = nudge_after(hyper, start + begin + i);
    if (nudge || i == m - 1) {
      t.blocks.push_back(
          precision_block_forward(hyper, d, first, i + 1 - first, nudge, t, state.A, t.alpha));
      first = i + 1;
    }
  }
  t.a_hat.resize(rows);
  t.alpha_norm.resize(m);
  for (int i = 0; i < m; ++i)
    t.alpha_norm[i] = unit_direction(row(t.alpha, i, d), d, row(t.a_hat, i, d));

  // The memory path in UT form.
  t.S0 = state.S;
  t.z0 = state.z;
  t.E.assign(rows, 0.0);
  for (int i = 0; i < m; ++i) {
    double* e = row(t.E, i, d);
    std::copy(head.v_row(begin + i), head.v_row(begin + i) + d, e);
    add_product(-1.0, t.S0.data(), row(t.k_hat, i, d), e, d, d);
    for (int j = 0; j < i; ++j)
      add_scaled(-dot(row(t.k_hat, i, d), row(t.a_hat, j, d), d), row(t.E, j, d), e, d);
  }
  t.z.resize(rows);
  t.y.assign(rows, 0.0);
  t.denominator.resize(m);
  t.denominator_clamped.resize(m);
  std::vector<double> z = t.z0;
  for (int i = 0; i < m; ++i) {
    const double* q = head.q_row(begin + i);
    add_scaled(1.0, head.k_row(begin + i), z.data(), d);
    std::copy(z.begin(), z.end(), row(t.z, i, d));
    double* y = row(t.y, i, d);
    add_product(1.0, t.S0.data(), q, y, d, d);
    for (int j = 0; j <= i; ++j) add_scaled(dot(q, row(t.a_hat, j, d), d), row(t.E, j, d), y, d);
    const double zq = dot(z.data(), q, d);
    t.denominator_clamped[i] = zq < hyper.eps_den;
    t.denominator[i] = t.denominator_clamped[i] ? hyper.eps_den : zq;
    double* out = o + static_cast<size_t>(begin + i) * d;
    for (int c = 0; c < d; ++c) out[c] = y[c] / t.denominator[i];
  }
  for (int j = 0; j < m; ++j)
    add_outer(1.0, row(t.E, j, d), row(t.a_hat, j, d), state.S.data(), d, d);
  state.z = z;
  return t;
}

void chunk_backward(const Hyper& hyper, const HeadInputs& head, const ChunkTrace& t,
                    const double* d_o, HeadStateGradient& grad, double* dq, double* dk, double* du,
                    double* dv) {
  const int d = head.head_dim, m = t.end - t.begin;
  const size_t rows = static_cast<size_t>(m) * d;
  const auto token_row = [&](double* x, int i) { return x + static_cast<size_t>(t.begin + i) * d; };
  std::vector<double> d_k_hat(rows, 0.0), d_a_hat(rows, 0.0), dE(rows, 0.0);

  // The read-out: o_i = y_i / n_i, n_i = max(z_i.q_i, eps_den), z_i = z0 + sum_{j<=i} k_j.
  std::vector<double> dy(rows);
  for (int i = m - 1; i >= 0; --i) {
    const double* q = head.q_row(t.begin + i);
    const double* g = d_o + static_cast<size_t>(t.begin + i) * d;
    const double n = t.denominator[i];
    for (int c = 0; c < d; ++c) dy[static_cast<size_t>(i) * d + c] = g[c] / n;
    const double dn = t.denominator_clamped[i] ? 0.0 : -dot(g, row(t.y, i, d), d) / (n * n);
    add_scaled(dn, row(t.z, i, d), token_row(dq, i), d);
    add_scaled(dn, q, grad.z.data(), d);
    add_scaled(1.0, grad.z.data(), token_row(dk, i), d);
  }
  // S_end = S0 + E^T A^: the gradient of S_end reaches S0 directly, E and A^ through the sum.
  std::vector<double> gS0 = grad.S;
  for (int j = 0; j < m; ++j) {
    add_product(1.0, grad.S.data(), row(t.a_hat, j, d), row(dE, j, d), d, d);
    add_transposed_product(1.0, grad.S.data(), row(t.E, j, d), row(d_a_hat, j, d), d, d);
  }
  // y_i = S0 q_i + sum_{j<=i} (q_i.a^_j) e_j.
  for (int i = 0; i < m; ++i) {
    const double* q = head.q_row(t.begin + i);
    const double* g = row(dy, i, d);
    add_outer(1.0, g, q, gS0.data(), d, d);
    add_transposed_product(1.0, t.S0.data(), g, token_row(dq, i), d, d);
    for (int j = 0; j <= i; ++j) {
      const double g_dot_e = dot(g, row(t.E, j, d), d);
      add_scaled(g_dot_e, row(t.a_hat, j, d), token_row(dq, i), d);
      add_scaled(g_dot_e, q, row(d_a_hat, j, d), d);
      add_scaled(dot(q, row(t.a_hat, j, d), d), g, row(dE, j, d), d);
    }
  }
  // (I + N) E = R with N_ij = k^_i.a^_j (j < i), R_i = v_i - S0 k^_i: dR = (I + N)^-T dE.
  std::vector<double> dR = dE;
  for (int i = m - 1; i >= 0; --i) {
    for (int j = i + 1; j < m; ++j) {
      add_scaled(-dot(row(t.k_hat, j, d), row(t.a_hat, i, d), d), row(dR, j, d), row(dR, i, d), d);
    }
  }
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < i; ++j) {
      const double dN = -dot(row(dR, i, d), row(t.E, j, d), d);
      add_scaled(dN, row(t.a_hat, j, d), row(d_k_hat, i, d), d);
      add_scaled(dN, row(t.k_hat, i, d), row(d_a_hat, j, d), d);
    }
    add_scaled(1.0, row(dR, i, d), token_row(dv, i), d);
    add_transposed_product(-1.0, t.S0.data(), row(dR, i, d), row(d_k_hat, i, d), d, d);
    add_outer(-1.0, row(dR, i, d), row(t.k_hat, i, d), gS0.data(), d, d);
  }
  grad.S = gS0;

  // a^_i = alpha_i / max(|alpha_i|, 1e-12); then the precision blocks in reverse.
  std::vector<double> d_alpha(rows, 0.0), d_u_scaled(rows, 0.0);
  for (int i = 0; i < m; ++i) {
    unit_direction_backward(row(t.a_hat, i, d), t.alpha_norm[i], row(d_a_hat, i, d), d,
                            row(d_alpha, i, d));
  }
  for (auto b = t.blocks.rbegin(); b != t.blocks.rend(); ++b) {
    precision_block_backward(hyper, d, *b, t, d_alpha, grad.A, d_u_scaled, d_k_hat);
  }
  const double u_scale = 1.0 / std::sqrt(static_cast<double>(d));
  for (int i = 0; i < m; ++i) {
    unit_direction_backward(row(t.k_hat, i, d), t.k_norm[i], row(d_k_hat, i, d), d,
                            token_row(dk, i));
    add_scaled(u_scale, row(d_u_scaled, i, d), token_row(du, i), d);
  }
}

}  // namespace lla::reference::vla
