// The golden-case loader (every malformed case refused with the file and field named) and every
// bundled golden case through every form of the reference.

#include "reference/golden_case.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reference/backward.h"
#include "reference/reference.h"
#include "scratch_files.h"

namespace lla::reference {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const std::string kCasesDir = LLA_TEST_CASES_DIR;

// The bundled log-linear cases (the vla_*.json ones are vla_golden_cases_test's).
std::vector<std::string> bundled_case_files() {
  std::vector<std::string> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(kCasesDir)) {
    const bool vla = entry.path().filename().string().rfind("vla_", 0) == 0;
    if (entry.path().extension() == ".json" && !vla) files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// load_golden_case(path) throws CaseFormatError whose message holds every fragment.
void expect_format_error(const std::string& path, const std::vector<std::string>& fragments) {
  try {
    load_golden_case(path);
    ADD_FAILURE() << path << " loaded without error";
  } catch (const CaseFormatError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    for (const std::string& fragment : fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos)
          << "'" << fragment << "' not in: " << message;
    }
  }
}

// A bundled case edited by `edit`, written to a scratch file: the loader must refuse it.
void expect_edit_refused(const std::string& case_file, const std::function<void(json&)>& edit,
                         const std::vector<std::string>& fragments) {
  json document = test::bundled_case_json(case_file);
  edit(document);
  expect_format_error(test::write_scratch("case.json", document.dump()), fragments);
}

TEST(GoldenCaseLoader, ReadsEveryField) {
  const GoldenCase c = load_golden_case(kCasesDir + "/gdn_grad_T12_K4_V3.json");
  EXPECT_EQ(c.name, "gdn_grad_T12_K4_V3");
  EXPECT_EQ(c.path, kCasesDir + "/gdn_grad_T12_K4_V3.json");
  EXPECT_EQ(c.problem.variant, Variant::gated_deltanet);
  EXPECT_EQ(c.problem.batch, 1);
  EXPECT_EQ(c.problem.seq_len, 12);
  EXPECT_EQ(c.problem.heads, 1);
  EXPECT_EQ(c.problem.groups, 1);
  EXPECT_EQ(c.problem.key_dim, 4);
  EXPECT_EQ(c.problem.value_dim, 3);
  EXPECT_EQ(c.problem.levels, 5);
  EXPECT_EQ(c.problem.scale, 1.0);
  EXPECT_FALSE(c.problem.qk_l2norm);
  EXPECT_EQ(c.inputs.q.size(), 48u);
  EXPECT_EQ(c.inputs.beta.size(), 12u);
  EXPECT_EQ(c.expected.o.size(), 36u);
  EXPECT_EQ(c.expected.final_state.levels.size(), 60u);
  EXPECT_EQ(c.expected.final_state.position, 12);
  const json raw = test::bundled_case_json("gdn_grad_T12_K4_V3.json");
  EXPECT_EQ(c.inputs.k[5], raw["inputs"]["k"][5].get<double>());
  EXPECT_EQ(c.expected.o[35], raw["outputs"]["o"][35].get<double>());
  ASSERT_TRUE(c.grads.has_value());
  EXPECT_EQ(c.grads->d_o.size(), 36u);
  EXPECT_EQ(c.grads->dq.size(), 48u);
  EXPECT_EQ(c.grads->dlambda.size(), 60u);
  EXPECT_EQ(c.grads->dbeta.size(), 12u);
  EXPECT_EQ(c.grads->dg[3], raw["grads"]["dg"][3].get<double>());
}

TEST(GoldenCaseLoader, Mamba2CaseHasNoBetaAndGradientsOnlyWhenGiven) {
  const GoldenCase plain = load_golden_case(kCasesDir + "/mamba2_T9_K4_V3_H2.json");
  EXPECT_EQ(plain.problem.variant, Variant::mamba2);
  EXPECT_TRUE(plain.inputs.beta.empty());
  EXPECT_FALSE(plain.grads.has_value());
  const GoldenCase with_grads = load_golden_case(kCasesDir + "/mamba2_grad_T20_K4_V3_H2_G1.json");
  ASSERT_TRUE(with_grads.grads.has_value());
  EXPECT_TRUE(with_grads.grads->dbeta.empty());
  EXPECT_EQ(with_grads.grads->dq.size(), 20u * 4);  // summed over the group's two heads
}

TEST(GoldenCaseLoader, MissingFile) {
  expect_format_error(std::string(LLA_TEST_BINARY_DIR) + "/no_such_case.json", {"no such file"});
}

TEST(GoldenCaseLoader, InvalidJsonNamesThePosition) {
  expect_format_error(
      test::write_scratch("case.json", "{\"format\": \"lla-case-v1\",\n \"name\": }"),
      {"is not valid JSON", "line 2, column 10"});
}

TEST(GoldenCaseLoader, DocumentThatIsNotAnObject) {
  expect_format_error(test::write_scratch("case.json", "[1, 2, 3]"), {"is not a JSON object"});
}

TEST(GoldenCaseLoader, WrongFormat) {
  expect_edit_refused("gdn_T9_K4_V3.json", [](json& d) { d["format"] = "lla-case-v0"; },
                      {"field 'format' is \"lla-case-v0\", expected \"lla-case-v1\""});
}

TEST(GoldenCaseLoader, UnknownVariant) {
  expect_edit_refused("gdn_T9_K4_V3.json", [](json& d) { d["variant"] = "rwkv"; },
                      {"field 'variant' is \"rwkv\", expected \"mamba2\", \"gdn\" or \"vla\""});
}

TEST(GoldenCaseLoader, MissingFields) {
  expect_edit_refused("gdn_T9_K4_V3.json", [](json& d) { d.erase("K"); }, {"field 'K' is missing"});
  expect_edit_refused("gdn_T9_K4_V3.json", [](json& d) { d["inputs"].erase("v"); },
                      {"field 'inputs.v' is missing"});
  expect_edit_refused("gdn_T9_K4_V3.json", [](json& d) { d["layout"].erase("lambda"); },
                      {"field 'layout.lambda' is missing"});
  expect_edit_refused("gdn_T9_K4_V3.json", [](json& d) { d.erase("outputs"); },
                      {"field 'outputs' is missing"});
}

TEST(GoldenCaseLoader, BetaMissingForGdn) {
  expect_edit_refused("gdn_T9_K4_V3.json", [](json& d) { d["inputs"].erase("beta"); },
                      {"field 'inputs.beta' is missing"});
}

TEST(GoldenCaseLoader, BetaGivenForMamba2) {
  expect_edit_refused("mamba2_T9_K4_V3_H2.json",
                      [](json& d) { d["inputs"]["beta"] = std::vector<double>(18, 0.5); },
                      {"field 'inputs.beta' is given, but variant mamba2 has no beta"});
}

TEST(GoldenCaseLoader, NonNumericEntries) {
  expect_edit_refused("gdn_T9_K4_V3.json", [](json& d) { d["inputs"]["g"][2] = "x"; },
                      {"field 'inputs.g' entry 2 is a string, expected a number"});
  expect_edit_refused("gdn_T9_K4_V3.json", [](json& d) { d["outputs"]["o"] = "zeros"; },
                      {"field 'outputs.o' is a string, expected an array of numbers"});
  expect_edit_refused("gdn_T9_K4_V3.json", [](json& d) { d["scale"] = nullptr; },
                      {"field 'scale' is null, expected a number"});
  expect_edit_refused("gdn_T9_K4_V3.json", [](json& d) { d["qk_l2norm"] = 1; },
                      {"field 'qk_l2norm' is a number, expected true or false"});
}

TEST(GoldenCaseLoader, DimensionsMustBePositiveIntegers) {
  expect_edit_refused("gdn_T9_K4_V3.json", [](json& d) { d["B"] = 0; },
                      {"field 'B' is 0, expected a positive integer"});
  expect_edit_refused("gdn_T9_K4_V3.json", [](json& d) { d["V"] = 2.5; },
                      {"field 'V' is 2.5, expected a positive integer"});
}

TEST(GoldenCaseLoader, InconsistentShape) {
  expect_edit_refused("mamba2_T9_K4_V3_H2.json", [](json& d) { d["G"] = 3; },
                      {"field 'G' is 3, which does not divide H = 2"});
  expect_edit_refused("mamba2_T9_K4_V3_H2.json", [](json& d) { d["L"] = 4; },
                      {"field 'L' is 4, positions 0..8 need at least 5"});
  expect_edit_refused("gdn_T9_K4_V3.json", [](json& d) { d["layout"]["q"] = "B,G,T,K"; },
                      {"field 'layout.q' is \"B,G,T,K\", expected \"B,T,G,K\""});
}

TEST(GoldenCaseLoader, ReadsTheContinuationExtension) {
  const GoldenCase c = load_golden_case(kCasesDir + "/state_gdn_P16_T9_K4_V8_H1_G1.json");
  ASSERT_TRUE(c.initial_state.has_value());
  EXPECT_EQ(c.start_position(), 16);
  EXPECT_EQ(c.initial_state->position, 16);
  EXPECT_EQ(c.initial_state->levels.size(), 192u);
  EXPECT_EQ(c.expected.final_state.position, 25);
  ASSERT_TRUE(c.grads.has_value());
  EXPECT_EQ(c.grads->d_final_state.size(), 192u);
  EXPECT_EQ(c.grads->d_initial_state.size(), 192u);
  const json raw = test::bundled_case_json("state_gdn_P16_T9_K4_V8_H1_G1.json");
  EXPECT_EQ(c.initial_state->levels[37], raw["inputs"]["initial_state"][37].get<double>());
  EXPECT_EQ(c.grads->d_final_state[5], raw["grads"]["dfinal_state"][5].get<double>());
  EXPECT_EQ(c.grads->d_initial_state[9], raw["grads"]["dinitial_state"][9].get<double>());

  const GoldenCase fresh = load_golden_case(kCasesDir + "/mamba2_grad_T33_K8_V8.json");
  EXPECT_FALSE(fresh.initial_state.has_value());
  EXPECT_EQ(fresh.start_position(), 0);
  EXPECT_TRUE(fresh.grads->d_final_state.empty());
  EXPECT_TRUE(fresh.grads->d_initial_state.empty());
}

TEST(GoldenCaseLoader, ContinuationFieldsAreChecked) {
  const std::string state_case = "state_gdn_P16_T9_K4_V8_H1_G1.json";
  expect_edit_refused(state_case, [](json& d) { d["start_position"] = -1; },
                      {"field 'start_position' is -1, expected an integer from 0 to"});
  expect_edit_refused(state_case, [](json& d) { d["start_position"] = "16"; },
                      {"field 'start_position' is \"16\", expected an integer"});
  expect_edit_refused(state_case, [](json& d) { d["inputs"].erase("initial_state"); },
                      {"field 'inputs.initial_state' is missing: start_position 16"});
  // After 16 tokens (last token 15 = 0b1111) level 5 is empty.
  expect_edit_refused(state_case, [](json& d) { d["inputs"]["initial_state"][5 * 32 + 3] = 0.5; },
                      {"field 'inputs.initial_state' level 5 is empty at position 16 but holds "
                       "nonzero values"});
  expect_edit_refused(state_case, [](json& d) { d["L"] = 5; },
                      {"field 'L' is 5, positions 16..24 need at least 6"});
  expect_edit_refused(state_case, [](json& d) { d["layout"]["dinitial_state"] = "B,L,H,K,V"; },
                      {"field 'layout.dinitial_state' is \"B,L,H,K,V\", expected \"B,H,L,K,V\""});
  expect_edit_refused(state_case, [](json& d) { d["grads"]["dfinal_state"].erase(0); },
                      {"field 'grads.dfinal_state' has 191 values, expected 192 = B*H*L*K*V"});
  expect_edit_refused(state_case, [](json& d) { d["inputs"]["initial_state"].erase(0); },
                      {"field 'inputs.initial_state' has 191 values, expected 192 = B*H*L*K*V"});
}

// A case that starts a sequence may say so, and may give the (empty) state after no tokens.
TEST(GoldenCaseLoader, StartAtZeroWithAnEmptyState) {
  json document = test::bundled_case_json("gdn_T9_K4_V3.json");
  document["start_position"] = 0;
  document["layout"]["initial_state"] = "B,H,L,K,V";
  document["inputs"]["initial_state"] = std::vector<double>(60, 0.0);
  const GoldenCase c = load_golden_case(test::write_scratch("case.json", document.dump()));
  ASSERT_TRUE(c.initial_state.has_value());
  EXPECT_EQ(c.start_position(), 0);
  document["inputs"]["initial_state"][0] = 1.0;
  expect_format_error(test::write_scratch("case.json", document.dump()),
                      {"field 'inputs.initial_state' level 0 is empty at position 0"});
}

// Issue 16: B = H = G = 2^30 with T = L = 16 makes every array's size 2^64 or a multiple, which
// wrapped to 0 in size_t, so the empty arrays matched and the reference read past them.
TEST(GoldenCaseLoader, SizesThatOverflowAreRefused) {
  expect_edit_refused("gdn_T9_K4_V3.json",
                      [](json& d) {
                        d["B"] = d["H"] = d["G"] = 1 << 30;
                        d["K"] = d["V"] = 1;
                        d["T"] = 16;
                        d["L"] = 16;  // B*H*L*K*V = 2^64 too: every size wrapped to 0
                        for (const char* section : {"inputs", "outputs"}) {
                          for (auto& [key, value] : d[section].items()) value = json::array();
                        }
                      },
                      {"field 'inputs.q' would need B*T*G*K = 1073741824*16*1073741824*1 "
                       "values, which overflows the size type"});
}

// Issue 16: 100,000 nested arrays crashed the loader (a recursive dump building the message).
TEST(GoldenCaseLoader, DeepNestingIsRefusedBriefly) {
  for (const char* field : {"B", "name"}) {
    const std::string text = std::string("{\"format\": \"lla-case-v1\", \"") + field +
                             "\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
    const std::string path = test::write_scratch("case.json", text);
    try {
      load_golden_case(path);
      ADD_FAILURE() << "loaded";
    } catch (const CaseFormatError& e) {
      const std::string message = e.what();
      EXPECT_EQ(message, path + ": is not a case: JSON nested deeper than 64 levels");
    }
  }
  // Within the bound, a nested value where a number belongs is described, not printed.
  expect_edit_refused("gdn_T9_K4_V3.json",
                      [](json& d) { d["B"] = json::parse(std::string(60, '[') + std::string(60, ']')); },
                      {"field 'B' is an array, expected a positive integer"});
}

// Issue 16: 1e400 escaped the loader as an uncaught std::out_of_range.
TEST(GoldenCaseLoader, NumberOutOfRangeIsAFormatError) {
  std::string text = test::bundled_case_json("gdn_T9_K4_V3.json").dump();
  const std::string scale = "\"scale\":1.0";
  ASSERT_NE(text.find(scale), std::string::npos);
  text.replace(text.find(scale), scale.size(), "\"scale\":1e400");
  expect_format_error(test::write_scratch("case.json", text),
                      {"is not valid JSON: number overflow parsing '1e400'"});
}

TEST(GoldenCaseLoader, OversizedFileIsRefusedUnread) {
  const std::string path = test::write_scratch("case.json", "");
  fs::resize_file(path, kMaxCaseFileBytes + 1);  // sparse: no disk used
  expect_format_error(path, {"has 268435457 bytes, more than a case may have (268435456)"});
  fs::remove(path);
}

TEST(GoldenCaseLoader, ReadsTheVlaExtension) {
  const std::string file = "vla_grad_T12_d4_B2_H2_period5.json";
  const GoldenCase c = load_golden_case(kCasesDir + "/" + file);
  EXPECT_EQ(c.name, "vla_grad_T12_d4_B2_H2_period5");
  ASSERT_TRUE(c.vla.has_value());
  const VlaGoldenCase& v = *c.vla;
  EXPECT_EQ(v.problem.batch, 2);
  EXPECT_EQ(v.problem.seq_len, 12);
  EXPECT_EQ(v.problem.heads, 2);
  EXPECT_EQ(v.problem.head_dim, 4);
  EXPECT_EQ(v.problem.hyper.lambda0, 0.1);
  EXPECT_EQ(v.problem.hyper.period, 5);
  EXPECT_EQ(v.problem.hyper.eps_per, 1e-3);
  EXPECT_EQ(v.problem.hyper.eps_stab, 1e-4);
  EXPECT_EQ(v.problem.hyper.eps_den, 1e-4);
  const json raw = test::bundled_case_json(file);
  EXPECT_EQ(v.inputs.u[17], raw["inputs"]["u"][17].get<double>());
  EXPECT_EQ(v.inputs.q.size(), 2u * 12 * 2 * 4);
  EXPECT_EQ(v.expected.o[191], raw["outputs"]["o"][191].get<double>());
  EXPECT_EQ(v.expected.final_state.A.size(), 2u * 2 * 4 * 4);
  EXPECT_EQ(v.expected.final_state.S[63], raw["outputs"]["final_state"]["S"][63].get<double>());
  EXPECT_EQ(v.expected.final_state.z.size(), 2u * 2 * 4);
  EXPECT_EQ(v.expected.final_state.position, 12);
  ASSERT_TRUE(v.grads.has_value());
  EXPECT_EQ(v.grads->du[3], raw["grads"]["du"][3].get<double>());
  EXPECT_EQ(v.grads->d_o.size(), 192u);
  EXPECT_FALSE(load_golden_case(kCasesDir + "/vla_T33_d6_B2_H2_delta_rule.json").vla->grads);
  // The log-linear fields stay empty.
  EXPECT_TRUE(c.inputs.q.empty());
  EXPECT_FALSE(c.grads.has_value());
}

// Every field of the extension is checked: one edit each, refused naming the field.
TEST(GoldenCaseLoader, VlaFieldsAreChecked) {
  const std::string file = "vla_grad_T12_d4_B2_H2_period5.json";
  expect_edit_refused(file, [](json& d) { d.erase("d"); }, {"field 'd' is missing"});
  expect_edit_refused(file, [](json& d) { d["K"] = 5; },
                      {"field 'K' is 5, expected d = 4 (variant \"vla\" has K = V = d)"});
  expect_edit_refused(file, [](json& d) { d["G"] = 1; },
                      {"field 'G' is given, but variant \"vla\" has no such field"});
  expect_edit_refused(file, [](json& d) { d["start_position"] = 3; },
                      {"field 'start_position' is given, but variant \"vla\" has no such field"});
  expect_edit_refused(file, [](json& d) { d["hyper"].erase("eps_den"); },
                      {"field 'hyper.eps_den' is missing"});
  expect_edit_refused(file, [](json& d) { d["hyper"]["period"] = 2.5; },
                      {"field 'hyper.period' is 2.5, expected a positive integer"});
  expect_edit_refused(file, [](json& d) { d["hyper"]["period"] = 0; },
                      {"field 'hyper.period' is 0, expected a positive integer"});
  expect_edit_refused(file, [](json& d) { d["hyper"]["lambda0"] = -0.1; },
                      {"field 'hyper.lambda0' must be positive"});
  expect_edit_refused(file, [](json& d) { d["hyper"]["eps_stab"] = "1e-4"; },
                      {"field 'hyper.eps_stab' is a string, expected a number"});
  expect_edit_refused(file, [](json& d) { d["layout"]["u"] = "B,T,G,K"; },
                      {"field 'layout.u' is \"B,T,G,K\", expected \"B,T,H,d\""});
  expect_edit_refused(file, [](json& d) { d["layout"]["final_state"]["z"] = "B,H,d,d"; },
                      {"field 'layout.final_state.z' is \"B,H,d,d\", expected \"B,H,d\""});
  expect_edit_refused(file, [](json& d) { d["inputs"]["v"].erase(0); },
                      {"field 'inputs.v' has 191 values, expected 192 = B*T*H*d"});
  expect_edit_refused(file, [](json& d) { d["inputs"]["k"][9] = -0.25; },
                      {"field 'inputs.k' entry 9 is -0.25, below 0: it holds features after ELU + 1"});
  expect_edit_refused(file, [](json& d) { d["inputs"]["u"][5] = d["inputs"]["u"][5].get<double>() + 0.5; },
                      {"field 'inputs.u' row (b=0, t=0, h=1) has norm", "expected 1: u is a unit "
                                                                       "direction (or 0)"});
  expect_edit_refused(file, [](json& d) { d["inputs"]["g"] = json::array(); },
                      {"field 'inputs.g' is given, but variant \"vla\" has no such field"});
  expect_edit_refused(file, [](json& d) { d["outputs"]["final_state"] = json::array(); },
                      {"field 'outputs.final_state' is an array, expected an object"});
  expect_edit_refused(file, [](json& d) { d["outputs"]["final_state"]["S"].erase(0); },
                      {"field 'outputs.final_state.S' has 63 values, expected 64 = B*H*d*d"});
  expect_edit_refused(file, [](json& d) { d["outputs"]["final_state"].erase("z"); },
                      {"field 'outputs.final_state.z' is missing"});
  expect_edit_refused(file, [](json& d) { d["grads"]["du"].erase(0); },
                      {"field 'grads.du' has 191 values, expected 192 = B*T*H*d"});
  expect_edit_refused(file, [](json& d) { d["grads"]["dfinal_state"] = json::array(); },
                      {"field 'grads.dfinal_state' is given, but variant \"vla\" has no such field"});
  // A zero row of u (W_u's output zero) is a valid direction; other keys of hyper are ignored.
  json document = test::bundled_case_json(file);
  for (int i = 0; i < 4; ++i) document["inputs"]["u"][i] = 0.0;
  document["hyper"]["note"] = "ignored";
  EXPECT_EQ(load_golden_case(test::write_scratch("case.json", document.dump())).vla->inputs.u[0], 0.0);
}

// Every array of a case is checked against the shape: one value short of each is refused.
class GoldenCaseArrayLength : public testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(GoldenCaseArrayLength, OneValueShortIsRefused) {
  const auto& [section, key] = GetParam();
  json document = test::bundled_case_json("gdn_grad_T12_K4_V3.json");
  json& array = document[section][key];
  const size_t expected = array.size();
  array.erase(array.size() - 1);
  // A gradient has the shape of its tensor: "dq" that of "q", "do" that of "o".
  const std::string tensor = section == "grads" ? key.substr(1) : key;
  std::string product = document["layout"][tensor].get<std::string>();
  std::replace(product.begin(), product.end(), ',', '*');
  expect_format_error(test::write_scratch("case.json", document.dump()),
                      {"field '" + section + "." + key + "' has " + std::to_string(expected - 1) +
                       " values, expected " + std::to_string(expected) + " = " + product});
}

INSTANTIATE_TEST_SUITE_P(
    EveryArray, GoldenCaseArrayLength,
    testing::Values(std::pair<std::string, std::string>{"inputs", "q"}, std::pair{"inputs", "k"},
                    std::pair{"inputs", "v"}, std::pair{"inputs", "g"},
                    std::pair{"inputs", "lambda"}, std::pair{"inputs", "beta"},
                    std::pair{"outputs", "o"}, std::pair{"outputs", "final_state"},
                    std::pair{"grads", "do"}, std::pair{"grads", "dq"}, std::pair{"grads", "dk"},
                    std::pair{"grads", "dv"}, std::pair{"grads", "dg"},
                    std::pair{"grads", "dlambda"}, std::pair{"grads", "dbeta"}),
    [](const auto& info) { return info.param.first + "_" + info.param.second; });

TEST(GoldenCases, AreBundled) { EXPECT_EQ(bundled_case_files().size(), 18u); }

// Every bundled case through every form of the reference, to 1e-9 relative.
constexpr double kGoldenTolerance = 1e-9;

class GoldenCaseThroughReference : public testing::TestWithParam<std::string> {};

const FenwickState* initial_state(const GoldenCase& c) {
  return c.initial_state ? &*c.initial_state : nullptr;
}

TEST_P(GoldenCaseThroughReference, MaterializedOutputs) {
  const GoldenCase c = load_golden_case(GetParam());
  if (c.initial_state) return;  // the materialised forward starts at position 0
  EXPECT_LT(max_relative_error(forward_materialized(c.problem, c.inputs).o, c.expected.o),
            kGoldenTolerance);
}

TEST_P(GoldenCaseThroughReference, RecurrentOutputsAndFinalState) {
  const GoldenCase c = load_golden_case(GetParam());
  const Result r = forward_recurrent(c.problem, c.inputs, initial_state(c));
  EXPECT_LT(max_relative_error(r.o, c.expected.o), kGoldenTolerance);
  EXPECT_LT(max_relative_error(r.final_state.levels, c.expected.final_state.levels),
            kGoldenTolerance);
  EXPECT_EQ(r.final_state.position, c.expected.final_state.position);
}

TEST_P(GoldenCaseThroughReference, ChunkwiseOutputsAndFinalState) {
  const GoldenCase c = load_golden_case(GetParam());
  for (int chunk : {1, 2, 4, 16, 64}) {
    const Result r = forward_chunkwise(c.problem, c.inputs, chunk, initial_state(c));
    EXPECT_LT(max_relative_error(r.o, c.expected.o), kGoldenTolerance) << "chunk " << chunk;
    EXPECT_LT(max_relative_error(r.final_state.levels, c.expected.final_state.levels),
              kGoldenTolerance)
        << "chunk " << chunk;
  }
}

// Every gradient a case gives, through every form of the backward (the chunk sizes put the
// state cases' start positions on and off the chunk grid).
class GoldenGradientsThroughReference : public testing::TestWithParam<std::string> {};

TEST_P(GoldenGradientsThroughReference, EveryForm) {
  const GoldenCase c = load_golden_case(GetParam());
  ASSERT_TRUE(c.grads.has_value());
  const GoldenGradients& want = *c.grads;
  std::vector<BackwardOptions> forms = {{BackwardForm::materialized}, {BackwardForm::recurrent}};
  for (int chunk : {1, 2, 4, 8, 16, 64}) forms.push_back({BackwardForm::chunkwise, chunk});
  for (const BackwardOptions& form : forms) {
    const std::string label =
        std::string(backward_form_name(form.form)) + " C=" + std::to_string(form.chunk);
    const Gradients got =
        backward(c.problem, c.inputs, initial_state(c), {want.d_o, want.d_final_state}, form);
    EXPECT_LT(max_relative_error(got.dq, want.dq), kGoldenTolerance) << label;
    EXPECT_LT(max_relative_error(got.dk, want.dk), kGoldenTolerance) << label;
    EXPECT_LT(max_relative_error(got.dv, want.dv), kGoldenTolerance) << label;
    EXPECT_LT(max_relative_error(got.dg, want.dg), kGoldenTolerance) << label;
    EXPECT_LT(max_relative_error(got.dlambda, want.dlambda), kGoldenTolerance) << label;
    EXPECT_LT(max_relative_error(got.dbeta, want.dbeta), kGoldenTolerance) << label;
    if (!want.d_initial_state.empty()) {
      EXPECT_LT(max_relative_error(got.d_initial_state, want.d_initial_state), kGoldenTolerance)
          << label;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Bundled, GoldenCaseThroughReference,
                         testing::ValuesIn(bundled_case_files()),
                         [](const auto& info) { return fs::path(info.param).stem().string(); });

// The bundled cases that give gradients.
std::vector<std::string> bundled_gradient_cases() {
  std::vector<std::string> files;
  for (const std::string& file : bundled_case_files()) {
    if (load_golden_case(file).grads) files.push_back(file);
  }
  return files;
}

TEST(GoldenCases, NineGiveGradients) { EXPECT_EQ(bundled_gradient_cases().size(), 9u); }

INSTANTIATE_TEST_SUITE_P(Bundled, GoldenGradientsThroughReference,
                         testing::ValuesIn(bundled_gradient_cases()),
                         [](const auto& info) { return fs::path(info.param).stem().string(); });

}  // namespace
}  // namespace lla::reference
