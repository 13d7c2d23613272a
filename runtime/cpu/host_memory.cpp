#include "cpu/host_memory.h"

#include <cstdlib>
#include <new>

namespace lla::runtime::cpu {

namespace {
constexpr size_t kAlignment = 64;
}

void AlignedBuffer::Free::operator()(uint8_t* p) const { std::free(p); }

AlignedBuffer::AlignedBuffer(size_t bytes) : size_(bytes) {
  const size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  void* p = std::aligned_alloc(kAlignment, rounded > 0 ? rounded : kAlignment);
  if (!p) throw std::bad_alloc();
  memory_.reset(static_cast<uint8_t*>(p));
}

}  // namespace lla::runtime::cpu
