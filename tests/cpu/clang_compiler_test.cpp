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
using compiler::Family;
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

TEST(ClangCompiler, AnUnknownTripleIsACodeGenerationError) {
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

// perf.md: one kernel's cold compile in 60 ms or less; a cached object loads into a fresh JIT
// in under 1 ms. Timed on a shared 2-core machine: the best of a few tries counts.
TEST(ClangCompiler, ColdCompileAndCachedLoadAreFast) {
  const ccpu::CpuKernelSpec spec = host_spec(Family::mamba2_forward, Dtype::bf16, 128, 128, 15);
  const GeneratedSource source = ccpu::generate(spec);
  double best_compile = 1e9, best_load = 1e9;
  std::vector<uint8_t> object;
  for (int attempt = 0; attempt < 3; ++attempt) {
    timespec cpu0, cpu1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);
    const auto code = ccpu::compile(source, ccpu::host_target());
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
    std::printf("compile: %.1f ms of this thread's CPU time\n",
                (cpu1.tv_sec - cpu0.tv_sec) * 1e3 + (cpu1.tv_nsec - cpu0.tv_nsec) / 1e6);
    ASSERT_TRUE(code.ok()) << code.error().log;
    best_compile = std::min(best_compile, code->compile_ms());
    std::printf("front end + -O3 %.1f ms, code generation %.1f ms\n", code->front_end_ms, code->code_generation_ms);
    object = code->object;
  }
  for (int attempt = 0; attempt < 5; ++attempt) {
    const auto start = std::chrono::steady_clock::now();
    rcpu::CpuJit jit;
    rcpu::CpuJit::Module* module = jit.load(source.name, object);
    EXPECT_NE(jit.entry_point(module, "lla_mamba2_forward_scan"), nullptr);
    best_load = std::min(best_load, std::chrono::duration<double, std::milli>(
                                        std::chrono::steady_clock::now() - start).count());
  }
  RecordProperty("compile_ms", std::to_string(best_compile));
  RecordProperty("load_ms", std::to_string(best_load));
  std::printf("cold compile %.1f ms, load into a fresh JIT %.3f ms\n", best_compile, best_load);
  EXPECT_LT(best_compile, 60.0);
  EXPECT_LT(best_load, 1.0);
}

}  // namespace
}  // namespace lla::testing
