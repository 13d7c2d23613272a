#pragma once
// Binding a launch's symbolic arguments to a call's addresses, the part every backend shares.

#include <cstdint>
#include <functional>
#include <vector>

#include "kernels/launch_plan.h"

namespace lla::runtime::backend {

// The address of a plan's buffer argument in a call (base address plus its offset).
using ResolveBuffer = std::function<uint64_t(const compiler::BufferArg&)>;

// The bytes a kernel takes for `block`: the host struct's bytes with each pointer field set to
// its buffer's address (or zero), in this machine's byte order.
std::vector<uint8_t> bind_param_block(const compiler::ParamBlock& block, const ResolveBuffer& resolve);

}  // namespace lla::runtime::backend
