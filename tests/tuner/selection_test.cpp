#include "selection.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

namespace lla::tuner {
namespace {

std::vector<double> samples_around(double median_ms, double jitter_ms) {
  std::vector<double> samples;
  for (int i = 0; i < kMinRepetitions; ++i)
    samples.push_back(median_ms + jitter_ms * ((i % 5) - 2) / 2.0);
  return samples;
}

cache::TuningRow timed(double median_ms, double noise_ms) {
  cache::TuningRow row;
  row.status = cache::TuningStatus::timed;
  row.median_ms = median_ms;
  row.noise_ms = noise_ms;
  return row;
}

TEST(Selection, SummaryHasTheMedianSpreadAndNoise) {
  std::vector<double> samples = samples_around(2.0, 0.1);
  samples.back() = 9.0;  // one outlier moves neither the median nor the noise much
  const TimingSummary s = summarize_samples(samples);
  EXPECT_DOUBLE_EQ(s.median_ms, 2.0);
  EXPECT_DOUBLE_EQ(s.max_ms, 9.0);
  EXPECT_DOUBLE_EQ(s.min_ms, 1.9);
  EXPECT_EQ(s.repetitions, kMinRepetitions);
  EXPECT_GT(s.noise_ms, 0.05);
  EXPECT_LT(s.noise_ms, 0.2);
}

TEST(Selection, NoiseNeverFallsBelowTheRelativeFloor) {
  const TimingSummary s = summarize_samples(std::vector<double>(kMinRepetitions, 4.0));
  EXPECT_DOUBLE_EQ(s.noise_ms, 4.0 * kMinRelativeNoise);
}

TEST(Selection, TooFewOrInvalidSamplesAreRejectedSayingWhy) {
  try {
    summarize_samples(std::vector<double>(kMinRepetitions - 1, 1.0));
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("at least 20 samples, got 19"), std::string::npos);
  }
  std::vector<double> with_zero(kMinRepetitions, 1.0);
  with_zero[3] = 0;
  EXPECT_THROW(summarize_samples(with_zero), std::invalid_argument);
}

TEST(Selection, DifferencesWithinTheNoiseAreTiesBrokenBySpaceOrder) {
  const cache::TuningRow a = timed(1.05, 0.06), b = timed(1.00, 0.02), c = timed(1.5, 0.01);
  EXPECT_EQ(select_winner({&a, &b, &c}), 0u) << "a is within a's noise of b and comes first";
  EXPECT_EQ(select_winner({&c, &b, &a}), 1u);
  const cache::TuningRow clearly_slower = timed(1.2, 0.02);
  EXPECT_EQ(select_winner({&clearly_slower, &b}), 1u);
}

TEST(Selection, FailedPrunedAndMissingRowsAreNeverSelected) {
  cache::TuningRow failed = timed(0.1, 0.001);
  failed.status = cache::TuningStatus::failed;
  cache::TuningRow pruned = timed(0.1, 0.001);
  pruned.status = cache::TuningStatus::pruned;
  const cache::TuningRow slow = timed(3.0, 0.01);
  EXPECT_EQ(select_winner({&failed, nullptr, &pruned, &slow}), 3u);
  EXPECT_FALSE(select_winner({&failed, nullptr, &pruned}).has_value());
}

}  // namespace
}  // namespace lla::tuner
