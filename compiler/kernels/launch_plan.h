#pragma once
// How to run a compiled module for one problem: the launches, in order, with their arguments
// named symbolically so the runtime binds its own pointers. Pure data, for every backend: a
// launch is an entry point run over a grid of independent work items (CUDA: thread blocks of
// `block` threads on one stream; CPU: items a thread pool takes, in launch order), and the
// compiler decides grids and arguments while the backend only resolves and runs.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "generator/kernel_spec.h"

namespace lla::compiler {

// The device buffers a launch can name. workspace is scratch the runtime provides with at
// least LaunchPlan::workspace_bytes bytes, 256-byte aligned, uninitialised; it stays last.
// Decoding adds the caller's Fenwick state (read and written in place) and the per-sequence
// positions; a forward that continues or hands on sequences, their initial and final states.
enum class Buffer {
  q, k, v, g, beta, lambda, o, state, positions, initial_state, final_state, workspace
};

struct BufferArg {
  Buffer buffer;
  size_t offset_bytes = 0;  // the pointer passed is base(buffer) + offset_bytes
};

// A null pointer, for a pointer parameter the kernel does not read at this shape (for example
// the state tree of a sequence that fits in one chunk).
struct NullPointer {};

// A pointer field of a parameter struct: at `offset` bytes, the address of a buffer, or null.
struct PointerField {
  size_t offset = 0;
  std::variant<BufferArg, NullPointer> target;
};

// A kernel's arguments as one named struct (what new families' kernels take, one struct per
// kernel, instead of positional arguments): the bytes of the host struct with its pointer
// fields zero, and where those fields go. The backend writes each pointer field's address
// when it binds the call, then passes the struct by value. The device struct is the host
// struct's twin: the family compiles the host sizeof into its source (cuda_constant), and the
// template static_asserts its own sizeof against it.
struct ParamBlock {
  std::vector<uint8_t> bytes;
  std::vector<PointerField> pointers;
};

// The block of a host parameter struct, `pointers` naming its pointer fields (offsetof). Throws
// std::invalid_argument for a field that does not lie in the struct.
template <class Params>
ParamBlock param_block(const Params& params, std::vector<PointerField> pointers) {
  static_assert(std::is_trivially_copyable_v<Params> && std::is_standard_layout_v<Params>,
                "a parameter struct is plain data, laid out as its device twin");
  ParamBlock block;
  block.bytes.resize(sizeof(Params));
  std::memcpy(block.bytes.data(), &params, sizeof(Params));
  for (const PointerField& p : pointers) {
    if (p.offset % alignof(void*) != 0 || p.offset + sizeof(void*) > sizeof(Params))
      throw std::invalid_argument("param_block: a pointer field at byte " + std::to_string(p.offset) +
                                  " is not an aligned pointer of a " + std::to_string(sizeof(Params)) +
                                  "-byte struct");
    std::memset(block.bytes.data() + p.offset, 0, sizeof(void*));
  }
  block.pointers = std::move(pointers);
  return block;
}

using KernelArg = std::variant<BufferArg, NullPointer, int32_t, int64_t, float>;

struct Launch {
  std::string kernel;  // entry point name in the module (extern "C")
  unsigned grid[3] = {1, 1, 1};
  unsigned block[3] = {1, 1, 1};
  unsigned shared_bytes = 0;  // dynamic shared memory
  // The kernel's arguments: positional, in its parameter order; or, when `params` has bytes,
  // its one parameter struct (and no positional ones).
  std::vector<KernelArg> args;
  ParamBlock params;
};

struct LaunchPlan {
  std::vector<Launch> launches;
  size_t workspace_bytes = 0;
  // Copied to the start of the workspace, on the stream, before the first launch.
  std::vector<uint8_t> upload;
};

// One sequence of a forward call: `length` tokens at packed rows [row0, row0 + length) of
// the [rows, ...] tensors, at absolute positions [start, start + length).
struct SequenceSpan {
  int64_t row0 = 0;
  int64_t start = 0;
  int64_t length = 0;
};

// Throws std::invalid_argument naming "sequence <index>" when `span` does not fit a call of
// `rows` packed rows whose kernel has `levels` levels: a negative start or length, rows outside
// the call, positions past 2^31 - 1 (kernels count positions in 32 bits), or fewer levels than
// num_levels(start + length). An empty sequence at position 0 needs one level.
void check_sequence_span(const SequenceSpan& span, size_t index, int64_t rows, int levels);

// The sizes of one call (everything that is not compiled into the kernel), for every pass;
// a family reads the fields of its pass.
struct ProblemShape {
  int batch = 1;
  int seq_len = 1;  // decode: 1
  int heads = 1;
  int groups = 1;
  float scale = 1.0f;
  // Forward. Empty: batch sequences of seq_len tokens from position 0, and no states.
  // Otherwise the sequences of the call (batch * seq_len rows in all), and whether sequences
  // starting after position 0 continue the initial state and whether the final state is
  // written.
  std::vector<SequenceSpan> sequences;
  bool initial_state = false;
  bool final_state = false;
  // Decode: the largest position the call may see (checked against levels), and whether the
  // positions advance after the step.
  int64_t max_position = 0;
  bool advance_positions = false;
  // The device's parallel units (DeviceInfo::sm_count): plans that balance their work over
  // them (the scan's split of long sequences) plan for this many. 0: unknown, no balancing.
  int multiprocessors = 0;
};

}  // namespace lla::compiler
