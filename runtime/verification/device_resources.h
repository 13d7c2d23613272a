#pragma once
// What the verification and timing paths (`lla run`, `lla bench`, the GPU tests) share: the
// timing protocol of perf.md on the context's backend (the backend's timer around each
// repetition, caches flushed before it, median with min and max), and C API failures as
// exceptions.

#include <functional>
#include <vector>

#include "backend/backend.h"
#include "lla/lla.h"

namespace lla::runtime {

struct TimingSummary {
  double median_ms = 0;
  double min_ms = 0;
  double max_ms = 0;
  int repetitions = 0;
};

TimingSummary summarize(std::vector<double> times_ms);

// backend.time of `work` (which queues on `stream`) `repetitions` times, summarized.
TimingSummary time_repetitions(const backend::Backend& backend, const backend::Stream& stream, int repetitions,
                               const std::function<void()>& work);

// Throws std::runtime_error "<call>: <status>: <lla_last_error>" unless status is success.
void require_success(const char* call, lla_context* ctx, lla_status status);

}  // namespace lla::runtime
