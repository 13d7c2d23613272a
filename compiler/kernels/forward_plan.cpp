#include "kernels/forward_plan.h"

#include <stdexcept>

#include "kernels/mamba2_forward_plan.h"

namespace lla::compiler {

LaunchPlan plan_forward(const KernelSpec& spec, const ForwardShape& shape) {
  validate(spec);
  switch (spec.family) {
    case Family::mamba2_forward: return mamba2::plan(spec, shape);
    case Family::mamba2_decode: break;  // decode plans: mamba2_decode::plan
  }
  throw std::invalid_argument("plan_forward: unknown kernel family");
}

}  // namespace lla::compiler
