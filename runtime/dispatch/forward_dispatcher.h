#pragma once
// lla_forward after validation: problem -> kernel spec -> loaded module (table, then binary
// cache, then NVRTC) -> launches on the caller's stream.

#include <cuda.h>

#include <cstddef>
#include <memory>
#include <string>

#include "api/logger.h"
#include "binary_cache.h"
#include "dispatch/kernel_table.h"
#include "driver/cuda_driver.h"
#include "generator/kernel_spec.h"
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
};

class ForwardDispatcher {
 public:
  // `cache` may be null (run uncached). All references must outlive the dispatcher.
  ForwardDispatcher(const driver::CudaDriver& driver, const tuner::DeviceInfo& device,
                    cache::BinaryCache* cache, const Logger& logger);

  // Runs a validated problem. Needs the context's CUcontext current on the calling thread;
  // safe to call from many threads at once. Throws StatusError.
  ForwardDispatchInfo forward(const lla_problem& p, const lla_forward_args& a, CUstream stream);

  // Unloads every module (the context current); the dispatcher is unusable afterwards.
  void unload_modules();

 private:
  const driver::CudaDriver& driver_;
  const tuner::DeviceInfo& device_;
  cache::BinaryCache* cache_;
  const Logger& logger_;
  KernelTable table_;
};

}  // namespace lla::runtime::dispatch
