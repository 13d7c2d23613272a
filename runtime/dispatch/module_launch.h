#pragma once
// What every dispatcher does once it has a kernel spec and a launch plan: build (obtain and
// load) the spec's module, bind the call's pointers to the plan's buffers, launch.

#include <cuda.h>

#include <memory>
#include <string>
#include <vector>

#include "api/logger.h"
#include "binary_cache.h"
#include "dispatch/kernel_table.h"
#include "driver/cuda_driver.h"
#include "generator/kernel_spec.h"
#include "heuristic_config.h"
#include "kernels/launch_plan.h"
#include "lla/lla.h"

namespace lla::runtime::dispatch {

// The compiler's dtype of a validated lla_dtype; StatusError(LLA_ERR_INTERNAL) otherwise.
compiler::Dtype to_compiler_dtype(lla_dtype dtype);
lla_dtype to_lla_dtype(compiler::Dtype dtype);

// The module of `spec` (binary cache, else NVRTC), loaded, every entry point opted in to the
// device's shared memory. Needs the context current. Throws StatusError.
std::unique_ptr<LoadedModule> build_module(const driver::CudaDriver& driver,
                                           const compiler::DeviceInfo& device,
                                           const compiler::KernelSpec& spec,
                                           cache::BinaryCache* cache, const Logger& logger);

// A compiled image loaded (the context current), each entry point opted in to the device's
// shared memory; the caller unloads it. Throws StatusError.
std::unique_ptr<LoadedModule> load_module(const driver::CudaDriver& driver,
                                          const compiler::DeviceInfo& device,
                                          const std::vector<uint8_t>& image,
                                          const std::vector<std::string>& entry_points);

// The device address of each LaunchPlan buffer for one call; 0 for buffers it does not have.
class BoundBuffers {
 public:
  void bind(compiler::Buffer buffer, const void* pointer) {
    address_[static_cast<int>(buffer)] = reinterpret_cast<CUdeviceptr>(pointer);
  }
  void bind(compiler::Buffer buffer, CUdeviceptr address) {
    address_[static_cast<int>(buffer)] = address;
  }
  // base(arg.buffer) + offset; StatusError(LLA_ERR_INTERNAL) for a buffer the call lacks.
  CUdeviceptr resolve(const compiler::BufferArg& arg, const std::string& kernel) const;

 private:
  CUdeviceptr address_[static_cast<int>(compiler::Buffer::workspace) + 1] = {};
};

// One launch of a plan on `stream`. Throws StatusError: INTERNAL when the plan names a kernel
// the module lacks, NOT_SUPPORTED when it asks for more shared memory than the device allows.
void launch(const driver::CudaDriver& driver, const LoadedModule& module,
            const compiler::Launch& l, const BoundBuffers& buffers, CUstream stream);

}  // namespace lla::runtime::dispatch
