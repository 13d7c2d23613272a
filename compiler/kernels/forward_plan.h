#pragma once
// Launch plans of the forward kernel families.

#include "generator/kernel_spec.h"
#include "kernels/launch_plan.h"

namespace lla::compiler {

// The launches that compute o for `shape` with the module compiled from `spec`.
// Throws std::invalid_argument naming the field when the shape does not fit the spec.
LaunchPlan plan_forward(const KernelSpec& spec, const ForwardShape& shape);

}  // namespace lla::compiler
