#pragma once
// The backend seam: everything lla asks of a machine that compiles and runs its kernels. CUDA
// (NVRTC and the driver API: cuda/) is the first implementation; the CPU (clang and LLVM ORC,
// a thread pool owned by the context) the second. Adding a backend is one implementation of
// Toolchain and Backend plus one line in registry.cpp: the dispatcher, the tuner's candidate
// bench, the C API's validation and the tools reach a device only through these interfaces.
//
// What stays the same for every backend: a kernel spec names its target (compiler::Target, whose
// backend picks the implementation); generated source is compiled to an opaque image (a cubin,
// an object file) cached under the source hash plus the toolchain's identity; a launch plan
// (compiler/kernels/launch_plan.h) is pure data, run as given; timing follows design.md
// "Measuring" with the backend's clock.
//
// Errors. Every member throws StatusError (runtime/api/status_error.h) with a status of the C
// API and a message naming the cause: LLA_ERR_NO_DEVICE (no usable device), LLA_ERR_NOT_SUPPORTED
// (a valid request this backend cannot serve), LLA_ERR_COMPILE (the toolchain rejected generated
// source: an lla bug), LLA_ERR_OUT_OF_MEMORY, LLA_ERR_CUDA (or the backend's own failure status),
// LLA_ERR_INTERNAL (a broken invariant); std::bad_alloc for host memory. Nothing else escapes.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "families/kernel_family.h"
#include "generator/source_generator.h"
#include "nvrtc/nvrtc_compiler.h"
#include "tuning_row.h"

namespace lla::runtime::backend {

// ---- Toolchain: source to image, with no device -----------------------------------------------

// Everything of a toolchain that could change an image's bytes besides the source, for the
// binary cache key (design.md "Cache keys"). Two compiles with equal identities and equal
// sources give interchangeable images.
struct ToolchainIdentity {
  std::string version;  // CUDA: the NVRTC version ("13.0"); CPU: the LLVM version
  std::string options;  // the complete option string of the compile
  std::string target;   // CUDA: the arch with suffix ("sm_90a"); CPU: triple, CPU name, features
};

// A compiled module.
struct CompiledImage {
  std::vector<uint8_t> bytes;  // opaque: what this backend's Backend::load takes
  std::string log;             // the toolchain's log (CUDA: with ptxas's resource report)
  double compile_ms = 0;
};

// Turns kernel specs of one backend's targets into images. Stateless and thread safe: any
// member may run on any thread, concurrently. The object lives for the whole process
// (registry.h hands out references to singletons).
class Toolchain {
 public:
  virtual ~Toolchain() = default;

  virtual compiler::BackendKind kind() const = 0;

  // The identity of compiles for `target`. Throws StatusError(LLA_ERR_NOT_SUPPORTED) for a
  // target this toolchain cannot compile for.
  virtual ToolchainIdentity identity(const compiler::Target& target) const = 0;

  // The source of a spec of this backend's target, byte-identical for equal specs. Throws
  // StatusError(LLA_ERR_NOT_SUPPORTED) naming the field when lla cannot generate it.
  virtual compiler::GeneratedSource generate(const compiler::KernelSpec& spec) const = 0;

  // Compiles `source` for `target`. Throws StatusError(LLA_ERR_COMPILE) with the toolchain's
  // message and log.
  virtual CompiledImage compile(const compiler::GeneratedSource& source, const compiler::Target& target) const = 0;

  // Per-entry-point resources read off a compile log (registers, spills, static shared memory);
  // empty when the toolchain reports none. The tuner prunes on them.
  virtual std::vector<compiler::KernelResources> resources(const std::string& log) const = 0;
};

// ---- Memory ----------------------------------------------------------------------------------

// Memory of the backend's device that lla allocates itself (the candidate bench's inputs, the
// tools' buffers). Freed when destroyed; only after the work that uses it is done (synchronize
// the stream that used it first).
class DeviceMemory {
 public:
  virtual ~DeviceMemory() = default;
  virtual void* data() const = 0;  // the address kernels and the C API take
  virtual size_t bytes() const = 0;
  // Writes `bytes` (at most bytes()) at the start, complete and visible to every stream on
  // return.
  virtual void upload(const std::vector<uint8_t>& bytes) = 0;
  // Every byte, after the work queued on every stream is done.
  virtual std::vector<uint8_t> download() const = 0;
};

// An ordered queue of work: what the C API calls `stream` (CUDA: a CUstream made for lla's
// own use; CPU: the calling thread, work is done when a call returns). Destroyed after its work.
class Stream {
 public:
  virtual ~Stream() = default;
  virtual void* handle() const = 0;  // what the C API and Backend::run take as `stream`
  virtual void synchronize() const = 0;
};

// A compiled image loaded for running. Destroying it unloads it: no work that uses it may be
// in flight (the owner synchronizes first).
class Module {
 public:
  virtual ~Module() = default;
};

// The address of each buffer of a launch plan for one call: a call's tensors (bound by role
// from its family's tensor table) and nothing else (the backend binds the workspace).
class BoundBuffers {
 public:
  void bind(compiler::Buffer buffer, const void* address) { address_[static_cast<int>(buffer)] = address; }
  const void* address(compiler::Buffer buffer) const { return address_[static_cast<int>(buffer)]; }

 private:
  const void* address_[static_cast<int>(compiler::Buffer::workspace) + 1] = {};
};

// What is wrong with a pointer as memory this backend's kernels read and write (CUDA: not
// device memory of the context's device, nor managed memory); validation names the field.
class MemoryInspector {
 public:
  virtual ~MemoryInspector() = default;
  // nullopt when kernels of this backend can use `pointer`; otherwise why not, as a phrase
  // that follows the pointer ("is page-locked host memory; lla needs device or managed memory").
  // Needs the backend active on the calling thread.
  virtual std::optional<std::string> memory_problem(const void* pointer) const = 0;
};

// What `lla env` shows of a backend on this machine, read without opening it.
struct BackendReport {
  struct Fact {
    std::string key;    // in JSON: "driver", "nvrtc"
    std::string label;  // in text: "CUDA driver", "NVRTC"
    std::optional<std::string> value;  // nullopt: missing (`unavailable` says why)
  };
  struct Device {
    int ordinal = 0;
    std::optional<compiler::DeviceInfo> info;
    std::string error;  // why `info` could not be read
  };
  std::vector<Fact> facts;  // its driver and toolchain versions, in display order
  std::string unavailable;  // why it has no usable device here; "" when it has
  std::vector<Device> devices;
};

// ---- Backend: one device of one kind, opened by an lla_context -----------------------------

// What lla_options says about the device a backend opens.
struct BackendOptions {
  int device = 0;  // CUDA: the device ordinal
};

// Keeps the backend usable by the calling thread until destroyed (CUDA: its primary context
// current, the caller's restored after). Members marked "active" need one on the calling
// thread; activations nest.
class Activation {
 public:
  virtual ~Activation() = default;
};

class Backend : public MemoryInspector {
 public:
  // Destroying a backend waits for the work it queued; every Module, DeviceMemory and Stream it
  // made must be gone first.
  ~Backend() override = default;

  virtual compiler::BackendKind kind() const = 0;
  // The device as the heuristics and the tuner see it; its `target` is what specs for it name.
  virtual const compiler::DeviceInfo& device() const = 0;
  virtual const Toolchain& toolchain() const = 0;

  // Thread safe; returns an object the caller keeps for the scope of its work.
  virtual std::unique_ptr<Activation> activate() const = 0;

  // Loads `image` (from this backend's toolchain, for device().target) with its entry points.
  // Active. Thread safe.
  virtual std::unique_ptr<Module> load(const CompiledImage& image, const std::vector<std::string>& entry_points) const = 0;

  // Runs `plan` with `module` on `stream` (the C API's stream: CUDA a CUstream or null for the
  // default stream; CPU ignored, the work is done on return): the plan's workspace allocated
  // and freed in stream order, its upload copied to the workspace's start, then each launch in
  // order. Queues only: no host synchronisation, so a CUDA call can be captured in a graph
  // when the plan has no upload. Active. Thread safe (calls on one stream run in call order).
  // Throws StatusError(LLA_ERR_INTERNAL) for a plan naming an entry point the module lacks or a
  // buffer `buffers` lacks, LLA_ERR_NOT_SUPPORTED for a launch beyond the device's limits.
  virtual void run(const Module& module, const compiler::LaunchPlan& plan, const BoundBuffers& buffers,
                   void* stream) const = 0;

  // Waits for all work queued on the device. Active.
  virtual void synchronize() const = 0;

  // ---- For the candidate bench and the tools (active) ----

  virtual std::unique_ptr<DeviceMemory> allocate(size_t bytes) const = 0;
  virtual std::unique_ptr<Stream> create_stream() const = 0;
  // Sets every 32-bit word of `memory` (bytes() a multiple of 4) to `word`, in stream order.
  virtual void fill(DeviceMemory& memory, uint32_t word, const Stream& stream) const = 0;
  // Copies `bytes` from `source` to `destination` (both memory of this device), in stream order.
  virtual void copy(DeviceMemory& destination, const DeviceMemory& source, size_t bytes, const Stream& stream) const = 0;
  // Runs `work` (which queues on `stream`) `repetitions` times, each timed by the backend's
  // rules (CUDA: events around it, L2 flushed before it; CPU: a monotonic clock, caches
  // flushed), each waited for. Returns each repetition's milliseconds, in order.
  virtual std::vector<double> time(const Stream& stream, int repetitions, const std::function<void()>& work) const = 0;
  // Where measurements are taken: device name, parallel units, clocks, driver and toolchain
  // versions (the tuner adds the time).
  virtual cache::Provenance provenance() const = 0;
};

}  // namespace lla::runtime::backend
