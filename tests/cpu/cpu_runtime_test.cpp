// The CPU runtime's parts on their own: the thread pool, argument packing against the
// parameter structs both sides share, the ORC loader, and the toolchain identity in the binary
// cache key.

#include <gtest/gtest.h>
#include <llvm/Support/ErrorHandling.h>

#include <atomic>
#include <cstring>
#include <cstddef>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "binary_cache.h"
#include "content_hash.h"
#include "cpu/cpu_binary_key.h"
#include "cpu/kernel_params.h"
#include "cpu_kernels.h"

namespace lla::testing {
namespace {

using compiler::Buffer;
using compiler::BufferArg;
using compiler::Dtype;
using compiler::cpu::Family;

TEST(ThreadPool, RunsEveryItemOnceWithAFixedAssignment) {
  rcpu::ThreadPool pool(3);
  ASSERT_EQ(pool.size(), 3);
  for (int run = 0; run < 2; ++run) {
    std::vector<std::thread::id> owner(100);
    std::vector<int> count(100, 0);
    std::mutex m;
    pool.run(100, 256, [&](int64_t item, void* scratch) {
      ASSERT_EQ(reinterpret_cast<uintptr_t>(scratch) % 64, 0u);
      std::memset(scratch, 1, 256);
      std::lock_guard<std::mutex> lock(m);
      owner[item] = std::this_thread::get_id();
      ++count[item];
    });
    for (int c : count) ASSERT_EQ(c, 1);
    // Worker w runs items w, w + 3, ...: items congruent mod 3 share a thread, the caller's
    // (worker 0) included.
    for (int i = 3; i < 100; ++i) EXPECT_EQ(owner[i], owner[i % 3]) << i;
    EXPECT_EQ(owner[0], std::this_thread::get_id());
    EXPECT_EQ(std::set<std::thread::id>(owner.begin(), owner.end()).size(), 3u);
  }
}

TEST(ThreadPool, RethrowsAnItemsExceptionAfterEveryWorkerStopped) {
  rcpu::ThreadPool pool(2);
  std::atomic<int> ran{0};
  EXPECT_THROW(pool.run(10, 0,
                        [&](int64_t item, void*) {
                          ++ran;
                          if (item == 3) throw std::runtime_error("item 3");
                        }),
               std::runtime_error);
  EXPECT_LE(ran.load(), 10);
  pool.run(4, 0, [&](int64_t, void*) { ++ran; });  // still usable
}

TEST(ThreadPool, DefaultsToTheAvailableCoresAndRejectsNegativeCounts) {
  EXPECT_EQ(rcpu::ThreadPool().size(), rcpu::available_cores());
  EXPECT_THROW(rcpu::ThreadPool(-1), std::invalid_argument);
}

// The plans' arguments, packed by the runner's C layout rules, land on the fields of the
// parameter structs that the JIT'd code reads.
TEST(PlanRunner, PackedArgumentsMatchTheParameterStructs) {
  alignas(64) static uint8_t memory[16][64];
  const rcpu::BufferBinding bind = [&](Buffer b) -> void* { return memory[static_cast<int>(b)]; };
  const ccpu::CpuKernelSpec forward = host_spec(Family::mamba2_forward, Dtype::f32, 32, 32, 12);
  compiler::ProblemShape shape;
  shape.seq_len = 100;
  shape.heads = 4;
  shape.groups = 2;
  shape.scale = 0.25f;
  shape.sequences = {{0, 0, 60}, {60, 7, 40}};
  shape.initial_state = shape.final_state = true;
  const compiler::LaunchPlan plan = ccpu::plan_forward(forward, shape, 2);
  ASSERT_FALSE(plan.launches.empty());
  const std::vector<uint8_t> bytes = rcpu::pack_arguments(plan.launches.back(), bind);
  ASSERT_EQ(bytes.size(), sizeof(lla_cpu::Mamba2ForwardParams));
  lla_cpu::Mamba2ForwardParams p;
  std::memcpy(&p, bytes.data(), sizeof p);
  EXPECT_EQ(p.q, memory[static_cast<int>(Buffer::q)]);
  EXPECT_EQ(p.o, memory[static_cast<int>(Buffer::o)]);
  EXPECT_EQ(p.final_state, reinterpret_cast<float*>(memory[static_cast<int>(Buffer::final_state)]));
  EXPECT_EQ(p.heads, 4);
  EXPECT_EQ(p.groups, 2);
  EXPECT_EQ(p.scale, 0.25f);
  EXPECT_EQ(p.piece_chunks, ccpu::kPieceChunks);

  const ccpu::CpuKernelSpec decode = host_spec(Family::mamba2_decode, Dtype::f32, 32, 32, 12);
  compiler::ProblemShape step;
  step.batch = 5;
  step.heads = 4;
  step.groups = 4;
  step.max_position = 999;
  const std::vector<uint8_t> step_bytes = rcpu::pack_arguments(ccpu::plan_decode(decode, step).launches[0], bind);
  ASSERT_EQ(step_bytes.size(), sizeof(lla_cpu::Mamba2DecodeParams));
  lla_cpu::Mamba2DecodeParams d;
  std::memcpy(&d, step_bytes.data(), sizeof d);
  EXPECT_EQ(d.positions, reinterpret_cast<long long*>(memory[static_cast<int>(Buffer::positions)]));
  EXPECT_EQ(d.batch, 5);
  EXPECT_EQ(d.max_position, 999);
}

TEST(PlanRunner, AnUnboundBufferIsNamed) {
  compiler::Launch launch;
  launch.kernel = "lla_test";
  launch.args = {BufferArg{Buffer::q}, int32_t{1}};
  try {
    rcpu::pack_arguments(launch, [](Buffer) -> void* { return nullptr; });
    FAIL() << "packed";
  } catch (const rcpu::PlanError& e) {
    EXPECT_NE(std::string(e.what()).find("lla_test: argument 0"), std::string::npos) << e.what();
  }
}

TEST(CpuJit, ReportsObjectsItCannotLoadAndSymbolsItCannotFind) {
  rcpu::CpuJit jit;
  EXPECT_THROW(jit.load("garbage", std::vector<uint8_t>(100, 7)), rcpu::LoadError);
  const compiler::GeneratedSource source{"tiny", "extern \"C\" int lla_tiny(int x) { return x + 41; }\n",
                                         {"lla_tiny"}};
  const auto code = ccpu::compile(source, ccpu::host_target());
  ASSERT_TRUE(code.ok()) << code.error().log;
  rcpu::CpuJit::Module* module = jit.load("tiny", code->object);
  EXPECT_THROW(jit.load("tiny", code->object), rcpu::LoadError);  // the name is taken
  auto* f = reinterpret_cast<int (*)(int)>(jit.lookup(module, "lla_tiny"));
  EXPECT_EQ(f(1), 42);
  try {
    jit.lookup(module, "lla_missing");
    FAIL() << "found";
  } catch (const rcpu::LoadError& e) {
    EXPECT_NE(std::string(e.what()).find("lla_missing"), std::string::npos) << e.what();
  }
  jit.unload(module);
  EXPECT_NO_THROW(jit.load("tiny", code->object));  // the name is free again
}

// Objects call memcpy and memset (LLVM emits them for large copies): they resolve from the
// process.
TEST(CpuJit, ResolvesMemcpyFromTheProcess) {
  const compiler::GeneratedSource source{
      "copies",
      "extern \"C\" void lla_copy(char* to, const char* from, unsigned long n) {\n"
      "  __builtin_memcpy(to, from, n);\n  __builtin_memset(to + n, 0, n);\n}\n",
      {"lla_copy"}};
  const auto code = ccpu::compile(source, ccpu::host_target());
  ASSERT_TRUE(code.ok()) << code.error().log;
  rcpu::CpuJit jit;
  auto* copy = reinterpret_cast<void (*)(char*, const char*, unsigned long)>(
      jit.lookup(jit.load("copies", code->object), "lla_copy"));
  std::vector<char> from(5000, 'x'), to(10000, 'y');
  copy(to.data(), from.data(), 5000);
  EXPECT_EQ(to[4999], 'x');
  EXPECT_EQ(to[5000], 0);
  EXPECT_EQ(to[9999], 0);
}

// design.md: a key too small serves a wrong binary. Every part of the CPU toolchain identity
// (and the source and generator version) changes the key; a feature list that differs in one
// feature does, even with the same CPU name.
TEST(CpuBinaryKey, EveryPartOfTheIdentityChangesTheKey) {
  const compiler::GeneratedSource source = ccpu::generate(host_spec(Family::mamba2_decode, Dtype::f32, 32, 32, 8));
  const ccpu::ToolchainIdentity identity = ccpu::toolchain_identity(ccpu::host_target());
  const std::string base = cache::key_digest(rcpu::cpu_binary_key(source, identity));
  std::set<std::string> digests = {base};
  const auto differs = [&](const std::string& what, const compiler::GeneratedSource& s,
                           const ccpu::ToolchainIdentity& id) {
    const std::string digest = cache::key_digest(rcpu::cpu_binary_key(s, id));
    EXPECT_TRUE(digests.insert(digest).second) << what << " does not change the key";
  };
  compiler::GeneratedSource other_source = source;
  other_source.source += " ";
  differs("the source", other_source, identity);
  ccpu::ToolchainIdentity id = identity;
  id.llvm_version = "17.0.0";
  differs("the LLVM version", source, id);
  id = identity;
  id.triple = "x86_64-unknown-linux-musl";
  differs("the triple", source, id);
  id = identity;
  id.cpu = "rocketlake";
  differs("the CPU name", source, id);
  id = identity;
  id.options += " -O2";
  differs("the options", source, id);

  ccpu::CpuTarget target = ccpu::host_target();
  ASSERT_FALSE(target.features.empty());
  std::string& flipped = target.features.back();
  flipped[0] = flipped[0] == '+' ? '-' : '+';
  const ccpu::ToolchainIdentity one_feature = ccpu::toolchain_identity(target);
  EXPECT_EQ(one_feature.cpu, identity.cpu);
  differs("one feature", source, one_feature);
  EXPECT_EQ(rcpu::cpu_binary_key(source, identity).generator_version,
            std::string(ccpu::kCpuGeneratorVersion));
}

TEST(HostTarget, ListsEveryFeatureSignedAndSorted) {
  const ccpu::CpuTarget& t = ccpu::host_target();
  EXPECT_FALSE(t.triple.empty());
  EXPECT_FALSE(t.cpu.empty());
  ASSERT_GT(t.features.size(), 10u);
  for (size_t i = 0; i < t.features.size(); ++i) {
    ASSERT_TRUE(t.features[i][0] == '+' || t.features[i][0] == '-') << t.features[i];
    if (i > 0) {
      EXPECT_LT(t.features[i - 1].substr(1), t.features[i].substr(1));
    }
  }
  const int w = ccpu::vector_floats(t);
  EXPECT_TRUE(w == 4 || w == 8 || w == 16);
  EXPECT_NE(ccpu::toolchain_identity(t).options.find("-target-feature"), std::string::npos);
}

// A fatal error inside LLVM says what lla was compiling before the process ends.
TEST(FatalErrorReporterDeathTest, NamesTheCompileBeforeLlvmEndsTheProcess) {
  EXPECT_DEATH(
      {
        ccpu::install_fatal_error_reporter();
        ccpu::FatalErrorScope scope("cpu_test_kernel");
        llvm::report_fatal_error("simulated failure", false);
      },
      "lla: LLVM fatal error while compiling cpu_test_kernel: simulated failure");
}

}  // namespace
}  // namespace lla::testing
