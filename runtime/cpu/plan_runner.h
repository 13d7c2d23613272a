#pragma once
// Runs a CPU launch plan (compiler/cpu/cpu_launch_plan.h): binds its symbolic buffers to host
// pointers, packs each launch's arguments into the entry point's parameter struct and runs
// the launch's work items on the pool, launch after launch. Returns when all are done.

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "cpu/host_memory.h"
#include "cpu/object_loader.h"
#include "cpu/thread_pool.h"
#include "kernels/launch_plan.h"

namespace lla::runtime::cpu {

// A plan that does not fit its module or its buffers (an lla bug, or a module of another
// generator version); the message names the launch and the field.
class PlanError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// The arguments laid out as a C struct whose fields have the arguments' types in order
// (pointers 8 bytes, int32 and float 4, int64 8, each at its natural alignment, the size a
// multiple of the largest). Throws PlanError naming the argument when a buffer it names is
// unbound.
std::vector<uint8_t> pack_arguments(const compiler::Launch& launch, const BufferBinding& buffers);

// What a loaded module gives the runner: the entry point of a name and its parameter struct's
// size (the module's <entry>_params_bytes).
struct ModuleEntry {
  EntryPoint function = nullptr;
  uint64_t params_bytes = 0;
};
ModuleEntry module_entry(CpuJit& jit, CpuJit::Module* module, const std::string& entry);

// Runs `plan`: copies its upload to the start of `workspace` (at least plan.workspace_bytes,
// 64-byte aligned; may be null when that is 0), then each launch over `pool`. Throws PlanError
// when packed arguments differ in size from the module's struct.
void run_plan(const compiler::LaunchPlan& plan,
              const std::function<ModuleEntry(const std::string&)>& entries,
              const BufferBinding& buffers, void* workspace, ThreadPool& pool);

}  // namespace lla::runtime::cpu
