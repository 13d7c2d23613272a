#pragma once
// The documented default configuration of each kernel family: what lla runs when tuning is
// off, and the baseline every tuned result must beat.

#include <string>

#include "generator/kernel_spec.h"
#include "kernels/launch_plan.h"

namespace lla::tuner {

// What the tuner needs to know of a device.
struct DeviceInfo {
  std::string name;
  int cc_major = 0;
  int cc_minor = 0;
  int sm_count = 0;
  int max_shared_per_block_optin = 0;  // bytes
  std::string arch;                    // NVRTC target, e.g. "sm_90a" for compute capability 9.0
};

// The NVRTC target for a compute capability: "sm_90a" for 9.0 (lla uses Hopper-only
// instructions there), "sm_XY" otherwise.
std::string arch_for_compute_capability(int major, int minor);

struct ForwardRequest {
  compiler::Family family = compiler::Family::mamba2_forward;
  compiler::Dtype dtype = compiler::Dtype::bf16;
  int key_dim = 128;
  int value_dim = 128;
  int levels = 15;
  int chunk = 0;  // 0: let lla choose
  compiler::ForwardShape shape;
};

// The heuristic spec for a request on a device (chunk chosen when 0, tile config by rule).
compiler::KernelSpec heuristic_forward_spec(const ForwardRequest& request, const DeviceInfo& device);

struct DecodeRequest {
  compiler::Dtype dtype = compiler::Dtype::bf16;
  int key_dim = 128;
  int value_dim = 128;
  int levels = 15;
  int batch = 1;
  int heads = 1;
};

// The heuristic spec of the Mamba-2 decode step for a request on a device.
compiler::KernelSpec heuristic_decode_spec(const DecodeRequest& request, const DeviceInfo& device);

}  // namespace lla::tuner
