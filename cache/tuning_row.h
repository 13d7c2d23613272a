#pragma once
// One tuning measurement: a configuration of a kernel family tried on one problem bucket and
// device, with what became of it and where it was measured. The cache keeps one row per
// (problem, device, lla version, config), so a configuration added to a space later is the only
// one that needs timing.

#include <cstdint>
#include <string>

namespace lla::cache {

enum class TuningStatus {
  timed,   // checked against the trusted result and timed: the timings are valid
  failed,  // compile, launch or check failed: detail says why; never selected
  pruned,  // rejected by a resource rule before or after compiling: detail says which
};

const char* tuning_status_name(TuningStatus s);  // "timed", "failed", "pruned"
// Throws CacheError naming `text` when it is not a status name.
TuningStatus parse_tuning_status(const std::string& text);

// Where and when a row was measured (design.md, "Measuring"; perf.md, "Report").
struct Provenance {
  std::string device_name;
  int sm_count = 0;
  std::string clocks;  // e.g. "sm 1980 MHz, memory 2619 MHz"; "" when not readable
  std::string driver_version;
  std::string nvrtc_version;
  int64_t measured_at = 0;  // unix seconds
};

struct TuningRow {
  // The key. problem and device are canonical texts made by the tuner (problem bucket; device
  // name, compute capability and SM count); config is the tile configuration's canonical text.
  std::string problem;
  std::string device;
  std::string lla_version;
  std::string config;

  TuningStatus status = TuningStatus::timed;
  double median_ms = 0;  // timed rows: median of `repetitions` samples
  double min_ms = 0;
  double max_ms = 0;
  double noise_ms = 0;  // the spread the tuner treats as noise (see tuner/selection.h)
  int repetitions = 0;
  std::string detail;  // failed or pruned: why; timed: ""
  Provenance provenance;
};

}  // namespace lla::cache
