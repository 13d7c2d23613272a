#pragma once
// What kind of memory a pointer addresses. Validation asks through this interface so that CPU
// tests can stand in for the driver.

#include "driver/cuda_driver.h"

namespace lla::runtime {

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

class PointerInspector {
 public:
  virtual ~PointerInspector() = default;
  virtual PointerLocation locate(const void* pointer) const = 0;
};

// Asks the driver (cuPointerGetAttributes). Needs a current context on the calling thread.
class DriverPointerInspector : public PointerInspector {
 public:
  explicit DriverPointerInspector(const driver::CudaDriver& driver) : driver_(driver) {}
  PointerLocation locate(const void* pointer) const override;

 private:
  const driver::CudaDriver& driver_;
};

}  // namespace lla::runtime
