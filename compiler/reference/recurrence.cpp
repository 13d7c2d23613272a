#include "reference/recurrence.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "levels/fenwick_levels.h"
#include "reference/fenwick_merge.h"
#include "reference/vector_ops.h"

namespace lla::reference {
namespace {

// beta_t of the transition: 0 without the delta rule, where the transition is exp(g_t) alone.
double transition_beta(const HeadSlice& head, int t, bool delta_rule) {
  return delta_rule ? head.beta[t] : 0.0;
}

// The weight of token t's write: beta_t with the delta rule, 1 without.
double write_weight(const HeadSlice& head, int t, bool delta_rule) {
  return delta_rule ? head.beta[t] : 1.0;
}

// Token t at absolute `position`: merge (position >= 1), transition every level, write level 0.
// after_merge (nullable) receives the levels between the merge and the transition.
void advance(const HeadSlice& head, int t, int64_t position, bool delta_rule, double* state,
             double* after_merge) {
  const int K = head.key_dim, V = head.value_dim, L = head.levels;
  const size_t level_size = static_cast<size_t>(K) * V;
  if (position >= 1) merge_before_token(position, state, K * V);
  if (after_merge) std::copy(state, state + L * level_size, after_merge);
  for (int ell = 0; ell < L; ++ell) {
    apply_transition(head.g[t], transition_beta(head, t, delta_rule), head.k_row(t),
                     state + ell * level_size, K, V);
  }
  std::fill(state, state + level_size, 0.0);
  add_outer(write_weight(head, t, delta_rule), head.k_row(t), head.v_row(t), state, K, V);
}

}  // namespace

void apply_transition(double g, double beta, const double* k, double* S, int K, int columns) {
  if (beta != 0.0) {
    std::vector<double> k_dot_S(columns, 0.0);
    for (int a = 0; a < K; ++a) add_scaled(k[a], S + a * columns, k_dot_S.data(), columns);
    for (int a = 0; a < K; ++a) add_scaled(-beta * k[a], k_dot_S.data(), S + a * columns, columns);
  }
  scale_in_place(std::exp(g), S, K * columns);
}

// after = alpha (before - beta k (k^T before)), alpha = exp(g). With D the gradient with respect
// to after, a = k^T D and s = k^T before (rows of `columns` values):
//   dg += <after, D>;  dbeta -= alpha (a . s);  dk -= alpha beta (D s + before a);
//   d(before) = alpha (D - beta k a^T)   (I - beta k k^T is symmetric).
void transition_backward(double g, double beta, const double* k, const double* before,
                         const double* after, double* d_S, int K, int columns, double& dg,
                         double* dbeta, double* dk) {
  const double alpha = std::exp(g);
  dg += dot(after, d_S, K * columns);
  if (beta != 0.0 || dbeta != nullptr) {
    std::vector<double> a(columns, 0.0), s(columns, 0.0);
    for (int r = 0; r < K; ++r) {
      add_scaled(k[r], d_S + r * columns, a.data(), columns);
      add_scaled(k[r], before + r * columns, s.data(), columns);
    }
    if (dbeta) *dbeta -= alpha * dot(a.data(), s.data(), columns);
    for (int r = 0; r < K; ++r) {
      dk[r] -= alpha * beta *
               (dot(d_S + r * columns, s.data(), columns) + dot(before + r * columns, a.data(), columns));
      add_scaled(-beta * k[r], a.data(), d_S + r * columns, columns);
    }
  }
  scale_in_place(alpha, d_S, K * columns);
}

void recurrent_forward(const HeadSlice& head, const HeadPrefix* prefix, bool delta_rule,
                       double* o, double* final_levels) {
  const int T = head.seq_len, K = head.key_dim, V = head.value_dim, L = head.levels;
  const size_t level_size = static_cast<size_t>(K) * V;
  std::vector<double> state(L * level_size, 0.0);
  const int64_t start = prefix ? prefix->position : 0;
  if (prefix) std::copy(prefix->levels, prefix->levels + state.size(), state.begin());
  for (int t = 0; t < T; ++t) {
    advance(head, t, start + t, delta_rule, state.data(), nullptr);
    for (int ell = 0; ell < L; ++ell) {
      add_transposed_product(head.lambda_at(t, ell), &state[ell * level_size], head.q_row(t),
                             o + static_cast<size_t>(t) * V, K, V);
    }
  }
  if (final_levels) std::copy(state.begin(), state.end(), final_levels);
}

void recurrent_backward(const HeadSlice& head, const HeadPrefix* prefix, bool delta_rule,
                        const HeadOutputGradients& out, HeadGradients& grad) {
  const int T = head.seq_len, K = head.key_dim, V = head.value_dim, L = head.levels;
  const size_t level_size = static_cast<size_t>(K) * V;
  const size_t state_size = L * level_size;
  const int64_t start = prefix ? prefix->position : 0;
  const int64_t last = start + T - 1;

  // Forward, keeping every token's levels after the merge and after the write.
  std::vector<double> after_merge(T * state_size), after_write(T * state_size);
  std::vector<double> state(state_size, 0.0);
  if (prefix) std::copy(prefix->levels, prefix->levels + state_size, state.begin());
  for (int t = 0; t < T; ++t) {
    advance(head, t, start + t, delta_rule, state.data(), &after_merge[t * state_size]);
    std::copy(state.begin(), state.end(), after_write.begin() + t * state_size);
  }

  // d_state: the gradient with respect to the levels after the token being reversed.
  std::vector<double> d_state(state_size, 0.0);
  if (out.d_final) {
    for (int ell = 0; ell < L; ++ell) {
      if (!levels::level_occupied(last, ell)) continue;
      std::copy(out.d_final + ell * level_size, out.d_final + (ell + 1) * level_size,
                d_state.begin() + ell * level_size);
    }
  }
  const auto d_level = [&](int ell) { return &d_state[ell * level_size]; };
  std::vector<double> y(K);
  for (int t = T - 1; t >= 0; --t) {
    const double* merged = &after_merge[t * state_size];
    const double* written = &after_write[t * state_size];
    const double* d_o = out.d_o + static_cast<size_t>(t) * V;
    // Read-out: o_t = sum_l lambda_t^l S[l]^T q_t.
    for (int ell = 0; ell < L; ++ell) {
      const double lambda = head.lambda_at(t, ell);
      std::fill(y.begin(), y.end(), 0.0);
      add_product(1.0, written + ell * level_size, d_o, y.data(), K, V);
      add_scaled(lambda, y.data(), grad.dq_row(t), K);
      grad.dlambda_at(t, ell) += dot(head.q_row(t), y.data(), K);
      add_outer(lambda, head.q_row(t), d_o, d_level(ell), K, V);
    }
    // Write: S[0] = w k_t v_t^T replaced level 0, so nothing flows to the level before it.
    const double weight = write_weight(head, t, delta_rule);
    std::fill(y.begin(), y.end(), 0.0);
    add_product(1.0, d_level(0), head.v_row(t), y.data(), K, V);
    add_scaled(weight, y.data(), grad.dk_row(t), K);
    add_transposed_product(weight, d_level(0), head.k_row(t), grad.dv_row(t), K, V);
    if (delta_rule) grad.dbeta[t] += dot(head.k_row(t), y.data(), K);
    std::fill(d_level(0), d_level(1), 0.0);
    // Transition of levels 1..L-1 (the write leaves them as the transition made them).
    double* dbeta = delta_rule ? &grad.dbeta[t] : nullptr;
    for (int ell = 1; ell < L; ++ell) {
      transition_backward(head.g[t], transition_beta(head, t, delta_rule), head.k_row(t),
                          merged + ell * level_size, written + ell * level_size, d_level(ell), K,
                          V, grad.dg[t], dbeta, grad.dk_row(t));
    }
    // Merge: levels 0..p were summed into level p+1, which was empty before it.
    const int64_t position = start + t;
    if (position >= 1) {
      const int target = levels::merge_target_level(position);
      for (int m = 0; m < target; ++m) {
        std::copy(d_level(target), d_level(target) + level_size, d_level(m));
      }
      std::fill(d_level(target), d_level(target) + level_size, 0.0);
    }
  }
  if (prefix) {
    grad.d_initial = d_state;
    zero_empty_levels(start, grad);
  }
}

}  // namespace lla::reference
