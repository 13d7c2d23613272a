#pragma once
// The comparing and reporting half of `lla check`: what a backend computed for a golden case
// against every output and gradient the case carries, as one line per case.

#include <string>

#include "reference/backward.h"
#include "reference/golden_case.h"
#include "reference/reference.h"
#include "reference/vla.h"
#include "reference/vla_backward.h"

namespace lla::tools {

// What a backend computed for a case. A tensor left empty was not computed: it is reported as
// skipped, never as passed.
struct CaseOutputs {
  reference::Result forward;       // o and the final state
  reference::Gradients gradients;  // of the case's loss, when the case carries grads
  // For a "vla" case (GoldenCase::vla), in place of the two above.
  reference::vla::Result vla_forward;       // o and the final state (A, S, z)
  reference::vla::Gradients vla_gradients;  // dq, dk, du, dv of sum(o * do)
};

enum class Outcome { pass, fail, skip };

struct CaseVerdict {
  Outcome outcome = Outcome::skip;
  bool partial = false;  // passed, but some tensors the case carries were not computed
  std::string line;      // without a newline; may hold any byte the case's name holds
};

// Compares, by max relative error (max |got - expected| / max |expected|), every tensor the
// case carries (o, final_state, and dq, dk, dv, dg, dlambda, dbeta, dinitial_state of its
// grads; for a "vla" case o, final_state.A, final_state.S, final_state.z, and dq, dk, du, dv)
// that `got` holds:
//   PASS <name> o=<err> final_state=<err> dq=<err> ...[ (SKIP <tensors>: not computed by the
//       <backend> backend)]
//   FAIL <name> <tensor> max_rel_err=<err> worst_index=<i> got=<x> expected=<y>[; <tensor> ...]
//   SKIP <name> (<tensors>: not computed by the <backend> backend)   when none was computed
CaseVerdict judge_case(const reference::GoldenCase& c, const CaseOutputs& got, double tolerance,
                       const std::string& backend);

// text with every control character (a NUL, a terminal escape) written as \xNN, so a line
// prints whole and as the bytes it holds.
std::string printable(const std::string& text);

}  // namespace lla::tools
