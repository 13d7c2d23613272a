// `lla cache`, run as the built program on a cache folder the test fills.

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "binary_cache.h"
#include "content_hash.h"
#include "scratch_files.h"
#include "tool_run.h"
#include "tuning_exchange.h"

namespace lla::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

cache::TuningRow timed_row(const std::string& config, double median_ms, int64_t measured_at) {
  cache::TuningRow row;
  row.problem = "mamba2_forward dtype=bf16 K=128 V=128 C=64";
  row.device = "NVIDIA H100 cc=9.0 sms=132";
  row.lla_version = "0.1.0";
  row.config = config;
  row.median_ms = median_ms;
  row.repetitions = 20;
  row.provenance.measured_at = measured_at;
  return row;
}

class CacheCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = scratch_path("cache");
    other_ = scratch_path("other-cache");
    fs::remove_all(folder_);
    fs::remove_all(other_);
  }
  ToolRun cache_tool(std::vector<std::string> args, const std::string& folder) {
    args.insert(args.begin(), {"--cache-dir", folder});
    return run_tool("cache", args);
  }
  std::string folder_;
  std::string other_;
};

TEST_F(CacheCommandTest, StatsCountsWhatIsStored) {
  {
    cache::BinaryCache db(folder_);
    db.store({"g", cache::sha256_hex("s"), "o", "13.0", "sm_90a"}, {{1, 2, 3}, "k", ""});
    db.put_tuning_rows({timed_row("a", 1, 1), timed_row("b", 2, 1)});
  }
  const ToolRun run = cache_tool({"--json", "stats"}, folder_);
  ASSERT_EQ(run.exit_status, 0) << run.err;
  const json stats = json::parse(run.out);
  EXPECT_EQ(stats["binaries"], 1);
  EXPECT_EQ(stats["binary_bytes"], 3);
  EXPECT_EQ(stats["tuning_rows"], 2);
}

TEST_F(CacheCommandTest, ExportThenImportCarriesRowsToAnotherCache) {
  { cache::BinaryCache(folder_).put_tuning_rows({timed_row("a", 1, 10), timed_row("b", 2, 10)}); }
  { cache::BinaryCache(other_).put_tuning_rows({timed_row("a", 5, 20)}); }
  const std::string file = scratch_path("rows.json");
  ASSERT_EQ(cache_tool({"export", file}, folder_).exit_status, 0);
  const ToolRun imported = cache_tool({"--json", "import", file}, other_);
  ASSERT_EQ(imported.exit_status, 0) << imported.err;
  EXPECT_EQ(json::parse(imported.out), (json{{"added", 1}, {"replaced", 0}, {"kept", 1}}));
  const auto rows = cache::BinaryCache(other_).all_tuning_rows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].median_ms, 5) << "the later measurement stays";
  EXPECT_EQ(rows[1].median_ms, 2);
}

TEST_F(CacheCommandTest, ImportOfABrokenFileFailsNamingTheFile) {
  const std::string file = write_scratch("broken.json", "{\"format\": \"lla-tuning-v1\"}");
  const ToolRun run = cache_tool({"import", file}, folder_);
  EXPECT_EQ(run.exit_status, 2);
  EXPECT_NE(run.err.find(file + ": missing field \"rows\""), std::string::npos) << run.err;
}

TEST_F(CacheCommandTest, ShowFindsRowsAndFailsWhenNothingMatches) {
  { cache::BinaryCache(folder_).put_tuning_rows({timed_row("block_k=32", 1.5, 1)}); }
  const ToolRun found = cache_tool({"show", "block_k=32"}, folder_);
  EXPECT_EQ(found.exit_status, 0);
  EXPECT_NE(found.out.find("1.5000 ms"), std::string::npos) << found.out;
  const ToolRun missing = cache_tool({"show", "block_k=64"}, folder_);
  EXPECT_EQ(missing.exit_status, 1);
  EXPECT_NE(missing.err.find("nothing in"), std::string::npos) << missing.err;
}

TEST_F(CacheCommandTest, GcAndVerifyReport) {
  {
    cache::BinaryCache db(folder_);
    for (int n = 0; n < 3; ++n) {
      db.store({"g", cache::sha256_hex(std::to_string(n)), "o", "13.0", "sm_90a"},
               {std::vector<uint8_t>(100, static_cast<uint8_t>(n)), "k", ""});
    }
  }
  const ToolRun verified = cache_tool({"--json", "verify"}, folder_);
  EXPECT_EQ(verified.exit_status, 0);
  EXPECT_EQ(json::parse(verified.out)["checked"], 3);
  const ToolRun collected = cache_tool({"--json", "gc", "--max-bytes", "150"}, folder_);
  ASSERT_EQ(collected.exit_status, 0) << collected.err;
  EXPECT_EQ(json::parse(collected.out)["removed"], 2);
  EXPECT_EQ(json::parse(collected.out)["kept_bytes"], 100);
}

TEST_F(CacheCommandTest, BadUsageExitsWithTwoAndSaysWhy) {
  const ToolRun unknown = cache_tool({"frobnicate"}, folder_);
  EXPECT_EQ(unknown.exit_status, 2);
  EXPECT_NE(unknown.err.find("unknown subcommand 'frobnicate'"), std::string::npos);
  const ToolRun missing_file = cache_tool({"export"}, folder_);
  EXPECT_EQ(missing_file.exit_status, 2);
  EXPECT_NE(missing_file.err.find("takes 1 operand(s), got 0"), std::string::npos);
  const ToolRun bad_cap = cache_tool({"gc", "--max-bytes", "lots"}, folder_);
  EXPECT_EQ(bad_cap.exit_status, 2);
  EXPECT_NE(bad_cap.err.find("'lots' is not a byte count"), std::string::npos);
}

}  // namespace
}  // namespace lla::test
