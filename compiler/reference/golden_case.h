#pragma once
// Golden cases: float64 inputs and results of log-linear attention in the "lla-case-v1" JSON
// format (tests/data/README.md), the oracle's oracle, with the format's extensions for a call
// that continues a sequence (start_position, inputs.initial_state, grads.dfinal_state,
// grads.dinitial_state).
//
// A case file is read whole and bounded: at most kMaxCaseFileBytes, JSON nested at most
// kMaxCaseDepth deep; every array's expected length is computed with overflow checks.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "reference/reference.h"

namespace lla::reference {

// A case file that cannot be used: unreadable, not JSON, not lla-case-v1, or inconsistent. The
// message names the file and the field, e.g.
// "mamba2_T1.json: field 'inputs.q' has 15 values, expected 16 = B*T*G*K".
class CaseFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A valid case of an extension of the format this reader does not implement (variant "vla",
// spec/vla.md): a checker reports it as SKIP, never as PASS. The message names the file.
class CaseNotSupported : public std::runtime_error {
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

struct GoldenCase {
  std::string name;
  std::string path;  // as given to load_golden_case
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
// zero and L >= num_levels(start_position + T). Throws CaseFormatError, or CaseNotSupported for
// a variant this reader does not implement.
GoldenCase load_golden_case(const std::string& path);

}  // namespace lla::reference
