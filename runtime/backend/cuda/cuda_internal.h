#pragma once
// The CUDA backend's classes, shared by its files (cuda_backend.cpp: device, memory, streams,
// timing; cuda_launch.cpp: modules and launches). Not part of the seam.

#include <cuda.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend/backend.h"
#include "backend/cuda/cuda_driver.h"
#include "backend/cuda/workspace_pool.h"

namespace lla::runtime::backend::cuda {

// Runs `release` with `context` current when it can be made current: the destructors' path,
// which has nowhere to report a failure (a context that cannot be pushed holds nothing left to
// release).
template <class Release>
void release_in(const driver::CudaDriver& driver, CUcontext context, Release release) {
  if (driver.cuCtxPushCurrent(context) != CUDA_SUCCESS) return;
  release();
  CUcontext popped = nullptr;
  driver.cuCtxPopCurrent(&popped);
}

class CudaBackend final : public Backend {
 public:
  CudaBackend(const driver::CudaDriver& driver, int ordinal);
  ~CudaBackend() override;

  compiler::BackendKind kind() const override { return compiler::BackendKind::cuda; }
  const compiler::DeviceInfo& device() const override { return info_; }
  const Toolchain& toolchain() const override;
  std::unique_ptr<Activation> activate() const override;
  std::unique_ptr<Module> load(const CompiledImage& image, const std::vector<std::string>& entry_points) const override;
  void run(const Module& module, const compiler::LaunchPlan& plan, const BoundBuffers& buffers,
           void* stream) const override;
  void synchronize() const override;
  std::unique_ptr<DeviceMemory> allocate(size_t bytes) const override;
  std::unique_ptr<Stream> create_stream() const override;
  void fill(DeviceMemory& memory, uint32_t word, const Stream& stream) const override;
  void copy(DeviceMemory& destination, const DeviceMemory& source, size_t bytes, const Stream& stream) const override;
  std::vector<double> time(const Stream& stream, int repetitions, const std::function<void()>& work) const override;
  cache::Provenance provenance() const override;
  std::optional<std::string> memory_problem(const void* pointer) const override;

  const driver::CudaDriver& driver() const { return driver_; }
  CUcontext context() const { return context_.get(); }

 private:
  const driver::CudaDriver& driver_;
  const int ordinal_;
  const CUdevice device_;
  const driver::RetainedPrimaryContext context_;
  const compiler::DeviceInfo info_;
  std::unique_ptr<WorkspacePool> workspace_pool_;
};

// One entry point of a loaded module.
struct LoadedFunction {
  CUfunction function = nullptr;
  int max_dynamic_shared_bytes = 0;  // the most a launch of it may ask for
};

class CudaModule final : public Module {
 public:
  CudaModule(const CudaBackend& backend, CUmodule module) : backend_(backend), module_(module) {}
  ~CudaModule() override;  // unloads, in the backend's context
  CudaModule(const CudaModule&) = delete;
  CudaModule& operator=(const CudaModule&) = delete;

  CUmodule get() const { return module_; }
  std::unordered_map<std::string, LoadedFunction> functions;  // by entry point name

 private:
  const CudaBackend& backend_;
  CUmodule module_;
};

}  // namespace lla::runtime::backend::cuda
