#pragma once
// The Fenwick decode recurrence of one head (spec/loglinear.md section 5), forwards and
// backwards (section 7.1 A, the token form), for both variants. Internal to the reference.
//
// Mamba-2 is the recurrence without the delta rule: its transition is the scalar exp(g_t) and
// it writes k_t v_t^T. Gated DeltaNet transitions by exp(g_t) (I - beta_t k_t k_t^T) and
// writes beta_t k_t v_t^T.

#include "reference/per_head.h"
#include "reference/per_head_backward.h"

namespace lla::reference {

// S <- exp(g) (I - beta k k^T) S for a row-major [K, columns] matrix S.
void apply_transition(double g, double beta, const double* k, double* S, int K, int columns);

// The reverse of apply_transition(g, beta, k, S): `before` and `after` are S before and after
// it; d_S holds the gradient with respect to S after it on entry and before it on return. Adds
// the gradients with respect to g, beta and k to dg, *dbeta (nullable: not wanted) and dk.
void transition_backward(double g, double beta, const double* k, const double* before,
                         const double* after, double* d_S, int K, int columns, double& dg,
                         double* dbeta, double* dk);

// One head's forward, token by token (a HeadForward of per_head.h).
void recurrent_forward(const HeadSlice& head, const HeadPrefix* prefix, bool delta_rule,
                       double* o, double* final_levels);

// One head's gradients, token by token in reverse from the last: the reverse of each step's
// read-out, write, transition and merge (spec 7.1 A), from any start position. Keeps every
// token's state: O(T L K V) memory.
void recurrent_backward(const HeadSlice& head, const HeadPrefix* prefix, bool delta_rule,
                        const HeadOutputGradients& out, HeadGradients& grad);

}  // namespace lla::reference
