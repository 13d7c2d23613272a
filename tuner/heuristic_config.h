#pragma once
// The documented default configuration of a problem: its family's heuristic (what lla runs
// when tuning is off, and the baseline every tuned result must beat).

#include "families/kernel_family.h"

namespace lla::tuner {

// The family's heuristic spec for a request on a device (chunk chosen when 0, knobs by the
// family's rule). Throws std::invalid_argument when lla has no family for the request or no
// config serves it.
compiler::KernelSpec heuristic_spec(const compiler::Request& request, const compiler::DeviceInfo& device);

}  // namespace lla::tuner
