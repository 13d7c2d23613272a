#pragma once
// Host memory of the CPU backend: 64-byte aligned buffers (workspaces, worker scratch, test
// and benchmark tensors) and the table that binds a plan's buffer names to host pointers.

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "kernels/launch_plan.h"

namespace lla::runtime::cpu {

// The host pointer bound to a buffer; nullptr for one the caller did not give.
using BufferBinding = std::function<void*(compiler::Buffer)>;

// `bytes` bytes (may be 0), 64-byte aligned, uninitialised. Throws std::bad_alloc.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t bytes);
  uint8_t* data() const { return memory_.get(); }
  size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(uint8_t* p) const;
  };
  std::unique_ptr<uint8_t, Free> memory_;
  size_t size_ = 0;
};

// The host pointer of each buffer a plan may name; unset ones are null.
class BufferTable {
 public:
  void set(compiler::Buffer b, void* p) { pointers_[static_cast<size_t>(b)] = p; }
  void* get(compiler::Buffer b) const { return pointers_[static_cast<size_t>(b)]; }
  // Valid while the table lives.
  BufferBinding binding() const {
    return [this](compiler::Buffer b) { return get(b); };
  }

 private:
  std::array<void*, static_cast<size_t>(compiler::Buffer::workspace) + 1> pointers_{};
};

}  // namespace lla::runtime::cpu
