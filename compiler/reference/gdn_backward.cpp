// The log-linear Gated DeltaNet backward (spec/loglinear.md sections 6.2 and 7.1), one (batch,
// head) at a time, of the loss sum(o * d_o) + sum(S_T * d_final) for
//   o_t = sum_{s<=t} lambda_t^{level(t,s)} q_t^T (A_t ... A_{s+1}) beta_s k_s v_s^T
//         + sum_l lambda_t^{max(l, j_t)} (A_t ... A_0 S0[l])^T q_t     (the initial state)
// with A_r = exp(g_r) (I - beta_r k_r k_r^T). Positions are absolute, as in the forward.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "levels/fenwick_levels.h"
#include "reference/chunk_grid.h"
#include "reference/gdn_chunk.h"
#include "reference/level_scan.h"
#include "reference/recurrence.h"
#include "reference/variant_backwards.h"
#include "reference/vector_ops.h"

namespace lla::reference {
namespace {

using levels::bit_length;

// ---- Materialised: every source carried through the transitions after it --------------------

// Source s: its key beta_s k_s carried through A_{s+1}, A_{s+2}, ... (carried[t - s] after
// A_t), read by every later target t at level(t, s) and, carried to the last token, written
// into the final state's level(F, s). The carried key's gradient runs back through each
// transition to beta_s k_s.
void token_source_backward(const HeadSlice& head, int64_t start, int s,
                           const HeadOutputGradients& out, HeadGradients& grad) {
  const int T = head.seq_len, K = head.key_dim, V = head.value_dim;
  const size_t level_size = static_cast<size_t>(K) * V;
  const int64_t last = start + T - 1;
  std::vector<double> carried(static_cast<size_t>(T - s) * K, 0.0);
  const auto key_at = [&](int t) { return &carried[static_cast<size_t>(t - s) * K]; };
  add_scaled(head.beta[s], head.k_row(s), key_at(s), K);
  for (int t = s + 1; t < T; ++t) {
    std::copy(key_at(t - 1), key_at(t - 1) + K, key_at(t));
    apply_transition(head.g[t], head.beta[t], head.k_row(t), key_at(t), K, 1);
  }
  std::vector<double> d_key(K, 0.0);
  if (out.d_final) {
    const double* d_S = out.d_final + levels::level(last, start + s) * level_size;
    add_product(1.0, d_S, head.v_row(s), d_key.data(), K, V);
    add_transposed_product(1.0, d_S, key_at(T - 1), grad.dv_row(s), K, V);
  }
  for (int t = T - 1; t >= s; --t) {
    const int ell = levels::level(start + t, start + s);
    const double lambda = head.lambda_at(t, ell);
    const double* d_o_t = out.d_o + static_cast<size_t>(t) * V;
    const double q_key = dot(head.q_row(t), key_at(t), K);
    const double d_score = dot(d_o_t, head.v_row(s), V);
    add_scaled(lambda * d_score, key_at(t), grad.dq_row(t), K);
    add_scaled(lambda * d_score, head.q_row(t), d_key.data(), K);
    add_scaled(lambda * q_key, d_o_t, grad.dv_row(s), V);
    grad.dlambda_at(t, ell) += q_key * d_score;
    if (t > s) {
      transition_backward(head.g[t], head.beta[t], head.k_row(t), key_at(t - 1), key_at(t),
                          d_key.data(), K, 1, grad.dg[t], &grad.dbeta[t], grad.dk_row(t));
    }
  }
  grad.dbeta[s] += dot(head.k_row(s), d_key.data(), K);
  add_scaled(head.beta[s], d_key.data(), grad.dk_row(s), K);
}

// Level ell of the initial state: carried through A_0, A_1, ... (carried[t + 1] after A_t),
// read by every target t at level max(ell, j_t) and written into the final state's level
// max(ell, j_F).
void initial_level_backward(const HeadSlice& head, const HeadPrefix& prefix, int ell,
                            const HeadOutputGradients& out, HeadGradients& grad) {
  const int T = head.seq_len, K = head.key_dim, V = head.value_dim;
  const size_t level_size = static_cast<size_t>(K) * V;
  const int64_t last_prefix_token = prefix.position - 1;
  const auto joint_level = [&](int64_t position) {
    return std::max(ell, bit_length(static_cast<uint64_t>(position ^ last_prefix_token)));
  };
  std::vector<double> carried((T + 1) * level_size);
  const auto state_after = [&](int t) { return &carried[(t + 1) * level_size]; };
  std::copy(prefix.levels + ell * level_size, prefix.levels + (ell + 1) * level_size,
            carried.begin());
  for (int t = 0; t < T; ++t) {
    std::copy(state_after(t - 1), state_after(t - 1) + level_size, state_after(t));
    apply_transition(head.g[t], head.beta[t], head.k_row(t), state_after(t), K, V);
  }
  std::vector<double> d_S(level_size, 0.0), S_d_o(K);
  if (out.d_final) {
    const double* d_final = out.d_final + joint_level(prefix.position + T - 1) * level_size;
    std::copy(d_final, d_final + level_size, d_S.begin());
  }
  for (int t = T - 1; t >= 0; --t) {
    const int read_level = joint_level(prefix.position + t);
    const double lambda = head.lambda_at(t, read_level);
    const double* d_o_t = out.d_o + static_cast<size_t>(t) * V;
    std::fill(S_d_o.begin(), S_d_o.end(), 0.0);
    add_product(1.0, state_after(t), d_o_t, S_d_o.data(), K, V);
    add_scaled(lambda, S_d_o.data(), grad.dq_row(t), K);
    grad.dlambda_at(t, read_level) += dot(head.q_row(t), S_d_o.data(), K);
    add_outer(lambda, head.q_row(t), d_o_t, d_S.data(), K, V);
    transition_backward(head.g[t], head.beta[t], head.k_row(t), state_after(t - 1),
                        state_after(t), d_S.data(), K, V, grad.dg[t], &grad.dbeta[t],
                        grad.dk_row(t));
  }
  add_scaled(1.0, d_S.data(), grad.d_initial_level(ell), static_cast<int>(level_size));
}

void materialized(const HeadSlice& head, const HeadPrefix* prefix, const HeadOutputGradients& out,
                  HeadGradients& grad) {
  const int64_t start = prefix ? prefix->position : 0;
  for (int s = 0; s < head.seq_len; ++s) token_source_backward(head, start, s, out, grad);
  if (!prefix) return;
  for (int ell = 0; ell < head.levels; ++ell) {
    if (levels::level_occupied(start - 1, ell)) initial_level_backward(head, *prefix, ell, out, grad);
  }
}

// ---- Chunkwise (spec 6.2, with the states of 7.1 B) -------------------------------------------

// Gradients with respect to one chunk's inputs of the level scans and of the final state,
// collected over every level before the chunk's own chain rule runs.
struct ChunkAdjoints {
  std::vector<double> d_q_new, d_k_new, d_w_new, d_end_keys;  // [n,K]
  std::vector<double> d_u;                                    // [n,V]

  ChunkAdjoints(int n, int K, int V)
      : d_q_new(n * K, 0.0), d_k_new(n * K, 0.0), d_w_new(n * K, 0.0), d_end_keys(n * K, 0.0),
        d_u(n * V, 0.0) {}
};

struct ChunkPass {
  const HeadSlice& head;
  const ChunkGrid& grid;
  const HeadPrefix* prefix;
  const HeadOutputGradients& out;
  std::vector<DeltaChunk> chunks;
  std::vector<ChunkAdjoints> adjoints;
  std::vector<double> dG;  // gradients with respect to the chunk-local cumulative sums of g

  const DeltaChunk& chunk(int64_t c) const { return chunks[c - grid.first()]; }
  ChunkAdjoints& adjoint(int64_t c) { return adjoints[c - grid.first()]; }
};

// One chunk level e (token level m = log2 C + 1 + e), as for Mamba-2: the forward scan again,
// then the reverse scan of D, the gradient with respect to the state after each chunk. A
// chunk that is not reset carries the state, h' = exp(decay) H + k_new^T v_new with
// v_new = [write] u - w_new H; a read chunk adds lambda^m H^T q_new_i to o_i.
void level_backward(ChunkPass& pass, int e, HeadGradients& grad) {
  const HeadSlice& head = pass.head;
  const ChunkGrid& grid = pass.grid;
  const int K = head.key_dim, V = head.value_dim;
  const int level_size = K * V;
  const int token_level = grid.log2_chunk + 1 + e;
  LevelScan scan(grid, e, pass.prefix, head.levels, level_size);
  scan.run_forward([&](int64_t c, double* h) {
    const DeltaChunk& chunk = pass.chunk(c);
    carry_through(chunk, h, K, V);
    if (ChunkGrid::reads(c, e)) return;
    for (int i = 0; i < chunk.size(); ++i) {
      add_outer(1.0, &chunk.k_new[i * K], &chunk.u[i * V], h, K, V);
    }
  });

  std::vector<double> D = scan.final_seed(pass.out.d_final), d_entering(level_size);
  std::vector<double> H_d_o(K), v_new(V), d_v_new(V);
  for (int64_t c = grid.last(); c >= grid.first(); --c) {
    const double* H = scan.entering(c);
    const DeltaChunk& chunk = pass.chunk(c);
    ChunkAdjoints& adjoint = pass.adjoint(c);
    const bool reads = ChunkGrid::reads(c, e);
    std::fill(d_entering.begin(), d_entering.end(), 0.0);
    if (reads) {
      for (int i = 0; i < chunk.size(); ++i) {
        const int t = chunk.begin + i;
        const double lambda = head.lambda_at(t, token_level);
        const double* d_o_t = pass.out.d_o + static_cast<size_t>(t) * V;
        std::fill(H_d_o.begin(), H_d_o.end(), 0.0);
        add_product(1.0, H, d_o_t, H_d_o.data(), K, V);
        add_scaled(lambda, H_d_o.data(), &adjoint.d_q_new[i * K], K);
        grad.dlambda_at(t, token_level) += dot(&chunk.q_new[i * K], H_d_o.data(), K);
        add_outer(lambda, &chunk.q_new[i * K], d_o_t, d_entering.data(), K, V);
      }
    }
    if (!grid.resets_after(c, e)) {
      for (int i = 0; i < chunk.size(); ++i) {
        const double* w_new = &chunk.w_new[i * K];
        const double* k_new = &chunk.k_new[i * K];
        if (reads) {
          std::fill(v_new.begin(), v_new.end(), 0.0);
        } else {
          std::copy(&chunk.u[i * V], &chunk.u[(i + 1) * V], v_new.begin());
        }
        add_transposed_product(-1.0, H, w_new, v_new.data(), K, V);
        std::fill(d_v_new.begin(), d_v_new.end(), 0.0);
        add_transposed_product(1.0, D.data(), k_new, d_v_new.data(), K, V);
        add_product(1.0, D.data(), v_new.data(), &adjoint.d_k_new[i * K], K, V);
        if (!reads) add_scaled(1.0, d_v_new.data(), &adjoint.d_u[i * V], V);
        add_product(-1.0, H, d_v_new.data(), &adjoint.d_w_new[i * K], K, V);
        add_outer(-1.0, w_new, d_v_new.data(), d_entering.data(), K, V);
      }
      const double decay = std::exp(chunk.decay);
      pass.dG[chunk.end - 1] += decay * dot(H, D.data(), level_size);
      add_scaled(decay, D.data(), d_entering.data(), level_size);
    }
    D.swap(d_entering);
  }
  if (pass.prefix) scan.add_start_gradient(D, grad.d_initial.data());
}

// The final state's levels 0..log2 C hold the last chunk's tokens: S_T[level(F, j)] +=
// end_keys_j beta_j v_j^T (spec 7.1 B, backward step 6).
void last_chunk_levels_backward(ChunkPass& pass, HeadGradients& grad) {
  const HeadSlice& head = pass.head;
  const int K = head.key_dim, V = head.value_dim;
  const size_t level_size = static_cast<size_t>(K) * V;
  const int64_t last = pass.grid.start + pass.grid.T - 1;
  const DeltaChunk& chunk = pass.chunk(pass.grid.last());
  ChunkAdjoints& adjoint = pass.adjoint(pass.grid.last());
  std::vector<double> d_S_v(K);
  for (int j = 0; j < chunk.size(); ++j) {
    const int t = chunk.begin + j;
    const double* d_S = pass.out.d_final + levels::level(last, pass.grid.start + t) * level_size;
    const double* end_key = &chunk.end_keys[j * K];
    std::fill(d_S_v.begin(), d_S_v.end(), 0.0);
    add_product(1.0, d_S, head.v_row(t), d_S_v.data(), K, V);
    add_scaled(head.beta[t], d_S_v.data(), &adjoint.d_end_keys[j * K], K);
    add_transposed_product(head.beta[t], d_S, end_key, grad.dv_row(t), K, V);
    grad.dbeta[t] += dot(end_key, d_S_v.data(), K);
  }
}

// -A^T dA A^T restricted to the strictly lower triangle: the gradient with respect to N of
// A = (I + N)^-1, N strictly lower triangular, n x n.
std::vector<double> inverse_backward(const std::vector<double>& A, const std::vector<double>& dA,
                                     int n) {
  std::vector<double> dA_At(n * n, 0.0), dN(n * n, 0.0);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) dA_At[i * n + j] = dot(&dA[i * n], &A[j * n], n);
  }
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < i; ++j) {
      double sum = 0.0;
      for (int m = 0; m < n; ++m) sum += A[m * n + i] * dA_At[m * n + j];
      dN[i * n + j] = -sum;
    }
  }
  return dN;
}

// The chain rule inside one chunk (spec 6.2): from the adjoints of q_new, k_new, w_new, u and
// end_keys, and d_o through the intra-chunk scores, back to q, k, v, beta, lambda and the
// chunk-local cumulative sums of g.
void chunk_backward(ChunkPass& pass, int64_t c, HeadGradients& grad) {
  const HeadSlice& head = pass.head;
  const DeltaChunk& ch = pass.chunk(c);
  ChunkAdjoints& adj = pass.adjoint(c);
  std::vector<double>& dG = pass.dG;
  const int n = ch.size(), K = head.key_dim, V = head.value_dim;
  const auto t = [&](int i) { return ch.begin + i; };
  const auto at = [n](const std::vector<double>& m, int i, int j) { return m[i * n + j]; };
  const int last = t(n - 1);
  std::vector<double> dA_w(n * n, 0.0), dA_u(n * n, 0.0), d_qk(n * n, 0.0), dX(n * n, 0.0);

  // end_keys_j = sum_{i >= j} A_u_ij k_new_i.
  for (int j = 0; j < n; ++j) {
    for (int i = j; i < n; ++i) {
      add_scaled(at(ch.A_u, i, j), &adj.d_end_keys[j * K], &adj.d_k_new[i * K], K);
      dA_u[i * n + j] += dot(&ch.k_new[i * K], &adj.d_end_keys[j * K], K);
    }
  }
  // k_new_i = exp(decay - Gc_i) k_i.
  for (int i = 0; i < n; ++i) {
    add_scaled(std::exp(ch.decay - ch.Gc[i]), &adj.d_k_new[i * K], grad.dk_row(t(i)), K);
    const double r = dot(&ch.k_new[i * K], &adj.d_k_new[i * K], K);
    dG[t(i)] -= r;
    dG[last] += r;
  }
  // q_new_i = exp(Gc_i) q_i - sum_{j <= i} M_ij w_new_j, M = qk o Gamma.
  for (int i = 0; i < n; ++i) {
    const double* d_q_new = &adj.d_q_new[i * K];
    const double decay = std::exp(ch.Gc[i]);
    add_scaled(decay, d_q_new, grad.dq_row(t(i)), K);
    dG[t(i)] += decay * dot(head.q_row(t(i)), d_q_new, K);
    for (int j = 0; j <= i; ++j) {
      const double M = at(ch.qk, i, j) * at(ch.gamma, i, j);
      const double dM = -dot(d_q_new, &ch.w_new[j * K], K);
      add_scaled(-M, d_q_new, &adj.d_w_new[j * K], K);
      d_qk[i * n + j] += dM * at(ch.gamma, i, j);
      dG[t(i)] += dM * M;
      dG[t(j)] -= dM * M;
    }
  }
  // w_new_i = exp(Gc_i) w_i.
  std::vector<double> dw(n * K, 0.0);
  for (int i = 0; i < n; ++i) {
    add_scaled(std::exp(ch.Gc[i]), &adj.d_w_new[i * K], &dw[i * K], K);
    dG[t(i)] += dot(&ch.w_new[i * K], &adj.d_w_new[i * K], K);
  }
  // Intra: o_i += sum_{j <= i} score_ij v_j, score_ij = X_ij Gamma_ij beta_j lambda_i^level.
  for (int i = 0; i < n; ++i) {
    const double* d_o_i = pass.out.d_o + static_cast<size_t>(t(i)) * V;
    for (int j = 0; j <= i; ++j) {
      const int ell = levels::level(pass.grid.start + t(i), pass.grid.start + t(j));
      const double d_score = dot(d_o_i, head.v_row(t(j)), V);
      const double score = at(ch.score, i, j);
      add_scaled(score, d_o_i, grad.dv_row(t(j)), V);
      const double d_X_beta = d_score * at(ch.gamma, i, j) * head.lambda_at(t(i), ell);
      grad.dbeta[t(j)] += d_X_beta * at(ch.x, i, j);
      dX[i * n + j] = d_X_beta * head.beta[t(j)];
      grad.dlambda_at(t(i), ell) +=
          d_score * at(ch.x, i, j) * at(ch.gamma, i, j) * head.beta[t(j)];
      dG[t(i)] += d_score * score;
      dG[t(j)] -= d_score * score;
    }
  }
  // X_ij = sum_{m = j..i} qk_im A_w_mj.
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j <= i; ++j) {
      for (int m = j; m <= i; ++m) {
        d_qk[i * n + m] += dX[i * n + j] * at(ch.A_w, m, j);
        dA_w[m * n + j] += at(ch.qk, i, m) * dX[i * n + j];
      }
    }
  }
  // qk_ij = q_i . k_j.
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j <= i; ++j) {
      add_scaled(d_qk[i * n + j], head.k_row(t(j)), grad.dq_row(t(i)), K);
      add_scaled(d_qk[i * n + j], head.q_row(t(i)), grad.dk_row(t(j)), K);
    }
  }
  // w_i = sum_{j <= i} A_w_ij beta_j k_j and u_i = sum_{j <= i} A_u_ij beta_j v_j.
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j <= i; ++j) {
      const double beta = head.beta[t(j)];
      const double dw_k = dot(&dw[i * K], head.k_row(t(j)), K);
      const double du_v = dot(&adj.d_u[i * V], head.v_row(t(j)), V);
      dA_w[i * n + j] += beta * dw_k;
      dA_u[i * n + j] += beta * du_v;
      add_scaled(beta * at(ch.A_w, i, j), &dw[i * K], grad.dk_row(t(j)), K);
      add_scaled(beta * at(ch.A_u, i, j), &adj.d_u[i * V], grad.dv_row(t(j)), V);
      grad.dbeta[t(j)] += at(ch.A_w, i, j) * dw_k + at(ch.A_u, i, j) * du_v;
    }
  }
  // A_w = (I + A_raw)^-1 and A_u = (I + A_raw o Gamma)^-1.
  std::vector<double> dA_raw = inverse_backward(ch.A_w, dA_w, n);
  const std::vector<double> dA_gated = inverse_backward(ch.A_u, dA_u, n);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < i; ++j) {
      dA_raw[i * n + j] += dA_gated[i * n + j] * at(ch.gamma, i, j);
      const double z = dA_gated[i * n + j] * at(ch.A_raw, i, j) * at(ch.gamma, i, j);
      dG[t(i)] += z;
      dG[t(j)] -= z;
    }
  }
  // A_raw_ij = beta_i k_i . k_j for i > j.
  for (int i = 0; i < n; ++i) {
    const double beta = head.beta[t(i)];
    for (int j = 0; j < i; ++j) {
      const double d = dA_raw[i * n + j];
      grad.dbeta[t(i)] += d * dot(head.k_row(t(i)), head.k_row(t(j)), K);
      add_scaled(d * beta, head.k_row(t(j)), grad.dk_row(t(i)), K);
      add_scaled(d * beta, head.k_row(t(i)), grad.dk_row(t(j)), K);
    }
  }
}

}  // namespace

void gdn_materialized_backward(const HeadSlice& head, const HeadPrefix* prefix,
                               const HeadOutputGradients& out, HeadGradients& grad) {
  materialized(head, prefix, out, grad);
}

void gdn_chunkwise_backward(const HeadSlice& head, int chunk, const HeadPrefix* prefix,
                            const HeadOutputGradients& out, HeadGradients& grad) {
  const int T = head.seq_len, K = head.key_dim, V = head.value_dim;
  const ChunkGrid grid{prefix ? prefix->position : 0,
                       __builtin_ctz(static_cast<unsigned>(chunk)), T};
  ChunkPass pass{head, grid, prefix, out, {}, {}, std::vector<double>(T, 0.0)};
  for (int64_t c = grid.first(); c <= grid.last(); ++c) {
    pass.chunks.push_back(prepare_chunk(head, grid, c));
    pass.adjoints.emplace_back(pass.chunks.back().size(), K, V);
  }
  const int chunk_levels = bit_length(static_cast<uint64_t>(grid.last()));
  for (int e = 0; e < chunk_levels; ++e) level_backward(pass, e, grad);
  if (out.d_final) last_chunk_levels_backward(pass, grad);
  for (int64_t c = grid.first(); c <= grid.last(); ++c) {
    chunk_backward(pass, c, grad);
    add_reverse_cumsum(pass.dG, grid.begin(c), grid.end(c), grad.dg);
  }
  if (prefix) zero_empty_levels(prefix->position, grad);
}

}  // namespace lla::reference
