// The search, its budget and the policy, on a fake bench and a fake clock (no GPU).
#include "tuning.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <mutex>
#include <set>
#include <stdexcept>

#include "device_fixtures.h"
#include "families/kernel_family.h"
#include "problem_bucket.h"

namespace lla::tuner {
namespace {

namespace fs = std::filesystem;

compiler::DeviceInfo h100() { return test::h100_device_info(); }

compiler::Request request() {
  compiler::Request r;
  r.shape.batch = 2;
  r.shape.seq_len = 4096;
  r.shape.heads = 16;
  r.shape.groups = 16;
  r.levels = 13;
  return r;
}

class FakeClock : public TuningClock {
 public:
  double seconds() override { return now; }
  double now = 1000;
};

// Times each config by its index in the space: ms_of(index). Each measurement advances the fake
// clock by `seconds_per_measurement`. Configs listed in `wrong_output` fail their check; those
// in `spilling` report spills; those in `uncompilable` fail to compile.
class FakeBench : public CandidateBench {
 public:
  FakeBench(FakeClock& clock, std::function<double(size_t)> ms_of)
      : clock_(clock), ms_of_(std::move(ms_of)) {
    base_ = heuristic_spec(request(), h100());
    space_ = config_space(base_);
  }

  size_t index_of(const compiler::KernelSpec& spec) const {
    for (size_t i = 0; i < space_.size(); ++i)
      if (space_[i] == spec.tile) return i;
    throw std::logic_error("not in the space");
  }

  PreparedCandidate prepare(const compiler::KernelSpec& spec) override {
    ++prepares;
    const size_t index = index_of(spec);
    if (uncompilable.count(index)) throw std::runtime_error("NVRTC error: fake compile failure");
    PreparedCandidate c;
    c.spec = spec;
    compiler::KernelResources r;
    r.kernel = compiler::plan_launches(spec, request().shape).launches.front().kernel;  // one it launches
    r.registers = 40;
    r.spill_store_bytes = spilling.count(index) ? 8 : 0;
    c.resources = {r};
    return c;
  }

  std::vector<double> measure(const PreparedCandidate& candidate, int warmup,
                              int repetitions) override {
    EXPECT_GE(warmup, 1);
    const size_t index = index_of(candidate.spec);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      measured.push_back(index);
    }
    clock_.now += seconds_per_measurement;
    if (wrong_output.count(index))
      throw std::runtime_error("output differs from the trusted result: relative error 0.5");
    std::vector<double> samples;
    for (int i = 0; i < repetitions; ++i) samples.push_back(ms_of_(index) * (1 + 0.001 * (i % 3)));
    return samples;
  }

  cache::Provenance provenance() const override {
    cache::Provenance p;
    p.device_name = h100().name;
    p.sm_count = 132;
    p.driver_version = "13.0";
    p.nvrtc_version = "13.0";  // the toolchain's, as a backend reports it
    return p;
  }

  std::set<size_t> wrong_output, spilling, uncompilable;
  std::vector<size_t> measured;
  std::atomic<int> prepares{0};
  double seconds_per_measurement = 1;
  std::vector<compiler::TileConfig> space_;
  compiler::KernelSpec base_;

 private:
  std::mutex mutex_;
  FakeClock& clock_;
  std::function<double(size_t)> ms_of_;
};

double v_shape_around(size_t index, size_t bottom) {
  return 1.0 + 0.1 * static_cast<double>(index > bottom ? index - bottom : bottom - index);
}

class ForwardTuningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    folder_ = (fs::path(LLA_TEST_BINARY_DIR) / "forward_tuning_scratch" / test->name()).string();
    fs::remove_all(folder_);
    store_ = std::make_unique<cache::BinaryCache>(folder_);
    options_.compile_threads = 2;
    options_.budget_s = 1000;  // every config of the space is timed unless a test says otherwise
  }
  // A bench factory for searches that must not run: counts its calls, makes no bench.
  static std::function<std::unique_ptr<CandidateBench>()> counting_bench_factory(int* calls) {
    return [calls]() -> std::unique_ptr<CandidateBench> {
      ++*calls;
      return nullptr;
    };
  }

  std::string folder_;
  std::unique_ptr<cache::BinaryCache> store_;
  FakeClock clock_;
  TuneOptions options_;
};

TEST_F(ForwardTuningTest, EveryConfigIsRecordedAndTheFastestCorrectOneWins) {
  FakeBench bench(clock_, [](size_t i) { return v_shape_around(i, 2); });
  ASSERT_GE(bench.space_.size(), 6u);
  bench.wrong_output = {2};  // the fastest computes the wrong thing
  bench.spilling = {3};
  bench.uncompilable = {4};
  const TuneReport report = tune_problem(request(), h100(), bench, store_.get(), options_, clock_);
  ASSERT_EQ(report.candidates.size(), bench.space_.size());
  EXPECT_EQ(report.candidates[2].outcome, CandidateOutcome::failed);
  EXPECT_NE(report.candidates[2].row.detail.find("relative error 0.5"), std::string::npos);
  EXPECT_EQ(report.candidates[3].outcome, CandidateOutcome::pruned);
  EXPECT_NE(report.candidates[3].row.detail.find("spills"), std::string::npos);
  EXPECT_EQ(report.candidates[4].outcome, CandidateOutcome::failed);
  EXPECT_NE(report.candidates[4].row.detail.find("fake compile failure"), std::string::npos);
  ASSERT_TRUE(report.winner.has_value());
  EXPECT_EQ(*report.winner, 1u) << "1 is the fastest of the timed configs (3 spills, 2 fails)";
  EXPECT_EQ(store_->stats().tuning_rows, static_cast<int64_t>(bench.space_.size()));
  const auto rows = store_->tuning_rows(report.problem, report.device, lla_version());
  for (const auto& row : rows) {
    EXPECT_EQ(row.provenance.device_name, h100().name);
    EXPECT_EQ(row.provenance.nvrtc_version, "13.0");  // the bench's toolchain
    EXPECT_GT(row.provenance.measured_at, 0);
  }
  EXPECT_EQ(bench.measured.front(), *report.heuristic) << "the heuristic is timed first";
}

TEST_F(ForwardTuningTest, TheTimeBudgetIsHonouredWithAFakeClock) {
  FakeBench bench(clock_, [](size_t i) { return 1.0 + i; });
  options_.budget_s = 4.5;  // measurements start at t = 0, 1, 2, 3, 4
  const TuneReport report = tune_problem(request(), h100(), bench, store_.get(), options_, clock_);
  EXPECT_EQ(bench.measured.size(), 5u);
  EXPECT_EQ(report.stopped_by, "time budget");
  EXPECT_DOUBLE_EQ(report.elapsed_s, 5.0);
  size_t skipped = 0;
  for (const auto& c : report.candidates) skipped += c.outcome == CandidateOutcome::skipped;
  EXPECT_EQ(skipped, bench.space_.size() - 5);
  EXPECT_EQ(store_->stats().tuning_rows, 5) << "skipped configs leave no row";
}

TEST_F(ForwardTuningTest, TheCountLimitStopsTheSearch) {
  FakeBench bench(clock_, [](size_t i) { return 1.0 + i; });
  options_.max_candidates = 3;
  const TuneReport report = tune_problem(request(), h100(), bench, store_.get(), options_, clock_);
  EXPECT_EQ(bench.prepares.load(), 3);
  EXPECT_EQ(bench.measured.size(), 3u);
  EXPECT_EQ(report.stopped_by, "count limit");
}

TEST_F(ForwardTuningTest, ASecondSearchTimesOnlyConfigsWithoutARow) {
  FakeBench first(clock_, [](size_t i) { return v_shape_around(i, 5); });
  const TuneReport before = tune_problem(request(), h100(), first, store_.get(), options_, clock_);
  // Forget one config's row, as if it had just been added to the space.
  std::vector<cache::TuningRow> rows = store_->all_tuning_rows();
  const std::string forgotten = before.candidates[7].row.config;
  rows.erase(std::remove_if(rows.begin(), rows.end(),
                            [&](const cache::TuningRow& r) { return r.config == forgotten; }),
             rows.end());
  store_.reset();
  fs::remove_all(folder_);
  store_ = std::make_unique<cache::BinaryCache>(folder_);
  store_->put_tuning_rows(rows);

  FakeBench second(clock_, [](size_t i) { return v_shape_around(i, 5); });
  const TuneReport after = tune_problem(request(), h100(), second, store_.get(), options_, clock_);
  EXPECT_EQ(second.measured, std::vector<size_t>{7});
  EXPECT_EQ(after.candidates[0].outcome, CandidateOutcome::reused);
  EXPECT_EQ(after.winner, before.winner);

  options_.retime = true;
  FakeBench third(clock_, [](size_t i) { return v_shape_around(i, 5); });
  tune_problem(request(), h100(), third, store_.get(), options_, clock_);
  EXPECT_EQ(third.measured.size(), third.space_.size());
}

TEST_F(ForwardTuningTest, TheStoredWinnerIsTheSameEveryTime) {
  FakeBench bench(clock_, [](size_t i) { return v_shape_around(i, 4); });
  const TuneReport report = tune_problem(request(), h100(), bench, store_.get(), options_, clock_);
  ASSERT_TRUE(report.winner.has_value());
  const compiler::KernelSpec expected = report.candidates[*report.winner].spec;
  for (int i = 0; i < 3; ++i) {
    cache::BinaryCache reopened(folder_);
    const auto stored = stored_winner(request(), h100(), reopened);
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(compiler::describe(*stored), compiler::describe(expected));
  }
  compiler::Request nearby = request();
  nearby.shape.seq_len = 3000;  // same bucket
  EXPECT_TRUE(stored_winner(nearby, h100(), *store_).has_value());
  nearby.shape.seq_len = 8000;
  nearby.levels = 14;
  EXPECT_FALSE(stored_winner(nearby, h100(), *store_).has_value());
}

TEST_F(ForwardTuningTest, ALargeSpaceIsSampledThenRefinedNearTheBest) {
  FakeBench bench(clock_, [](size_t i) { return v_shape_around(i, 11); });
  ASSERT_GE(bench.space_.size(), 16u);
  options_.exhaustive_limit = 4;
  options_.max_candidates = 10;
  const TuneReport report = tune_problem(request(), h100(), bench, store_.get(), options_, clock_);
  EXPECT_EQ(bench.measured.size(), 10u);
  ASSERT_TRUE(report.winner.has_value());
  EXPECT_EQ(*report.winner, 11u);
}

TEST_F(ForwardTuningTest, PolicyOffNeverTimes) {
  int benches = 0;
  const auto choice = choose_spec(request(), h100(), TunePolicy::off, store_.get(),
                                          counting_bench_factory(&benches), options_);
  EXPECT_EQ(benches, 0);
  EXPECT_EQ(choice.source, Choice::Source::heuristic);
  EXPECT_EQ(compiler::describe(choice.spec),
            compiler::describe(heuristic_spec(request(), h100())));
}

TEST_F(ForwardTuningTest, PolicyOnMissTunesOnceThenReuses) {
  int benches = 0;
  const auto make_bench = [&]() -> std::unique_ptr<CandidateBench> {
    ++benches;
    return std::make_unique<FakeBench>(clock_, [](size_t i) { return v_shape_around(i, 3); });
  };
  const auto first = choose_spec(request(), h100(), TunePolicy::on_miss, store_.get(),
                                         make_bench, options_);
  EXPECT_EQ(first.source, Choice::Source::tuned);
  ASSERT_TRUE(first.report.has_value());
  const auto second = choose_spec(request(), h100(), TunePolicy::on_miss, store_.get(),
                                          make_bench, options_);
  EXPECT_EQ(second.source, Choice::Source::stored);
  EXPECT_EQ(benches, 1);
  EXPECT_EQ(compiler::describe(first.spec), compiler::describe(second.spec));
  const auto forced =
      choose_spec(request(), h100(), TunePolicy::force, store_.get(), make_bench, options_);
  EXPECT_EQ(forced.source, Choice::Source::tuned);
  EXPECT_EQ(benches, 2);
  EXPECT_EQ(store_->stats().leases, 0);
}

TEST_F(ForwardTuningTest, OnMissUsesTheHeuristicWhileAnotherProcessTunes) {
  const std::string lease = search_lease_name(request(), h100(), 64);
  ASSERT_TRUE(store_->try_acquire_lease(lease, "another process", 60000));
  int benches = 0;
  const auto choice = choose_spec(request(), h100(), TunePolicy::on_miss, store_.get(),
                                          counting_bench_factory(&benches), options_);
  EXPECT_EQ(benches, 0);
  EXPECT_EQ(choice.source, Choice::Source::heuristic);
  EXPECT_EQ(choice.note, "another process is tuning this problem");
}

}  // namespace
}  // namespace lla::tuner
