#pragma once
// The CUDA backend's toolchain: the CUDA generator (compiler/generator) and NVRTC
// (compiler/nvrtc), in process, for any NVRTC target lla supports, with no device.

#include "backend/backend.h"

namespace lla::runtime::backend::cuda {

// The process-wide CUDA toolchain (stateless, thread safe).
const Toolchain& cuda_toolchain();

}  // namespace lla::runtime::backend::cuda
