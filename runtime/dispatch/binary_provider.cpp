#include "dispatch/binary_provider.h"

#include "content_hash.h"
#include "generator/source_generator.h"

namespace lla::runtime::dispatch {

cache::BinaryKey binary_key(const backend::Toolchain& toolchain, const compiler::GeneratedSource& source,
                            const compiler::Target& target) {
  const backend::ToolchainIdentity identity = toolchain.identity(target);
  return {compiler::kGeneratorVersion, cache::sha256_hex(source.source), identity.options, identity.version,
          identity.target};
}

ObtainedBinary obtain_binary(const backend::Toolchain& toolchain, const compiler::KernelSpec& spec,
                             cache::BinaryCache* cache, const Logger& logger) {
  const compiler::GeneratedSource source = toolchain.generate(spec);
  const std::string description = compiler::describe(spec);
  const cache::BinaryKey key = binary_key(toolchain, source, spec.target);

  ObtainedBinary binary;
  binary.entry_points = source.entry_points;
  binary.source = KernelSource::cache;
  const auto compile_now = [&] {
    backend::CompiledImage compiled = toolchain.compile(source, spec.target);
    binary.source = KernelSource::compile;
    binary.image.compile_ms = compiled.compile_ms;
    logger.info("compiled " + description + " in " + std::to_string(compiled.compile_ms) + " ms");
    return cache::BinaryRecord{std::move(compiled.bytes), description, std::move(compiled.log)};
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
  binary.image.bytes = std::move(record.image);
  binary.image.log = std::move(record.log);
  return binary;
}

}  // namespace lla::runtime::dispatch
