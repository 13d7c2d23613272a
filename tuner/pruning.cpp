#include "pruning.h"

#include <algorithm>
#include <stdexcept>


namespace lla::tuner {

std::optional<std::string> static_prune_reason(const compiler::KernelSpec& spec,
                                               const compiler::ProblemShape& shape,
                                               const compiler::DeviceInfo& device) {
  compiler::LaunchPlan plan;
  try {
    plan = compiler::plan_launches(spec, shape);
  } catch (const std::invalid_argument& e) {
    return std::string("not generable for this problem: ") + e.what();
  }
  const int registers = compiler::family_for(spec.family).estimated_registers(spec);
  if (registers > kMaxRegistersPerThread) {
    return "needs about " + std::to_string(registers) + " registers a thread (estimated from " +
           "its register tiles), above the " + std::to_string(kMaxRegistersPerThread) +
           " a thread can hold";
  }
  if (device.max_shared_per_block_optin <= 0) return std::nullopt;
  for (const compiler::Launch& launch : plan.launches) {
    if (static_cast<int>(launch.shared_bytes) > device.max_shared_per_block_optin) {
      return launch.kernel + " needs " + std::to_string(launch.shared_bytes) +
             " bytes of dynamic shared memory; the device allows " +
             std::to_string(device.max_shared_per_block_optin) + " per block";
    }
  }
  return std::nullopt;
}

std::optional<std::string> compiled_prune_reason(
    const compiler::LaunchPlan& plan, const std::vector<compiler::KernelResources>& resources,
    const compiler::DeviceInfo& device) {
  for (const compiler::KernelResources& r : resources) {
    // A module holds every kernel of its spec (a scan module, the tree's too); one this plan
    // never launches can neither slow it nor fail to launch.
    const auto launched = [&](const compiler::Launch& launch) { return launch.kernel == r.kernel; };
    if (std::none_of(plan.launches.begin(), plan.launches.end(), launched)) continue;
    if (r.spill_store_bytes > 0 || r.spill_load_bytes > 0) {
      return r.kernel + " spills (" + std::to_string(r.spill_store_bytes) + " bytes stored, " +
             std::to_string(r.spill_load_bytes) + " loaded; " + std::to_string(r.registers) +
             " registers)";
    }
    for (const compiler::Launch& launch : plan.launches) {
      if (launch.kernel != r.kernel) continue;
      const int64_t threads = int64_t{launch.block[0]} * launch.block[1] * launch.block[2];
      if (int64_t{r.registers} * threads > kRegistersPerSm) {
        return r.kernel + " uses " + std::to_string(r.registers) + " registers x " +
               std::to_string(threads) + " threads, more than the " +
               std::to_string(kRegistersPerSm) + " registers of an SM";
      }
      const int64_t shared = int64_t{r.shared_bytes} + launch.shared_bytes;
      if (device.max_shared_per_block_optin > 0 && shared > device.max_shared_per_block_optin) {
        return r.kernel + " needs " + std::to_string(r.shared_bytes) + " static + " +
               std::to_string(launch.shared_bytes) + " dynamic bytes of shared memory; the " +
               "device allows " + std::to_string(device.max_shared_per_block_optin) + " per block";
      }
    }
  }
  return std::nullopt;
}

}  // namespace lla::tuner
