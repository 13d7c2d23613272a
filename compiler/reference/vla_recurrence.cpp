#include "reference/vla_recurrence.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "reference/vector_ops.h"
#include "reference/vla_ops.h"

namespace lla::reference::vla {
namespace {

// Everything token_forward computes, kept for the reverse.
struct TokenTrace {
  std::vector<double> u_scaled;  // u~ = u / sqrt(d)
  std::vector<double> w;         // A_{t-1} u~
  double delta = 1.0;            // max(1 + u~.w, eps_stab)
  bool delta_clamped = false;
  std::vector<double> k_hat;  // k / max(|k|, 1e-12)
  double k_norm = 0.0;
  std::vector<double> alpha;  // A_t k^
  std::vector<double> a_hat;  // alpha / max(|alpha|, 1e-12)
  double alpha_norm = 0.0;
  std::vector<double> e;     // v - S_{t-1} k^
  std::vector<double> y;     // S_t q
  double denominator = 1.0;  // max(z_t.q, eps_den)
  bool denominator_clamped = false;
};

// Runs the token on `state` in place, recording its trace.
TokenTrace run_token(const Hyper& hyper, int d, int64_t position, const TokenInputs& token,
                     HeadState& state) {
  TokenTrace t;
  double* A = state.A.data();
  // 1. The Sherman-Morrison step on the precision.
  t.u_scaled.resize(d);
  const double u_scale = 1.0 / std::sqrt(static_cast<double>(d));
  for (int i = 0; i < d; ++i) t.u_scaled[i] = token.u[i] * u_scale;
  t.w.assign(d, 0.0);
  add_product(1.0, A, t.u_scaled.data(), t.w.data(), d, d);
  const double delta = 1.0 + dot(t.u_scaled.data(), t.w.data(), d);
  t.delta_clamped = delta < hyper.eps_stab;
  t.delta = t.delta_clamped ? hyper.eps_stab : delta;
  // (w_i w_j) / delta rather than (w_i / delta) w_j: the update keeps A exactly symmetric.
  for (int i = 0; i < d; ++i) {
    for (int j = 0; j < d; ++j) A[static_cast<size_t>(i) * d + j] -= t.w[i] * t.w[j] / t.delta;
  }
  // 2. The periodic nudge.
  if (nudge_after(hyper, position)) {
    for (int i = 0; i < d; ++i) A[static_cast<size_t>(i) * d + i] += hyper.eps_per;
  }
  // 3. The normalised key and the write direction, from A_t.
  t.k_hat.resize(d);
  t.k_norm = unit_direction(token.k, d, t.k_hat.data());
  t.alpha.assign(d, 0.0);
  add_product(1.0, A, t.k_hat.data(), t.alpha.data(), d, d);
  t.a_hat.resize(d);
  t.alpha_norm = unit_direction(t.alpha.data(), d, t.a_hat.data());
  // 4. The error-driven write.
  t.e.assign(token.v, token.v + d);
  add_product(-1.0, state.S.data(), t.k_hat.data(), t.e.data(), d, d);
  add_outer(1.0, t.e.data(), t.a_hat.data(), state.S.data(), d, d);
  // 5. The read-out and its normaliser (z sums the unnormalised keys).
  add_scaled(1.0, token.k, state.z.data(), d);
  t.y.assign(d, 0.0);
  add_product(1.0, state.S.data(), token.q, t.y.data(), d, d);
  const double zq = dot(state.z.data(), token.q, d);
  t.denominator_clamped = zq < hyper.eps_den;
  t.denominator = t.denominator_clamped ? hyper.eps_den : zq;
  return t;
}

}  // namespace

void token_forward(const Hyper& hyper, int d, int64_t position, const TokenInputs& token,
                   HeadState& state, double* o) {
  const TokenTrace t = run_token(hyper, d, position, token, state);
  for (int i = 0; i < d; ++i) o[i] = t.y[i] / t.denominator;
}

void token_backward(const Hyper& hyper, int d, int64_t position, const TokenInputs& token,
                    const HeadState& before, const double* d_o, HeadStateGradient& grad, double* dq,
                    double* dk, double* du, double* dv) {
  HeadState after = before;
  const TokenTrace t = run_token(hyper, d, position, token, after);
  const double* A_before = before.A.data();
  const double* A_after = after.A.data();  // A_t: after the step and the nudge
  double* gA = grad.A.data();
  double* gS = grad.S.data();

  // 5. o = y / n with y = S_t q, n = max(z_t.q, eps_den).
  std::vector<double> dy(d);
  for (int i = 0; i < d; ++i) dy[i] = d_o[i] / t.denominator;
  const double dn =
      t.denominator_clamped ? 0.0 : -dot(d_o, t.y.data(), d) / (t.denominator * t.denominator);
  add_outer(1.0, dy.data(), token.q, gS, d, d);
  add_transposed_product(1.0, after.S.data(), dy.data(), dq, d, d);
  add_scaled(dn, after.z.data(), dq, d);
  add_scaled(dn, token.q, grad.z.data(), d);
  add_scaled(1.0, grad.z.data(), dk, d);  // z_t = z_{t-1} + k: grad.z passes through

  // 4. S_t = S_{t-1} + e a^^T with e = v - S_{t-1} k^.
  std::vector<double> de(d, 0.0), da_hat(d, 0.0), dk_hat(d, 0.0);
  add_product(1.0, gS, t.a_hat.data(), de.data(), d, d);
  add_transposed_product(1.0, gS, t.e.data(), da_hat.data(), d, d);
  add_scaled(1.0, de.data(), dv, d);
  add_transposed_product(-1.0, before.S.data(), de.data(), dk_hat.data(), d, d);
  add_outer(-1.0, de.data(), t.k_hat.data(), gS, d, d);

  // 3. a^ = alpha / max(|alpha|, 1e-12), alpha = A_t k^, k^ = k / max(|k|, 1e-12).
  std::vector<double> d_alpha(d, 0.0);
  unit_direction_backward(t.a_hat.data(), t.alpha_norm, da_hat.data(), d, d_alpha.data());
  add_outer(1.0, d_alpha.data(), t.k_hat.data(), gA, d, d);
  add_transposed_product(1.0, A_after, d_alpha.data(), dk_hat.data(), d, d);
  unit_direction_backward(t.k_hat.data(), t.k_norm, dk_hat.data(), d, dk);

  // 2. The nudge adds a constant: the gradient passes through.
  // 1. A_t = A_{t-1} - w w^T / delta with w = A_{t-1} u~, delta = 1 + u~.w (G = gA):
  //    dw = -(G + G^T) w / delta, d delta = w^T G w / delta^2 (0 where clamped),
  //    dA_{t-1} = G + dw u~^T + d delta u~ u~^T, du~ = A_{t-1}^T dw + d delta (A + A^T) u~.
  std::vector<double> dw(d, 0.0), Gw(d, 0.0);
  add_product(1.0, gA, t.w.data(), Gw.data(), d, d);
  const double d_delta =
      t.delta_clamped ? 0.0 : dot(t.w.data(), Gw.data(), d) / (t.delta * t.delta);
  add_scaled(-1.0 / t.delta, Gw.data(), dw.data(), d);
  add_transposed_product(-1.0 / t.delta, gA, t.w.data(), dw.data(), d, d);
  // The delta path reaches w through delta = 1 + u~.w.
  add_scaled(d_delta, t.u_scaled.data(), dw.data(), d);
  add_outer(1.0, dw.data(), t.u_scaled.data(), gA, d, d);
  std::vector<double> du_scaled(d, 0.0);
  add_transposed_product(1.0, A_before, dw.data(), du_scaled.data(), d, d);
  add_scaled(d_delta, t.w.data(), du_scaled.data(), d);
  const double u_scale = 1.0 / std::sqrt(static_cast<double>(d));
  add_scaled(u_scale, du_scaled.data(), du, d);
}

}  // namespace lla::reference::vla
