#pragma once
// The device the tuner's CPU tests reason about: an H100 as the driver describes it.

#include "heuristic_config.h"

namespace lla::test {

inline tuner::DeviceInfo h100_device_info() {
  tuner::DeviceInfo d;
  d.name = "NVIDIA H100 80GB HBM3";
  d.cc_major = 9;
  d.cc_minor = 0;
  d.sm_count = 132;
  d.max_shared_per_block_optin = 227 * 1024;
  d.arch = "sm_90a";
  return d;
}

}  // namespace lla::test
