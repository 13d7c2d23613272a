#pragma once
// The stream-ordered memory pool of one context's workspaces. The driver's default pool hands
// memory back to the system at every synchronisation (release threshold 0), so a workspace of
// a GiB would be mapped anew on every call (measured: a third more time per forward at
// T = 16384 and a wide spread); this pool keeps what it grew to until the context ends.

#include <cuda.h>

#include "backend/cuda/cuda_driver.h"

namespace lla::runtime::backend::cuda {

class WorkspacePool {
 public:
  // Throws StatusError when the device cannot make the pool.
  WorkspacePool(const driver::CudaDriver& driver, CUdevice device);
  // Every workspace must have been freed and its stream's work finished.
  ~WorkspacePool();
  WorkspacePool(const WorkspacePool&) = delete;
  WorkspacePool& operator=(const WorkspacePool&) = delete;

  CUmemoryPool get() const { return pool_; }

 private:
  const driver::CudaDriver& driver_;
  CUmemoryPool pool_ = nullptr;
};

}  // namespace lla::runtime::backend::cuda
