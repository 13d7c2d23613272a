#pragma once
// The compiled binary of a kernel spec: from the binary cache, else compiled with NVRTC and
// stored. Needs no device, so `lla run` uses it on machines without a GPU too.

#include <cstdint>
#include <string>
#include <vector>

#include "api/logger.h"
#include "binary_cache.h"
#include "dispatch/kernel_table.h"
#include "generator/kernel_spec.h"

namespace lla::runtime::dispatch {

struct ObtainedBinary {
  std::vector<uint8_t> image;             // cubin
  std::vector<std::string> entry_points;  // kernels it defines
  KernelSource source = KernelSource::compile;  // cache or compile
  double compile_ms = 0;                  // NVRTC time when compiled now
  std::string log;                        // the NVRTC log, ptxas resource report included
};

// `cache` may be null. A spec missing from the cache is compiled once across processes (a
// lease; see BinaryCache::load_or_build). A cache that fails to answer or to store is a
// warning, never a failure.
// Throws StatusError: NOT_SUPPORTED for a spec lla cannot generate, COMPILE when NVRTC rejects it.
ObtainedBinary obtain_binary(const compiler::KernelSpec& spec, cache::BinaryCache* cache,
                             const Logger& logger);

}  // namespace lla::runtime::dispatch
