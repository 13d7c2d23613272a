#pragma once
// The float64 reference backward of Variational Linear Attention (spec/vla.md 3.7): the oracle
// of the VLA backward kernels. Plain, readable code; never a fast path.
//
// The loss is sum(o * d_o) + sum(A_T * dA) + sum(S_T * dS) + sum(z_T * dz) with (A_T, S_T, z_T)
// the final state; backward() returns its gradients with respect to q, k, u, v as vla.h's
// functions read them (u before the 1 / sqrt(d); the unit normalisation and ELU + 1 are
// vla_features.h's) and, when given, the initial state:
//
//   vla::Gradients g = vla::backward(p, inputs, &state, {d_o, {dA, dS, dz}});
//   vla::Gradients h = vla::backward(p, inputs, nullptr, {d_o}, {vla::BackwardForm::recurrent});
//
// Two forms, written independently of each other, agree to about 1e-13 relative:
//   - recurrent: the recurrence reversed token by token, every token's state kept (O(T d^2)
//     memory): the oracle of the oracle, small T only.
//   - chunkwise: the reverse of forward_chunkwise. Only the states entering each chunk are
//     kept (the checkpoints); going backwards, each chunk's precision blocks and memory path are
//     recomputed from its checkpoint and reversed: the Cholesky factor and the triangular solves
//     of the precision path, the UT solve of the memory path. O((T/C) d^2 + C d) memory for
//     chunk C; any chunk and period. Like forward_chunkwise it has no delta clamp, and throws
//     std::domain_error where the recurrence would clamp (eps_stab > 1).

#include <vector>

#include "reference/vla.h"

namespace lla::reference::vla {

// A gradient with respect to a state's tensors (A and S [B,H,d,d], z [B,H,d]).
struct StateGradient {
  std::vector<double> A, S, z;
};

// What the loss sends back.
struct OutputGradients {
  std::vector<double> d_o;      // [B,T,H,d]
  StateGradient d_final_state;  // each tensor empty when the loss does not read it
};

struct Gradients {
  std::vector<double> dq, dk, du, dv;  // [B,T,H,d]
  // When an initial state was given: the gradient with respect to it. Its A part is the
  // gradient with respect to a symmetric matrix (the symmetric part of the entrywise one), so
  // sum(dA * E) is the derivative along any symmetric direction E. Else empty.
  StateGradient d_initial_state;
};

enum class BackwardForm { recurrent, chunkwise };

const char* backward_form_name(BackwardForm form);  // "recurrent", "chunkwise"

struct BackwardOptions {
  BackwardForm form = BackwardForm::chunkwise;
  int chunk = 64;  // chunkwise only: any positive number of tokens
};

// Throws std::invalid_argument naming the field when the problem, inputs, initial state,
// d_o, d_final_state or the chunk are inconsistent.
Gradients backward(const Problem& p, const Inputs& in, const State* initial,
                   const OutputGradients& out, const BackwardOptions& options = {});

}  // namespace lla::reference::vla
