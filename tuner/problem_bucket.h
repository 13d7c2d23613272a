#pragma once
// Problem buckets (design.md, "Cache keys"): the tuning key of a problem. Shapes that
// share every compile-time constant and fall in the same power-of-two ranges of batch*heads and
// T share one tuned result, so a tuned winner serves nearby shapes.

#include <cstdint>
#include <string>

#include "heuristic_config.h"

namespace lla::tuner {

// The smallest power of two >= n (1 for n <= 1).
int64_t power_of_two_bucket(int64_t n);

// "<family name> dtype=bf16 K=128 V=128 L=15 C=64 heads_per_group=1 batch_heads<=32 T<=16384".
// `chunk` is the resolved chunk (never 0).
std::string problem_key(const compiler::Request& request, int chunk);

// "NVIDIA H100 80GB HBM3 cc=9.0 sms=132".
std::string device_key(const compiler::DeviceInfo& device);

// The lla version that tuning rows are keyed by.
const char* lla_version();

}  // namespace lla::tuner
