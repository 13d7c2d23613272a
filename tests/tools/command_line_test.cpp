// Every `lla` command's command line, run as the built program: --help lists each of its
// options, `--opt value` and `--opt=value` do the same, unknown options, missing values and
// bad values are named; `lla --version` and `lla env` say what a bug report needs.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "backend/cuda/cuda_driver.h"
#include "lla/lla.h"
#include "nvrtc/nvrtc_compiler.h"
#include "scratch_files.h"
#include "tool_run.h"

namespace lla::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
namespace fs = std::filesystem;

// Each command (as typed after `lla`), every option it had before the shared parser, and one
// option that takes a value with a value it refuses and the reason.
struct CommandOptions {
  std::vector<std::string> command;
  std::vector<std::string> options;
  std::string value_option, bad_value, refusal;
};

const std::vector<CommandOptions>& every_command() {
  static const std::vector<CommandOptions> table = {
      {{"run"},
       {"--dtype", "--batch", "--seq-len", "--heads", "--groups", "--dk", "--dv", "--chunk",
        "--arch", "--warmup", "--repetitions", "--seed"},
       "--seq-len", "0", "'0' is below 1"},
      {{"inspect"},
       {"--variant", "--dtype", "--dk", "--dv", "--chunk", "--levels", "--block-k", "--block-v",
        "--warps", "--algorithm", "--arch", "--emit"},
       "--algorithm", "wmma", "'wmma' is not one of fma, mma, scan, scan_wgmma"},
      {{"bench"},
       {"--shape", "--dtype", "--chunk", "--warmup", "--repetitions", "--json"},
       "--shape", "4096", "'4096' is not T:B[:H[:G[:K[:V]]]]"},
      {{"bench", "--decode"},
       {"--batches", "--heads", "--dk", "--dv", "--dtype", "--max-position", "--spread",
        "--warmup", "--repetitions", "--seed", "--copy-mib", "--json"},
       "--repetitions", "5", "'5' is below 20"},
      {{"tune"},
       {"--dtype", "--batch", "--seq-len", "--heads", "--groups", "--dk", "--dv", "--chunk",
        "--budget", "--max-configs", "--force", "--top", "--cache-dir", "--sweep", "--json"},
       "--budget", "soon", "'soon' is not a positive number of seconds"},
      {{"check"}, {"--backend", "--tolerance", "--chunk"}, "--chunk", "3",
       "'3' is not a power of two"},
      {{"cache"}, {"--cache-dir", "--json", "--max-bytes"}, "--max-bytes", "lots",
       "'lots' is not a byte count"},
      {{"env"}, {"--json"}, "", "", ""},
  };
  return table;
}

std::string name_of(const CommandOptions& c) {
  std::string name;
  for (const std::string& word : c.command) name += (name.empty() ? "" : " ") + word;
  return name;
}

// `lla <command words> <args>`.
ToolRun run_command(const CommandOptions& c, std::vector<std::string> args) {
  args.insert(args.begin(), c.command.begin() + 1, c.command.end());
  return run_tool(c.command.front(), args);
}

TEST(CommandLine, EveryCommandsHelpListsEachOfItsOptions) {
  for (const CommandOptions& c : every_command()) {
    for (const char* help : {"--help", "-h"}) {
      const ToolRun run = run_command(c, {help});
      EXPECT_EQ(run.exit_status, 0) << name_of(c);
      EXPECT_EQ(run.err, "") << name_of(c);
      EXPECT_THAT(run.out, StartsWith("usage: lla " + name_of(c))) << run.out;
      for (const std::string& option : c.options)
        EXPECT_THAT(run.out, HasSubstr("\n  " + option + " ")) << name_of(c) << ": " << option;
      EXPECT_THAT(run.out, HasSubstr("\n  -h, --help ")) << name_of(c);
    }
  }
  EXPECT_EQ(run_tool("help", {"tune"}).out, run_tool("tune", {"--help"}).out);
}

TEST(CommandLine, EveryCommandNamesAnUnknownOption) {
  for (const CommandOptions& c : every_command()) {
    const ToolRun run = run_command(c, {"--frobnicate"});
    EXPECT_EQ(run.exit_status, 2) << name_of(c);
    EXPECT_THAT(run.err, StartsWith("lla " + name_of(c) + ": unknown option --frobnicate\n"))
        << run.err;
    EXPECT_THAT(run.err, HasSubstr("\nusage: lla " + name_of(c))) << run.err;
    EXPECT_EQ(run.out, "") << name_of(c);
  }
}

TEST(CommandLine, EveryCommandNamesAMissingValueAndABadOne) {
  for (const CommandOptions& c : every_command()) {
    if (c.value_option.empty()) continue;
    const ToolRun missing = run_command(c, {c.value_option});
    EXPECT_EQ(missing.exit_status, 2) << name_of(c);
    EXPECT_THAT(missing.err, HasSubstr(c.value_option + " needs a value")) << missing.err;
    for (const std::vector<std::string>& bad :
         {std::vector<std::string>{c.value_option, c.bad_value},
          {c.value_option + "=" + c.bad_value}}) {
      const ToolRun run = run_command(c, bad);
      EXPECT_EQ(run.exit_status, 2) << name_of(c);
      EXPECT_THAT(run.err, HasSubstr("lla " + name_of(c) + ": " + c.value_option + ": " +
                                     c.refusal))
          << run.err;
      EXPECT_EQ(run.out, "");
    }
  }
}

TEST(CommandLine, InspectGivesTheSameOutputForBothForms) {
  const ToolRun spaced = run_tool("inspect", {"--variant", "mamba2", "--dtype", "f16", "--dk", "64",
                                              "--dv", "32", "--chunk", "32", "--levels", "9",
                                              "--block-k", "16", "--block-v", "16", "--warps", "2",
                                              "--algorithm", "fma", "--arch", "sm_80", "--emit",
                                              "source"});
  const ToolRun joined = run_tool("inspect", {"--variant=mamba2", "--dtype=f16", "--dk=64",
                                              "--dv=32", "--chunk=32", "--levels=9",
                                              "--block-k=16", "--block-v=16", "--warps=2",
                                              "--algorithm=fma", "--arch=sm_80", "--emit=source"});
  ASSERT_EQ(spaced.exit_status, 0) << spaced.err;
  ASSERT_EQ(joined.exit_status, 0) << joined.err;
  EXPECT_EQ(spaced.out, joined.out);
  EXPECT_THAT(spaced.out, HasSubstr("constexpr int kKeyDim = 64;"));
}

TEST(CommandLine, CheckAndCacheTakeBothForms) {
  const std::string good = std::string(LLA_TEST_CASES_DIR) + "/gdn_T9_K4_V3.json";
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--backend", "reference", "--chunk", "4", "--tolerance", "1e-9",
                                 good},
        {"--backend=reference", "--chunk=4", "--tolerance=1e-9", good}}) {
    const ToolRun run = run_tool("check", args);
    EXPECT_EQ(run.exit_status, 0) << run.err;
    EXPECT_THAT(run.out, HasSubstr("1 passed, 0 failed"));
  }
  const std::string folder = scratch_path("cache");
  fs::remove_all(folder);
  const ToolRun spaced = run_tool("cache", {"--cache-dir", folder, "--json", "gc", "--max-bytes", "0"});
  const ToolRun joined = run_tool("cache", {"--cache-dir=" + folder, "--json", "gc", "--max-bytes=0"});
  ASSERT_EQ(spaced.exit_status, 0) << spaced.err;
  EXPECT_EQ(spaced.out, joined.out);
  EXPECT_EQ(nlohmann::json::parse(joined.out)["kept_bytes"], 0);
}

TEST(CommandLine, GpuCommandsAcceptBothFormsBeforeLookingForTheGpu) {
  const auto& loaded = runtime::driver::load_cuda_driver();
  if (loaded.driver)
    GTEST_SKIP() << "with a GPU these would run; the forms are checked where there is none";
  const std::string folder = scratch_path("cache");
  const std::vector<std::pair<std::string, std::vector<std::string>>> runs = {
      {"bench", {"--shape", "1024:1:4:4:64:64", "--dtype", "f16", "--chunk", "32", "--warmup", "0",
                 "--repetitions", "1", "--json"}},
      {"bench", {"--shape=1024:1:4:4:64:64", "--dtype=f16", "--chunk=32", "--warmup=0",
                 "--repetitions=1", "--json"}},
      {"bench", {"--decode", "--batches", "1,2", "--heads", "2", "--max-position", "99",
                 "--spread", "10", "--copy-mib", "1", "--seed", "3", "--json"}},
      {"bench", {"--decode", "--batches=1,2", "--heads=2", "--max-position=99", "--spread=10",
                 "--copy-mib=1", "--seed=3", "--json"}},
      {"tune", {"--cache-dir", folder, "--batch", "1", "--seq-len", "512", "--heads", "2",
                "--groups", "1", "--dk", "64", "--dv", "64", "--budget", "1", "--top", "2",
                "--max-configs", "3", "--force", "--json"}},
      {"tune", {"--cache-dir=" + folder, "--batch=1", "--seq-len=512", "--heads=2", "--groups=1",
                "--dk=64", "--dv=64", "--budget=1", "--top=2", "--max-configs=3", "--force",
                "--json"}},
  };
  for (const auto& [command, args] : runs) {
    const ToolRun run = run_tool(command, args);
    EXPECT_EQ(run.exit_status, 2) << command;
    EXPECT_THAT(run.err, HasSubstr(loaded.unavailable_reason)) << command << ": " << run.err;
    EXPECT_THAT(run.err, Not(HasSubstr("usage:"))) << command << ": " << run.err;
  }
}

TEST(CommandLine, RunTakesBothForms) {
  // Without a GPU `lla run` compiles for --arch; the second run finds the first's binary. With
  // one, both run the heuristic's kernel (no tuning).
  const std::string folder = scratch_path("cache");
  fs::remove_all(folder);
  setenv("LLA_CACHE_DIR", folder.c_str(), 1);
  setenv("LLA_TUNE", "off", 1);
  const ToolRun spaced = run_tool("run", {"--batch", "1", "--seq-len", "40", "--heads", "2",
                                          "--groups", "1", "--dk", "64", "--dv", "32", "--chunk",
                                          "32", "--dtype", "f16", "--arch", "sm_80", "--warmup",
                                          "0", "--repetitions", "1", "--seed", "7"});
  const ToolRun joined = run_tool("run", {"--batch=1", "--seq-len=40", "--heads=2", "--groups=1",
                                          "--dk=64", "--dv=32", "--chunk=32", "--dtype=f16",
                                          "--arch=sm_80", "--warmup=0", "--repetitions=1",
                                          "--seed=7"});
  unsetenv("LLA_CACHE_DIR");
  unsetenv("LLA_TUNE");
  ASSERT_EQ(spaced.exit_status, 0) << spaced.err;
  ASSERT_EQ(joined.exit_status, 0) << joined.err;
  const std::string problem =
      "problem   log-linear Mamba-2 f16 B=1 T=40 H=2 G=1 K=64 V=32 L=7 chunk=32\n";
  EXPECT_THAT(spaced.out, StartsWith(problem)) << spaced.out;
  EXPECT_THAT(joined.out, StartsWith(problem)) << joined.out;
}

TEST(CommandLine, VersionNamesTheVersionAndTheSource) {
  const ToolRun run = run_tool("--version", {});
  EXPECT_EQ(run.exit_status, 0);
  EXPECT_TRUE(std::regex_match(
      run.out, std::regex("lla " LLA_VERSION " \\(source ([0-9a-f]{12}(-dirty)?|unknown)\\)\n")))
      << run.out;
}

class EnvCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    cache_ = scratch_path("cache");
    fs::remove_all(cache_);
    setenv("LLA_CACHE_DIR", cache_.c_str(), 1);
    setenv("LLA_TUNE", "off", 1);
    setenv("LLA_SOMETHING_NEW", "42", 1);
    unsetenv("LLA_LOG");
  }
  void TearDown() override {
    for (const char* name : {"LLA_CACHE_DIR", "LLA_TUNE", "LLA_SOMETHING_NEW", "LLA_LOG"})
      unsetenv(name);
  }
  std::string cache_;
};

TEST_F(EnvCommand, SaysWhatABugReportNeeds) {
  const ToolRun run = run_tool("env", {});
  ASSERT_EQ(run.exit_status, 0) << run.err;
  EXPECT_EQ(run.err, "");
  const ToolRun version = run_tool("--version", {});
  const std::string source = version.out.substr(version.out.find("(source "));
  EXPECT_THAT(run.out, StartsWith("lla          " LLA_VERSION " " + source)) << run.out;
  EXPECT_THAT(run.out, HasSubstr("\nNVRTC        " + compiler::nvrtc_version_string() + "\n"));
  const auto& loaded = runtime::driver::load_cuda_driver();
  if (loaded.driver) {
    EXPECT_THAT(run.out, HasSubstr("\ndevices      0: ")) << run.out;
    EXPECT_THAT(run.out, HasSubstr(" SMs, ")) << run.out;
  } else {
    EXPECT_THAT(run.out, HasSubstr("\nCUDA driver  none: " + loaded.unavailable_reason + "\n"));
    EXPECT_THAT(run.out, HasSubstr("\ndevices      no device\n"));
  }
  EXPECT_THAT(run.out, HasSubstr("\nCPU backend  "));
  EXPECT_THAT(run.out, HasSubstr("LLVM version and CPU features"));
  EXPECT_THAT(run.out, HasSubstr("\ncache        " + cache_ + " (does not exist yet)\n"));
  EXPECT_THAT(run.out, HasSubstr("LLA_CACHE_DIR=" + cache_ + "\n"));
  EXPECT_THAT(run.out, HasSubstr("LLA_TUNE=off\n"));
  EXPECT_THAT(run.out, HasSubstr("LLA_SOMETHING_NEW=42\n"));
  EXPECT_THAT(run.out, HasSubstr("\nsettings     tuning off, log level warn\n"));
}

TEST_F(EnvCommand, JsonCarriesTheSameAndCountsTheCache) {
  fs::create_directories(cache_ + "/sub");
  std::ofstream(cache_ + "/a.sqlite3") << std::string(1000, 'x');
  std::ofstream(cache_ + "/sub/b") << std::string(24, 'y');
  setenv("LLA_LOG", "loud", 1);
  const ToolRun run = run_tool("env", {"--json"});
  ASSERT_EQ(run.exit_status, 0) << run.err;
  const nlohmann::json report = nlohmann::json::parse(run.out);
  EXPECT_EQ(report["lla"]["version"], LLA_VERSION);
  EXPECT_EQ(report["cuda"]["nvrtc"], compiler::nvrtc_version_string());
  EXPECT_EQ(report["cuda"]["devices"].size(),
            runtime::driver::load_cuda_driver().driver
                ? static_cast<size_t>(runtime::driver::load_cuda_driver().driver->device_count)
                : 0u);
  EXPECT_FALSE(report["cpu_backend"]["available"].get<bool>());
  EXPECT_TRUE(report["cpu_backend"].contains("llvm"));
  EXPECT_TRUE(report["cpu_backend"].contains("cpu_features"));
  EXPECT_EQ(report["cache"]["path"], cache_);
  EXPECT_EQ(report["cache"]["files"], 2);
  EXPECT_EQ(report["cache"]["bytes"], 1024);
  EXPECT_EQ(report["environment"]["variables"]["LLA_SOMETHING_NEW"], "42");
  EXPECT_EQ(report["environment"]["tuning"], "off");
  EXPECT_THAT(report["environment"]["log_level"].get<std::string>(),
              HasSubstr("invalid: LLA_LOG='loud'"));
  EXPECT_GE(report["host"]["cpus"].get<int>(), 1);
}

}  // namespace
}  // namespace lla::test
