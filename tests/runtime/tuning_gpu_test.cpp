// Tuning on the device: lla_tune's winner computes the right thing, is no slower than the
// heuristic default, and is the same when tuning again with the same database; lla_forward
// under on-miss tunes a new bucket once. Skips visibly without a GPU.
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "api/context_internal.h"
#include "gpu_test_support.h"
#include "reference/dtype_codec.h"
#include "reference/reference.h"
#include "verification/device_forward.h"

namespace lla {
namespace {

struct TunedShape {
  int batch, seq_len, heads, key_dim, value_dim;
};

reference::Problem problem_of(const TunedShape& s) {
  return reference::mamba2_problem(s.batch, s.seq_len, s.heads, s.heads, s.key_dim, s.value_dim);
}

lla_tune_report tune(lla_context* ctx, const reference::Problem& p, int chunk = 0) {
  const lla_problem problem = runtime::to_lla_problem(p, LLA_DTYPE_BF16, chunk);
  lla_tune_report report{};
  EXPECT_EQ(lla_tune(ctx, &problem, &report), LLA_SUCCESS) << lla_last_error(ctx);
  return report;
}

class TuningGpu : public ::testing::Test {
 protected:
  void SetUp() override { LLA_SKIP_WITHOUT_GPU(); }
};

TEST_F(TuningGpu, TheWinnerIsCorrectAndNoSlowerThanTheHeuristicOnThreeShapes) {
  // On-miss: lla_forward then serves the bucket's stored winner (off would ignore it).
  testing::GpuContext ctx("tuning-three-shapes", LLA_TUNE_ON_MISS);
  ASSERT_EQ(ctx.status(), LLA_SUCCESS) << ctx.error();
  for (const TunedShape& shape : {TunedShape{1, 1024, 4, 64, 64}, TunedShape{2, 2048, 8, 128, 128},
                                  TunedShape{1, 4096, 16, 128, 64}}) {
    const reference::Problem p = problem_of(shape);
    const lla_tune_report report = tune(ctx.get(), p);
    const auto details = nlohmann::json::parse(report.details_json);
    std::printf(
        "  T=%d K=%d V=%d: %d configs, %d timed, %d failed, %d pruned, %d skipped; "
        "winner %.4f ms (%s), heuristic %.4f ms\n",
        shape.seq_len, shape.key_dim, shape.value_dim, report.configs, report.timed, report.failed,
        report.pruned, report.skipped, report.winner_ms, report.winner, report.heuristic_ms);
    ASSERT_STRNE(report.winner, "") << details.dump(1);
    ASSERT_GT(report.heuristic_ms, 0) << "the heuristic is always timed first";
    // Ties within the noise go to the earlier config, which may be a little slower.
    EXPECT_LE(report.winner_ms, report.heuristic_ms * 1.05) << details.dump(1);

    const reference::Inputs inputs =
        reference::round_inputs(reference::random_inputs(p, 7), compiler::Dtype::bf16);
    runtime::DeviceForwardOptions options;
    options.dtype = LLA_DTYPE_BF16;
    const runtime::DeviceForwardRun run =
        runtime::run_forward_on_device(ctx.get(), p, inputs, options);
    EXPECT_EQ(run.first_call.kernel, report.winner) << "lla_forward uses the tuned winner";
    EXPECT_EQ(run.unwritten, 0u);
    const reference::Result want = reference::forward_chunkwise(p, inputs, 64);
    EXPECT_LT(reference::relative_frobenius_error(run.o, want.o), 1e-2);
  }
}

// Every scan configuration the tuner can pick, against the tree algorithm's output (the trusted
// result lla_tune checks each candidate against: at these shapes the heuristic is mma, which
// the forward GPU tests check against the reference) on awkward shapes: T off the chunk grid,
// grouped q/k, one chunk, K != V, 258 chunks (state slots up to chunk level 8), and every
// chunk size the scan takes (chunk 0: lla's choice, 64).
TEST_F(TuningGpu, EveryScanConfigMatchesTheTreeAlgorithm) {
  testing::GpuContext ctx("tuning-scan-configs");
  ASSERT_EQ(ctx.status(), LLA_SUCCESS) << ctx.error();
  struct Awkward {
    int batch, seq_len, heads, groups, key_dim, value_dim, chunk;
  };
  for (const Awkward& a :
       {Awkward{2, 1000, 4, 2, 64, 64, 0}, Awkward{1, 37, 2, 1, 128, 32, 0},
        Awkward{1, 4099, 2, 1, 128, 128, 0}, Awkward{3, 200, 2, 2, 32, 48, 0},
        Awkward{1, 16500, 1, 1, 32, 32, 0}, Awkward{1, 300, 2, 1, 64, 64, 16},
        Awkward{2, 1000, 4, 2, 64, 32, 32}}) {
    const reference::Problem p = reference::mamba2_problem(a.batch, a.seq_len, a.heads, a.groups,
                                                           a.key_dim, a.value_dim);
    const lla_tune_report report = tune(ctx.get(), p, a.chunk);
    const auto details = nlohmann::json::parse(report.details_json);
    int scan_timed = 0;
    for (const auto& config : details.at("configs")) {
      const std::string name = config.at("config");
      if (name.find("algorithm=scan") == std::string::npos) continue;
      const std::string outcome = config.at("outcome");
      EXPECT_TRUE(outcome == "timed" || outcome == "pruned")
          << "T=" << a.seq_len << ": " << name << ": " << outcome << " " << config.dump();
      scan_timed += outcome == "timed";
    }
    std::printf("  T=%d B=%d H=%d G=%d K=%d V=%d C=%d: %d scan configs timed and matching\n",
                a.seq_len, a.batch, a.heads, a.groups, a.key_dim, a.value_dim, a.chunk, scan_timed);
    EXPECT_GT(scan_timed, 0) << details.dump(1);
  }
}

TEST_F(TuningGpu, TuningAgainWithTheSameDatabaseGivesTheSameWinner) {
  const reference::Problem p = problem_of({2, 2048, 8, 128, 128});
  std::string first_winner;
  {
    testing::GpuContext first("tuning-twice");
    ASSERT_EQ(first.status(), LLA_SUCCESS) << first.error();
    const lla_tune_report report = tune(first.get(), p);
    first_winner = report.winner;
    EXPECT_GT(report.timed, 0);
  }
  testing::GpuContext second("tuning-twice", LLA_TUNE_OFF, testing::CacheFolder::keep);
  ASSERT_EQ(second.status(), LLA_SUCCESS) << second.error();
  const lla_tune_report again = tune(second.get(), p);
  EXPECT_EQ(again.timed, 0) << "every row was stored by the first search";
  EXPECT_EQ(std::string(again.winner), first_winner);
}

TEST_F(TuningGpu, OnMissTunesANewBucketOnceThenReusesIt) {
  const reference::Problem p = problem_of({1, 1024, 4, 64, 64});
  const reference::Inputs inputs =
      reference::round_inputs(reference::random_inputs(p, 3), compiler::Dtype::bf16);
  runtime::DeviceForwardOptions options;
  options.dtype = LLA_DTYPE_BF16;
  {
    testing::GpuContext first("tuning-on-miss", LLA_TUNE_ON_MISS);
    ASSERT_EQ(first.status(), LLA_SUCCESS) << first.error();
    const auto run = runtime::run_forward_on_device(first.get(), p, inputs, options);
    EXPECT_EQ(run.first_call.chosen_by, tuner::Choice::Source::tuned);
  }
  testing::GpuContext second("tuning-on-miss", LLA_TUNE_ON_MISS, testing::CacheFolder::keep);
  ASSERT_EQ(second.status(), LLA_SUCCESS) << second.error();
  const auto run = runtime::run_forward_on_device(second.get(), p, inputs, options);
  EXPECT_EQ(run.first_call.chosen_by, tuner::Choice::Source::stored);
}

}  // namespace
}  // namespace lla
