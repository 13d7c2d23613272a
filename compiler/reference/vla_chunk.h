#pragma once
// One chunk of the chunk-parallel VLA form (spec/vla.md 3.5) on one head, with every
// intermediate its reverse reads, and that reverse. Internal to the reference.
//
// The precision path runs in blocks: a block ends at the chunk's end and after every token a
// nudge follows, so a nudge only ever lands on a block's end (spec 3.5's "split chunks at nudge
// points"). Per block of n tokens from A0, with U~ the rows u~_i and K^ the rows k^_i:
//   W = U~ A0 (rows A0 u~_i), L = chol(I + U~ W^T), M = L^-1 W (rows m_i = A_{i-1} u~_i /
//   sqrt(delta_i)), alpha_i = A0 k^_i - sum_{j<=i} (m_j.k^_i) m_j [+ eps_per k^_i for the last
//   token when a nudge follows it], A_end = A0 - M^T M [+ eps_per I].
// The memory path runs on the whole chunk from S0, z0 (E the rows e_i, A^ the rows a^_i):
//   (I + strict_tril(K^ A^^T)) E = V - K^ S0^T, y_i = S0 q_i + sum_{j<=i} (q_i.a^_j) e_j,
//   o_i = y_i / max(z_i.q_i, eps_den), S_end = S0 + E^T A^, z_i = z0 + sum_{j<=i} k_j.

#include <cstdint>
#include <utility>
#include <vector>

#include "reference/vla.h"
#include "reference/vla_head.h"
#include "reference/vla_recurrence.h"

namespace lla::reference::vla {

// The precision path of one block of n tokens.
struct PrecisionBlock {
  int first = 0;  // the block's first token, as an index into its chunk
  int n = 0;
  bool nudge_at_end = false;
  std::vector<double> A0;  // [d,d]: A entering the block
  std::vector<double> W;   // [n,d]
  std::vector<double> L;   // [n,n]
  std::vector<double> M;   // [n,d]
};

// One chunk of tokens [begin, end) of a head: its precision blocks and memory path.
struct ChunkTrace {
  int begin = 0, end = 0;
  std::vector<PrecisionBlock> blocks;
  std::vector<double> u_scaled;     // [m,d]: u~
  std::vector<double> k_hat;        // [m,d]
  std::vector<double> k_norm;       // [m]
  std::vector<double> alpha;        // [m,d]
  std::vector<double> a_hat;        // [m,d]
  std::vector<double> alpha_norm;   // [m]
  std::vector<double> S0, z0;       // the memory entering the chunk
  std::vector<double> E;            // [m,d]
  std::vector<double> z;            // [m,d]: z_i
  std::vector<double> y;            // [m,d]
  std::vector<double> denominator;  // [m]: max(z_i.q_i, eps_den)
  std::vector<bool> denominator_clamped;
};

// Runs tokens [begin, end) of `head` (absolute position of token 0: `start`) on `state` in
// place, writes their read-outs into o ([T,d], rows begin..end-1) and returns the trace.
ChunkTrace chunk_forward(const Hyper& hyper, const HeadInputs& head, int64_t start, int begin,
                         int end, HeadState& state, double* o);

// The reverse of chunk_forward: on entry `grad` is the gradient with respect to the state
// after the chunk, on return with respect to the state before it; d_o holds [T,d] rows; the
// chunk's gradients are added to rows begin..end-1 of dq, dk, du, dv ([T,d] each).
void chunk_backward(const Hyper& hyper, const HeadInputs& head, const ChunkTrace& trace,
                    const double* d_o, HeadStateGradient& grad, double* dq, double* dk, double* du,
                    double* dv);

// The chunks [begin, end) of a call of T tokens starting at absolute position `start`, in
// order: chunk boundaries at the multiples of `chunk`, so a call may start and end inside one.
std::vector<std::pair<int, int>> chunk_bounds(int64_t start, int T, int chunk);

}  // namespace lla::reference::vla
