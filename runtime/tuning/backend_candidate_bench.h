#pragma once
// The tuner's CandidateBench on any backend: candidates compiled through the binary cache by
// the backend's toolchain, loaded, checked and timed by the backend's rules on inputs of the
// real distribution, allocated from the family's tensor table.
//
// Trusted result: the output of the heuristic configuration (the family's heuristic) on the
// same inputs. That kernel is the one lla runs untuned, and the GPU tests and `lla check`
// verify it against the float64 reference; the reference itself would take minutes on the CPU
// at the shapes worth tuning. A candidate whose relative Frobenius error against it reaches
// kMaxRelativeError, or that leaves any output unwritten, fails.

#include <memory>
#include <vector>

#include "api/logger.h"
#include "backend/backend.h"
#include "binary_cache.h"
#include "candidate_bench.h"

namespace lla::runtime::tuning {

// perf.md: "relative Frobenius error below 1e-2 for bf16 inputs".
inline constexpr double kMaxRelativeError = 1e-2;

class BackendCandidateBench : public tuner::CandidateBench {
 public:
  // Allocates the request's tensors on `backend` (every tensor its family requires; optional
  // ones are left out), fills the inputs from each tensor's distribution with a fixed seed (q,
  // k, v from U(-1, 1), g from -U(0, 0.1), lambda from U(0.5, 1.5) for the Mamba-2 forward)
  // and computes the trusted output. Tensors a kernel reads and writes keep what each run
  // leaves: a family with such a tensor needs its own reset before it tunes. All references
  // must outlive the bench. Throws StatusError or std::runtime_error naming the cause.
  BackendCandidateBench(const backend::Backend& backend, cache::BinaryCache* cache, const Logger& logger,
                        const compiler::Request& request);
  ~BackendCandidateBench() override;

  tuner::PreparedCandidate prepare(const compiler::KernelSpec& spec) override;
  std::vector<double> measure(const tuner::PreparedCandidate& candidate, int warmup, int repetitions) override;
  cache::Provenance provenance() const override;

 private:
  struct Tensor;
  class Loaded;
  // Runs `loaded` once; returns its outputs, decoded and in table order (NaN where it wrote
  // nothing).
  std::vector<double> outputs_of(const Loaded& loaded, const backend::Stream& stream);

  const backend::Backend& backend_;
  cache::BinaryCache* cache_;
  const Logger& logger_;
  compiler::Request request_;
  std::vector<Tensor> tensors_;
  backend::BoundBuffers buffers_;
  std::vector<double> trusted_;
};

}  // namespace lla::runtime::tuning
