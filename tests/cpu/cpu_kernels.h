#pragma once
// Test support for the CPU backend: compiles CPU kernel specs for this machine once per test
// process, loads them into one JIT, and runs their launch plans on a pool.

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "clang/clang_compiler.h"
#include "clang/toolchain.h"
#include "cpu/cpu_kernel_spec.h"
#include "cpu/cpu_launch_plan.h"
#include "cpu/cpu_source_generator.h"
#include "cpu/object_loader.h"
#include "cpu/plan_runner.h"
#include "cpu/thread_pool.h"

namespace lla::testing {

namespace ccpu = lla::compiler::cpu;
namespace rcpu = lla::runtime::cpu;

// A spec of `family` for this machine's vector width with the heuristic tile.
inline ccpu::CpuKernelSpec host_spec(compiler::cpu::Family family, compiler::Dtype dtype, int key_dim,
                                     int value_dim, int levels, int chunk = 64) {
  return ccpu::make_spec(family, dtype, key_dim, value_dim, levels, chunk,
                         ccpu::vector_floats(ccpu::host_target()));
}

class CpuKernels {
 public:
  static CpuKernels& instance() {
    static CpuKernels kernels;
    return kernels;
  }

  // The module of `spec`, compiled and loaded on first use. Fails the calling test (throws)
  // when it does not compile.
  std::function<rcpu::ModuleEntry(const std::string&)> entries(const ccpu::CpuKernelSpec& spec) {
    const compiler::GeneratedSource source = ccpu::generate(spec);
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = modules_.find(source.name);
    if (it == modules_.end()) {
      ccpu::CompileStage<ccpu::ObjectCode> code = ccpu::compile(source, ccpu::host_target());
      if (!code)
        throw std::runtime_error(code.error().message + "\n" + code.error().log);
      it = modules_.emplace(source.name, jit_.load(source.name, code->object)).first;
    }
    rcpu::CpuJit::Module* module = it->second;
    return [this, module](const std::string& entry) { return rcpu::module_entry(jit_, module, entry); };
  }

  rcpu::ThreadPool& pool() { return pool_; }

 private:
  std::mutex mutex_;
  rcpu::CpuJit jit_;
  std::map<std::string, rcpu::CpuJit::Module*> modules_;
  rcpu::ThreadPool pool_{0};
};

}  // namespace lla::testing
