#include "reference/per_head.h"

#include <algorithm>
#include <cmath>

namespace lla::reference {

int group_of_head(const Problem& p, int head) { return head / (p.heads / p.groups); }

void l2_normalize(double* x, int n) {
  double sum_squares = 0.0;
  for (int i = 0; i < n; ++i) sum_squares += x[i] * x[i];
  const double inverse_norm = 1.0 / std::sqrt(sum_squares + 1e-6);
  for (int i = 0; i < n; ++i) x[i] *= inverse_norm;
}

HeadSlice gather_head(const Problem& p, const Inputs& in, int batch_index, int head) {
  const int T = p.seq_len, G = p.groups, H = p.heads, K = p.key_dim, V = p.value_dim;
  const int L = p.levels;
  const int group = group_of_head(p, head);
  HeadSlice s;
  s.seq_len = T;
  s.key_dim = K;
  s.value_dim = V;
  s.levels = L;
  s.q.resize(static_cast<size_t>(T) * K);
  s.k.resize(static_cast<size_t>(T) * K);
  s.v.resize(static_cast<size_t>(T) * V);
  s.g.resize(T);
  s.lambda.resize(static_cast<size_t>(T) * L);
  if (!in.beta.empty()) s.beta.resize(T);
  for (int t = 0; t < T; ++t) {
    const size_t token = static_cast<size_t>(batch_index) * T + t;
    const size_t qk_offset = (token * G + group) * K;
    const size_t head_offset = token * H + head;
    double* q = &s.q[static_cast<size_t>(t) * K];
    double* k = &s.k[static_cast<size_t>(t) * K];
    for (int i = 0; i < K; ++i) {
      q[i] = in.q[qk_offset + i];
      k[i] = in.k[qk_offset + i];
    }
    if (p.qk_l2norm) {
      l2_normalize(q, K);
      l2_normalize(k, K);
    }
    for (int i = 0; i < K; ++i) q[i] *= p.scale;
    for (int j = 0; j < V; ++j) s.v[static_cast<size_t>(t) * V + j] = in.v[head_offset * V + j];
    s.g[t] = in.g[head_offset];
    if (!in.beta.empty()) s.beta[t] = in.beta[head_offset];
    for (int ell = 0; ell < L; ++ell) {
      s.lambda[static_cast<size_t>(t) * L + ell] = in.lambda[head_offset * L + ell];
    }
  }
  return s;
}

void for_each_head(const Problem& p, const Inputs& in, const FenwickState* initial,
                   const HeadVisitor& visit) {
  const size_t head_state_size = static_cast<size_t>(p.levels) * p.key_dim * p.value_dim;
  const bool has_prefix = initial != nullptr && initial->position > 0;
  for (int b = 0; b < p.batch; ++b) {
    for (int h = 0; h < p.heads; ++h) {
      const size_t state_offset = (static_cast<size_t>(b) * p.heads + h) * head_state_size;
      const HeadPrefix prefix{has_prefix ? initial->position : 0,
                              has_prefix ? &initial->levels[state_offset] : nullptr};
      visit(b, h, gather_head(p, in, b, h), has_prefix ? &prefix : nullptr, state_offset);
    }
  }
}

Result forward_each_head(const Problem& p, const Inputs& in, const FenwickState* initial,
                         bool with_final_state, const HeadForward& head_forward) {
  const int T = p.seq_len, H = p.heads, V = p.value_dim;
  Result result;
  result.o.assign(v_size(p), 0.0);
  if (with_final_state) {
    result.final_state.position = T + (initial ? initial->position : 0);
    result.final_state.levels.assign(state_size(p), 0.0);
  }
  std::vector<double> head_o(static_cast<size_t>(T) * V);
  for_each_head(p, in, initial,
                [&](int b, int h, const HeadSlice& head, const HeadPrefix* prefix,
                    size_t state_offset) {
                  std::fill(head_o.begin(), head_o.end(), 0.0);
                  head_forward(head, prefix, head_o.data(),
                               with_final_state ? &result.final_state.levels[state_offset]
                                                : nullptr);
                  for (int t = 0; t < T; ++t) {
                    const size_t o_offset = ((static_cast<size_t>(b) * T + t) * H + h) * V;
                    std::copy(head_o.begin() + static_cast<size_t>(t) * V,
                              head_o.begin() + static_cast<size_t>(t + 1) * V,
                              result.o.begin() + o_offset);
                  }
                });
  return result;
}

}  // namespace lla::reference
