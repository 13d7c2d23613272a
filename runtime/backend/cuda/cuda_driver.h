#pragma once
// The CUDA driver API, loaded at run time (dlopen("libcuda.so.1") and cuGetProcAddress), so
// liblla loads, validates and reports LLA_ERR_NO_DEVICE on machines without a GPU driver.
// The function types come from cuda.h; cuGetProcAddress resolves each base name at the
// header's CUDA_VERSION (capped at the driver's), which picks the versioned entry point
// (cuMemAlloc_v2, ...) that cuda.h's macros name.

#include <cuda.h>

#include <string>

namespace lla::runtime::driver {

// X-macro of every driver function lla calls. Members are named as in cuda.h, so the header's
// macros (cuMemAlloc -> cuMemAlloc_v2) apply to declaration and use alike.
#define LLA_CUDA_DRIVER_FUNCTIONS(X) \
  X(cuInit)                          \
  X(cuDriverGetVersion)              \
  X(cuGetErrorName)                  \
  X(cuGetErrorString)                \
  X(cuDeviceGetCount)                \
  X(cuDeviceGet)                     \
  X(cuDeviceGetName)                 \
  X(cuDeviceGetAttribute)            \
  X(cuDevicePrimaryCtxRetain)        \
  X(cuDevicePrimaryCtxRelease)       \
  X(cuCtxPushCurrent)                \
  X(cuCtxPopCurrent)                 \
  X(cuCtxSynchronize)                \
  X(cuModuleLoadData)                \
  X(cuModuleUnload)                  \
  X(cuModuleGetFunction)             \
  X(cuFuncGetAttribute)              \
  X(cuFuncSetAttribute)              \
  X(cuLaunchKernel)                  \
  X(cuMemAlloc)                      \
  X(cuMemFree)                       \
  X(cuMemAllocManaged)               \
  X(cuMemAllocHost)                  \
  X(cuMemFreeHost)                   \
  X(cuMemAllocAsync)                 \
  X(cuMemFreeAsync)                  \
  X(cuMemAllocFromPoolAsync)         \
  X(cuMemPoolCreate)                 \
  X(cuMemPoolDestroy)                \
  X(cuMemPoolSetAttribute)           \
  X(cuMemcpyHtoD)                    \
  X(cuMemcpyDtoH)                    \
  X(cuMemsetD8Async)                 \
  X(cuEventCreate)                   \
  X(cuEventDestroy)                  \
  X(cuEventRecord)                   \
  X(cuEventSynchronize)              \
  X(cuEventElapsedTime)              \
  X(cuStreamCreate)                  \
  X(cuStreamDestroy)                 \
  X(cuStreamSynchronize)             \
  X(cuPointerGetAttributes)          \
  X(cuMemcpyDtoDAsync)               \
  X(cuMemcpyHtoDAsync)               \
  X(cuMemsetD32Async)                \
  X(cuStreamBeginCapture)            \
  X(cuStreamEndCapture)              \
  X(cuGraphInstantiateWithFlags)     \
  X(cuGraphLaunch)                   \
  X(cuGraphExecDestroy)              \
  X(cuGraphDestroy)

struct CudaDriver {
#define LLA_DECLARE_DRIVER_FUNCTION(name) decltype(&::name) name = nullptr;
  LLA_CUDA_DRIVER_FUNCTIONS(LLA_DECLARE_DRIVER_FUNCTION)
#undef LLA_DECLARE_DRIVER_FUNCTION
  int version = 0;       // cuDriverGetVersion, e.g. 13000
  int device_count = 0;  // >= 1 once loaded
};

// The outcome of loading: `driver` is null when no usable driver or device exists, and
// `unavailable_reason` then says why (e.g. "no CUDA driver (libcuda.so.1 not found: ...)").
struct DriverLoadResult {
  const CudaDriver* driver = nullptr;
  std::string unavailable_reason;
};

// Loads the driver, resolves every function and calls cuInit, once per process (thread safe);
// later calls return the same result.
const DriverLoadResult& load_cuda_driver();

// The loaded driver; throws StatusError(LLA_ERR_NO_DEVICE, reason) when there is none.
const CudaDriver& cuda_driver();

// The NVRTC target for a compute capability: "sm_90a" for 9.0 (lla uses Hopper-only
// instructions there), "sm_XY" otherwise.
std::string arch_for_compute_capability(int major, int minor);

// "<call> failed: CUDA_ERROR_X: <description>".
std::string cuda_error_message(const CudaDriver& driver, CUresult result, const char* call);

// Throws StatusError with cuda_error_message when result is not CUDA_SUCCESS: status
// LLA_ERR_OUT_OF_MEMORY for CUDA_ERROR_OUT_OF_MEMORY, LLA_ERR_CUDA otherwise.
void check_cuda(const CudaDriver& driver, CUresult result, const char* call);

// The primary context of a device, retained for the lifetime of the object (the same context
// the CUDA runtime uses, so memory and streams of a cudart application work with it).
class RetainedPrimaryContext {
 public:
  RetainedPrimaryContext(const CudaDriver& driver, CUdevice device);
  ~RetainedPrimaryContext();
  RetainedPrimaryContext(const RetainedPrimaryContext&) = delete;
  RetainedPrimaryContext& operator=(const RetainedPrimaryContext&) = delete;
  CUcontext get() const { return context_; }

 private:
  const CudaDriver& driver_;
  CUdevice device_;
  CUcontext context_ = nullptr;
};

// Makes a context current on the calling thread for the lifetime of the guard and restores the
// previous one after: caller threads may have any context current, or none.
class ScopedContext {
 public:
  ScopedContext(const CudaDriver& driver, CUcontext context);
  ~ScopedContext();
  ScopedContext(const ScopedContext&) = delete;
  ScopedContext& operator=(const ScopedContext&) = delete;

 private:
  const CudaDriver& driver_;
};

}  // namespace lla::runtime::driver
