#pragma once
// The opaque lla_context of the C API: one device, its retained primary context, the binary
// cache, the loaded kernels, and the settings resolved from lla_options and the environment.

#include <cuda.h>

#include <memory>
#include <string>

#include "api/logger.h"
#include "binary_cache.h"
#include "dispatch/decode_dispatcher.h"
#include "dispatch/forward_dispatcher.h"
#include "dispatch/workspace_pool.h"
#include "driver/cuda_driver.h"
#include "heuristic_config.h"
#include "lla/lla.h"
#include "tuning.h"
#include "tune_policy.h"

namespace lla::runtime {

// lla_options with every "from the environment" resolved. The cache folder is the caller's
// when explicit_cache_dir, else the environment's or the XDG default.
struct ResolvedOptions {
  int device = 0;
  std::string cache_dir;
  bool explicit_cache_dir = false;
  tuner::TunePolicy tune = tuner::TunePolicy::on_miss;
  double tune_budget_s = tuner::TuneOptions{}.budget_s;
  lla_log_level log_level = LLA_LOG_WARN;
};

// NULL means the defaults. Needs no device. Throws StatusError(LLA_ERR_INVALID_ARGUMENT) naming
// the field (lla_options.tune, ...) or the variable (LLA_TUNE, LLA_LOG) that is wrong.
ResolvedOptions resolve_options(const lla_options* options);

}  // namespace lla::runtime

struct lla_context {
  // Opens the device and the cache. Throws StatusError: LLA_ERR_NO_DEVICE without a driver or
  // device, LLA_ERR_INVALID_ARGUMENT for a device ordinal the driver does not have,
  // LLA_ERR_CACHE when an explicit lla_options.cache_dir cannot be opened.
  explicit lla_context(const lla::runtime::ResolvedOptions& options);
  // Waits for work queued on the device (the modules it may run are unloaded here).
  ~lla_context();
  lla_context(const lla_context&) = delete;
  lla_context& operator=(const lla_context&) = delete;

  // Validates, dispatches and launches on `stream`; records the dispatch for
  // last_forward_dispatch(). Throws StatusError.
  void forward(const lla_problem* p, const lla_forward_args* a, CUstream stream);

  // Validates the problem and tunes its bucket now (lla_tune). Throws StatusError.
  lla::tuner::TuneReport tune(const lla_problem* p);

  // Validates, dispatches and launches one decode step on `stream`; records the dispatch for
  // last_decode_dispatch(). Throws StatusError.
  void decode_step(const lla_decode_problem* p, const lla_decode_args* a, CUstream stream);

  const lla::runtime::driver::CudaDriver& driver;
  const int device_ordinal;
  const CUdevice device;
  const lla::runtime::driver::RetainedPrimaryContext primary_context;
  const lla::compiler::DeviceInfo device_info;
  const lla::runtime::Logger logger;
  const lla::tuner::TunePolicy tune_policy;  // how the dispatcher picks configurations
  std::unique_ptr<lla::cache::BinaryCache> binary_cache;  // null: running uncached
  std::unique_ptr<lla::runtime::dispatch::WorkspacePool> workspace_pool;  // outlives dispatchers
  std::unique_ptr<lla::runtime::dispatch::ForwardDispatcher> dispatcher;
  std::unique_ptr<lla::runtime::dispatch::DecodeDispatcher> decode_dispatcher;
};
