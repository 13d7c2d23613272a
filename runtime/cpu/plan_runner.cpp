#include "cpu/plan_runner.h"

#include <cstring>
#include <type_traits>
#include <variant>

namespace lla::runtime::cpu {

namespace {

using compiler::Buffer;
using compiler::BufferArg;
using compiler::KernelArg;
using compiler::NullPointer;

template <typename T>
void put(std::vector<uint8_t>& bytes, size_t& alignment, const T& value) {
  const size_t offset = (bytes.size() + alignof(T) - 1) / alignof(T) * alignof(T);
  bytes.resize(offset + sizeof(T));
  std::memcpy(bytes.data() + offset, &value, sizeof(T));
  if (alignof(T) > alignment) alignment = alignof(T);
}

}  // namespace

std::vector<uint8_t> pack_arguments(const compiler::Launch& launch, const BufferBinding& buffers) {
  std::vector<uint8_t> bytes;
  size_t alignment = 1;
  for (size_t i = 0; i < launch.args.size(); ++i) {
    std::visit(
        [&](const auto& arg) {
          using T = std::decay_t<decltype(arg)>;
          if constexpr (std::is_same_v<T, BufferArg>) {
            auto* base = static_cast<uint8_t*>(buffers(arg.buffer));
            if (!base)
              throw PlanError(launch.kernel + ": argument " + std::to_string(i) +
                              " names buffer " + std::to_string(static_cast<int>(arg.buffer)) +
                              ", which is not bound");
            put<void*>(bytes, alignment, base + arg.offset_bytes);
          } else if constexpr (std::is_same_v<T, NullPointer>) {
            put<void*>(bytes, alignment, nullptr);
          } else {
            put<T>(bytes, alignment, arg);
          }
        },
        launch.args[i]);
  }
  bytes.resize((bytes.size() + alignment - 1) / alignment * alignment);
  return bytes;
}

ModuleEntry module_entry(CpuJit& jit, CpuJit::Module* module, const std::string& entry) {
  ModuleEntry e;
  e.function = jit.entry_point(module, entry);
  e.params_bytes = *static_cast<const unsigned long long*>(jit.lookup(module, entry + "_params_bytes"));
  return e;
}

void run_plan(const compiler::LaunchPlan& plan,
              const std::function<ModuleEntry(const std::string&)>& entries,
              const BufferBinding& buffers, void* workspace, ThreadPool& pool) {
  if (!plan.upload.empty()) std::memcpy(workspace, plan.upload.data(), plan.upload.size());
  const BufferBinding bound = [&](Buffer b) -> void* {
    return b == Buffer::workspace ? workspace : buffers(b);
  };
  for (const compiler::Launch& launch : plan.launches) {
    const ModuleEntry entry = entries(launch.kernel);
    const std::vector<uint8_t> params = pack_arguments(launch, bound);
    if (params.size() != entry.params_bytes)
      throw PlanError(launch.kernel + ": the plan's arguments pack to " +
                      std::to_string(params.size()) + " bytes, the module's parameter struct has " +
                      std::to_string(entry.params_bytes));
    const EntryPoint function = entry.function;
    pool.run(launch.grid[0], launch.shared_bytes, [&](int64_t item, void* scratch) {
      function(params.data(), item, scratch);
    });
  }
}

}  // namespace lla::runtime::cpu
