// `lla tune`, run as the built program: usage errors everywhere, a small real tune on a GPU.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "backend/cuda/cuda_driver.h"
#include "scratch_files.h"
#include "tool_run.h"

namespace lla::test {
namespace {

TEST(TuneCommand, BadUsageExitsWithTwoAndSaysWhy) {
  const ToolRun unknown = run_tool("tune", {"--frobnicate"});
  EXPECT_EQ(unknown.exit_status, 2);
  EXPECT_NE(unknown.err.find("unknown option --frobnicate"), std::string::npos) << unknown.err;
  const ToolRun budget = run_tool("tune", {"--budget", "-3"});
  EXPECT_EQ(budget.exit_status, 2);
  EXPECT_NE(budget.err.find("--budget: '-3' is not a positive number of seconds"),
            std::string::npos)
      << budget.err;
  const ToolRun heads = run_tool("tune", {"--heads", "many"});
  EXPECT_EQ(heads.exit_status, 2);
  EXPECT_NE(heads.err.find("--heads: 'many' is not an integer"), std::string::npos);
}

TEST(TuneCommand, WithoutAGpuSaysItNeedsOne) {
  if (runtime::driver::load_cuda_driver().driver) GTEST_SKIP() << "this machine has a GPU";
  const ToolRun run = run_tool("tune", {"--cache-dir", scratch_path("cache")});
  EXPECT_EQ(run.exit_status, 2);
  EXPECT_NE(run.err.find("lla tune: needs a GPU"), std::string::npos) << run.err;
}

TEST(TuneCommand, TunesASmallProblemAndReportsJson) {
  const auto& loaded = runtime::driver::load_cuda_driver();
  if (!loaded.driver) GTEST_SKIP() << "GPU test skipped: " << loaded.unavailable_reason;
  const std::string cache = scratch_path("cache");
  const std::vector<std::string> args = {"--cache-dir", cache,  "--json",  "--batch",  "1",
                                         "--seq-len",   "1024", "--heads", "4",        "--dk",
                                         "64",          "--dv", "64",      "--budget", "20"};
  const ToolRun run = run_tool("tune", args);
  ASSERT_EQ(run.exit_status, 0) << run.err;
  const nlohmann::json report = nlohmann::json::parse(run.out);
  EXPECT_FALSE(report["winner"].is_null()) << run.out;
  EXPECT_FALSE(report["configs"].empty());
  const ToolRun again = run_tool("tune", args);
  ASSERT_EQ(again.exit_status, 0) << again.err;
  EXPECT_EQ(nlohmann::json::parse(again.out)["winner"], report["winner"]);
}

// Progress is for terminals: with stderr in a file (as run_tool has it) and a text report, the
// tune prints its report and no progress line.
TEST(TuneCommand, IntoAPipeItShowsNoProgress) {
  const auto& loaded = runtime::driver::load_cuda_driver();
  if (!loaded.driver) GTEST_SKIP() << "GPU test skipped: " << loaded.unavailable_reason;
  const ToolRun run = run_tool("tune", {"--cache-dir", scratch_path("cache"), "--batch", "1",
                                        "--seq-len", "1024", "--heads", "4", "--dk", "64", "--dv",
                                        "64", "--budget", "20", "--max-configs", "4"});
  ASSERT_EQ(run.exit_status, 0) << run.err;
  EXPECT_NE(run.out.find(" configs: "), std::string::npos) << run.out;
  EXPECT_EQ(run.err.find('\r'), std::string::npos) << run.err;
  EXPECT_EQ(run.err.find("\x1b[K"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace lla::test
