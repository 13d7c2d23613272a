#pragma once
// The float64 reference backward of log-linear attention: the oracle of every backward kernel.
// Plain, readable code; never a fast path. Math: spec/loglinear.md sections 6 (gradients) and
// 7.1 (gradients through the initial and final states).
//
// The loss is sum(o * d_o) + sum(final_state * d_final_state); backward() returns its gradients
// with respect to every input of the forward of reference.h, in the layouts of those inputs:
//
//   Gradients g = backward(problem, inputs, &initial_state, {d_o, d_final_state});
//   Gradients h = backward(problem, inputs, nullptr, {d_o}, {BackwardForm::materialized});
//
// Three forms, written independently of each other, agree to about 1e-13 relative:
//   - materialized: every (target, source) pair and every initial-state level directly, O(T^2)
//     (spec 3.1 / 4.1 and the closed form of 7.1 A); small T only.
//   - recurrent: the decode recurrence run backwards token by token (spec 7.1 A's reverse
//     recurrence); any start position; O(T L K V) memory, small T only.
//   - chunkwise: the chunk scans of spec 6.1 / 6.2, seeded from the initial state and by
//     d_final_state (spec 7.1 B); any chunk (a power of two) and any T. A call that starts off
//     the chunk grid runs its first, partial chunk in the recurrent form and continues on the
//     grid. The oracle at training sizes (T = 16384).

#include <vector>

#include "reference/reference.h"

namespace lla::reference {

// What the loss sends back.
struct OutputGradients {
  std::vector<double> d_o;            // [B,T,H,V]
  std::vector<double> d_final_state;  // [B,H,L,K,V]; empty: the loss does not read the state
};

// Gradients of the loss with respect to the inputs of the forward.
struct Gradients {
  std::vector<double> dq, dk;     // [B,T,G,K]: summed over the heads of each group, through
                                  // the scale and, with qk_l2norm, the l2 normalisation
  std::vector<double> dv;         // [B,T,H,V]
  std::vector<double> dg;         // [B,T,H]: with respect to the raw per-token g
  std::vector<double> dlambda;    // [B,T,H,L]: zero on every level no source occupies
  std::vector<double> dbeta;      // [B,T,H] for gated DeltaNet; empty for mamba2
  std::vector<double> d_initial_state;  // [B,H,L,K,V] when an initial state was given (zero on
                                        // its empty levels, so all zero at position 0); else
                                        // empty
};

enum class BackwardForm { materialized, recurrent, chunkwise };

const char* backward_form_name(BackwardForm form);  // "materialized", "recurrent", "chunkwise"

struct BackwardOptions {
  BackwardForm form = BackwardForm::chunkwise;
  int chunk = 64;  // chunkwise only: a power of two
};

// Throws std::invalid_argument naming the field when the problem, inputs, initial state
// (as for forward_chunkwise), d_o, d_final_state or the chunk are inconsistent.
Gradients backward(const Problem& p, const Inputs& in, const FenwickState* initial,
                   const OutputGradients& out, const BackwardOptions& options = {});

}  // namespace lla::reference
