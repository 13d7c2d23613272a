#include "case_report.h"

#include <cmath>
#include <cstdio>
#include <vector>

namespace lla::tools {
namespace {

// The index where |got - expected| is largest; a NaN difference counts as the largest.
size_t worst_index(const std::vector<double>& got, const std::vector<double>& expected) {
  size_t worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double diff = std::abs(got[i] - expected[i]);
    if (std::isnan(diff)) return i;
    if (diff > std::abs(got[worst] - expected[worst])) worst = i;
  }
  return worst;
}

struct Tensor {
  const char* name;
  const std::vector<double>* got;
  const std::vector<double>* expected;
};

// Every tensor a "vla" case carries, in the order of the PASS line.
std::vector<Tensor> carried_vla_tensors(const reference::VlaGoldenCase& c, const CaseOutputs& got) {
  const reference::vla::State& state = got.vla_forward.final_state;
  std::vector<Tensor> tensors = {
      {"o", &got.vla_forward.o, &c.expected.o},
      {"final_state.A", &state.A, &c.expected.final_state.A},
      {"final_state.S", &state.S, &c.expected.final_state.S},
      {"final_state.z", &state.z, &c.expected.final_state.z},
  };
  if (c.grads) {
    const reference::vla::Gradients& g = got.vla_gradients;
    tensors.insert(tensors.end(), {{"dq", &g.dq, &c.grads->dq},
                                   {"dk", &g.dk, &c.grads->dk},
                                   {"du", &g.du, &c.grads->du},
                                   {"dv", &g.dv, &c.grads->dv}});
  }
  return tensors;
}

// Every tensor the case carries, in the order of the PASS line.
std::vector<Tensor> carried_tensors(const reference::GoldenCase& c, const CaseOutputs& got) {
  if (c.vla) return carried_vla_tensors(*c.vla, got);
  std::vector<Tensor> tensors = {
      {"o", &got.forward.o, &c.expected.o},
      {"final_state", &got.forward.final_state.levels, &c.expected.final_state.levels},
  };
  if (c.grads) {
    const reference::Gradients& g = got.gradients;
    const reference::GoldenGradients& want = *c.grads;
    tensors.insert(tensors.end(), {{"dq", &g.dq, &want.dq},
                                   {"dk", &g.dk, &want.dk},
                                   {"dv", &g.dv, &want.dv},
                                   {"dg", &g.dg, &want.dg},
                                   {"dlambda", &g.dlambda, &want.dlambda},
                                   {"dbeta", &g.dbeta, &want.dbeta},
                                   {"dinitial_state", &g.d_initial_state, &want.d_initial_state}});
  }
  return tensors;
}

std::string format(const char* spec, double x) {
  char text[64];
  std::snprintf(text, sizeof text, spec, x);
  return text;
}

}  // namespace

CaseVerdict judge_case(const reference::GoldenCase& c, const CaseOutputs& got, double tolerance,
                       const std::string& backend) {
  std::string compared, not_computed;
  std::vector<std::string> differences;
  for (const Tensor& t : carried_tensors(c, got)) {
    const std::vector<double>& got_values = *t.got;
    const std::vector<double>& expected = *t.expected;
    if (expected.empty()) continue;  // not in this case
    if (got_values.empty()) {
      not_computed += (not_computed.empty() ? "" : " ") + std::string(t.name);
      continue;
    }
    if (got_values.size() != expected.size()) {
      differences.push_back(std::string(t.name) + " has " + std::to_string(got_values.size()) +
                            " values, expected " + std::to_string(expected.size()));
      continue;
    }
    const double err = reference::max_relative_error(got_values, expected);
    compared += " " + std::string(t.name) + "=" + format("%.2e", err);
    if (err <= tolerance) continue;  // a NaN error is not <= and fails
    const size_t worst = worst_index(got_values, expected);
    differences.push_back(std::string(t.name) + " max_rel_err=" + format("%.3e", err) +
                          " worst_index=" + std::to_string(worst) + " got=" +
                          format("%.17g", got_values[worst]) + " expected=" +
                          format("%.17g", expected[worst]));
  }
  const std::string skipped =
      not_computed.empty() ? "" : not_computed + ": not computed by the " + backend + " backend";
  if (!differences.empty()) {
    std::string line = "FAIL " + c.name;
    for (size_t i = 0; i < differences.size(); ++i) line += (i == 0 ? " " : "; ") + differences[i];
    return {Outcome::fail, false, line};
  }
  if (compared.empty()) return {Outcome::skip, false, "SKIP " + c.name + " (" + skipped + ")"};
  std::string line = "PASS " + c.name + compared;
  if (!skipped.empty()) line += " (SKIP " + skipped + ")";
  return {Outcome::pass, !skipped.empty(), line};
}

std::string printable(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c != 0x7f) {
      out += ch;
      continue;
    }
    char escaped[8];
    std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
    out += escaped;
  }
  return out;
}

}  // namespace lla::tools
