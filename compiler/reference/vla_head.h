#pragma once
// Per-(batch, head) plumbing of the VLA reference: one head's inputs as contiguous time-major
// rows, its state, and their way back into the [B,T,H,d] and [B,H,...] tensors of vla.h.
// Internal to the reference.

#include <cstdint>
#include <functional>
#include <vector>

#include "reference/vla.h"

namespace lla::reference::vla {

// One (batch, head) of the inputs, time-major: each tensor [T,d].
struct HeadInputs {
  int seq_len = 0;   // T
  int head_dim = 0;  // d
  std::vector<double> q, k, u, v;

  const double* q_row(int t) const { return &q[row(t)]; }
  const double* k_row(int t) const { return &k[row(t)]; }
  const double* u_row(int t) const { return &u[row(t)]; }
  const double* v_row(int t) const { return &v[row(t)]; }
  size_t row(int t) const { return static_cast<size_t>(t) * head_dim; }
};

// One head's state: A and S [d,d] row-major (S: row = value dim), z [d].
struct HeadState {
  std::vector<double> A, S, z;
};

// Rows t = 0..T-1 of (b, h) of a [B,T,H,d] tensor, as [T,d].
std::vector<double> gather_rows(const Problem& p, const std::vector<double>& tensor, int b, int h);
// The inverse: writes rows [T,d] into (b, h) of a [B,T,H,d] tensor.
void scatter_rows(const Problem& p, const std::vector<double>& rows, int b, int h,
                  std::vector<double>& tensor);

HeadInputs gather_head(const Problem& p, const Inputs& in, int b, int h);

// Head (b, h) of a state's tensors ([B,H,d,d] twice and [B,H,d]), and its way back.
HeadState gather_state(const Problem& p, const std::vector<double>& A, const std::vector<double>& S,
                       const std::vector<double>& z, int b, int h);
void scatter_state(const Problem& p, const HeadState& head, int b, int h, std::vector<double>& A,
                   std::vector<double>& S, std::vector<double>& z);

// The state every head starts from: A = I / lambda0, S = 0, z = 0.
HeadState fresh_head_state(const Problem& p);

// Calls visit(b, h) for every (batch, head) in order.
void for_each_head(const Problem& p, const std::function<void(int b, int h)>& visit);

}  // namespace lla::reference::vla
