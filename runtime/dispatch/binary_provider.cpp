#include "dispatch/binary_provider.h"

#include <optional>
#include <stdexcept>

#include "api/status_error.h"
#include "content_hash.h"
#include "generator/source_generator.h"
#include "nvrtc/nvrtc_compiler.h"

namespace lla::runtime::dispatch {

ObtainedBinary obtain_binary(const compiler::KernelSpec& spec, cache::BinaryCache* cache,
                             const Logger& logger) {
  const std::string description = compiler::describe(spec);
  compiler::GeneratedSource source;
  try {
    source = compiler::generate(spec);
  } catch (const std::invalid_argument& e) {
    throw StatusError(LLA_ERR_NOT_SUPPORTED, "lla cannot generate " + description + ": " + e.what());
  }
  const cache::BinaryKey key{compiler::kGeneratorVersion, cache::sha256_hex(source.source),
                             compiler::join_options(compiler::nvrtc_options(spec.arch)),
                             compiler::nvrtc_version_string(), spec.arch};

  ObtainedBinary binary;
  binary.entry_points = source.entry_points;
  std::optional<cache::BinaryRecord> cached;
  if (cache) {
    try {
      cached = cache->load(key);
    } catch (const cache::CacheError& e) {
      logger.warn(std::string("binary cache lookup failed, compiling instead: ") + e.what());
    }
  }
  if (cached) {
    binary.image = std::move(cached->image);
    binary.source = KernelSource::cache;
    logger.debug("loaded " + description + " from the binary cache " + cache->path());
    return binary;
  }

  compiler::CompiledModule compiled;
  try {
    compiled = compiler::compile(source, spec.arch);
  } catch (const compiler::CompileError& e) {
    throw StatusError(LLA_ERR_COMPILE,
                      "NVRTC rejected the generated source of " + description + ": " + e.what());
  }
  binary.source = KernelSource::compile;
  binary.compile_ms = compiled.compile_ms;
  logger.info("compiled " + description + " in " + std::to_string(compiled.compile_ms) + " ms");
  if (cache) {
    try {
      cache->store(key, cache::BinaryRecord{compiled.cubin, description, compiled.log});
    } catch (const cache::CacheError& e) {
      logger.warn(std::string("could not store a compiled kernel in the binary cache: ") + e.what());
    }
  }
  binary.image = std::move(compiled.cubin);
  return binary;
}

}  // namespace lla::runtime::dispatch
