#pragma once
// The opaque lla_context of the C API: one backend (its device), the binary cache, the
// dispatcher with its loaded kernels, and the settings resolved from lla_options and the
// environment.

#include <functional>
#include <memory>
#include <string>

#include "api/logger.h"
#include "api/validation_checks.h"
#include "backend/backend.h"
#include "binary_cache.h"
#include "dispatch/dispatcher.h"
#include "lla/lla.h"
#include "tune_policy.h"
#include "tuning.h"

namespace lla::runtime {

// lla_options with every "from the environment" resolved. The cache folder is the caller's
// when explicit_cache_dir, else the environment's or the XDG default.
struct ResolvedOptions {
  int device = 0;
  lla_backend backend = LLA_BACKEND_AUTO;
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
  // Opens the backend and the cache. Throws StatusError: what backend::open_backend throws
  // (LLA_ERR_NO_DEVICE without a usable device, LLA_ERR_INVALID_ARGUMENT for a device ordinal
  // the driver does not have, LLA_ERR_NOT_SUPPORTED for a backend this build lacks), and
  // LLA_ERR_CACHE when an explicit lla_options.cache_dir cannot be opened.
  explicit lla_context(const lla::runtime::ResolvedOptions& options);
  // Waits for the work queued on the backend, then unloads its modules.
  ~lla_context();
  lla_context(const lla_context&) = delete;
  lla_context& operator=(const lla_context&) = delete;

  // Validates, dispatches and queues on `stream`; records the dispatch for last_dispatch().
  // Throws StatusError.
  void forward(const lla_problem* p, const lla_forward_args* a, void* stream);

  // Validates the problem and tunes its bucket now (lla_tune). Throws StatusError.
  lla::tuner::TuneReport tune(const lla_problem* p);

  // Validates, dispatches and queues one decode step on `stream`; records the dispatch for
  // last_dispatch(). Throws StatusError.
  void decode_step(const lla_decode_problem* p, const lla_decode_args* a, void* stream);

  // Throws StatusError unless `checked` is ok; runs `call` and logs what ran for `entry`.
  lla::runtime::dispatch::DispatchInfo dispatch_checked(const lla::runtime::ValidationResult& checked,
                                                        const std::function<lla::runtime::dispatch::Call()>& call,
                                                        const char* entry);

  const lla::runtime::Logger logger;
  const lla::tuner::TunePolicy tune_policy;  // how the dispatcher picks configurations
  const std::unique_ptr<lla::runtime::backend::Backend> backend;
  std::unique_ptr<lla::cache::BinaryCache> binary_cache;  // null: running uncached
  std::unique_ptr<lla::runtime::dispatch::Dispatcher> dispatcher;
};
