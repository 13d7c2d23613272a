#pragma once
// Timing rules and winner selection (design.md, "Measuring"): the median of the samples with
// their spread, a noise estimate, and a winner that does not depend on noise: differences
// within the noise are ties, broken by the fixed order of the configuration space.

#include <optional>
#include <vector>

#include "tuning_row.h"

namespace lla::tuner {

inline constexpr int kMinRepetitions = 20;
// Timings closer than this fraction of the median are ties even when the samples agree more
// closely: clocks and neighbours drift more than that between runs.
inline constexpr double kMinRelativeNoise = 0.01;

struct TimingSummary {
  double median_ms = 0;
  double min_ms = 0;
  double max_ms = 0;
  double noise_ms = 0;  // max(1.4826 * median absolute deviation, kMinRelativeNoise * median)
  int repetitions = 0;
};

// Throws std::invalid_argument when there are fewer than kMinRepetitions samples or a sample
// is not a positive finite number of milliseconds.
TimingSummary summarize_samples(std::vector<double> samples_ms);

// The winner among `rows`, given in the space's order (null where a config has no row): the
// first timed row whose median is within the noise (the larger of the two rows' noise) of the
// fastest timed median. nullopt when no row is timed. The same rows always give the same index.
std::optional<size_t> select_winner(const std::vector<const cache::TuningRow*>& rows);

}  // namespace lla::tuner
