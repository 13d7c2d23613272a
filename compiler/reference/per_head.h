#pragma once
// Per-(batch, head) plumbing shared by the reference algorithms of both variants: the
// time-first tensors of reference.h gathered into contiguous time-major arrays with the q/k
// preprocessing applied, and the assembly of o and the Fenwick state from per-head results.
// Internal to the reference.

#include <cstdint>
#include <functional>
#include <vector>

#include "reference/reference.h"

namespace lla::reference {

// The q/k group that head h reads: h / (H / G).
int group_of_head(const Problem& p, int head);

// Divides x[0..n) by sqrt(sum of squares + 1e-6).
void l2_normalize(double* x, int n);

// One (batch, head) of the inputs, time-major and contiguous.
struct HeadSlice {
  int seq_len = 0;             // T
  int key_dim = 0;             // K
  int value_dim = 0;           // V
  int levels = 0;              // L
  std::vector<double> q;       // [T,K]: l2-normalised when asked, then multiplied by scale
  std::vector<double> k;       // [T,K]: l2-normalised when asked
  std::vector<double> v;       // [T,V]
  std::vector<double> g;       // [T]
  std::vector<double> beta;    // [T]; empty when the inputs carry none (mamba2)
  std::vector<double> lambda;  // [T,L]

  const double* q_row(int t) const { return &q[static_cast<size_t>(t) * key_dim]; }
  const double* k_row(int t) const { return &k[static_cast<size_t>(t) * key_dim]; }
  const double* v_row(int t) const { return &v[static_cast<size_t>(t) * value_dim]; }
  double lambda_at(int t, int ell) const { return lambda[static_cast<size_t>(t) * levels + ell]; }
};

HeadSlice gather_head(const Problem& p, const Inputs& in, int batch_index, int head);

// The state a head continues from (spec 7): its [L,K,V] levels after `position` >= 1 tokens.
struct HeadPrefix {
  int64_t position;
  const double* levels;
};

// Calls visit for every (batch, head) in order: b, h, the head's inputs, the state it continues
// from (nullptr for a fresh sequence; an initial state at position 0 holds no tokens and is
// none) and the offset of the head's levels in a [B,H,L,K,V] state.
using HeadVisitor = std::function<void(int b, int h, const HeadSlice& head,
                                       const HeadPrefix* prefix, size_t state_offset)>;
void for_each_head(const Problem& p, const Inputs& in, const FenwickState* initial,
                   const HeadVisitor& visit);

// One head's forward pass. prefix: nullptr for a fresh sequence. o: [T,V], zero on entry.
// final_levels: [L,K,V], zero on entry; nullptr when the caller wants no final state.
using HeadForward = std::function<void(const HeadSlice& head, const HeadPrefix* prefix, double* o,
                                       double* final_levels)>;

// Runs head_forward on every (batch, head) and assembles o [B,T,H,V] and, when
// with_final_state, the final state [B,H,L,K,V] at position (initial position) + T. An initial
// state at position 0 holds no tokens and is passed on as no prefix.
Result forward_each_head(const Problem& p, const Inputs& in, const FenwickState* initial,
                         bool with_final_state, const HeadForward& head_forward);

}  // namespace lla::reference
