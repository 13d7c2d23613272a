#include "backend/launch_args.h"

#include <cstring>

namespace lla::runtime::backend {

std::vector<uint8_t> bind_param_block(const compiler::ParamBlock& block, const ResolveBuffer& resolve) {
  std::vector<uint8_t> bytes = block.bytes;
  for (const compiler::PointerField& field : block.pointers) {
    const auto* buffer = std::get_if<compiler::BufferArg>(&field.target);
    const uint64_t address = buffer ? resolve(*buffer) : 0;
    std::memcpy(bytes.data() + field.offset, &address, sizeof address);
  }
  return bytes;
}

}  // namespace lla::runtime::backend
