#include "heuristic_config.h"

namespace lla::tuner {

compiler::KernelSpec heuristic_spec(const compiler::Request& request, const compiler::DeviceInfo& device) {
  return compiler::family_for(request.family).heuristic(request, device);
}

}  // namespace lla::tuner
