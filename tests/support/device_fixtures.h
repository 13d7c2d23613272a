#pragma once
// The device the tuner's CPU tests reason about: an H100 as the driver describes it.

#include "families/kernel_family.h"

namespace lla::test {

inline compiler::DeviceInfo h100_device_info() {
  compiler::DeviceInfo d;
  d.name = "NVIDIA H100 80GB HBM3";
  d.cc_major = 9;
  d.cc_minor = 0;
  d.sm_count = 132;
  d.max_shared_per_block_optin = 227 * 1024;
  d.target = compiler::cuda_target("sm_90a");
  return d;
}

}  // namespace lla::test
