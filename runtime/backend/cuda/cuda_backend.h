#pragma once
// The CUDA backend: one device through the driver API (loaded at run time: cuda_driver.h), its
// primary context (the one the CUDA runtime uses, so a cudart application's memory and streams
// work with lla), cubins from NVRTC (cuda_toolchain.h), launches on the caller's CUstream with
// workspaces from a stream-ordered pool, and timing with CUDA events after an L2 flush.

#include <memory>
#include <optional>
#include <string>

#include "backend/backend.h"
#include "backend/cuda/cuda_driver.h"

namespace lla::runtime::backend::cuda {

// Opens device options.device. Throws StatusError: LLA_ERR_NO_DEVICE without a usable driver or
// device (the message says which), LLA_ERR_INVALID_ARGUMENT naming lla_options.device for an
// ordinal the driver does not have, LLA_ERR_NOT_SUPPORTED for a device without a stream-ordered
// allocator (cuMemAllocAsync), which the workspaces need.
std::unique_ptr<Backend> open_cuda_backend(const BackendOptions& options);

// The CUDA driver's version (or why there is none), NVRTC's, and every device the driver
// reports, each read as lla_create reads its device.
BackendReport report_cuda();

// What kind of memory a pointer is, as the driver says (cuPointerGetAttributes).
enum class MemoryKind {
  device,        // device memory (cuMemAlloc, cuMemAllocAsync, cuMemMap, ...)
  managed,       // managed memory (cuMemAllocManaged), usable from every device
  host,          // page-locked host memory (cuMemAllocHost, cuMemHostRegister)
  unregistered,  // unknown to CUDA: pageable host memory, freed memory or a stray pointer
};
struct PointerLocation {
  MemoryKind kind = MemoryKind::unregistered;
  int device_ordinal = -1;  // the device of device memory; -1 otherwise
};

// The driver's answer for a pointer (cuPointerGetAttributes, a context current); unregistered
// where the driver does not know it.
PointerLocation locate_pointer(const driver::CudaDriver& driver, const void* pointer);

// The CUDA backend's memory rule (Backend::memory_problem) for a pointer at `where`, from a
// context on device `ordinal`: device memory of that device or managed memory. Page-locked host
// memory is refused although kernels could read it: attention over PCIe is orders of magnitude
// slower, so such a pointer is almost always a bug worth reporting.
std::optional<std::string> cuda_memory_problem(const PointerLocation& where, int ordinal);

}  // namespace lla::runtime::backend::cuda
