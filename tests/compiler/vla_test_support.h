#pragma once
// What the VLA reference tests share: problems, states to continue from, and a textbook
// recurrence of spec/vla.md 3.2 for one head, written apart from the reference (plain loops over
// its own matrices) and templated on the number type: in double it is a second oracle for the
// reference's recurrence, in float the fp32 recurrence of the drift measurements (which has no
// place in the library).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "reference/vla.h"
#include "reference/vla_features.h"

namespace lla::reference::vla::test {

inline Problem make_problem(int B, int T, int H, int d, Hyper hyper = {}) {
  Problem p;
  p.batch = B;
  p.seq_len = T;
  p.heads = H;
  p.head_dim = d;
  p.hyper = hyper;
  return p;
}

// The state after `position` tokens of random inputs (a prefill), to continue from.
inline State state_after(const Problem& p, int64_t position, uint64_t seed) {
  if (position == 0) return initial_state(p);
  Problem prefix = p;
  prefix.seq_len = static_cast<int>(position);
  return forward_recurrent(prefix, random_inputs(prefix, seed)).final_state;
}

// How many nudges follow the token at an absolute position: the spec's schedule is one after
// every period-th token; the drift measurements also try others.
using NudgeSchedule = std::function<int(int64_t position)>;

// One head of the recurrence in Real arithmetic, token by token.
template <typename Real>
class TextbookHead {
 public:
  TextbookHead(int d, const Hyper& hyper, int64_t position = 0, NudgeSchedule nudges = {})
      : d_(d),
        hyper_(hyper),
        nudges_(nudges
                    ? std::move(nudges)
                    : [period = hyper.period](int64_t n) { return (n + 1) % period == 0 ? 1 : 0; }),
        position_(position),
        A_(d * d, Real(0)),
        S_(d * d, Real(0)),
        z_(d, Real(0)) {
    for (int i = 0; i < d; ++i) A_[i * d + i] = Real(1.0 / hyper.lambda0);
  }

  // Advances by one token; returns o. Inputs are converted to Real first.
  std::vector<Real> step(const double* q, const double* k, const double* u, const double* v) {
    const int d = d_;
    std::vector<Real> ut(d), w(d, Real(0));
    for (int i = 0; i < d; ++i) ut[i] = Real(u[i]) / std::sqrt(Real(d));
    for (int i = 0; i < d; ++i)
      for (int j = 0; j < d; ++j) w[i] += A_[i * d + j] * ut[j];
    Real delta = Real(1);
    for (int i = 0; i < d; ++i) delta += ut[i] * w[i];
    delta = std::max(delta, Real(hyper_.eps_stab));
    for (int i = 0; i < d; ++i)
      for (int j = 0; j < d; ++j) A_[i * d + j] -= w[i] * w[j] / delta;
    for (int nudge = nudges_(position_); nudge > 0; --nudge)
      for (int i = 0; i < d; ++i) A_[i * d + i] += Real(hyper_.eps_per);
    std::vector<Real> kh(d), kr(d);
    for (int i = 0; i < d; ++i) kr[i] = Real(k[i]);
    normalize(kr, kh);
    alpha_.assign(d, Real(0));
    for (int i = 0; i < d; ++i)
      for (int j = 0; j < d; ++j) alpha_[i] += A_[i * d + j] * kh[j];
    std::vector<Real> ah(d);
    normalize(alpha_, ah);
    std::vector<Real> e(d);
    for (int i = 0; i < d; ++i) {
      e[i] = Real(v[i]);
      for (int j = 0; j < d; ++j) e[i] -= S_[i * d + j] * kh[j];
    }
    for (int i = 0; i < d; ++i)
      for (int j = 0; j < d; ++j) S_[i * d + j] += e[i] * ah[j];
    Real zq = Real(0);
    for (int i = 0; i < d; ++i) {
      z_[i] += Real(k[i]);
      zq += z_[i] * Real(q[i]);
    }
    const Real denominator = std::max(zq, Real(hyper_.eps_den));
    std::vector<Real> o(d, Real(0));
    for (int i = 0; i < d; ++i) {
      for (int j = 0; j < d; ++j) o[i] += S_[i * d + j] * Real(q[j]);
      o[i] /= denominator;
    }
    ++position_;
    return o;
  }

  const std::vector<Real>& A() const { return A_; }
  const std::vector<Real>& S() const { return S_; }
  const std::vector<Real>& z() const { return z_; }
  const std::vector<Real>& alpha() const { return alpha_; }  // of the last token

 private:
  static void normalize(const std::vector<Real>& x, std::vector<Real>& out) {
    Real sum = Real(0);
    for (const Real e : x) sum += e * e;
    const Real divisor = std::max(std::sqrt(sum), Real(1e-12));
    for (size_t i = 0; i < x.size(); ++i) out[i] = x[i] / divisor;
  }

  int d_;
  Hyper hyper_;
  NudgeSchedule nudges_;
  int64_t position_;
  std::vector<Real> A_, S_, z_, alpha_;
};

// o of the beta = 1 delta rule with normalised keys and VLA's read-out (spec test 5: what VLA
// is when u = 0): per head, S += (v - S k^) k^^T, z += k, o = S q / max(z.q, eps_den).
inline std::vector<double> delta_rule_outputs(const Problem& p, const Inputs& in) {
  const int d = p.head_dim;
  std::vector<double> o(in.v.size());
  for (int b = 0; b < p.batch; ++b) {
    for (int h = 0; h < p.heads; ++h) {
      std::vector<double> S(d * d, 0.0), z(d, 0.0);
      for (int t = 0; t < p.seq_len; ++t) {
        const size_t row = ((static_cast<size_t>(b) * p.seq_len + t) * p.heads + h) * d;
        const double *q = &in.q[row], *k = &in.k[row], *v = &in.v[row];
        double k_norm = 0.0;
        for (int i = 0; i < d; ++i) k_norm += k[i] * k[i];
        k_norm = std::max(std::sqrt(k_norm), 1e-12);
        std::vector<double> e(v, v + d);
        for (int i = 0; i < d; ++i)
          for (int j = 0; j < d; ++j) e[i] -= S[i * d + j] * k[j] / k_norm;
        double zq = 0.0;
        for (int i = 0; i < d; ++i) {
          for (int j = 0; j < d; ++j) S[i * d + j] += e[i] * k[j] / k_norm;
          z[i] += k[i];
          zq += z[i] * q[i];
        }
        for (int i = 0; i < d; ++i) {
          double y = 0.0;
          for (int j = 0; j < d; ++j) y += S[i * d + j] * q[j];
          o[row + i] = y / std::max(zq, p.hyper.eps_den);
        }
      }
    }
  }
  return o;
}

// Whether every head's A ([B,H,d,d]) is symmetric bit for bit.
inline bool exactly_symmetric(const Problem& p, const std::vector<double>& A) {
  const int d = p.head_dim;
  for (size_t head = 0; head < A.size(); head += static_cast<size_t>(d) * d) {
    for (int i = 0; i < d; ++i)
      for (int j = 0; j < i; ++j)
        if (A[head + i * d + j] != A[head + j * d + i]) return false;
  }
  return true;
}

// Row (b, t, h) of a [B,T,H,d] tensor.
inline const double* token_row(const Problem& p, const std::vector<double>& x, int b, int t,
                               int h) {
  return &x[((static_cast<size_t>(b) * p.seq_len + t) * p.heads + h) * p.head_dim];
}

}  // namespace lla::reference::vla::test
