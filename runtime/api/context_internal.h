#pragma once
// What the runtime shows lla's own tools (`lla run`) about a context and its last dispatch.
// C++ only; not part of the C API.

#include <string>

#include "dispatch/decode_dispatcher.h"
#include "dispatch/forward_dispatcher.h"
#include "heuristic_config.h"
#include "lla/lla.h"
#include "tune_policy.h"

namespace lla::runtime {

// The dispatch of the last successful lla_forward on the calling thread; null before the first.
// Valid until the next lla_forward on this thread.
const dispatch::ForwardDispatchInfo* last_forward_dispatch();

// The dispatch of the last successful lla_decode_step on the calling thread; null before the
// first. Valid until the next lla_decode_step on this thread.
const dispatch::DecodeDispatchInfo* last_decode_dispatch();

const compiler::DeviceInfo& context_device_info(const lla_context& ctx);

// What lla_create reads of a device: name, compute capability, SM count, shared memory and
// the NVRTC target lla compiles for it. Throws StatusError when a driver call fails.
compiler::DeviceInfo query_device_info(const driver::CudaDriver& driver, CUdevice device);

// The binary cache file in use; "" when the context runs without a cache.
std::string context_cache_path(const lla_context& ctx);

tuner::TunePolicy context_tune_policy(const lla_context& ctx);

}  // namespace lla::runtime
