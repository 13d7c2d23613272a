#include "api/context.h"

#include <cmath>
#include <optional>
#include <stdexcept>

#include "api/context_internal.h"
#include "api/decode_validation.h"
#include "api/forward_validation.h"
#include "api/status_error.h"
#include "cache_location.h"

namespace lla::runtime {
namespace {

thread_local std::optional<dispatch::ForwardDispatchInfo> t_last_forward_dispatch;
thread_local std::optional<dispatch::DecodeDispatchInfo> t_last_decode_dispatch;

tuner::TunePolicy resolve_tune_policy(lla_tune_policy tune) {
  switch (tune) {
    case LLA_TUNE_OFF: return tuner::TunePolicy::off;
    case LLA_TUNE_ON_MISS: return tuner::TunePolicy::on_miss;
    case LLA_TUNE_FORCE: return tuner::TunePolicy::force;
    case LLA_TUNE_FROM_ENV:
      try {
        return tuner::tune_policy_from_env();
      } catch (const std::invalid_argument& e) {
        throw StatusError(LLA_ERR_INVALID_ARGUMENT, e.what());
      }
  }
  throw StatusError(LLA_ERR_INVALID_ARGUMENT,
                    "lla_options.tune: " + std::to_string(tune) + " is not an lla_tune_policy");
}

lla_log_level resolve_log_level(lla_log_level level) {
  switch (level) {
    case LLA_LOG_ERROR:
    case LLA_LOG_WARN:
    case LLA_LOG_INFO:
    case LLA_LOG_DEBUG: return level;
    case LLA_LOG_FROM_ENV: return log_level_from_env();
  }
  throw StatusError(LLA_ERR_INVALID_ARGUMENT,
                    "lla_options.log_level: " + std::to_string(level) + " is not an lla_log_level");
}

CUdevice device_handle(const driver::CudaDriver& driver, int ordinal) {
  if (ordinal >= driver.device_count)
    throw StatusError(LLA_ERR_INVALID_ARGUMENT,
                      "lla_options.device: " + std::to_string(ordinal) +
                          " is not a device ordinal; the driver reports " +
                          std::to_string(driver.device_count) + " device(s)");
  CUdevice device = 0;
  driver::check_cuda(driver, driver.cuDeviceGet(&device, ordinal), "cuDeviceGet");
  return device;
}

int device_attribute(const driver::CudaDriver& driver, CUdevice device,
                     CUdevice_attribute attribute, const char* name) {
  int value = 0;
  driver::check_cuda(driver, driver.cuDeviceGetAttribute(&value, attribute, device),
                     (std::string("cuDeviceGetAttribute(") + name + ")").c_str());
  return value;
}

// A cache the caller named must open (LLA_ERR_CACHE otherwise). The default or LLA_CACHE_DIR
// location only speeds things up: when it cannot be opened (a read-only home in a container,
// say) lla warns and runs uncached, compiling each kernel once per process.
std::unique_ptr<cache::BinaryCache> open_binary_cache(const ResolvedOptions& options,
                                                      const Logger& logger) {
  try {
    return std::make_unique<cache::BinaryCache>(
        options.cache_dir, [&logger](const std::string& message) { logger.warn(message); });
  } catch (const cache::CacheError& e) {
    if (options.explicit_cache_dir)
      throw StatusError(LLA_ERR_CACHE, std::string("lla_options.cache_dir: ") + e.what());
    logger.warn(std::string("running without a binary cache (kernels are compiled again in "
                            "every process): ") + e.what());
    return nullptr;
  }
}

}  // namespace

compiler::DeviceInfo query_device_info(const driver::CudaDriver& driver, CUdevice device) {
  compiler::DeviceInfo info;
  char name[256] = {};
  driver::check_cuda(driver, driver.cuDeviceGetName(name, sizeof name - 1, device),
                     "cuDeviceGetName");
  info.name = name;
  info.cc_major = device_attribute(driver, device, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                                   "COMPUTE_CAPABILITY_MAJOR");
  info.cc_minor = device_attribute(driver, device, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                                   "COMPUTE_CAPABILITY_MINOR");
  info.sm_count = device_attribute(driver, device, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
                                   "MULTIPROCESSOR_COUNT");
  info.max_shared_per_block_optin =
      device_attribute(driver, device, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
                       "MAX_SHARED_MEMORY_PER_BLOCK_OPTIN");
  info.target = compiler::cuda_target(driver::arch_for_compute_capability(info.cc_major, info.cc_minor));
  return info;
}

ResolvedOptions resolve_options(const lla_options* options) {
  lla_options defaults;
  lla_options_init(&defaults);
  const lla_options& o = options ? *options : defaults;
  ResolvedOptions resolved;
  if (o.device < 0)
    throw StatusError(LLA_ERR_INVALID_ARGUMENT,
                      "lla_options.device: " + std::to_string(o.device) + " is not a device ordinal");
  resolved.device = o.device;
  resolved.log_level = resolve_log_level(o.log_level);
  resolved.tune = resolve_tune_policy(o.tune);
  if (!(o.tune_budget_seconds >= 0) || std::isinf(o.tune_budget_seconds))
    throw StatusError(LLA_ERR_INVALID_ARGUMENT,
                      "lla_options.tune_budget_seconds: " + std::to_string(o.tune_budget_seconds) +
                          " is not a number of seconds (0 means the default, " +
                          std::to_string(static_cast<int>(resolved.tune_budget_s)) + " s)");
  if (o.tune_budget_seconds > 0) resolved.tune_budget_s = o.tune_budget_seconds;
  resolved.explicit_cache_dir = o.cache_dir && *o.cache_dir;
  resolved.cache_dir = resolved.explicit_cache_dir ? o.cache_dir : cache::default_cache_dir();
  return resolved;
}

const dispatch::ForwardDispatchInfo* last_forward_dispatch() {
  return t_last_forward_dispatch ? &*t_last_forward_dispatch : nullptr;
}

const dispatch::DecodeDispatchInfo* last_decode_dispatch() {
  return t_last_decode_dispatch ? &*t_last_decode_dispatch : nullptr;
}

const compiler::DeviceInfo& context_device_info(const lla_context& ctx) { return ctx.device_info; }

std::string context_cache_path(const lla_context& ctx) {
  return ctx.binary_cache ? ctx.binary_cache->path() : std::string();
}

tuner::TunePolicy context_tune_policy(const lla_context& ctx) { return ctx.tune_policy; }

}  // namespace lla::runtime

using lla::runtime::StatusError;

lla_context::lla_context(const lla::runtime::ResolvedOptions& options)
    : driver(lla::runtime::driver::cuda_driver()),
      device_ordinal(options.device),
      device(lla::runtime::device_handle(driver, options.device)),
      primary_context(driver, device),
      device_info(lla::runtime::query_device_info(driver, device)),
      logger(options.log_level),
      tune_policy(options.tune) {
  if (!lla::runtime::device_attribute(driver, device, CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED,
                                      "MEMORY_POOLS_SUPPORTED"))
    throw StatusError(LLA_ERR_NOT_SUPPORTED,
                      "device " + std::to_string(device_ordinal) + " (" + device_info.name +
                          ") has no stream-ordered allocator (cuMemAllocAsync), which lla "
                          "needs for its workspace");
  binary_cache = lla::runtime::open_binary_cache(options, logger);
  lla::runtime::dispatch::ForwardTuning tuning;
  tuning.policy = tune_policy;
  tuning.options.budget_s = options.tune_budget_s;
  tuning.device = device;
  tuning.context = primary_context.get();
  workspace_pool = std::make_unique<lla::runtime::dispatch::WorkspacePool>(driver, device);
  dispatcher = std::make_unique<lla::runtime::dispatch::ForwardDispatcher>(
      driver, device_info, binary_cache.get(), logger, tuning, workspace_pool->get());
  decode_dispatcher = std::make_unique<lla::runtime::dispatch::DecodeDispatcher>(
      driver, device_info, binary_cache.get(), logger);
  logger.info("device " + std::to_string(device_ordinal) + ": " + device_info.name + " (" +
              device_info.target.name + ", " + std::to_string(device_info.sm_count) +
              " SMs); binary cache: " +
              (binary_cache ? binary_cache->path() : std::string("none")) +
              "; tuning: " + lla::tuner::tune_policy_name(tune_policy));
}

lla_context::~lla_context() {
  if (driver.cuCtxPushCurrent(primary_context.get()) != CUDA_SUCCESS) return;
  driver.cuCtxSynchronize();
  dispatcher->unload_modules();
  decode_dispatcher->unload_modules();
  CUcontext popped = nullptr;
  driver.cuCtxPopCurrent(&popped);
}

void lla_context::forward(const lla_problem* p, const lla_forward_args* a, CUstream stream) {
  using namespace lla::runtime;
  driver::ScopedContext current(driver, primary_context.get());
  const ValidationResult checked =
      validate_forward(p, a, DriverPointerInspector(driver), device_ordinal);
  if (!checked.ok()) throw StatusError(checked.status, checked.message);
  t_last_forward_dispatch = dispatcher->forward(*p, *a, stream);
  if (logger.enabled(LLA_LOG_DEBUG))
    logger.debug("lla_forward: " + t_last_forward_dispatch->kernel + " from " +
                 dispatch::kernel_source_name(t_last_forward_dispatch->source));
}

lla::tuner::TuneReport lla_context::tune(const lla_problem* p) {
  using namespace lla::runtime;
  driver::ScopedContext current(driver, primary_context.get());
  ValidationResult checked = check_forward_problem(p);
  if (checked.ok()) checked = check_forward_support(*p);
  if (!checked.ok()) throw StatusError(checked.status, checked.message);
  return dispatcher->tune(*p);
}

void lla_context::decode_step(const lla_decode_problem* p, const lla_decode_args* a,
                              CUstream stream) {
  using namespace lla::runtime;
  driver::ScopedContext current(driver, primary_context.get());
  const ValidationResult checked =
      validate_decode(p, a, DriverPointerInspector(driver), device_ordinal);
  if (!checked.ok()) throw StatusError(checked.status, checked.message);
  t_last_decode_dispatch = decode_dispatcher->decode_step(*p, *a, stream);
  if (logger.enabled(LLA_LOG_DEBUG))
    logger.debug("lla_decode_step: " + t_last_decode_dispatch->kernel + " from " +
                 dispatch::kernel_source_name(t_last_decode_dispatch->source));
}
