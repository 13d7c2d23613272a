#pragma once
// lla_forward after validation: problem -> kernel spec -> loaded module (table, then binary
// cache, then NVRTC) -> launches on the caller's stream.

#include <cuda.h>

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "api/logger.h"
#include "binary_cache.h"
#include "dispatch/kernel_table.h"
#include "driver/cuda_driver.h"
#include "generator/kernel_spec.h"
#include "tuning.h"
#include "heuristic_config.h"
#include "lla/lla.h"

namespace lla::runtime::dispatch {

// What one forward call ran and where its kernel came from (for `lla run` and logs).
struct ForwardDispatchInfo {
  compiler::KernelSpec spec;
  std::string kernel;  // describe(spec)
  KernelSource source = KernelSource::memory;
  double compile_ms = 0;  // NVRTC time spent by this call; 0 unless source == compile
  double build_ms = 0;    // time this call spent obtaining the module; 0 when source == memory
  size_t launches = 0;
  size_t workspace_bytes = 0;
  tuner::Choice::Source chosen_by = tuner::Choice::Source::heuristic;
};

// How the dispatcher picks a problem's configuration, and where a search would time it.
struct ForwardTuning {
  tuner::TunePolicy policy = tuner::TunePolicy::off;
  tuner::TuneOptions options;
  CUdevice device = 0;
  CUcontext context = nullptr;  // the context's primary context
};

class ForwardDispatcher {
 public:
  // `cache` may be null (run uncached). Workspaces come from `workspace_pool`. All references
  // and the pool must outlive the dispatcher.
  ForwardDispatcher(const driver::CudaDriver& driver, const compiler::DeviceInfo& device,
                    cache::BinaryCache* cache, const Logger& logger, ForwardTuning tuning,
                    CUmemoryPool workspace_pool);

  // Runs a validated problem with the configuration the policy picks for its bucket (decided
  // once per bucket and process; a search, when the policy calls for one, runs inside this
  // call and synchronises the device). Needs the context's CUcontext current on the calling
  // thread; safe to call from many threads at once. Throws StatusError.
  ForwardDispatchInfo forward(const lla_problem& p, const lla_forward_args& a, CUstream stream);

  // lla_tune: searches the validated problem's bucket now, whatever the policy, timing the
  // configurations without a stored row; later forwards of the bucket use the winner. Throws
  // StatusError.
  tuner::TuneReport tune(const lla_problem& p);

  // Unloads every module (the context current); the dispatcher is unusable afterwards.
  void unload_modules();

 private:
  // The configuration for the request's bucket under the policy; remembered per bucket.
  compiler::KernelSpec choose_spec(const compiler::Request& request,
                                   tuner::Choice::Source* chosen_by);
  std::unique_ptr<tuner::CandidateBench> make_bench(const compiler::Request& request) const;
  void remember(const compiler::Request& request, const tuner::Choice& choice);

  const driver::CudaDriver& driver_;
  const compiler::DeviceInfo& device_;
  cache::BinaryCache* cache_;
  const Logger& logger_;
  const ForwardTuning tuning_;
  const CUmemoryPool workspace_pool_;
  KernelTable table_;
  std::mutex chosen_mutex_;
  // By problem key (tuner/problem_bucket.h).
  std::unordered_map<std::string, std::pair<compiler::KernelSpec, tuner::Choice::Source>>
      chosen_;
};

}  // namespace lla::runtime::dispatch
