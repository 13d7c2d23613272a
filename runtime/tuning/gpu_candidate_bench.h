#pragma once
// The tuner's CandidateBench on a CUDA device: candidates compiled through the binary cache,
// loaded, checked and timed by the protocol of perf.md on inputs of the real distribution.
//
// Trusted result: the output of the heuristic configuration (tuner/heuristic_config.h) on the
// same inputs. That kernel is the one lla runs untuned, and the GPU tests and `lla check`
// verify it against the float64 reference; the reference itself would take minutes on the CPU
// at the shapes worth tuning. A candidate whose relative Frobenius error against it reaches
// kMaxRelativeError, or that leaves any output unwritten, fails.

#include <cuda.h>

#include <memory>
#include <vector>

#include "api/logger.h"
#include "binary_cache.h"
#include "candidate_bench.h"
#include "driver/cuda_driver.h"
#include "heuristic_config.h"
#include "verification/device_resources.h"

namespace lla::runtime::tuning {

// perf.md: "relative Frobenius error below 1e-2 for bf16 inputs".
inline constexpr double kMaxRelativeError = 1e-2;

class GpuCandidateBench : public tuner::CandidateBench {
 public:
  // Allocates the problem's inputs on `device` (in `context`), fills them (q, k, v from
  // U(-1, 1), g from -U(0, 0.1), lambda from U(0.5, 1.5), a fixed seed) and computes the
  // trusted output. All references must outlive the bench. Throws StatusError or
  // std::runtime_error naming the cause.
  GpuCandidateBench(const driver::CudaDriver& driver, CUdevice device, CUcontext context,
                    const compiler::DeviceInfo& info, cache::BinaryCache* cache, const Logger& logger,
                    const compiler::Request& request);
  ~GpuCandidateBench() override;

  tuner::PreparedCandidate prepare(const compiler::KernelSpec& spec) override;
  std::vector<double> measure(const tuner::PreparedCandidate& candidate, int warmup,
                              int repetitions) override;
  cache::Provenance provenance() const override;

 private:
  struct Inputs;
  class LoadedCandidate;
  // Runs `loaded` once on the inputs; returns its output, decoded (NaN where it wrote nothing).
  std::vector<double> output_of(const LoadedCandidate& loaded, CUstream stream);

  const driver::CudaDriver& driver_;
  CUdevice device_;
  CUcontext context_;
  const compiler::DeviceInfo& info_;
  cache::BinaryCache* cache_;
  const Logger& logger_;
  compiler::Request request_;
  std::unique_ptr<Inputs> inputs_;
  std::vector<double> trusted_;
};

}  // namespace lla::runtime::tuning
