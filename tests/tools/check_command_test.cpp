// `lla check`, run as the built program: its lines, its summary and its exit status.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "driver/cuda_driver.h"
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

TEST(CheckCommand, EveryBundledCasePasses) {
  const std::vector<std::string> files = bundled_case_files();
  ASSERT_EQ(files.size(), 12u);
  const ToolRun run = run_check(files);
  EXPECT_EQ(run.exit_status, 0) << run.out << run.err;
  const std::vector<std::string> lines = lines_of(run.out);
  ASSERT_EQ(lines.size(), 13u) << run.out;
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string name = std::filesystem::path(files[i]).stem().string();
    EXPECT_EQ(lines[i].rfind("PASS " + name + " max_rel_err=", 0), 0u) << lines[i];
  }
  EXPECT_EQ(lines.back(), "12 passed, 0 failed");
  EXPECT_EQ(run.err, "");
}

// On a GPU: every Mamba-2 case passes through the kernel (o only), Gated DeltaNet cases are
// skipped, not passed. Without one: a clear refusal, exit 2.
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
  ASSERT_EQ(lines.size(), 13u) << run.out;
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string name = std::filesystem::path(files[i]).stem().string();
    const bool gdn = name.rfind("gdn", 0) == 0;
    EXPECT_EQ(lines[i].rfind((gdn ? "SKIP " : "PASS ") + name, 0), 0u) << lines[i];
  }
  EXPECT_EQ(lines.back(), "8 passed, 0 failed, 4 skipped");
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
