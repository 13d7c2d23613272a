// The log-linear Mamba-2 backward (spec/loglinear.md sections 6.1 and 7.1), one (batch, head)
// at a time, of the loss sum(o * d_o) + sum(S_T * d_final) for
//   o_t = sum_{s<=t} lambda_t^{level(t,s)} exp(G_t - G_s) (q_t . k_s) v_s
//         + sum_l lambda_t^{max(l, j_t)} exp(G_t) S0[l]^T q_t     (the initial state, spec 7)
// Every exponent is a difference of inclusive cumulative sums of g; the passes first collect the
// gradient with respect to those sums (dG) and turn it into dg by reverse cumulative sums.
// Positions are absolute, as in the forward.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "levels/fenwick_levels.h"
#include "reference/chunk_grid.h"
#include "reference/level_scan.h"
#include "reference/variant_backwards.h"
#include "reference/vector_ops.h"

namespace lla::reference {
namespace {

using levels::bit_length;

// Target t against source s at level ell: o_t += lambda_t^ell decay (q_t . k_s) v_s, with
// decay = exp(G_t - G_s).
void pair_backward(const HeadSlice& head, int t, int s, int ell, double decay, const double* d_o,
                   HeadGradients& grad, std::vector<double>& dG) {
  const int K = head.key_dim, V = head.value_dim;
  const double* d_o_t = d_o + static_cast<size_t>(t) * V;
  const double weight = head.lambda_at(t, ell) * decay;
  const double qk = dot(head.q_row(t), head.k_row(s), K);
  const double d_score = dot(d_o_t, head.v_row(s), V);
  add_scaled(weight * d_score, head.k_row(s), grad.dq_row(t), K);
  add_scaled(weight * d_score, head.q_row(t), grad.dk_row(s), K);
  add_scaled(weight * qk, d_o_t, grad.dv_row(s), V);
  grad.dlambda_at(t, ell) += decay * qk * d_score;
  const double d_exponent = weight * qk * d_score;
  dG[t] += d_exponent;
  dG[s] -= d_exponent;
}

// Target t reading a state S [K,V]: o_t += lambda_t^ell decay S^T q_t, with decay =
// exp(G_t - G at the state); adds lambda_t^ell decay q_t d_o_t^T to d_S (nullable).
void state_read_backward(const HeadSlice& head, int t, int ell, double decay, const double* S,
                         const double* d_o, HeadGradients& grad, std::vector<double>& dG,
                         double* d_S) {
  const int K = head.key_dim, V = head.value_dim;
  const double* d_o_t = d_o + static_cast<size_t>(t) * V;
  std::vector<double> S_d_o(K, 0.0);
  add_product(1.0, S, d_o_t, S_d_o.data(), K, V);
  const double weight = head.lambda_at(t, ell) * decay;
  const double read = dot(head.q_row(t), S_d_o.data(), K);
  add_scaled(weight, S_d_o.data(), grad.dq_row(t), K);
  grad.dlambda_at(t, ell) += decay * read;
  dG[t] += weight * read;
  if (d_S) add_outer(weight, head.q_row(t), d_o_t, d_S, K, V);
}

// Source s written into a state taken at token `at`: S += decay k_s v_s^T, with decay =
// exp(G_at - G_s); d_S is the gradient with respect to that state.
void written_source_backward(const HeadSlice& head, int s, int at, double decay,
                             const double* d_S, HeadGradients& grad, std::vector<double>& dG) {
  const int K = head.key_dim, V = head.value_dim;
  std::vector<double> d_S_v(K, 0.0);
  add_product(1.0, d_S, head.v_row(s), d_S_v.data(), K, V);
  add_scaled(decay, d_S_v.data(), grad.dk_row(s), K);
  add_transposed_product(decay, d_S, head.k_row(s), grad.dv_row(s), K, V);
  const double d_exponent = decay * dot(head.k_row(s), d_S_v.data(), K);
  dG[at] += d_exponent;
  dG[s] -= d_exponent;
}

// Inclusive cumulative sums of g over [begin, end), restarting at begin.
void cumulative_sums(const HeadSlice& head, int begin, int end, std::vector<double>& G) {
  double running = 0.0;
  for (int t = begin; t < end; ++t) G[t] = running += head.g[t];
}

// ---- Materialised: every pair, every initial-state level and every final-state source ---------

// The closed forms: pairs as above; the initial state's level l reaches target t at level
// max(l, j_t) (j_t = bit_length(t XOR (P-1))) decayed by exp(G_t), and the final state's level
// max(l, j_F) decayed by exp(G_F); source s reaches the final state's level(F, s).
void materialized(const HeadSlice& head, const HeadPrefix* prefix, const HeadOutputGradients& out,
                  HeadGradients& grad) {
  const int T = head.seq_len, L = head.levels;
  const size_t level_size = static_cast<size_t>(head.key_dim) * head.value_dim;
  const int64_t start = prefix ? prefix->position : 0;
  const int64_t last = start + T - 1;
  std::vector<double> G(T), dG(T, 0.0);
  cumulative_sums(head, 0, T, G);
  for (int t = 0; t < T; ++t) {
    for (int s = 0; s <= t; ++s) {
      pair_backward(head, t, s, levels::level(start + t, start + s), std::exp(G[t] - G[s]),
                    out.d_o, grad, dG);
    }
  }
  if (out.d_final) {
    for (int s = 0; s < T; ++s) {
      const int ell = levels::level(last, start + s);
      written_source_backward(head, s, T - 1, std::exp(G[T - 1] - G[s]),
                              out.d_final + ell * level_size, grad, dG);
    }
  }
  if (prefix) {
    const int64_t last_prefix_token = start - 1;
    for (int ell = 0; ell < L; ++ell) {
      if (!levels::level_occupied(last_prefix_token, ell)) continue;
      const double* S0 = prefix->levels + ell * level_size;
      for (int t = 0; t < T; ++t) {
        const int j = bit_length(static_cast<uint64_t>((start + t) ^ last_prefix_token));
        state_read_backward(head, t, std::max(ell, j), std::exp(G[t]), S0, out.d_o, grad, dG,
                            grad.d_initial_level(ell));
      }
      if (out.d_final) {
        const int j = bit_length(static_cast<uint64_t>(last ^ last_prefix_token));
        const double* d_S = out.d_final + std::max(ell, j) * level_size;
        const double decay = std::exp(G[T - 1]);
        add_scaled(decay, d_S, grad.d_initial_level(ell), static_cast<int>(level_size));
        dG[T - 1] += decay * dot(S0, d_S, static_cast<int>(level_size));
      }
    }
  }
  add_reverse_cumsum(dG, 0, T, grad.dg);
}

// ---- Chunkwise (spec 6.1, with the states of 7.1 B) -------------------------------------------

struct ChunkPass {
  const HeadSlice& head;
  const ChunkGrid& grid;
  const HeadPrefix* prefix;
  const HeadOutputGradients& out;
  std::vector<double> Gc;  // chunk-local inclusive cumulative sums of g
  std::vector<double> dG;  // gradients with respect to Gc
};

// Pairs within a chunk, all levels 0..log2 C.
void intra_chunk_backward(ChunkPass& pass, HeadGradients& grad) {
  const ChunkGrid& grid = pass.grid;
  for (int64_t c = grid.first(); c <= grid.last(); ++c) {
    for (int i = grid.begin(c); i < grid.end(c); ++i) {
      for (int j = grid.begin(c); j <= i; ++j) {
        pair_backward(pass.head, i, j, levels::level(grid.start + i, grid.start + j),
                      std::exp(pass.Gc[i] - pass.Gc[j]), pass.out.d_o, grad, pass.dG);
      }
    }
  }
}

// One chunk level e (token level m = log2 C + 1 + e): the forward scan again, from the initial
// state's levels, keeping the state entering every chunk; then the reverse scan with D, the
// gradient with respect to the state after the chunk, seeded with d_final's level m when the
// last chunk reads (its state after it is that level). D after the first chunk is the gradient
// with respect to the scan's start, which the initial state's levels it summed receive.
void level_backward(ChunkPass& pass, int e, HeadGradients& grad) {
  const HeadSlice& head = pass.head;
  const ChunkGrid& grid = pass.grid;
  const int K = head.key_dim, V = head.value_dim;
  const int level_size = K * V;
  LevelScan scan(grid, e, pass.prefix, head.levels, level_size);
  const auto chunk_decay = [&](int64_t c) { return pass.Gc[grid.end(c) - 1]; };
  scan.run_forward([&](int64_t c, double* h) {
    scale_in_place(std::exp(chunk_decay(c)), h, level_size);
    if (ChunkGrid::reads(c, e)) return;
    for (int j = grid.begin(c); j < grid.end(c); ++j) {
      add_outer(std::exp(chunk_decay(c) - pass.Gc[j]), head.k_row(j), head.v_row(j), h, K, V);
    }
  });

  std::vector<double> D = scan.final_seed(pass.out.d_final), d_entering(level_size);
  for (int64_t c = grid.last(); c >= grid.first(); --c) {
    const double* H = scan.entering(c);
    const int last_token = grid.end(c) - 1;
    if (!ChunkGrid::reads(c, e)) {
      for (int j = grid.begin(c); j < grid.end(c); ++j) {
        written_source_backward(head, j, last_token, std::exp(chunk_decay(c) - pass.Gc[j]),
                                D.data(), grad, pass.dG);
      }
    }
    std::fill(d_entering.begin(), d_entering.end(), 0.0);
    if (!grid.resets_after(c, e)) {
      const double decay = std::exp(chunk_decay(c));
      pass.dG[last_token] += decay * dot(H, D.data(), level_size);
      add_scaled(decay, D.data(), d_entering.data(), level_size);
    }
    if (ChunkGrid::reads(c, e)) {
      for (int i = grid.begin(c); i < grid.end(c); ++i) {
        state_read_backward(head, i, scan.token_level(), std::exp(pass.Gc[i]), H, pass.out.d_o,
                            grad, pass.dG, d_entering.data());
      }
    }
    D.swap(d_entering);
  }
  if (pass.prefix) scan.add_start_gradient(D, grad.d_initial.data());
}

// The final state's levels 0..log2 C hold the last chunk's own tokens (all of the call's, as it
// starts on the grid), each at its level relative to the last token.
void last_chunk_levels_backward(ChunkPass& pass, HeadGradients& grad) {
  const ChunkGrid& grid = pass.grid;
  const size_t level_size = static_cast<size_t>(pass.head.key_dim) * pass.head.value_dim;
  const int64_t last = grid.start + grid.T - 1;
  const int last_token = grid.T - 1;
  for (int j = grid.begin(grid.last()); j < grid.T; ++j) {
    const int ell = levels::level(last, grid.start + j);
    written_source_backward(pass.head, j, last_token, std::exp(pass.Gc[last_token] - pass.Gc[j]),
                            pass.out.d_final + ell * level_size, grad, pass.dG);
  }
}

}  // namespace

void mamba2_materialized_backward(const HeadSlice& head, const HeadPrefix* prefix,
                                  const HeadOutputGradients& out, HeadGradients& grad) {
  materialized(head, prefix, out, grad);
}

void mamba2_chunkwise_backward(const HeadSlice& head, int chunk, const HeadPrefix* prefix,
                               const HeadOutputGradients& out, HeadGradients& grad) {
  const int T = head.seq_len;
  const ChunkGrid grid{prefix ? prefix->position : 0,
                       __builtin_ctz(static_cast<unsigned>(chunk)), T};
  ChunkPass pass{head, grid, prefix, out, std::vector<double>(T), std::vector<double>(T, 0.0)};
  for (int64_t c = grid.first(); c <= grid.last(); ++c) {
    cumulative_sums(head, grid.begin(c), grid.end(c), pass.Gc);
  }
  intra_chunk_backward(pass, grad);
  const int chunk_levels = bit_length(static_cast<uint64_t>(grid.last()));
  for (int e = 0; e < chunk_levels; ++e) level_backward(pass, e, grad);
  if (out.d_final) last_chunk_levels_backward(pass, grad);
  for (int64_t c = grid.first(); c <= grid.last(); ++c) {
    add_reverse_cumsum(pass.dG, grid.begin(c), grid.end(c), grad.dg);
  }
  if (prefix) zero_empty_levels(prefix->position, grad);
}

}  // namespace lla::reference
