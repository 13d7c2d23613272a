#include "cpu/cpu_binary_key.h"

#include "content_hash.h"
#include "cpu/cpu_source_generator.h"

namespace lla::runtime::cpu {

cache::BinaryKey cpu_binary_key(const compiler::GeneratedSource& source,
                                const compiler::cpu::ToolchainIdentity& toolchain) {
  cache::BinaryKey key;
  key.generator_version = compiler::cpu::kCpuGeneratorVersion;
  key.source_hash = cache::sha256_hex(source.source);
  key.compile_options = toolchain.options;
  key.nvrtc_version = "llvm " + toolchain.llvm_version;
  key.arch = toolchain.triple + " " + toolchain.cpu + " " + toolchain.features;
  return key;
}

}  // namespace lla::runtime::cpu
