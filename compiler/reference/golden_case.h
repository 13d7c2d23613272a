#pragma once
// Golden cases: float64 inputs and results of log-linear attention in the "lla-case-v1" JSON
// format (tests/data/README.md), the oracle's oracle.

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

// Gradients of the loss sum(o * d_o), in the layouts of the tensors they belong to (dq and dk
// summed over the heads of a group). dbeta is empty for mamba2.
struct GoldenGradients {
  std::vector<double> d_o, dq, dk, dv, dg, dlambda, dbeta;
};

struct GoldenCase {
  std::string name;
  std::string path;  // as given to load_golden_case
  Problem problem;
  Inputs inputs;
  Result expected;  // o and the final state after the case's T tokens
  std::optional<GoldenGradients> grads;
};

// Reads and checks one case: every field present with the right type, every array's layout the
// one of reference.h and its length the one the shape gives. Throws CaseFormatError.
GoldenCase load_golden_case(const std::string& path);

}  // namespace lla::reference
