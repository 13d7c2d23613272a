#pragma once
// Per-(batch, head) plumbing of the reference backward: one head's gradients with respect to
// what its passes read (HeadSlice), and their assembly into the gradients of backward.h through
// the q/k preprocessing (scale, l2 normalisation, the group sum). Internal to the reference.

#include <cstdint>
#include <functional>
#include <vector>

#include "reference/backward.h"
#include "reference/per_head.h"

namespace lla::reference {

// What the loss sends back to one head.
struct HeadOutputGradients {
  const double* d_o;      // [T,V]
  const double* d_final;  // [L,K,V]; nullptr when the loss does not read the final state
};

// One head's gradients with respect to q and k as HeadSlice holds them (after l2 normalisation
// and scale), v, g, beta, lambda and the levels of the state it continues from.
struct HeadGradients {
  int key_dim = 0, value_dim = 0, levels = 0;
  std::vector<double> dq, dk;     // [T,K]
  std::vector<double> dv;         // [T,V]
  std::vector<double> dg;         // [T]
  std::vector<double> dbeta;      // [T]; empty when the head has no beta (mamba2)
  std::vector<double> dlambda;    // [T,L]
  std::vector<double> d_initial;  // [L,K,V]; empty without a prefix

  // Zeros, shaped for `head`.
  HeadGradients(const HeadSlice& head, bool with_prefix);

  double* dq_row(int t) { return &dq[static_cast<size_t>(t) * key_dim]; }
  double* dk_row(int t) { return &dk[static_cast<size_t>(t) * key_dim]; }
  double* dv_row(int t) { return &dv[static_cast<size_t>(t) * value_dim]; }
  double& dlambda_at(int t, int ell) { return dlambda[static_cast<size_t>(t) * levels + ell]; }
  double* d_initial_level(int ell) {
    return &d_initial[static_cast<size_t>(ell) * key_dim * value_dim];
  }
};

// One head's backward pass. prefix: nullptr for a fresh sequence. grad: zeros on entry.
using HeadBackward = std::function<void(const HeadSlice& head, const HeadPrefix* prefix,
                                        const HeadOutputGradients& out, HeadGradients& grad)>;

// Runs head_backward on every (batch, head) and assembles the gradients of backward.h. The
// arguments are validated by the caller.
Gradients backward_each_head(const Problem& p, const Inputs& in, const FenwickState* initial,
                             const OutputGradients& out, const HeadBackward& head_backward);

// Tokens [begin, end) of a head, as a head of their own.
HeadSlice slice_tokens(const HeadSlice& head, int begin, int end);

// Copies the token gradients of `part` (tokens [offset, offset + part's T) of `whole`) into
// `whole`; the initial-state gradient is not touched.
void place_tokens(const HeadGradients& part, int offset, HeadGradients& whole);

// Adds to dg[begin, end) the reverse cumulative sums of dG[begin, end): dg_r += sum of dG_t
// over r <= t < end. dG holds the gradients with respect to the inclusive cumulative sums of g
// over a segment that restarts the sum at `begin` (a chunk, or the whole call).
void add_reverse_cumsum(const std::vector<double>& dG, int begin, int end, std::vector<double>& dg);

// Zeroes the levels of d_initial that are empty in the state after `position` tokens: the
// state is identically zero there (spec 7.1, convention for empty levels).
void zero_empty_levels(int64_t position, HeadGradients& grad);

}  // namespace lla::reference
