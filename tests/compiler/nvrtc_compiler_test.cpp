#include "nvrtc/nvrtc_compiler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>
#include <string>

namespace lla::compiler {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// axpy has 1 KiB of static shared memory; gather a 2 KiB local array, hence a stack frame.
const char* const kHandWritten = R"(
extern "C" __global__ void axpy(float a, const float* x, float* y, int n) {
  __shared__ float tile[256];
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  tile[threadIdx.x] = x[i];
  __syncthreads();
  if (i < n) y[i] = a * tile[255 - threadIdx.x] + y[i];
}
extern "C" __global__ void gather(float* out, int n) {
  float acc[512];
  for (int i = 0; i < 512; ++i) acc[i] = out[i * n];
  float s = 0;
  for (int i = 0; i < n; ++i) s += acc[(i * 7) % 512];
  out[0] = s;
}
)";

GeneratedSource hand_written() { return {"hand_written", kHandWritten, {"axpy", "gather"}}; }

const KernelResources* find_kernel(const std::vector<KernelResources>& all,
                                   const std::string& name) {
  for (const KernelResources& r : all)
    if (r.kernel == name) return &r;
  return nullptr;
}

TEST(NvrtcOptions, TargetTheArchWithoutFastMath) {
  const std::vector<std::string> options = nvrtc_options("sm_90a");
  EXPECT_EQ(options.front(), "--gpu-architecture=sm_90a");
  const std::string joined = join_options(options);
  EXPECT_EQ(joined,
            "--gpu-architecture=sm_90a -std=c++17 -default-device --ptxas-options=-v -lineinfo "
            "--no-cache --split-compile=0");
  EXPECT_THAT(joined, Not(HasSubstr("fast")));
  EXPECT_EQ(join_options({}), "");
}

TEST(NvrtcVersion, IsMajorDotMinor) {
  EXPECT_TRUE(std::regex_match(nvrtc_version_string(), std::regex(R"(\d+\.\d+)")))
      << nvrtc_version_string();
}

class CompileForArch : public ::testing::TestWithParam<const char*> {};

TEST_P(CompileForArch, GivesACubinAndItsResources) {
  const std::string arch = GetParam();
  const CompiledModule m = compile(hand_written(), arch);
  ASSERT_GE(m.cubin.size(), 4u);
  EXPECT_EQ(std::string(m.cubin.begin(), m.cubin.begin() + 4), "\x7f" "ELF");
  EXPECT_TRUE(m.ptx.empty());
  EXPECT_EQ(m.options, join_options(nvrtc_options(arch)));
  EXPECT_GT(m.compile_ms, 0.0);
  EXPECT_THAT(m.log, HasSubstr("Compiling entry function 'axpy' for '" + arch + "'"));

  ASSERT_EQ(m.resources.size(), 2u) << m.log;
  const KernelResources* axpy = find_kernel(m.resources, "axpy");
  ASSERT_NE(axpy, nullptr) << m.log;
  EXPECT_GT(axpy->registers, 0);
  EXPECT_EQ(axpy->shared_bytes, 1024);
  EXPECT_EQ(axpy->stack_frame_bytes, 0);
  EXPECT_EQ(axpy->spill_store_bytes, 0);
  const KernelResources* gather = find_kernel(m.resources, "gather");
  ASSERT_NE(gather, nullptr) << m.log;
  EXPECT_EQ(gather->stack_frame_bytes, 2048);
  EXPECT_EQ(gather->shared_bytes, 0);
}

TEST_P(CompileForArch, GivesPtxOfTheSameCompileWhenAsked) {
  const std::string arch = GetParam();
  const CompiledModule m = compile(hand_written(), arch, true);
  EXPECT_FALSE(m.cubin.empty());
  EXPECT_THAT(m.ptx, HasSubstr(".target " + arch));
  EXPECT_THAT(m.ptx, HasSubstr(".entry axpy("));
  EXPECT_THAT(m.ptx, HasSubstr(".entry gather("));
  EXPECT_EQ(m.ptx.find('\0'), std::string::npos);
}

// With a CUDA driver installed, NVRTC's own cache would skip ptxas on the second compile.
TEST_P(CompileForArch, ReportsResourcesOnEveryCompile) {
  const std::string arch = GetParam();
  compile(hand_written(), arch);
  const CompiledModule again = compile(hand_written(), arch);
  EXPECT_EQ(again.resources.size(), 2u) << again.log;
}

INSTANTIATE_TEST_SUITE_P(Targets, CompileForArch, ::testing::Values("sm_80", "sm_90a"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

TEST(Compile, ErrorQuotesTheGeneratedLineWithContext) {
  const GeneratedSource broken{"broken_kernel",
                               "extern \"C\" __global__ void k(float* x) {\n"
                               "  int before = 1;\n"
                               "  x[0] = undefined_name + before;\n"
                               "  int after = 2;\n"
                               "}\n",
                               {"k"}};
  try {
    compile(broken, "sm_80");
    FAIL() << "the broken source compiled";
  } catch (const CompileError& e) {
    const std::string what = e.what();
    EXPECT_THAT(what, HasSubstr("NVRTC_ERROR_COMPILATION"));
    EXPECT_THAT(what, HasSubstr("broken_kernel.cu(3): error: identifier \"undefined_name\" is "
                                "undefined"));
    EXPECT_THAT(what, HasSubstr("        2 |   int before = 1;\n"
                                "  >     3 |   x[0] = undefined_name + before;\n"
                                "        4 |   int after = 2;\n"));
    EXPECT_THAT(e.log(), HasSubstr("undefined_name"));
  }
}

TEST(Compile, ErrorOnTheFirstLineQuotesWhatExists) {
  const GeneratedSource broken{"first_line", "this is not cuda\n", {}};
  try {
    compile(broken, "sm_80");
    FAIL() << "the broken source compiled";
  } catch (const CompileError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("  >     1 | this is not cuda\n"));
  }
}

TEST(Compile, UnknownArchIsACompileErrorWithTheNvrtcCode) {
  try {
    compile(hand_written(), "sm_13");
    FAIL() << "sm_13 compiled";
  } catch (const CompileError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("NVRTC_ERROR_INVALID_OPTION"));
  }
}

TEST(Compile, VirtualArchGivesNoCubinAndSaysSo) {
  try {
    compile(hand_written(), "compute_90");
    FAIL() << "compute_90 gave a cubin";
  } catch (const CompileError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("not a real target"));
  }
}

// Captured from NVRTC 13.0 (--ptxas-options=-v --maxrregcount=24, sm_80): a non-inlined device
// function reports its own properties after the entry that calls it, and module-level cmem[3]
// (__constant__ data) sits on the gmem line.
const char* const kCapturedLog =
    "ptxas info    : Overriding maximum register limit 256 for 'k' with  24 of maxrregcount "
    "option\n"
    "ptxas info    : Overriding maximum register limit 256 for 'axpy' with  24 of maxrregcount "
    "option\n"
    "ptxas info    : 0 bytes gmem, 256 bytes cmem[3]\n"
    "ptxas info    : Compiling entry function 'k' for 'sm_80'\n"
    "ptxas info    : Function properties for k\n"
    "ptxas         .     352 bytes stack frame, 36 bytes spill stores, 36 bytes spill loads\n"
    "ptxas info    : Used 24 registers, used 0 barriers, 352 bytes cumulative stack size, 364 "
    "bytes cmem[0]\n"
    "ptxas info    : Compile time = 47.534 ms\n"
    "ptxas info    : Function properties for _Z6helperPfi\n"
    "ptxas         .     8 bytes stack frame, 4 bytes spill stores, 4 bytes spill loads\n"
    "ptxas info    : Compiling entry function 'axpy' for 'sm_80'\n"
    "ptxas info    : Function properties for axpy\n"
    "ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
    "ptxas info    : Used 10 registers, used 1 barriers, 1024 bytes smem, 380 bytes "
    "cmem[0]\n"
    "ptxas info    : Compile time = 2.809 ms\n";

TEST(PtxasResources, ParsesACapturedLog) {
  const std::vector<KernelResources> r = parse_ptxas_resources(kCapturedLog);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].kernel, "k");
  EXPECT_EQ(r[0].registers, 24);
  EXPECT_EQ(r[0].shared_bytes, 0);
  EXPECT_EQ(r[0].stack_frame_bytes, 352);
  EXPECT_EQ(r[0].spill_store_bytes, 36);
  EXPECT_EQ(r[0].spill_load_bytes, 36);
  EXPECT_EQ(r[0].constant_bytes, 364);
  EXPECT_EQ(r[1].kernel, "axpy");
  EXPECT_EQ(r[1].registers, 10);
  EXPECT_EQ(r[1].shared_bytes, 1024);
  EXPECT_EQ(r[1].stack_frame_bytes, 0);
  EXPECT_EQ(r[1].spill_store_bytes, 0);
  EXPECT_EQ(r[1].spill_load_bytes, 0);
  EXPECT_EQ(r[1].constant_bytes, 380);
}

TEST(PtxasResources, EmptyWithoutAReport) {
  EXPECT_TRUE(parse_ptxas_resources("").empty());
  EXPECT_TRUE(parse_ptxas_resources("ptxas info    : 0 bytes gmem\n").empty());
}

// Points CUDA_HOME and PATH at an empty folder for one test.
class ScopedToolSearch {
 public:
  ScopedToolSearch() : cuda_home_(get("CUDA_HOME")), path_(get("PATH")) {
    setenv("CUDA_HOME", "/nonexistent-lla-test", 1);
    setenv("PATH", "/nonexistent-lla-test", 1);
  }
  ~ScopedToolSearch() {
    restore("CUDA_HOME", cuda_home_);
    restore("PATH", path_);
  }

 private:
  static std::pair<bool, std::string> get(const char* name) {
    const char* v = std::getenv(name);
    return {v != nullptr, v ? v : ""};
  }
  static void restore(const char* name, const std::pair<bool, std::string>& v) {
    if (v.first)
      setenv(name, v.second.c_str(), 1);
    else
      unsetenv(name);
  }
  std::pair<bool, std::string> cuda_home_, path_;
};

bool cuobjdump_available() {
  try {
    disassemble_sass({});
  } catch (const std::runtime_error& e) {
    return std::string(e.what()).rfind("cuobjdump not found", 0) != 0;
  }
  return true;
}

TEST(DisassembleSass, SaysWhenCuobjdumpIsMissing) {
  ScopedToolSearch search;
  if (cuobjdump_available()) GTEST_SKIP() << "/usr/local/cuda/bin/cuobjdump exists";
  try {
    disassemble_sass({1, 2, 3});
    FAIL() << "no error without cuobjdump";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("cuobjdump not found"));
  }
}

TEST(DisassembleSass, ShowsTheEntryPoints) {
  if (!cuobjdump_available()) GTEST_SKIP() << "cuobjdump is not installed here";
  const std::string sass = disassemble_sass(compile(hand_written(), "sm_80").cubin);
  EXPECT_THAT(sass, HasSubstr("axpy"));
  EXPECT_THAT(sass, HasSubstr("EXIT"));
}

}  // namespace
}  // namespace lla::compiler
