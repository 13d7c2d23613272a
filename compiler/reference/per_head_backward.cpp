#include "reference/per_head_backward.h"

#include <algorithm>
#include <cmath>

#include "levels/fenwick_levels.h"
#include "reference/vector_ops.h"

namespace lla::reference {
namespace {

// The backward of x -> x / sqrt(sum of squares + 1e-6) (l2_normalize): d_x holds the gradient
// with respect to the normalised vector on entry and with respect to x on return:
// d_x <- (d_y - y (y . d_y)) / norm, with y the normalised x.
void l2_normalize_backward(const double* x, double* d_x, int n) {
  const double inverse_norm = 1.0 / std::sqrt(dot(x, x, n) + 1e-6);
  const double y_dot_dy = dot(x, d_x, n) * inverse_norm;
  for (int i = 0; i < n; ++i) d_x[i] = inverse_norm * (d_x[i] - x[i] * inverse_norm * y_dot_dy);
}

template <typename T>
void copy_rows(const std::vector<T>& from, int begin, int end, int width, std::vector<T>& to) {
  to.assign(from.begin() + static_cast<size_t>(begin) * width,
            from.begin() + static_cast<size_t>(end) * width);
}

void copy_into(const std::vector<double>& part, size_t offset, std::vector<double>& whole) {
  std::copy(part.begin(), part.end(), whole.begin() + offset);
}

}  // namespace

HeadGradients::HeadGradients(const HeadSlice& head, bool with_prefix)
    : key_dim(head.key_dim), value_dim(head.value_dim), levels(head.levels) {
  const size_t T = head.seq_len;
  dq.assign(T * key_dim, 0.0);
  dk.assign(T * key_dim, 0.0);
  dv.assign(T * value_dim, 0.0);
  dg.assign(T, 0.0);
  if (!head.beta.empty()) dbeta.assign(T, 0.0);
  dlambda.assign(T * levels, 0.0);
  if (with_prefix) d_initial.assign(static_cast<size_t>(levels) * key_dim * value_dim, 0.0);
}

Gradients backward_each_head(const Problem& p, const Inputs& in, const FenwickState* initial,
                             const OutputGradients& out, const HeadBackward& head_backward) {
  const int T = p.seq_len, H = p.heads, G = p.groups, K = p.key_dim, V = p.value_dim;
  const int L = p.levels;
  Gradients g;
  g.dq.assign(qk_size(p), 0.0);
  g.dk.assign(qk_size(p), 0.0);
  g.dv.assign(v_size(p), 0.0);
  g.dg.assign(gate_size(p), 0.0);
  g.dlambda.assign(lambda_size(p), 0.0);
  if (p.variant == Variant::gated_deltanet) g.dbeta.assign(gate_size(p), 0.0);
  if (initial) g.d_initial_state.assign(state_size(p), 0.0);
  std::vector<double> head_d_o(static_cast<size_t>(T) * V);
  for_each_head(p, in, initial, [&](int b, int h, const HeadSlice& head, const HeadPrefix* prefix,
                                    size_t state_offset) {
    for (int t = 0; t < T; ++t) {
      const size_t o_offset = ((static_cast<size_t>(b) * T + t) * H + h) * V;
      std::copy(out.d_o.begin() + o_offset, out.d_o.begin() + o_offset + V,
                head_d_o.begin() + static_cast<size_t>(t) * V);
    }
    const HeadOutputGradients head_out{
        head_d_o.data(), out.d_final_state.empty() ? nullptr : &out.d_final_state[state_offset]};
    HeadGradients grad(head, prefix != nullptr);
    head_backward(head, prefix, head_out, grad);

    const int group = group_of_head(p, h);
    for (int t = 0; t < T; ++t) {
      const size_t token = static_cast<size_t>(b) * T + t;
      const size_t qk_offset = (token * G + group) * K;
      const size_t head_offset = token * H + h;
      add_scaled(p.scale, grad.dq_row(t), &g.dq[qk_offset], K);
      add_scaled(1.0, grad.dk_row(t), &g.dk[qk_offset], K);
      std::copy(grad.dv_row(t), grad.dv_row(t) + V, &g.dv[head_offset * V]);
      g.dg[head_offset] = grad.dg[t];
      if (!grad.dbeta.empty()) g.dbeta[head_offset] = grad.dbeta[t];
      for (int ell = 0; ell < L; ++ell) g.dlambda[head_offset * L + ell] = grad.dlambda_at(t, ell);
    }
    if (prefix) copy_into(grad.d_initial, state_offset, g.d_initial_state);
  });
  if (p.qk_l2norm) {
    for (size_t row = 0; row < g.dq.size(); row += K) {
      l2_normalize_backward(&in.q[row], &g.dq[row], K);
      l2_normalize_backward(&in.k[row], &g.dk[row], K);
    }
  }
  return g;
}

HeadSlice slice_tokens(const HeadSlice& head, int begin, int end) {
  HeadSlice part;
  part.seq_len = end - begin;
  part.key_dim = head.key_dim;
  part.value_dim = head.value_dim;
  part.levels = head.levels;
  copy_rows(head.q, begin, end, head.key_dim, part.q);
  copy_rows(head.k, begin, end, head.key_dim, part.k);
  copy_rows(head.v, begin, end, head.value_dim, part.v);
  copy_rows(head.g, begin, end, 1, part.g);
  if (!head.beta.empty()) copy_rows(head.beta, begin, end, 1, part.beta);
  copy_rows(head.lambda, begin, end, head.levels, part.lambda);
  return part;
}

void place_tokens(const HeadGradients& part, int offset, HeadGradients& whole) {
  const size_t t = offset;
  copy_into(part.dq, t * whole.key_dim, whole.dq);
  copy_into(part.dk, t * whole.key_dim, whole.dk);
  copy_into(part.dv, t * whole.value_dim, whole.dv);
  copy_into(part.dg, t, whole.dg);
  if (!whole.dbeta.empty()) copy_into(part.dbeta, t, whole.dbeta);
  copy_into(part.dlambda, t * whole.levels, whole.dlambda);
}

void add_reverse_cumsum(const std::vector<double>& dG, int begin, int end,
                        std::vector<double>& dg) {
  double running = 0.0;
  for (int r = end - 1; r >= begin; --r) dg[r] += running += dG[r];
}

void zero_empty_levels(int64_t position, HeadGradients& grad) {
  const size_t level_size = static_cast<size_t>(grad.key_dim) * grad.value_dim;
  for (int ell = 0; ell < grad.levels; ++ell) {
    if (position > 0 && levels::level_occupied(position - 1, ell)) continue;
    std::fill(grad.d_initial_level(ell), grad.d_initial_level(ell) + level_size, 0.0);
  }
}

}  // namespace lla::reference
