#pragma once
// The compiled image of a kernel spec: from the binary cache, else compiled by its backend's
// toolchain and stored. Needs no device, so `lla run` uses it on machines without one too.

#include <cstdint>
#include <string>
#include <vector>

#include "api/logger.h"
#include "backend/backend.h"
#include "binary_cache.h"
#include "dispatch/kernel_table.h"
#include "generator/kernel_spec.h"

namespace lla::runtime::dispatch {

struct ObtainedBinary {
  backend::CompiledImage image;           // compile_ms: the toolchain's time when compiled now
  std::vector<std::string> entry_points;  // kernels it defines
  KernelSource source = KernelSource::compile;  // cache or compile
};

// The cache key of `source` compiled by `toolchain` for `target`: the generator version, the
// source's hash and the toolchain's identity.
cache::BinaryKey binary_key(const backend::Toolchain& toolchain, const compiler::GeneratedSource& source,
                            const compiler::Target& target);

// `cache` may be null. A spec missing from the cache is compiled once across processes (a
// lease; see BinaryCache::load_or_build). A cache that fails to answer or to store is a
// warning, never a failure. Throws StatusError: NOT_SUPPORTED for a spec lla cannot generate,
// COMPILE when the toolchain rejects it.
ObtainedBinary obtain_binary(const backend::Toolchain& toolchain, const compiler::KernelSpec& spec,
                             cache::BinaryCache* cache, const Logger& logger);

}  // namespace lla::runtime::dispatch
