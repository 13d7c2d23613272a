#include "dispatch/binary_provider.h"

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
                             compiler::join_options(compiler::nvrtc_options(spec.target.name)),
                             compiler::nvrtc_version_string(), spec.target.name};

  ObtainedBinary binary;
  binary.entry_points = source.entry_points;
  binary.source = KernelSource::cache;
  const auto compile_now = [&] {
    compiler::CompiledModule compiled;
    try {
      compiled = compiler::compile(source, spec.target.name);
    } catch (const compiler::CompileError& e) {
      throw StatusError(LLA_ERR_COMPILE,
                        "NVRTC rejected the generated source of " + description + ": " + e.what());
    }
    binary.source = KernelSource::compile;
    binary.compile_ms = compiled.compile_ms;
    logger.info("compiled " + description + " in " + std::to_string(compiled.compile_ms) + " ms");
    return cache::BinaryRecord{std::move(compiled.cubin), description, std::move(compiled.log)};
  };
  cache::BinaryRecord record;
  if (!cache) {
    record = compile_now();
  } else {
    // Compiles once across processes: the others wait for the first one's binary.
    try {
      record = cache->load_or_build(key, compile_now);
    } catch (const cache::CacheError& e) {
      logger.warn(std::string("binary cache failed, compiling without it: ") + e.what());
      record = compile_now();
    }
    if (binary.source == KernelSource::cache)
      logger.debug("loaded " + description + " from the binary cache " + cache->path());
  }
  binary.image = std::move(record.image);
  binary.log = std::move(record.log);
  return binary;
}

}  // namespace lla::runtime::dispatch
