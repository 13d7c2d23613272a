// `lla check`, run as the built program: its lines, its summary and its exit status.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backend/cuda/cuda_driver.h"
#include "scratch_files.h"
#include "tool_run.h"

namespace lla::test {
namespace {

using nlohmann::json;

ToolRun run_check(const std::vector<std::string>& args) { return run_tool("check", args); }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  size_t begin = 0;
  while (begin < text.size()) {
    const size_t end = text.find('\n', begin);
    lines.push_back(text.substr(begin, end - begin));
    if (end == std::string::npos) break;
    begin = end + 1;
  }
  return lines;
}

std::string bundled(const std::string& file_name) {
  return std::string(LLA_TEST_CASES_DIR) + "/" + file_name;
}

std::vector<std::string> bundled_case_files() {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(LLA_TEST_CASES_DIR)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// A bundled case edited by `edit`, written to a scratch file named `suffix`; returns its path.
std::string edited_case(const std::string& case_file, const std::string& suffix,
                        const std::function<void(json&)>& edit) {
  json document = bundled_case_json(case_file);
  edit(document);
  return write_scratch(suffix, document.dump());
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The tensors a PASS line of the reference backend must name for a case: every output and
// gradient the case carries.
std::string compared_tensors(const std::string& file) {
  const json d = json::parse(read_text(file));
  if (d["variant"] == "vla") {
    const std::string outputs = " o= final_state.A= final_state.S= final_state.z=";
    return d.contains("grads") ? outputs + " dq= dk= du= dv=" : outputs;
  }
  std::string tensors = " o= final_state=";
  if (!d.contains("grads")) return tensors;
  tensors += " dq= dk= dv= dg= dlambda=";
  if (d["variant"] == "gdn") tensors += " dbeta=";
  if (d["grads"].contains("dinitial_state")) tensors += " dinitial_state=";
  return tensors;
}

// Every bundled case passes through the reference, gradients and states included, and each
// line names every tensor compared.
TEST(CheckCommand, EveryBundledCasePasses) {
  const std::vector<std::string> files = bundled_case_files();
  ASSERT_EQ(files.size(), 24u);
  const ToolRun run = run_check(files);
  EXPECT_EQ(run.exit_status, 0) << run.out << run.err;
  const std::vector<std::string> lines = lines_of(run.out);
  ASSERT_EQ(lines.size(), 25u) << run.out;
  int with_gradients = 0, vla_with_gradients = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string name = std::filesystem::path(files[i]).stem().string();
    EXPECT_EQ(lines[i].rfind("PASS " + name + " o=", 0), 0u) << lines[i];
    std::string names_only;  // "PASS x o=1e-16 dq=2e-16" -> " o= dq="
    for (size_t at = lines[i].find(' ', 5); at != std::string::npos; at = lines[i].find(' ', at + 1)) {
      names_only += " " + lines[i].substr(at + 1, lines[i].find('=', at) - at);
    }
    EXPECT_EQ(names_only, compared_tensors(files[i])) << lines[i];
    with_gradients += contains(lines[i], " dlambda=") ? 1 : 0;
    vla_with_gradients += contains(lines[i], " du=") ? 1 : 0;
  }
  EXPECT_EQ(with_gradients, 9);
  EXPECT_EQ(vla_with_gradients, 4);
  EXPECT_EQ(lines.back(), "24 passed, 0 failed");
  EXPECT_EQ(run.err, "");
}

// On a GPU: every Mamba-2 case that starts a sequence passes through the kernel (o only; the
// final state and gradients are named as skipped), Gated DeltaNet cases, VLA cases and cases
// that continue a sequence are skipped, not passed. Without one: a clear refusal, exit 2.
TEST(CheckCommand, CudaBackendRunsTheMamba2CasesOnTheGpu) {
  const std::vector<std::string> files = bundled_case_files();
  std::vector<std::string> args = {"--backend", "cuda"};
  args.insert(args.end(), files.begin(), files.end());
  const ToolRun run = run_check(args);
  const auto& loaded = runtime::driver::load_cuda_driver();
  if (!loaded.driver) {
    EXPECT_EQ(run.exit_status, 2) << run.out << run.err;
    EXPECT_TRUE(contains(run.err, "the cuda backend cannot run here: no CUDA device")) << run.err;
    GTEST_SKIP() << "GPU part skipped: " << loaded.unavailable_reason;
  }
  EXPECT_EQ(run.exit_status, 0) << run.out << run.err;
  const std::vector<std::string> lines = lines_of(run.out);
  ASSERT_EQ(lines.size(), 25u) << run.out;
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string name = std::filesystem::path(files[i]).stem().string();
    const bool runs = name.rfind("mamba2", 0) == 0;
    EXPECT_EQ(lines[i].rfind((runs ? "PASS " : "SKIP ") + name, 0), 0u) << lines[i];
    if (name.rfind("vla_", 0) == 0) {
      EXPECT_EQ(lines[i], "SKIP " + name + " variant vla: the cuda backend has no VLA kernel yet");
    }
    if (runs) {
      EXPECT_TRUE(contains(lines[i], " o=")) << lines[i];
      EXPECT_TRUE(contains(lines[i], "(SKIP final_state")) << lines[i];
      EXPECT_TRUE(contains(lines[i], "not computed by the cuda backend)")) << lines[i];
    }
  }
  EXPECT_EQ(lines.back(), "8 passed (8 in part), 0 failed, 16 skipped");
}

TEST(CheckCommand, ChunkOptionChoosesTheReferenceChunk) {
  const ToolRun run = run_check({"--chunk", "4", bundled("gdn_T9_K4_V3.json")});
  EXPECT_EQ(run.exit_status, 0) << run.out << run.err;
  EXPECT_TRUE(contains(run.out, "1 passed, 0 failed")) << run.out;
}

TEST(CheckCommand, PerturbedOutputFails) {
  const std::string path = edited_case("gdn_T9_K4_V3.json", "case.json", [](json& d) {
    d["outputs"]["o"][7] = d["outputs"]["o"][7].get<double>() + 0.5;
  });
  const ToolRun run = run_check({path});
  EXPECT_EQ(run.exit_status, 1) << run.out << run.err;
  const std::vector<std::string> lines = lines_of(run.out);
  ASSERT_EQ(lines.size(), 2u) << run.out;
  EXPECT_EQ(lines[0].rfind("FAIL gdn_T9_K4_V3 o max_rel_err=", 0), 0u) << lines[0];
  EXPECT_TRUE(contains(lines[0], "worst_index=7 ")) << lines[0];
  EXPECT_FALSE(contains(lines[0], "final_state")) << lines[0];
  EXPECT_EQ(lines[1], "0 passed, 1 failed");
}

TEST(CheckCommand, PerturbedFinalStateFails) {
  const std::string path = edited_case("mamba2_T9_K4_V3_H2.json", "case.json", [](json& d) {
    d["outputs"]["final_state"][3] = d["outputs"]["final_state"][3].get<double>() * 1.01 + 1e-3;
  });
  const ToolRun run = run_check({path, bundled("gdn_T9_K4_V3.json")});
  EXPECT_EQ(run.exit_status, 1) << run.out << run.err;
  EXPECT_TRUE(contains(run.out, "FAIL mamba2_T9_K4_V3_H2 final_state max_rel_err=")) << run.out;
  EXPECT_TRUE(contains(run.out, "worst_index=3 ")) << run.out;
  EXPECT_TRUE(contains(run.out, "PASS gdn_T9_K4_V3 ")) << run.out;
  EXPECT_TRUE(contains(run.out, "1 passed, 1 failed")) << run.out;
}

// Issue 17: a gradient case with one dlambda element moved by 1e-4 of the largest fails, and
// names dlambda and the element.
TEST(CheckCommand, PerturbedGradientFails) {
  for (const std::string file : {"mamba2_grad_T33_K8_V8.json", "state_gdn_P2_T20_K4_V4_H2_G1_l2n.json"}) {
    const std::string path = edited_case(file, "case.json", [](json& d) {
      double largest = 0.0;
      for (const json& x : d["grads"]["dlambda"]) largest = std::max(largest, std::abs(x.get<double>()));
      d["grads"]["dlambda"][17] = d["grads"]["dlambda"][17].get<double>() + 1e-4 * largest;
    });
    const ToolRun run = run_check({path});
    EXPECT_EQ(run.exit_status, 1) << run.out << run.err;
    const std::vector<std::string> lines = lines_of(run.out);
    ASSERT_EQ(lines.size(), 2u) << run.out;
    const std::string name = std::filesystem::path(file).stem().string();
    EXPECT_EQ(lines[0].rfind("FAIL " + name + " dlambda max_rel_err=1.000e-04 worst_index=17 ", 0), 0u)
        << lines[0];
    EXPECT_EQ(lines[1], "0 passed, 1 failed");
  }
}

TEST(CheckCommand, PerturbedInitialStateGradientFails) {
  const std::string path = edited_case("state_mamba2_P3_T20_K4_V4_H2_G1.json", "case.json", [](json& d) {
    d["grads"]["dinitial_state"][1] = d["grads"]["dinitial_state"][1].get<double>() + 1e-6;
  });
  const ToolRun run = run_check({path});
  EXPECT_EQ(run.exit_status, 1) << run.out << run.err;
  EXPECT_TRUE(contains(run.out, "FAIL state_mamba2_P3_T20_K4_V4_H2_G1 dinitial_state max_rel_err="))
      << run.out;
}

// The case's incoming d(final state) enters the gradients: without it they differ.
TEST(CheckCommand, IncomingFinalStateGradientIsUsed) {
  const std::string path = edited_case("state_gdn_P16_T9_K4_V8_H1_G1.json", "case.json",
                                       [](json& d) { d["grads"].erase("dfinal_state"); });
  const ToolRun run = run_check({path});
  EXPECT_EQ(run.exit_status, 1) << run.out << run.err;
  EXPECT_TRUE(contains(run.out, "FAIL state_gdn_P16_T9_K4_V8_H1_G1 dk max_rel_err=")) << run.out;
}

TEST(CheckCommand, ToleranceOptionIsTheLimit) {
  const std::string path = edited_case("gdn_T9_K4_V3.json", "case.json", [](json& d) {
    d["outputs"]["o"][0] = d["outputs"]["o"][0].get<double>() * (1 + 1e-6);
  });
  EXPECT_EQ(run_check({path}).exit_status, 1);
  EXPECT_EQ(run_check({"--tolerance", "1e-3", path}).exit_status, 0);
}

// A file that is no valid case: "error: FILE: WHAT" on stderr, exit 2, other files still run.
void expect_case_error(const std::string& path, const std::string& what) {
  const ToolRun run = run_check({path, bundled("gdn_T9_K4_V3.json")});
  EXPECT_EQ(run.exit_status, 2) << run.out << run.err;
  EXPECT_TRUE(contains(run.err, "error: " + path + ": " + what)) << run.err;
  EXPECT_TRUE(contains(run.out, "PASS gdn_T9_K4_V3 ")) << run.out;
  EXPECT_TRUE(contains(run.out, "1 passed, 0 failed, 1 error")) << run.out;
}

TEST(CheckCommand, InvalidJson) {
  expect_case_error(write_scratch("case.json", "{\"format\": \"lla-case-v1\", }"),
                    "is not valid JSON: parse error at line 1");
}

TEST(CheckCommand, WrongArrayLength) {
  const std::string path =
      edited_case("gdn_T9_K4_V3.json", "case.json", [](json& d) { d["inputs"]["q"].erase(35); });
  expect_case_error(path, "field 'inputs.q' has 35 values, expected 36 = B*T*G*K");
}

TEST(CheckCommand, UnknownVariant) {
  const std::string path =
      edited_case("gdn_T9_K4_V3.json", "case.json", [](json& d) { d["variant"] = "rwkv"; });
  expect_case_error(path, "field 'variant' is \"rwkv\"");
}

TEST(CheckCommand, WrongFormat) {
  const std::string path =
      edited_case("gdn_T9_K4_V3.json", "case.json", [](json& d) { d["format"] = "lla-case-v2"; });
  expect_case_error(path, "field 'format' is \"lla-case-v2\", expected \"lla-case-v1\"");
}

TEST(CheckCommand, MissingFile) { expect_case_error(scratch_path("absent.json"), "no such file"); }

// A VLA case: every output and gradient compared, and any one of them off is a failure that
// names it.
TEST(CheckCommand, VlaCasePassesAndEveryTensorIsCompared) {
  const std::string file = "vla_grad_T12_d4_B2_H2_period5.json";
  const ToolRun run = run_check({"--chunk", "4", bundled(file)});
  EXPECT_EQ(run.exit_status, 0) << run.out << run.err;
  EXPECT_TRUE(contains(run.out, "PASS vla_grad_T12_d4_B2_H2_period5 o=")) << run.out;
  EXPECT_TRUE(contains(run.out, "1 passed, 0 failed")) << run.out;
  struct Edit {
    const char* tensor;
    std::function<json&(json&)> entry;
  };
  const Edit edits[] = {
      {"o", [](json& d) -> json& { return d["outputs"]["o"][5]; }},
      {"final_state.A", [](json& d) -> json& { return d["outputs"]["final_state"]["A"][5]; }},
      {"final_state.S", [](json& d) -> json& { return d["outputs"]["final_state"]["S"][5]; }},
      {"final_state.z", [](json& d) -> json& { return d["outputs"]["final_state"]["z"][5]; }},
      {"dq", [](json& d) -> json& { return d["grads"]["dq"][5]; }},
      {"dk", [](json& d) -> json& { return d["grads"]["dk"][5]; }},
      {"du", [](json& d) -> json& { return d["grads"]["du"][5]; }},
      {"dv", [](json& d) -> json& { return d["grads"]["dv"][5]; }},
  };
  for (const Edit& edit : edits) {
    const std::string path = edited_case(file, "case.json", [&](json& d) {
      json& x = edit.entry(d);
      x = x.get<double>() * (1 + 1e-6) + 1e-7;
    });
    const ToolRun perturbed = run_check({path});
    EXPECT_EQ(perturbed.exit_status, 1) << perturbed.out << perturbed.err;
    EXPECT_TRUE(contains(perturbed.out, "FAIL vla_grad_T12_d4_B2_H2_period5 " +
                                            std::string(edit.tensor) + " max_rel_err="))
        << perturbed.out;
    EXPECT_TRUE(contains(perturbed.out, "worst_index=5 ")) << perturbed.out;
  }
}

// Issue 16: a number that overflows (1e400) in one file escaped as an uncaught exception: the
// files after it were never checked and no summary came.
TEST(CheckCommand, NumberOverflowInOneFileLeavesTheOthers) {
  std::string text = bundled_case_json("gdn_T9_K4_V3.json").dump();
  const std::string scale = "\"scale\":1.0";
  text.replace(text.find(scale), scale.size(), "\"scale\":1e400");
  const std::string path = write_scratch("case.json", text);
  const ToolRun run = run_check({bundled("mamba2_T9_K4_V3_H2.json"), path, bundled("gdn_T9_K4_V3.json")});
  EXPECT_EQ(run.exit_status, 2) << run.out << run.err;
  EXPECT_EQ(run.err, "error: " + path + ": is not valid JSON: number overflow parsing '1e400'\n");
  const std::vector<std::string> lines = lines_of(run.out);
  ASSERT_EQ(lines.size(), 3u) << run.out;
  EXPECT_EQ(lines[0].rfind("PASS mamba2_T9_K4_V3_H2 ", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("PASS gdn_T9_K4_V3 ", 0), 0u) << lines[1];
  EXPECT_EQ(lines[2], "2 passed, 0 failed, 1 error");
}

// Issue 16: B = H = G = 2^30, K = V = 1 and empty arrays: sizes wrapped to 0 and the reference
// read past the arrays (SIGSEGV). Now the case is refused naming the field.
TEST(CheckCommand, OverflowingSizesAreRefusedWithoutACrash) {
  const std::string path = edited_case("mamba2_T9_K4_V3_H2.json", "case.json", [](json& d) {
    d["B"] = d["H"] = d["G"] = 1 << 30;
    d["K"] = d["V"] = 1;
    d["T"] = 16;
    d["L"] = 16;  // B*H*L*K*V = 2^64 as well: every array's size wrapped to 0
    for (const char* section : {"inputs", "outputs"}) {
      for (auto& [key, value] : d[section].items()) value = json::array();
    }
  });
  expect_case_error(path, "field 'inputs.q' would need B*T*G*K = 1073741824*16*1073741824*1 "
                          "values, which overflows the size type");
}

// Issue 16: 100,000 nested arrays overflowed the stack (a recursive dump building the message).
TEST(CheckCommand, DeepNestingIsRefusedBriefly) {
  const std::string path = write_scratch(
      "case.json", "{\"format\": \"lla-case-v1\", \"name\": \"deep\", \"variant\": \"gdn\", \"B\": " +
                       std::string(100000, '[') + std::string(100000, ']') + "}");
  const ToolRun run = run_check({path, bundled("gdn_T9_K4_V3.json")});
  EXPECT_EQ(run.exit_status, 2) << run.out << run.err;
  EXPECT_EQ(run.err, "error: " + path + ": is not a case: JSON nested deeper than 64 levels\n");
  EXPECT_TRUE(contains(run.out, "1 passed, 0 failed, 1 error")) << run.out;
}

// Issue 16: a NUL in a case's name cut its line (and the rest was lost); control characters
// are now written as \xNN.
TEST(CheckCommand, ControlCharactersInANameArePrintedEscaped) {
  const std::string path = edited_case("gdn_T9_K4_V3.json", "case.json", [](json& d) {
    d["name"] = std::string("nul\0here\x1b[2Jend", 15);
  });
  const ToolRun run = run_check({path});
  EXPECT_EQ(run.exit_status, 0) << run.out << run.err;
  const std::vector<std::string> lines = lines_of(run.out);
  ASSERT_EQ(lines.size(), 2u) << run.out;
  EXPECT_EQ(lines[0].rfind("PASS nul\\x00here\\x1b[2Jend o=", 0), 0u) << lines[0];
  EXPECT_TRUE(contains(lines[0], " final_state=")) << lines[0];
}

TEST(CheckCommand, UnknownBackendIsAUsageError) {
  const ToolRun run = run_check({"--backend", "tpu", bundled("gdn_T9_K4_V3.json")});
  EXPECT_EQ(run.exit_status, 2);
  EXPECT_TRUE(contains(run.err, "unknown backend 'tpu'")) << run.err;
  EXPECT_EQ(run.out, "");
}

TEST(CheckCommand, BadOptionValuesAreUsageErrors) {
  const std::string good = bundled("gdn_T9_K4_V3.json");
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--chunk", "3", good},
                                               {"--tolerance", "-1", good},
                                               {"--tolerance", "abc", good},
                                               {"--frobnicate", good},
                                               {good, "--backend"}}) {
    const ToolRun run = run_check(args);
    EXPECT_EQ(run.exit_status, 2) << args[0];
    EXPECT_TRUE(contains(run.err, "usage: lla check")) << run.err;
    EXPECT_EQ(run.out, "");
  }
}

TEST(CheckCommand, NoFilesIsAUsageError) {
  const ToolRun run = run_check({});
  EXPECT_EQ(run.exit_status, 2);
  EXPECT_TRUE(contains(run.err, "no case files given")) << run.err;
}

TEST(CheckCommand, HelpPrintsUsage) {
  const ToolRun run = run_check({"--help"});
  EXPECT_EQ(run.exit_status, 0);
  EXPECT_TRUE(contains(run.out, "usage: lla check [--backend reference|cuda]")) << run.out;
  EXPECT_EQ(run.err, "");
}

}  // namespace
}  // namespace lla::test
