#pragma once
// Golden cases: float64 inputs and results of log-linear attention in the "lla-case-v1" JSON
// format (tests/data/README.md), the oracle's oracle, with the format's extensions: a call that
// continues a sequence (start_position, inputs.initial_state, grads.dfinal_state,
// grads.dinitial_state) and Variational Linear Attention (variant "vla", spec/vla.md).
//
// A case file is read whole and bounded: at most kMaxCaseFileBytes, JSON nested at most
// kMaxCaseDepth deep; every array's expected length is computed with overflow checks.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "reference/reference.h"
#include "reference/vla.h"

namespace lla::reference {

// A case file that cannot be used: unreadable, not JSON, not lla-case-v1, or inconsistent. The
// message names the file and the field, e.g.
// "mamba2_T1.json: field 'inputs.q' has 15 values, expected 16 = B*T*G*K".
class CaseFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

constexpr long long kMaxCaseFileBytes = 256ll << 20;  // 256 MiB; the largest bundled is 2 MB
constexpr int kMaxCaseDepth = 64;                     // the bundled cases nest 5 deep at most

// Gradients of the loss sum(o * d_o) + sum(final_state * d_final_state), in the layouts of the
// tensors they belong to (dq and dk summed over the heads of a group). dbeta is empty for
// mamba2; d_final_state is empty when the loss does not read the final state, d_initial_state
// when the case does not give it.
struct GoldenGradients {
  std::vector<double> d_o, dq, dk, dv, dg, dlambda, dbeta;
  std::vector<double> d_final_state;    // [B,H,L,K,V], the incoming gradient (grads.dfinal_state)
  std::vector<double> d_initial_state;  // [B,H,L,K,V], expected (grads.dinitial_state)
};

// Gradients of a "vla" case's loss sum(o * d_o) with respect to its inputs ([B,T,H,d] each; du
// with respect to u as the case gives it, before the 1 / sqrt(d), as vla_backward.h's du).
struct VlaGoldenGradients {
  std::vector<double> d_o, dq, dk, du, dv;
};

// A "vla" case: B, T, H, d and the hyperparameters; q and k after ELU + 1, u the unit (or zero)
// write-penalty direction of each head, v; o and the final state (A, S, z) after the T tokens
// from vla::initial_state (position 0).
struct VlaGoldenCase {
  vla::Problem problem;
  vla::Inputs inputs;
  vla::Result expected;
  std::optional<VlaGoldenGradients> grads;
};

struct GoldenCase {
  std::string name;
  std::string path;  // as given to load_golden_case
  // For variant "vla": that case, and every log-linear field below is left empty (default).
  std::optional<VlaGoldenCase> vla;
  Problem problem;
  Inputs inputs;
  // The state the case continues from (inputs.initial_state, at start_position); absent when
  // the case starts a sequence without giving one.
  std::optional<FenwickState> initial_state;
  Result expected;  // o and the final state after the case's T tokens (position P + T)
  std::optional<GoldenGradients> grads;

  int64_t start_position() const { return initial_state ? initial_state->position : 0; }
};

// Reads and checks one case: every field present with the right type, every array's layout the
// one of reference.h and its length the one the shape gives, the initial state's empty levels
// zero and L >= num_levels(start_position + T). For variant "vla": the hyperparameters in range
// (vla::validate), q and k not negative, every row of u of norm 1 (or 0), and none of the
// log-linear fields (G, L, scale, qk_l2norm, start_position, g, lambda, beta, initial_state,
// dfinal_state, dinitial_state). Throws CaseFormatError.
GoldenCase load_golden_case(const std::string& path);

}  // namespace lla::reference
