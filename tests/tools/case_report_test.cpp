// How `lla check` judges what a backend computed (tools/lla/case_report): a tensor a backend
// did not compute is named as skipped and never counted as passed; a case none of whose
// tensors was computed is a SKIP; control characters print escaped.

#include "case_report.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "reference/golden_case.h"

namespace lla::tools {
namespace {

reference::GoldenCase gradient_case() {
  return reference::load_golden_case(std::string(LLA_TEST_CASES_DIR) +
                                     "/state_gdn_P7_T1_K8_V4_H2_G2_l2n.json");
}

// Everything the case carries, as a backend that computes all of it exactly would return it.
CaseOutputs everything(const reference::GoldenCase& c) {
  CaseOutputs out;
  out.forward = c.expected;
  const reference::GoldenGradients& g = *c.grads;
  out.gradients = {g.dq, g.dk, g.dv, g.dg, g.dlambda, g.dbeta, g.d_initial_state};
  return out;
}

TEST(CaseReport, EveryTensorComputedPasses) {
  const reference::GoldenCase c = gradient_case();
  const CaseVerdict v = judge_case(c, everything(c), 1e-9, "reference");
  EXPECT_EQ(v.outcome, Outcome::pass);
  EXPECT_FALSE(v.partial);
  EXPECT_EQ(v.line, "PASS " + c.name +
                        " o=0.00e+00 final_state=0.00e+00 dq=0.00e+00 dk=0.00e+00 dv=0.00e+00 "
                        "dg=0.00e+00 dlambda=0.00e+00 dbeta=0.00e+00 dinitial_state=0.00e+00");
}

TEST(CaseReport, TensorsNotComputedAreSkippedNotPassed) {
  const reference::GoldenCase c = gradient_case();
  CaseOutputs o_only;
  o_only.forward.o = c.expected.o;
  const CaseVerdict v = judge_case(c, o_only, 1e-9, "cuda");
  EXPECT_EQ(v.outcome, Outcome::pass);
  EXPECT_TRUE(v.partial);
  EXPECT_EQ(v.line, "PASS " + c.name +
                        " o=0.00e+00 (SKIP final_state dq dk dv dg dlambda dbeta dinitial_state: "
                        "not computed by the cuda backend)");

  const CaseVerdict none = judge_case(c, CaseOutputs{}, 1e-9, "cuda");
  EXPECT_EQ(none.outcome, Outcome::skip);
  EXPECT_EQ(none.line.rfind("SKIP " + c.name + " (o final_state dq", 0), 0u) << none.line;
}

TEST(CaseReport, AWrongOrMissizedTensorFails) {
  const reference::GoldenCase c = gradient_case();
  CaseOutputs got = everything(c);
  got.gradients.dbeta[1] = NAN;
  got.gradients.dv.pop_back();
  const CaseVerdict v = judge_case(c, got, 1e-9, "reference");
  EXPECT_EQ(v.outcome, Outcome::fail);
  EXPECT_EQ(v.line.rfind("FAIL " + c.name + " dv has 7 values, expected 8; dbeta max_rel_err=nan "
                                            "worst_index=1 got=nan expected=",
                         0),
            0u)
      << v.line;
}

// A "vla" case: its own tensors (o, final_state.A/S/z, dq, dk, du, dv), judged the same way.
TEST(CaseReport, VlaCaseComparesItsOwnTensors) {
  const reference::GoldenCase c = reference::load_golden_case(
      std::string(LLA_TEST_CASES_DIR) + "/vla_grad_T12_d4_B2_H2_period5.json");
  const reference::VlaGoldenCase& vla = *c.vla;
  CaseOutputs got;
  got.vla_forward = vla.expected;
  const CaseVerdict forward_only = judge_case(c, got, 1e-9, "cpu");
  EXPECT_EQ(forward_only.outcome, Outcome::pass);
  EXPECT_TRUE(forward_only.partial);
  EXPECT_EQ(forward_only.line,
            "PASS " + c.name +
                " o=0.00e+00 final_state.A=0.00e+00 final_state.S=0.00e+00 final_state.z=0.00e+00 "
                "(SKIP dq dk du dv: not computed by the cpu backend)");

  got.vla_gradients = {vla.grads->dq, vla.grads->dk, vla.grads->du, vla.grads->dv, {}};
  got.vla_gradients.du[4] += 1.0;
  got.vla_forward.final_state.z.pop_back();
  const CaseVerdict wrong = judge_case(c, got, 1e-9, "reference");
  EXPECT_EQ(wrong.outcome, Outcome::fail);
  EXPECT_EQ(wrong.line.rfind("FAIL " + c.name + " final_state.z has 15 values, expected 16; du "
                                                "max_rel_err=",
                             0),
            0u)
      << wrong.line;
  EXPECT_NE(wrong.line.find("worst_index=4 "), std::string::npos) << wrong.line;

  // What a backend computed for log-linear cases says nothing about a vla case.
  CaseOutputs log_linear_only = everything(gradient_case());
  EXPECT_EQ(judge_case(c, log_linear_only, 1e-9, "cuda").outcome, Outcome::skip);
}

TEST(CaseReport, ControlCharactersAreEscaped) {
  EXPECT_EQ(printable(std::string("a\0b\x1b[0m\x7f\tc", 10)), "a\\x00b\\x1b[0m\\x7f\\x09c");
  EXPECT_EQ(printable("plain text, UTF-8 \xc3\xa9"), "plain text, UTF-8 \xc3\xa9");
}

}  // namespace
}  // namespace lla::tools
