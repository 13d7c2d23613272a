#include "backend/cuda/cuda_driver.h"

#include <dlfcn.h>

#include <algorithm>
#include <mutex>

#include "api/status_error.h"

namespace lla::runtime::driver {
namespace {

std::string version_text(int version) {
  return std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10);
}

// Fills `result` or leaves `result.driver` null with the reason. The library handle is never
// closed: function pointers into it live for the whole process.
void load(DriverLoadResult& result, CudaDriver& driver) {
  void* library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    const char* why = dlerror();
    result.unavailable_reason =
        std::string("no CUDA driver (libcuda.so.1 not found: ") + (why ? why : "?") + ")";
    return;
  }
  // cuGetProcAddress_v2 (the five-argument form) exists in CUDA 12.0 and newer drivers.
  auto get_driver_version =
      reinterpret_cast<decltype(&::cuDriverGetVersion)>(dlsym(library, "cuDriverGetVersion"));
  auto get_proc_address =
      reinterpret_cast<decltype(&::cuGetProcAddress)>(dlsym(library, "cuGetProcAddress_v2"));
  int version = 0;
  if (!get_driver_version || get_driver_version(&version) != CUDA_SUCCESS || !get_proc_address) {
    result.unavailable_reason =
        "no usable CUDA driver (libcuda.so.1 lacks cuGetProcAddress_v2; lla needs a CUDA 12.0 "
        "or newer driver)";
    return;
  }
  driver.version = version;
  // Asking for a version newer than the driver knows is not portable; the header's own version
  // is the newest ABI these function types describe.
  const int requested = std::min(version, CUDA_VERSION);
  // cuda.h mostly maps a plain name to its newest ABI (cuMemAlloc -> cuMemAlloc_v2), but keeps
  // cuCtxSynchronize for the old (void) ABI and spells CUDA 13's (CUcontext) one
  // cuCtxSynchronize_v2: resolving it at 13.0 would hand back the other signature.
  auto abi_version = [&](const char* name) {
    return std::string_view(name) == "cuCtxSynchronize" ? std::min(requested, 12000) : requested;
  };
  auto resolve = [&](const char* name, void** slot) {
    CUdriverProcAddressQueryResult found = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    if (get_proc_address(name, slot, abi_version(name), CU_GET_PROC_ADDRESS_DEFAULT, &found) !=
            CUDA_SUCCESS ||
        found != CU_GET_PROC_ADDRESS_SUCCESS || !*slot) {
      result.unavailable_reason = std::string("the CUDA driver (") + version_text(version) +
                                  ") has no " + name + " for CUDA " + version_text(requested);
      return false;
    }
    return true;
  };
#define LLA_RESOLVE_DRIVER_FUNCTION(name) \
  if (!resolve(#name, reinterpret_cast<void**>(&driver.name))) return;
  LLA_CUDA_DRIVER_FUNCTIONS(LLA_RESOLVE_DRIVER_FUNCTION)
#undef LLA_RESOLVE_DRIVER_FUNCTION

  if (CUresult r = driver.cuInit(0); r != CUDA_SUCCESS) {
    result.unavailable_reason = "no usable CUDA device: " + cuda_error_message(driver, r, "cuInit");
    return;
  }
  if (CUresult r = driver.cuDeviceGetCount(&driver.device_count); r != CUDA_SUCCESS) {
    result.unavailable_reason =
        "no usable CUDA device: " + cuda_error_message(driver, r, "cuDeviceGetCount");
    return;
  }
  if (driver.device_count < 1) {
    result.unavailable_reason = "no CUDA device (the driver " + version_text(version) +
                                " reports 0 devices)";
    return;
  }
  result.driver = &driver;
}

}  // namespace

const DriverLoadResult& load_cuda_driver() {
  static CudaDriver driver;
  static DriverLoadResult result;
  static std::once_flag once;
  std::call_once(once, [] { load(result, driver); });
  return result;
}

const CudaDriver& cuda_driver() {
  const DriverLoadResult& loaded = load_cuda_driver();
  if (!loaded.driver) throw StatusError(LLA_ERR_NO_DEVICE, loaded.unavailable_reason);
  return *loaded.driver;
}

std::string arch_for_compute_capability(int major, int minor) {
  if (major == 9 && minor == 0) return "sm_90a";
  return "sm_" + std::to_string(major) + std::to_string(minor);
}

std::string cuda_error_message(const CudaDriver& driver, CUresult result, const char* call) {
  const char* name = nullptr;
  const char* description = nullptr;
  if (!driver.cuGetErrorName || driver.cuGetErrorName(result, &name) != CUDA_SUCCESS) name = nullptr;
  if (!driver.cuGetErrorString || driver.cuGetErrorString(result, &description) != CUDA_SUCCESS)
    description = nullptr;
  std::string message = std::string(call) + " failed: ";
  message += name ? name : "CUresult " + std::to_string(static_cast<int>(result));
  if (description) message += std::string(": ") + description;
  return message;
}

void check_cuda(const CudaDriver& driver, CUresult result, const char* call) {
  if (result == CUDA_SUCCESS) return;
  throw StatusError(result == CUDA_ERROR_OUT_OF_MEMORY ? LLA_ERR_OUT_OF_MEMORY : LLA_ERR_CUDA,
                    cuda_error_message(driver, result, call));
}

RetainedPrimaryContext::RetainedPrimaryContext(const CudaDriver& driver, CUdevice device)
    : driver_(driver), device_(device) {
  check_cuda(driver_, driver_.cuDevicePrimaryCtxRetain(&context_, device_),
             "cuDevicePrimaryCtxRetain");
}

RetainedPrimaryContext::~RetainedPrimaryContext() { driver_.cuDevicePrimaryCtxRelease(device_); }

ScopedContext::ScopedContext(const CudaDriver& driver, CUcontext context) : driver_(driver) {
  check_cuda(driver_, driver_.cuCtxPushCurrent(context), "cuCtxPushCurrent");
}

ScopedContext::~ScopedContext() {
  CUcontext popped = nullptr;
  driver_.cuCtxPopCurrent(&popped);
}

}  // namespace lla::runtime::driver
