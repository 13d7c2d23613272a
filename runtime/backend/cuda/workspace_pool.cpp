#include "backend/cuda/workspace_pool.h"

#include <cstdint>
#include <limits>

namespace lla::runtime::backend::cuda {

WorkspacePool::WorkspacePool(const driver::CudaDriver& driver, CUdevice device) : driver_(driver) {
  CUmemPoolProps props = {};
  props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
  props.handleTypes = CU_MEM_HANDLE_TYPE_NONE;
  props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  props.location.id = device;
  driver::check_cuda(driver_, driver_.cuMemPoolCreate(&pool_, &props), "cuMemPoolCreate");
  cuuint64_t keep_everything = std::numeric_limits<cuuint64_t>::max();
  const CUresult r =
      driver_.cuMemPoolSetAttribute(pool_, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &keep_everything);
  if (r != CUDA_SUCCESS) {
    driver_.cuMemPoolDestroy(pool_);
    driver::check_cuda(driver_, r, "cuMemPoolSetAttribute(CU_MEMPOOL_ATTR_RELEASE_THRESHOLD)");
  }
}

WorkspacePool::~WorkspacePool() { driver_.cuMemPoolDestroy(pool_); }

}  // namespace lla::runtime::backend::cuda
