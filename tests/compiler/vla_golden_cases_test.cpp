// The VLA golden cases (tests/data/cases/vla_*.json, variant "vla" of lla-case-v1): how they
// are written, and that they hold what they claim.
//
// Each case is a recipe below, computed by the float64 reference: inputs from the feature maps
// (ELU + 1, unit u per head) of random projections, o and the final state by the recurrent
// forward, gradients by the recurrent backward. Before a case is written it is cross-checked:
// the chunkwise forms (chunks 5 and 64), a textbook recurrence written apart
// (vla_test_support.h), central differences of the loss along random directions of q, k, u, v,
// and for two recipes the spec's own numbers (the hand example of spec test 1; the delta-rule
// limit of spec test 5). The measured agreements go into the case's "provenance".
//
// To write them again (after a deliberate change of the reference), from the build folder:
//   tests/vla_golden_cases_test --gtest_also_run_disabled_tests --gtest_filter='*WriteBundled*'
// BundledCasesAreWhatTheRecipesWrite fails until the bundled files are the recipes' output.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gradient_checks.h"
#include "reference/golden_case.h"
#include "reference/reference.h"
#include "reference/vla.h"
#include "reference/vla_backward.h"
#include "reference/vla_features.h"
#include "scratch_files.h"
#include "vla_test_support.h"

namespace lla::reference::vla {
namespace {

using nlohmann::ordered_json;
namespace fs = std::filesystem;

const std::string kCasesDir = LLA_TEST_CASES_DIR;

// Which of the spec's small tests a recipe reproduces besides the generic cross-checks.
enum class SpecCheck { none, hand_example, delta_rule };

struct Recipe {
  std::string name;
  int B, T, H, d;
  Hyper hyper;
  InputDistribution distribution;
  uint64_t seed;
  bool with_grads;
  SpecCheck spec_check = SpecCheck::none;
  // Edits the random projections before the feature maps (e.g. tiny queries for the clamp).
  std::function<void(const Problem&, Projections&)> edit;
};

Hyper notebook05() {  // notebook 05 and src/models/attention/vla_v3.py
  Hyper h;
  h.lambda0 = 10.0;
  h.eps_den = 1e-6;
  return h;
}

Hyper with_period(int period) {
  Hyper h;
  h.period = period;
  return h;
}

Hyper hand_hyper() {
  Hyper h;
  h.lambda0 = 1.0;
  return h;
}

const std::vector<Recipe>& recipes() {
  static const std::vector<Recipe> all = {
      // Spec test 1: d = 2, lambda0 = 1, u = (1, 0), k = (1, 1), v = (1, -1), q = (1, 0).
      {"vla_hand_d2_T1",
       1,
       1,
       1,
       2,
       hand_hyper(),
       InputDistribution::standard,
       1,
       true,
       SpecCheck::hand_example,
       {}},
      // Spec test 7's shape: T = 12, d = 4, the nudge every 5 tokens; two sequences and heads.
      {"vla_grad_T12_d4_B2_H2_period5",
       2,
       12,
       2,
       4,
       with_period(5),
       InputDistribution::standard,
       2,
       true,
       SpecCheck::none,
       {}},
      // The read-out clamp: head 0's first three queries are ELU + 1 of -14 (about 8e-7), so
      // z.q < eps_den = 1e-4 there.
      {"vla_grad_T45_d8_H2_clamped", 1, 45, 2, 8, Hyper{}, InputDistribution::standard, 3, true,
       SpecCheck::none,
       [](const Problem& p, Projections& raw) {
         for (int t = 0; t < 3; ++t) {
           double* q = &raw.q_raw[static_cast<size_t>(t) * p.heads * p.head_dim];
           std::fill(q, q + p.head_dim, -14.0);
         }
       }},
      // Notebook 05's constants (lambda0 = 10, eps_den = 1e-6); 70 tokens: three nudges, and
      // not a multiple of the usual chunk.
      {"vla_grad_T70_d8_nb05",
       1,
       70,
       1,
       8,
       notebook05(),
       InputDistribution::standard,
       4,
       true,
       SpecCheck::none,
       {}},
      // Spec test 5: u = 0 (W_u's output zero), the beta = 1 delta rule with normalised keys.
      {"vla_T33_d6_B2_H2_delta_rule", 2, 33, 2, 6, Hyper{}, InputDistribution::standard, 5, false,
       SpecCheck::delta_rule,
       [](const Problem&, Projections& raw) {
         std::fill(raw.u_raw.begin(), raw.u_raw.end(), 0.0);
       }},
      // The TinyLM head (d = 32) at initialisation: spec 3.9's distribution.
      {"vla_T64_d32_initialised",
       1,
       64,
       1,
       32,
       Hyper{},
       InputDistribution::initialised_layer,
       6,
       false,
       SpecCheck::none,
       {}},
  };
  return all;
}

Problem problem_of(const Recipe& r) { return test::make_problem(r.B, r.T, r.H, r.d, r.hyper); }

Inputs inputs_of(const Recipe& r) {
  const Problem p = problem_of(r);
  if (r.spec_check == SpecCheck::hand_example)
    return {{1.0, 0.0}, {1.0, 1.0}, {1.0, 0.0}, {1.0, -1.0}};
  Projections raw = random_projections(p, r.seed, r.distribution);
  if (r.edit) r.edit(p, raw);
  return features(p, raw);
}

std::vector<double> output_gradient(const Recipe& r) {
  return lla::test::normal_values(token_size(problem_of(r)), 1000 + r.seed);
}

// What a written case holds besides its inputs.
struct Computed {
  Result forward;
  Gradients gradients;  // empty without grads
};

Computed compute(const Recipe& r) {
  const Problem p = problem_of(r);
  const Inputs in = inputs_of(r);
  Computed c{forward_recurrent(p, in), {}};
  if (r.with_grads) {
    c.gradients = backward(p, in, nullptr, {output_gradient(r), {}}, {BackwardForm::recurrent});
  }
  return c;
}

// z_t.q_t of every row (b, t, h) ([B,T,H]): what the read-out divides by, before its clamp.
std::vector<double> read_out_denominators(const Problem& p, const Inputs& in) {
  const int d = p.head_dim;
  std::vector<double> zq(static_cast<size_t>(p.batch) * p.seq_len * p.heads);
  for (int b = 0; b < p.batch; ++b) {
    for (int h = 0; h < p.heads; ++h) {
      std::vector<double> z(d, 0.0);
      for (int t = 0; t < p.seq_len; ++t) {
        const size_t row = (static_cast<size_t>(b) * p.seq_len + t) * p.heads + h;
        zq[row] = 0.0;
        for (int i = 0; i < d; ++i) {
          z[i] += in.k[row * d + i];
          zq[row] += z[i] * in.q[row * d + i];
        }
      }
    }
  }
  return zq;
}

// The cross-checks of a recipe: each a measured max relative error, required below its bound.
ordered_json cross_checks(const Recipe& r, const Computed& want) {
  const Problem p = problem_of(r);
  const Inputs in = inputs_of(r);
  ordered_json checks;
  const auto record = [&](const std::string& what, double error, double bound) {
    EXPECT_LT(error, bound) << r.name << " " << what;
    checks[what] = error;
  };
  for (const int chunk : {5, 64}) {
    const std::string form = "chunkwise_C" + std::to_string(chunk) + "_vs_recurrent_";
    const Result got = forward_chunkwise(p, in, chunk);
    record(form + "o", max_relative_error(got.o, want.forward.o), 1e-12);
    record(form + "A", max_relative_error(got.final_state.A, want.forward.final_state.A), 1e-12);
    record(form + "S", max_relative_error(got.final_state.S, want.forward.final_state.S), 1e-12);
    if (!r.with_grads) continue;
    const Gradients g =
        backward(p, in, nullptr, {output_gradient(r), {}}, {BackwardForm::chunkwise, chunk});
    record(form + "dq", max_relative_error(g.dq, want.gradients.dq), 1e-12);
    record(form + "dk", max_relative_error(g.dk, want.gradients.dk), 1e-12);
    record(form + "du", max_relative_error(g.du, want.gradients.du), 1e-12);
    record(form + "dv", max_relative_error(g.dv, want.gradients.dv), 1e-12);
  }
  // The textbook recurrence, written apart.
  std::vector<double> textbook_o(in.v.size());
  for (int b = 0; b < p.batch; ++b) {
    for (int h = 0; h < p.heads; ++h) {
      test::TextbookHead<double> head(p.head_dim, p.hyper);
      for (int t = 0; t < p.seq_len; ++t) {
        const std::vector<double> o =
            head.step(test::token_row(p, in.q, b, t, h), test::token_row(p, in.k, b, t, h),
                      test::token_row(p, in.u, b, t, h), test::token_row(p, in.v, b, t, h));
        const size_t row = test::token_row(p, in.v, b, t, h) - in.v.data();
        std::copy(o.begin(), o.end(), textbook_o.begin() + row);
      }
    }
  }
  record("textbook_recurrence_o", max_relative_error(textbook_o, want.forward.o), 1e-12);
  if (r.with_grads) {
    // <gradient, direction> against Richardson central differences of the loss.
    const std::vector<double> d_o = output_gradient(r);
    uint64_t seed = 2000 + r.seed;
    struct Input {
      const char* name;
      std::vector<double> Inputs::*field;
      const std::vector<double>* gradient;
    };
    for (const Input& input :
         {Input{"q", &Inputs::q, &want.gradients.dq}, Input{"k", &Inputs::k, &want.gradients.dk},
          Input{"u", &Inputs::u, &want.gradients.du}, Input{"v", &Inputs::v, &want.gradients.dv}}) {
      std::vector<double> direction = lla::test::normal_values(in.v.size(), ++seed);
      // Where the read-out is clamped, steps of q small enough to keep it clamped.
      const std::vector<double> zq = read_out_denominators(p, in);
      for (size_t row = 0; row < zq.size() && input.field == &Inputs::q; ++row) {
        if (zq[row] >= p.hyper.eps_den) continue;
        for (int i = 0; i < p.head_dim; ++i) direction[row * p.head_dim + i] *= 1e-3;
      }
      const double numeric = lla::test::directional_derivative([&](double step) {
        Inputs moved = in;
        for (size_t i = 0; i < direction.size(); ++i)
          (moved.*input.field)[i] += step * direction[i];
        return lla::test::dot(forward_recurrent(p, moved).o, d_o);
      });
      const double analytic = lla::test::dot(*input.gradient, direction);
      record(std::string("central_differences_d") + input.name,
             std::abs(analytic - numeric) / std::max(std::abs(numeric), 1e-300), 1e-8);
    }
  }
  if (r.spec_check == SpecCheck::hand_example) {
    // Spec test 1's printed values (six digits).
    const std::vector<double> o = {0.554700, -0.554700};
    const std::vector<double> A = {2.0 / 3.0, 0.0, 0.0, 1.0};
    record("spec_test_1_o", max_relative_error(want.forward.o, o), 1e-6);
    record("spec_test_1_A", max_relative_error(want.forward.final_state.A, A), 1e-15);
  }
  if (r.spec_check == SpecCheck::delta_rule) {
    record("spec_test_5_delta_rule_o",
           max_relative_error(want.forward.o, test::delta_rule_outputs(p, in)), 1e-13);
  }
  return checks;
}

// The case document of a recipe, in the format of tests/data/README.md.
ordered_json write_case(const Recipe& r) {
  const Problem p = problem_of(r);
  const Inputs in = inputs_of(r);
  const Computed c = compute(r);
  ordered_json doc;
  doc["format"] = "lla-case-v1";
  doc["name"] = r.name;
  doc["variant"] = "vla";
  doc["B"] = p.batch;
  doc["T"] = p.seq_len;
  doc["H"] = p.heads;
  doc["d"] = p.head_dim;
  doc["K"] = p.head_dim;
  doc["V"] = p.head_dim;
  doc["hyper"] = {{"lambda0", p.hyper.lambda0},
                  {"period", p.hyper.period},
                  {"eps_per", p.hyper.eps_per},
                  {"eps_stab", p.hyper.eps_stab},
                  {"eps_den", p.hyper.eps_den}};
  const std::string token = "B,T,H,d";
  doc["layout"] = {
      {"q", token}, {"k", token},
      {"u", token}, {"v", token},
      {"o", token}, {"final_state", {{"A", "B,H,d,d"}, {"S", "B,H,d,d"}, {"z", "B,H,d"}}}};
  doc["inputs"] = {{"q", in.q}, {"k", in.k}, {"u", in.u}, {"v", in.v}};
  const State& s = c.forward.final_state;
  doc["outputs"] = {{"o", c.forward.o}, {"final_state", {{"A", s.A}, {"S", s.S}, {"z", s.z}}}};
  if (r.with_grads) {
    const Gradients& g = c.gradients;
    doc["grads"] = {
        {"do", output_gradient(r)}, {"dq", g.dq}, {"dk", g.dk}, {"du", g.du}, {"dv", g.dv}};
  }
  const char* distribution =
      r.spec_check == SpecCheck::hand_example
          ? "the spec's hand example (spec/vla.md, small test 1)"
      : r.distribution == InputDistribution::standard
          ? "q, k = ELU(N(0,1)) + 1, u = N(0,1) normalised per head, v = N(0,1)"
          : "a layer at initialisation: x ~ N(0, I_D), W ~ N(0, 0.02^2)";
  doc["provenance"] = {
      {"generator", "tests/compiler/vla_golden_cases_test.cpp, float64 reference, recurrent form"},
      {"inputs", distribution},
      {"seed", r.seed},
      {"cross_checks_max_rel_err", cross_checks(r, c)}};
  return doc;
}

std::vector<std::string> bundled_vla_case_files() {
  std::vector<std::string> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(kCasesDir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("vla_", 0) == 0 && entry.path().extension() == ".json")
      files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(VlaGoldenCases, AreBundledOnePerRecipe) {
  std::vector<std::string> expected;
  for (const Recipe& r : recipes()) expected.push_back(kCasesDir + "/" + r.name + ".json");
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(bundled_vla_case_files(), expected);
  uintmax_t bytes = 0;
  for (const std::string& file : expected) bytes += fs::exists(file) ? fs::file_size(file) : 0;
  EXPECT_LT(bytes, uintmax_t{1} << 20);
}

// `got` holds what `want` holds: the same keys and scalars, numeric arrays to `tolerance` (max
// relative error).
void expect_same(const std::string& path, const ordered_json& want, const nlohmann::json& got,
                 double tolerance) {
  if (want.is_object()) {
    for (const auto& [key, value] : want.items()) {
      const std::string child = path.empty() ? key : path + "." + key;
      ASSERT_TRUE(got.is_object() && got.contains(key)) << child << " is missing";
      expect_same(child, value, got[key], tolerance);
    }
    return;
  }
  if (want.is_array() && !want.empty() && want[0].is_number()) {
    EXPECT_LE(max_relative_error(got.get<std::vector<double>>(), want.get<std::vector<double>>()),
              tolerance)
        << path;
    return;
  }
  EXPECT_EQ(got.dump(), want.dump()) << path;
}

// Every field of every bundled case (but its provenance) is what its recipe computes now, the
// arrays to 1e-12 relative (another compiler may round a last bit differently), and every
// cross-check holds.
TEST(VlaGoldenCases, BundledCasesAreWhatTheRecipesWrite) {
  for (const Recipe& r : recipes()) {
    SCOPED_TRACE(r.name);
    ordered_json written = write_case(r);
    written.erase("provenance");
    expect_same("", written, lla::test::bundled_case_json(r.name + ".json"), 1e-12);
  }
}

// Every bundled case through both forward forms (chunks that do and do not divide the period)
// and both backward forms, to 1e-9 relative (what lla check asks).
TEST(VlaGoldenCases, ThroughEveryForm) {
  for (const std::string& file : bundled_vla_case_files()) {
    SCOPED_TRACE(file);
    const GoldenCase golden = load_golden_case(file);
    ASSERT_TRUE(golden.vla.has_value());
    const VlaGoldenCase& c = *golden.vla;
    for (const int chunk : {0, 1, 4, 7, 20, 64}) {  // 0: recurrent
      const Result r = chunk == 0 ? forward_recurrent(c.problem, c.inputs)
                                  : forward_chunkwise(c.problem, c.inputs, chunk);
      EXPECT_LT(max_relative_error(r.o, c.expected.o), 1e-9) << chunk;
      EXPECT_LT(max_relative_error(r.final_state.A, c.expected.final_state.A), 1e-9) << chunk;
      EXPECT_LT(max_relative_error(r.final_state.S, c.expected.final_state.S), 1e-9) << chunk;
      EXPECT_LT(max_relative_error(r.final_state.z, c.expected.final_state.z), 1e-9) << chunk;
      if (!c.grads) continue;
      const Gradients g = backward(c.problem, c.inputs, nullptr, {c.grads->d_o, {}},
                                   chunk == 0 ? BackwardOptions{BackwardForm::recurrent}
                                              : BackwardOptions{BackwardForm::chunkwise, chunk});
      EXPECT_LT(max_relative_error(g.dq, c.grads->dq), 1e-9) << chunk;
      EXPECT_LT(max_relative_error(g.dk, c.grads->dk), 1e-9) << chunk;
      EXPECT_LT(max_relative_error(g.du, c.grads->du), 1e-9) << chunk;
      EXPECT_LT(max_relative_error(g.dv, c.grads->dv), 1e-9) << chunk;
    }
  }
}

// The hand case holds spec test 1's inputs and printed results; the clamped case does clamp.
TEST(VlaGoldenCases, HoldTheSpecsNumbers) {
  const VlaGoldenCase hand = *load_golden_case(kCasesDir + "/vla_hand_d2_T1.json").vla;
  EXPECT_EQ(hand.problem.hyper.lambda0, 1.0);
  EXPECT_EQ(hand.inputs.u, (std::vector<double>{1.0, 0.0}));
  EXPECT_EQ(hand.inputs.k, (std::vector<double>{1.0, 1.0}));
  EXPECT_NEAR(hand.expected.o[0], 0.554700, 1e-6);
  EXPECT_NEAR(hand.expected.o[1], -0.554700, 1e-6);
  EXPECT_NEAR(hand.expected.final_state.A[0], 2.0 / 3.0, 1e-15);
  EXPECT_NEAR(hand.expected.final_state.S[1], 0.832050, 1e-6);
  const VlaGoldenCase clamped =
      *load_golden_case(kCasesDir + "/vla_grad_T45_d8_H2_clamped.json").vla;
  const Problem& p = clamped.problem;
  const std::vector<double> zq = read_out_denominators(p, clamped.inputs);
  for (int t = 0; t < p.seq_len; ++t) {
    for (int h = 0; h < p.heads; ++h) {
      // Clamped exactly where intended, and far from the threshold everywhere.
      if (h == 0 && t < 3) {
        EXPECT_LT(zq[t * p.heads + h], 0.5 * p.hyper.eps_den) << t;
      } else {
        EXPECT_GT(zq[t * p.heads + h], 2.0 * p.hyper.eps_den) << h << " " << t;
      }
    }
  }
}

TEST(VlaGoldenCases, DISABLED_WriteBundledCases) {
  for (const Recipe& r : recipes()) {
    const std::string path = kCasesDir + "/" + r.name + ".json";
    std::ofstream(path) << write_case(r).dump() << "\n";
    std::printf("wrote %s (%ju bytes)\n", path.c_str(), fs::file_size(path));
  }
}

}  // namespace
}  // namespace lla::reference::vla
