#include "api/pointer_inspection.h"

namespace lla::runtime {

PointerLocation DriverPointerInspector::locate(const void* pointer) const {
  // Zero-initialised 4-byte slots: the driver writes a bool for IS_MANAGED, an unsigned for
  // MEMORY_TYPE and an int for DEVICE_ORDINAL, and leaves them zero for memory it does not know.
  unsigned int memory_type = 0;
  unsigned int is_managed = 0;
  int device_ordinal = -1;
  CUpointer_attribute attributes[] = {CU_POINTER_ATTRIBUTE_MEMORY_TYPE,
                                      CU_POINTER_ATTRIBUTE_IS_MANAGED,
                                      CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL};
  void* data[] = {&memory_type, &is_managed, &device_ordinal};
  CUresult r = driver_.cuPointerGetAttributes(3, attributes, data,
                                              reinterpret_cast<CUdeviceptr>(pointer));
  if (r == CUDA_ERROR_INVALID_VALUE || r == CUDA_ERROR_INVALID_CONTEXT) return {};
  driver::check_cuda(driver_, r, "cuPointerGetAttributes");
  if (is_managed) return {MemoryKind::managed, -1};
  if (memory_type == CU_MEMORYTYPE_DEVICE) return {MemoryKind::device, device_ordinal};
  if (memory_type == CU_MEMORYTYPE_HOST) return {MemoryKind::host, -1};
  return {};
}

}  // namespace lla::runtime
