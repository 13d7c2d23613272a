#include "clang/clang_compiler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <thread>

#include "clang/toolchain.h"
#include "cpu/cpu_source_generator.h"
#include "cpu/object_loader.h"
#include "cpu_kernels.h"

namespace lla::testing {
namespace {

using compiler::Dtype;
using compiler::cpu::Family;
using compiler::GeneratedSource;

TEST(ClangCompiler, CompilesEveryFamilyAndDtypeToAnObject) {
  for (Family family : {Family::mamba2_forward, Family::mamba2_decode})
    for (Dtype dtype : {Dtype::f32, Dtype::f16, Dtype::bf16}) {
      const ccpu::CpuKernelSpec spec = host_spec(family, dtype, 64, 48, 13);
      const GeneratedSource source = ccpu::generate(spec);
      const ccpu::CompileStage<ccpu::ObjectCode> code = ccpu::compile(source, ccpu::host_target());
      ASSERT_TRUE(code.ok()) << code.error().message << "\n" << code.error().log;
      EXPECT_GT(code->object.size(), 1000u) << source.name;
      EXPECT_EQ(code->entry_points, source.entry_points);
      EXPECT_EQ(code->diagnostics, "") << source.name;
    }
}

TEST(ClangCompiler, SourceErrorsComeBackAsAFrontEndErrorWithTheLine) {
  const GeneratedSource source{"broken", "int f() { return undefined_name; }\n", {}};
  const ccpu::CompileStage<ccpu::ObjectCode> code = ccpu::compile(source, ccpu::host_target());
  ASSERT_FALSE(code.ok());
  EXPECT_EQ(code.error().stage, ccpu::CompileError::Stage::front_end);
  EXPECT_NE(code.error().message.find("broken"), std::string::npos);
  EXPECT_NE(code.error().log.find("broken.cpp:1:"), std::string::npos) << code.error().log;
  EXPECT_NE(code.error().log.find("undefined_name"), std::string::npos) << code.error().log;
}

TEST(ClangCompiler, AStandardHeaderIsAnErrorNotASlowCompile) {
  const GeneratedSource source{"with_header", "#include <vector>\nint f() { return 1; }\n", {}};
  const ccpu::CompileStage<ccpu::ObjectCode> code = ccpu::compile(source, ccpu::host_target());
  ASSERT_FALSE(code.ok());
  EXPECT_NE(code.error().log.find("'vector' file not found"), std::string::npos) << code.error().log;
}

TEST(ClangCompiler, AnUnknownTripleIsAStructuredError) {
  ccpu::CpuTarget target = ccpu::host_target();
  target.triple = "nonexistent-unknown-none";
  const GeneratedSource source{"tiny", "extern \"C\" int f() { return 1; }\n", {"f"}};
  const ccpu::CompileStage<ccpu::ObjectCode> code = ccpu::compile(source, target);
  ASSERT_FALSE(code.ok());
  EXPECT_NE(code.error().message.find("tiny"), std::string::npos) << code.error().message;
}

TEST(ClangCompiler, EmitsIrAndAssemblyOfTheSameCompile) {
  const ccpu::CpuKernelSpec spec = host_spec(Family::mamba2_decode, Dtype::bf16, 64, 64, 8);
  ccpu::CompileStage<ccpu::OptimisedModule> optimised =
      ccpu::optimise(ccpu::generate(spec), ccpu::host_target());
  ASSERT_TRUE(optimised.ok()) << optimised.error().log;
  const std::string ir = optimised->llvm_ir();
  EXPECT_NE(ir.find("@lla_mamba2_decode_step("), std::string::npos);
  EXPECT_NE(ir.find("target-cpu"), std::string::npos);
  const ccpu::CompileStage<ccpu::ObjectCode> code =
      ccpu::generate_code(std::move(optimised).value(), /*want_assembly=*/true);
  ASSERT_TRUE(code.ok()) << code.error().log;
  EXPECT_NE(code->assembly.find("lla_mamba2_decode_step:"), std::string::npos);
  EXPECT_FALSE(code->object.empty());
  const auto step = std::find_if(code->resources.begin(), code->resources.end(),
                                 [](const ccpu::FunctionResources& r) {
                                   return r.function == "lla_mamba2_decode_step";
                                 });
  ASSERT_NE(step, code->resources.end());
  EXPECT_GT(step->instructions, 50);
}

TEST(ClangCompiler, ConcurrentCompilesAreSafeAndDeterministic) {
  const GeneratedSource source =
      ccpu::generate(host_spec(Family::mamba2_decode, Dtype::f16, 32, 32, 6));
  std::vector<std::vector<uint8_t>> objects(4);
  std::vector<std::thread> threads;
  for (auto& object : objects)
    threads.emplace_back([&] {
      const auto code = ccpu::compile(source, ccpu::host_target());
      if (code) object = code->object;
    });
  for (std::thread& t : threads) t.join();
  for (const auto& object : objects) {
    ASSERT_FALSE(object.empty());
    EXPECT_EQ(object, objects[0]);
  }
}

double thread_cpu_ms() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

// perf.md's targets: one kernel's cold compile 60 ms or less, a cached object loaded into a
// fresh JIT in under 1 ms. The load is asserted; the compile is measured and printed (the
// forward module takes about 200 ms of CPU here, see the handoff note) and held under a bound
// that catches the code explosions an unrolling or inlining change can cause (once 3.4 s).
TEST(ClangCompiler, CompileTimesAndCachedLoad) {
  for (Family family : {Family::mamba2_forward, Family::mamba2_decode}) {
    const ccpu::CpuKernelSpec spec = host_spec(family, Dtype::bf16, 128, 128, 15);
    const GeneratedSource source = ccpu::generate(spec);
    double best_cpu = 1e9, best_wall = 1e9;
    std::vector<uint8_t> object;
    for (int attempt = 0; attempt < 3; ++attempt) {
      const double cpu0 = thread_cpu_ms();
      const auto code = ccpu::compile(source, ccpu::host_target());
      best_cpu = std::min(best_cpu, thread_cpu_ms() - cpu0);
      ASSERT_TRUE(code.ok()) << code.error().log;
      best_wall = std::min(best_wall, code->compile_ms());
      object = code->object;
    }
    // The best of ten: ctest runs other tests on the same two cores meanwhile.
    double best_load = 1e9;
    for (int attempt = 0; attempt < 10; ++attempt) {
      const auto start = std::chrono::steady_clock::now();
      rcpu::CpuJit jit;
      rcpu::CpuJit::Module* module = jit.load(source.name, object);
      EXPECT_NE(jit.lookup(module, source.entry_points[0]), nullptr);
      best_load = std::min(best_load, std::chrono::duration<double, std::milli>(
                                          std::chrono::steady_clock::now() - start).count());
    }
    std::printf("%s: cold compile %.1f ms (%.1f ms CPU), load into a fresh JIT %.3f ms\n",
                source.name.c_str(), best_wall, best_cpu, best_load);
    EXPECT_LT(best_cpu, 1000.0) << source.name;
    EXPECT_LT(best_load, 1.0) << source.name;
  }
}

}  // namespace
}  // namespace lla::testing
