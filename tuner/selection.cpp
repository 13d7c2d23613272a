#include "selection.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace lla::tuner {

namespace {

// Scales a median absolute deviation to a standard deviation for normal samples.
constexpr double kMadToSigma = 1.4826;

double median_of(std::vector<double> values) {
  const size_t middle = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + middle, values.end());
  const double upper = values[middle];
  if (values.size() % 2 == 1) return upper;
  return (upper + *std::max_element(values.begin(), values.begin() + middle)) / 2;
}

}  // namespace

TimingSummary summarize_samples(std::vector<double> samples_ms) {
  if (samples_ms.size() < static_cast<size_t>(kMinRepetitions)) {
    throw std::invalid_argument("a timing needs at least " + std::to_string(kMinRepetitions) +
                                " samples, got " + std::to_string(samples_ms.size()));
  }
  for (double sample : samples_ms) {
    if (!std::isfinite(sample) || sample <= 0) {
      throw std::invalid_argument("a timing sample of " + std::to_string(sample) +
                                  " ms is not a positive duration");
    }
  }
  TimingSummary s;
  s.repetitions = static_cast<int>(samples_ms.size());
  s.median_ms = median_of(samples_ms);
  s.min_ms = *std::min_element(samples_ms.begin(), samples_ms.end());
  s.max_ms = *std::max_element(samples_ms.begin(), samples_ms.end());
  std::vector<double> deviations;
  for (double sample : samples_ms) deviations.push_back(std::fabs(sample - s.median_ms));
  s.noise_ms = std::max(kMadToSigma * median_of(deviations), kMinRelativeNoise * s.median_ms);
  return s;
}

std::optional<size_t> select_winner(const std::vector<const cache::TuningRow*>& rows) {
  const auto timed = [&](size_t i) {
    return rows[i] && rows[i]->status == cache::TuningStatus::timed;
  };
  std::optional<size_t> fastest;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (timed(i) && (!fastest || rows[i]->median_ms < rows[*fastest]->median_ms)) fastest = i;
  }
  if (!fastest) return std::nullopt;
  const cache::TuningRow& best = *rows[*fastest];
  for (size_t i = 0; i < rows.size(); ++i) {
    if (!timed(i)) continue;
    const double noise = std::max(rows[i]->noise_ms, best.noise_ms);
    if (rows[i]->median_ms - best.median_ms <= noise) return i;
  }
  return fastest;
}

}  // namespace lla::tuner
