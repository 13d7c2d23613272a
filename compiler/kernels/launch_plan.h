#pragma once
// How to run a compiled module for one problem: the launches, in order on one stream, with
// their arguments named symbolically so the runtime binds its own pointers. Pure data: the
// compiler decides grids and arguments, the runtime only resolves and launches.

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "generator/kernel_spec.h"

namespace lla::compiler {

// The device buffers a launch can name. workspace is scratch the runtime provides with at
// least LaunchPlan::workspace_bytes bytes, 256-byte aligned, uninitialised; it stays last.
// Decoding adds the caller's Fenwick state (read and written in place) and the per-sequence
// positions.
enum class Buffer { q, k, v, g, beta, lambda, o, state, positions, workspace };

struct BufferArg {
  Buffer buffer;
  size_t offset_bytes = 0;  // the pointer passed is base(buffer) + offset_bytes
};

// A null pointer, for a pointer parameter the kernel does not read at this shape (for example
// the state tree of a sequence that fits in one chunk).
struct NullPointer {};

using KernelArg = std::variant<BufferArg, NullPointer, int32_t, int64_t, float>;

struct Launch {
  std::string kernel;  // entry point name in the module (extern "C")
  unsigned grid[3] = {1, 1, 1};
  unsigned block[3] = {1, 1, 1};
  unsigned shared_bytes = 0;  // dynamic shared memory
  std::vector<KernelArg> args;  // in the kernel's parameter order
};

struct LaunchPlan {
  std::vector<Launch> launches;
  size_t workspace_bytes = 0;
};

// The sizes of one forward call (everything that is not compiled into the kernel).
struct ForwardShape {
  int batch = 1;
  int seq_len = 1;
  int heads = 1;
  int groups = 1;
  float scale = 1.0f;
};

}  // namespace lla::compiler
