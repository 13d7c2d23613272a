#include "api/context.h"

#include <cmath>
#include <optional>
#include <stdexcept>

#include "api/context_internal.h"
#include "api/decode_call.h"
#include "api/forward_call.h"
#include "api/status_error.h"
#include "backend/registry.h"
#include "cache_location.h"

namespace lla::runtime {
namespace {

thread_local std::optional<dispatch::DispatchInfo> t_last_forward_dispatch;
thread_local std::optional<dispatch::DispatchInfo> t_last_decode_dispatch;

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

ResolvedOptions resolve_options(const lla_options* options) {
  lla_options defaults;
  lla_options_init(&defaults);
  const lla_options& o = options ? *options : defaults;
  ResolvedOptions resolved;
  if (o.device < 0)
    throw StatusError(LLA_ERR_INVALID_ARGUMENT,
                      "lla_options.device: " + std::to_string(o.device) + " is not a device ordinal");
  resolved.device = o.device;
  if (!backend::lla_backend_name(o.backend))
    throw StatusError(LLA_ERR_INVALID_ARGUMENT,
                      "lla_options.backend: " + std::to_string(o.backend) + " is not an lla_backend");
  resolved.backend = o.backend;
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

const dispatch::DispatchInfo* last_dispatch(compiler::Pass pass) {
  const std::optional<dispatch::DispatchInfo>& last =
      pass == compiler::Pass::forward ? t_last_forward_dispatch : t_last_decode_dispatch;
  return last ? &*last : nullptr;
}

const backend::Backend& context_backend(const lla_context& ctx) { return *ctx.backend; }

const compiler::DeviceInfo& context_device_info(const lla_context& ctx) { return ctx.backend->device(); }

cache::BinaryCache* context_binary_cache(const lla_context& ctx) { return ctx.binary_cache.get(); }

std::string context_cache_path(const lla_context& ctx) {
  return ctx.binary_cache ? ctx.binary_cache->path() : std::string();
}

tuner::TunePolicy context_tune_policy(const lla_context& ctx) { return ctx.tune_policy; }

std::unique_ptr<tuner::CandidateBench> context_candidate_bench(const lla_context& ctx, const compiler::Request& request) {
  return ctx.dispatcher->make_bench(request);
}

}  // namespace lla::runtime

using lla::runtime::StatusError;

lla_context::lla_context(const lla::runtime::ResolvedOptions& options)
    : logger(options.log_level),
      tune_policy(options.tune),
      backend(lla::runtime::backend::open_backend(options.backend, {options.device})) {
  using namespace lla::runtime;
  binary_cache = open_binary_cache(options, logger);
  dispatch::DispatchTuning tuning;
  tuning.policy = tune_policy;
  tuning.options.budget_s = options.tune_budget_s;
  dispatcher = std::make_unique<dispatch::Dispatcher>(*backend, binary_cache.get(), logger, tuning);
  const lla::compiler::DeviceInfo& device = backend->device();
  logger.info(std::string(lla::compiler::backend_name(backend->kind())) + " device " +
              std::to_string(options.device) + ": " + device.name + " (" + device.target.name + ", " +
              std::to_string(device.sm_count) + " parallel units); binary cache: " +
              (binary_cache ? binary_cache->path() : std::string("none")) +
              "; tuning: " + lla::tuner::tune_policy_name(tune_policy));
}

lla_context::~lla_context() {
  // Modules unload with the dispatcher, after the work that may run them.
  try {
    const auto active = backend->activate();
    backend->synchronize();
  } catch (const std::exception&) {
    // A device that fails here has nothing left to wait for.
  }
}

lla::runtime::dispatch::DispatchInfo lla_context::dispatch_checked(
    const lla::runtime::ValidationResult& checked, const std::function<lla::runtime::dispatch::Call()>& call,
    const char* entry) {
  if (!checked.ok()) throw StatusError(checked.status, checked.message);
  lla::runtime::dispatch::DispatchInfo info = dispatcher->run(call());
  if (logger.enabled(LLA_LOG_DEBUG))
    logger.debug(std::string(entry) + ": " + info.kernel + " from " +
                 lla::runtime::dispatch::kernel_source_name(info.source));
  return info;
}

void lla_context::forward(const lla_problem* p, const lla_forward_args* a, void* stream) {
  using namespace lla::runtime;
  const auto active = backend->activate();
  t_last_forward_dispatch = dispatch_checked(
      validate_forward(p, a, *backend), [&] { return forward_call(*p, *a, backend->device(), stream); }, "lla_forward");
  write_final_positions(*p, *a);
}

lla::tuner::TuneReport lla_context::tune(const lla_problem* p) {
  using namespace lla::runtime;
  const auto active = backend->activate();
  ValidationResult checked = check_forward_problem(p);
  if (checked.ok()) checked = check_forward_support(*p);
  if (!checked.ok()) throw StatusError(checked.status, checked.message);
  return dispatcher->tune(forward_request(*p, backend->device()));
}

void lla_context::decode_step(const lla_decode_problem* p, const lla_decode_args* a, void* stream) {
  using namespace lla::runtime;
  const auto active = backend->activate();
  t_last_decode_dispatch = dispatch_checked(
      validate_decode(p, a, *backend), [&] { return decode_call(*p, *a, backend->device(), stream); },
      "lla_decode_step");
}
