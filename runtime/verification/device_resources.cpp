#include "verification/device_resources.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace lla::runtime {

TimingSummary summarize(std::vector<double> times_ms) {
  TimingSummary s;
  if (times_ms.empty()) return s;
  std::sort(times_ms.begin(), times_ms.end());
  const size_t n = times_ms.size();
  s.median_ms = n % 2 ? times_ms[n / 2] : 0.5 * (times_ms[n / 2 - 1] + times_ms[n / 2]);
  s.min_ms = times_ms.front();
  s.max_ms = times_ms.back();
  s.repetitions = static_cast<int>(n);
  return s;
}

TimingSummary time_repetitions(const backend::Backend& backend, const backend::Stream& stream, int repetitions,
                               const std::function<void()>& work) {
  const auto active = backend.activate();
  return summarize(backend.time(stream, repetitions, work));
}

void require_success(const char* call, lla_context* ctx, lla_status status) {
  if (status != LLA_SUCCESS)
    throw std::runtime_error(std::string(call) + ": " + lla_status_string(status) + ": " + lla_last_error(ctx));
}

}  // namespace lla::runtime
