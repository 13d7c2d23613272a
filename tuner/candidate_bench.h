#pragma once
// What the tuner needs from a device, declared here so the tuner stays free of backends:
// runtime/ implements it over a backend (compile through the binary cache, load, check against
// a trusted result, time by the backend's rules); tests implement it with fakes.

#include <cstdint>
#include <string>
#include <vector>

#include "generator/kernel_spec.h"
#include "nvrtc/nvrtc_compiler.h"
#include "tuning_row.h"

namespace lla::tuner {

// A compiled candidate, ready to load.
struct PreparedCandidate {
  compiler::KernelSpec spec;
  std::vector<uint8_t> image;
  std::vector<std::string> entry_points;
  std::vector<compiler::KernelResources> resources;  // the toolchain's report (ptxas); may be empty
  double compile_ms = 0;                             // 0 when it came from the cache
};

class CandidateBench {
 public:
  virtual ~CandidateBench() = default;

  // Generates and compiles `spec` (or takes it from the binary cache). Called from several
  // threads at once. Throws std::exception with the cause when it cannot.
  virtual PreparedCandidate prepare(const compiler::KernelSpec& spec) = 0;

  // Loads the candidate, runs it on the problem the bench was made for, checks its output
  // against the trusted result, then times `repetitions` runs after `warmup` runs (by the
  // backend's rules: CUDA events around each run with L2 flushed between them, or a monotonic
  // clock). Returns one sample per repetition, in milliseconds. Called from one thread. Throws std::exception naming the cause when the
  // candidate cannot load or launch, or its output differs from the trusted result.
  virtual std::vector<double> measure(const PreparedCandidate& candidate, int warmup,
                                      int repetitions) = 0;

  // Where the measurements are taken: device name, SM count, clocks, driver and toolchain
  // versions. The tuner fills in the time.
  virtual cache::Provenance provenance() const = 0;
};

// Seconds on a monotonic clock; the tuner's budget is read from it, so tests can fake time.
class TuningClock {
 public:
  virtual ~TuningClock() = default;
  virtual double seconds() = 0;
};

// std::chrono::steady_clock.
TuningClock& steady_tuning_clock();

}  // namespace lla::tuner
