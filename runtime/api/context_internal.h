#pragma once
// What the runtime shows lla's own tools (`lla run`, `lla tune`, `lla bench`) and tests about a
// context and its last dispatch. C++ only; not part of the C API.

#include <memory>
#include <string>

#include "backend/backend.h"
#include "binary_cache.h"
#include "dispatch/dispatcher.h"
#include "lla/lla.h"
#include "tune_policy.h"

namespace lla::runtime {

// The dispatch of the last successful call of `pass` (lla_forward, lla_decode_step) on the
// calling thread; null before the first. Valid until the next such call on this thread.
const dispatch::DispatchInfo* last_dispatch(compiler::Pass pass);

// The backend the context runs on (its device, memory, streams and timing).
const backend::Backend& context_backend(const lla_context& ctx);
const compiler::DeviceInfo& context_device_info(const lla_context& ctx);

// The binary cache in use; null (path "") when the context runs without a cache.
cache::BinaryCache* context_binary_cache(const lla_context& ctx);
std::string context_cache_path(const lla_context& ctx);

tuner::TunePolicy context_tune_policy(const lla_context& ctx);

// A candidate bench of the request on the context's backend (lla tune's searches).
std::unique_ptr<tuner::CandidateBench> context_candidate_bench(const lla_context& ctx, const compiler::Request& request);

}  // namespace lla::runtime
