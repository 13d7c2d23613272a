#pragma once
// lla_decode_step after validation: problem -> heuristic decode spec -> loaded module (table,
// then binary cache, then NVRTC) -> the plan's launches on the caller's stream. Nothing else
// is queued, allocated or synchronised, so a call with a loaded module can be captured into a
// CUDA graph.

#include <cuda.h>

#include <cstddef>
#include <string>

#include "api/logger.h"
#include "binary_cache.h"
#include "dispatch/kernel_table.h"
#include "driver/cuda_driver.h"
#include "generator/kernel_spec.h"
#include "heuristic_config.h"
#include "lla/lla.h"

namespace lla::runtime::dispatch {

// What one decode call ran and where its kernel came from (for tools and logs).
struct DecodeDispatchInfo {
  compiler::KernelSpec spec;
  std::string kernel;  // describe(spec)
  KernelSource source = KernelSource::memory;
  size_t launches = 0;  // the step, and the position advance when asked
};

class DecodeDispatcher {
 public:
  // `cache` may be null (run uncached). All references must outlive the dispatcher.
  DecodeDispatcher(const driver::CudaDriver& driver, const compiler::DeviceInfo& device,
                   cache::BinaryCache* cache, const Logger& logger);

  // Runs a validated problem. Needs the context's CUcontext current on the calling thread;
  // safe to call from many threads at once. Throws StatusError.
  DecodeDispatchInfo decode_step(const lla_decode_problem& p, const lla_decode_args& a,
                                 CUstream stream);

  // Unloads every module (the context current); the dispatcher is unusable afterwards.
  void unload_modules();

 private:
  const driver::CudaDriver& driver_;
  const compiler::DeviceInfo& device_;
  cache::BinaryCache* cache_;
  const Logger& logger_;
  KernelTable table_;
};

}  // namespace lla::runtime::dispatch
