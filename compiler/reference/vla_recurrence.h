#pragma once
// One token of the VLA recurrence (spec/vla.md 3.2) on one head's state, and its reverse
// (spec 3.7): the token form that forward_recurrent, decode_step and the recurrent backward are
// made of. Internal to the reference.

#include <cstdint>

#include "reference/vla.h"
#include "reference/vla_head.h"

namespace lla::reference::vla {

// One token's inputs (each d values).
struct TokenInputs {
  const double* q;
  const double* k;
  const double* u;
  const double* v;
};

// Advances `state` (A, S, z of a head of dim d) by the token at absolute position `position`
// and writes its read-out o (d values).
void token_forward(const Hyper& hyper, int d, int64_t position, const TokenInputs& token,
                   HeadState& state, double* o);

// A head's gradient with respect to its state's A, S, z.
struct HeadStateGradient {
  std::vector<double> A, S, z;  // [d,d], [d,d], [d]
};

// The reverse of token_forward from the state `before` it: on entry `grad` is the gradient with
// respect to the state after the token, on return with respect to `before`; d_o is the
// gradient of o; the token's gradients are added to dq, dk, du, dv (d values each).
void token_backward(const Hyper& hyper, int d, int64_t position, const TokenInputs& token,
                    const HeadState& before, const double* d_o, HeadStateGradient& grad, double* dq,
                    double* dk, double* du, double* dv);

}  // namespace lla::reference::vla
