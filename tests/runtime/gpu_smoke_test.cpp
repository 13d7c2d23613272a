// The runtime on a real device: context, pointer kinds, compile -> memory -> cache dispatch,
// stream-ordered workspace and concurrent callers. Numerical correctness against the reference
// is mamba2_forward_gpu_test's job; here outputs need only be written, finite and repeatable.
// Skips visibly without a GPU.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "api/context.h"
#include "api/context_internal.h"
#include "backend/cuda/cuda_backend.h"
#include "gpu_test_support.h"
#include "reference/dtype_codec.h"

namespace lla::runtime {
namespace {

using ::testing::HasSubstr;
using driver::check_cuda;
using driver::CudaDriver;

class DeviceBuffer {
 public:
  DeviceBuffer(const CudaDriver& d, size_t bytes) : d_(d), bytes_(bytes) {
    check_cuda(d_, d_.cuMemAlloc(&address_, bytes), "cuMemAlloc");
  }
  ~DeviceBuffer() { d_.cuMemFree(address_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* get() const { return reinterpret_cast<void*>(address_); }
  void upload(const std::vector<uint8_t>& bytes) const {
    check_cuda(d_, d_.cuMemcpyHtoD(address_, bytes.data(), bytes.size()), "cuMemcpyHtoD");
  }
  std::vector<uint8_t> download() const {
    std::vector<uint8_t> bytes(bytes_);
    check_cuda(d_, d_.cuMemcpyDtoH(bytes.data(), address_, bytes_), "cuMemcpyDtoH");
    return bytes;
  }

 private:
  const CudaDriver& d_;
  size_t bytes_;
  CUdeviceptr address_ = 0;
};

std::vector<uint8_t> bf16_bytes(const std::vector<float>& values) {
  std::vector<uint8_t> bytes(values.size() * 2);
  for (size_t i = 0; i < values.size(); ++i) {
    const uint16_t bits = reference::float_to_bf16(values[i]);
    std::memcpy(&bytes[2 * i], &bits, 2);
  }
  return bytes;
}

std::vector<uint8_t> f32_bytes(const std::vector<float>& values) {
  std::vector<uint8_t> bytes(values.size() * 4);
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

std::vector<float> uniform(size_t n, float lo, float hi, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// A bf16 Mamba-2 problem with random inputs on the device and an output poisoned with NaN.
struct DeviceProblem {
  DeviceProblem(const CudaDriver& d, int batch, int seq_len, int heads, int groups, int dim)
      : tokens(size_t(batch) * seq_len),
        q(d, tokens * groups * dim * 2),
        k(d, tokens * groups * dim * 2),
        v(d, tokens * heads * dim * 2),
        g(d, tokens * heads * 4),
        lambda(d, tokens * heads * lla_num_levels(seq_len) * 2) {
    lla_problem_init(&problem, LLA_VARIANT_MAMBA2, LLA_DTYPE_BF16, batch, seq_len, heads, groups,
                     dim, dim);
    std::mt19937 rng(1234);
    q.upload(bf16_bytes(uniform(tokens * groups * dim, -1, 1, rng)));
    k.upload(bf16_bytes(uniform(tokens * groups * dim, -1, 1, rng)));
    v.upload(bf16_bytes(uniform(tokens * heads * dim, -1, 1, rng)));
    g.upload(f32_bytes(uniform(tokens * heads, -0.2f, 0.0f, rng)));
    lambda.upload(bf16_bytes(uniform(tokens * heads * problem.levels, 0, 1, rng)));
    output_bytes = tokens * heads * dim * 2;
  }

  lla_forward_args args(const DeviceBuffer& o) const {
    lla_forward_args a;
    lla_forward_args_init(&a);
    a.q = q.get();
    a.k = k.get();
    a.v = v.get();
    a.g = static_cast<const float*>(g.get());
    a.lambda = lambda.get();
    a.o = o.get();
    return a;
  }

  size_t tokens;
  lla_problem problem;
  DeviceBuffer q, k, v, g, lambda;
  size_t output_bytes = 0;
};

void expect_finite_bf16(const std::vector<uint8_t>& bytes) {
  size_t non_finite = 0, zeros = 0;
  for (size_t i = 0; i + 1 < bytes.size(); i += 2) {
    uint16_t bits;
    std::memcpy(&bits, &bytes[i], 2);
    const float x = reference::bf16_to_float(bits);
    non_finite += !std::isfinite(x);
    zeros += x == 0.0f;
  }
  EXPECT_EQ(non_finite, 0u) << "of " << bytes.size() / 2 << " outputs";
  EXPECT_LT(zeros, bytes.size() / 4) << "most outputs are zero";
}

class GpuSmoke : public ::testing::Test {
 protected:
  void SetUp() override {
    LLA_SKIP_WITHOUT_GPU();
    ctx_ = std::make_unique<testing::GpuContext>(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_EQ(ctx_->status(), LLA_SUCCESS) << ctx_->error();
    current_ = context_backend(*ctx()).activate();
  }
  void TearDown() override {
    current_.reset();
    ctx_.reset();
  }
  lla_context* ctx() const { return ctx_->get(); }
  const CudaDriver& driver() const { return driver::cuda_driver(); }

  CUstream new_stream() {
    CUstream s = nullptr;
    check_cuda(driver(), driver().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
    return s;
  }
  void fill(const DeviceBuffer& b, size_t bytes, uint8_t value) {
    b.upload(std::vector<uint8_t>(bytes, value));
  }

  std::unique_ptr<testing::GpuContext> ctx_;
  std::unique_ptr<backend::Activation> current_;
};

TEST_F(GpuSmoke, ContextDescribesTheDevice) {
  const compiler::DeviceInfo& info = context_device_info(*ctx());
  EXPECT_FALSE(info.name.empty());
  EXPECT_GT(info.sm_count, 0);
  EXPECT_GE(info.max_shared_per_block_optin, 48 * 1024);
  EXPECT_EQ(info.target, compiler::cuda_target(driver::arch_for_compute_capability(info.cc_major, info.cc_minor)));
  EXPECT_THAT(context_cache_path(*ctx()), HasSubstr(ctx_->cache_dir()));
}

TEST_F(GpuSmoke, NullArgumentsNameTheField) {
  lla_problem p;
  lla_problem_init(&p, LLA_VARIANT_MAMBA2, LLA_DTYPE_BF16, 1, 64, 1, 1, 64, 64);
  EXPECT_EQ(lla_forward(ctx(), &p, nullptr, nullptr), LLA_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(lla_last_error(ctx()), HasSubstr("lla_forward_args"));
  EXPECT_EQ(lla_forward(ctx(), nullptr, nullptr, nullptr), LLA_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(lla_last_error(ctx()), HasSubstr("lla_problem"));
}

// The driver's answers, and the backend's memory rule over them (what validation asks).
TEST_F(GpuSmoke, PointerKindsAsTheDriverReportsThem) {
  using backend::cuda::locate_pointer;
  using backend::cuda::MemoryKind;
  const backend::Backend& cuda = context_backend(*ctx());
  DeviceBuffer device(driver(), 1024);
  EXPECT_EQ(locate_pointer(driver(), device.get()).kind, MemoryKind::device);
  EXPECT_EQ(locate_pointer(driver(), device.get()).device_ordinal, 0);
  EXPECT_EQ(locate_pointer(driver(), static_cast<char*>(device.get()) + 512).kind, MemoryKind::device);
  EXPECT_EQ(cuda.memory_problem(device.get()), std::nullopt);

  CUdeviceptr managed = 0;
  check_cuda(driver(), driver().cuMemAllocManaged(&managed, 1024, CU_MEM_ATTACH_GLOBAL),
             "cuMemAllocManaged");
  EXPECT_EQ(locate_pointer(driver(), reinterpret_cast<void*>(managed)).kind, MemoryKind::managed);
  EXPECT_EQ(cuda.memory_problem(reinterpret_cast<void*>(managed)), std::nullopt);
  driver().cuMemFree(managed);

  void* pinned = nullptr;
  check_cuda(driver(), driver().cuMemAllocHost(&pinned, 1024), "cuMemAllocHost");
  EXPECT_EQ(locate_pointer(driver(), pinned).kind, MemoryKind::host);
  EXPECT_THAT(cuda.memory_problem(pinned).value_or(""), HasSubstr("page-locked host memory"));
  driver().cuMemFreeHost(pinned);

  std::vector<char> pageable(1024);
  EXPECT_EQ(locate_pointer(driver(), pageable.data()).kind, MemoryKind::unregistered);
  EXPECT_THAT(cuda.memory_problem(pageable.data()).value_or(""), HasSubstr("not CUDA memory"));
}

TEST_F(GpuSmoke, RefusesHostMemory) {
  DeviceProblem dp(driver(), 1, 64, 2, 1, 64);
  DeviceBuffer o(driver(), dp.output_bytes);
  lla_forward_args a = dp.args(o);
  std::vector<uint8_t> host_q(dp.tokens * 64 * 2);
  a.q = host_q.data();
  EXPECT_EQ(lla_forward(ctx(), &dp.problem, &a, nullptr), LLA_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(lla_last_error(ctx()), HasSubstr("lla_forward_args.q"));
  EXPECT_THAT(lla_last_error(ctx()), HasSubstr("not CUDA memory"));
}

TEST_F(GpuSmoke, CompilesThenServesFromMemoryThenFromTheCache) {
  DeviceProblem dp(driver(), 2, 200, 4, 2, 64);  // several chunks: the workspace path runs
  DeviceBuffer o(driver(), dp.output_bytes);
  const lla_forward_args a = dp.args(o);
  const CUstream stream = new_stream();

  fill(o, dp.output_bytes, 0xFF);  // NaN in bf16
  ASSERT_EQ(lla_forward(ctx(), &dp.problem, &a, stream), LLA_SUCCESS) << lla_last_error(ctx());
  check_cuda(driver(), driver().cuStreamSynchronize(stream), "cuStreamSynchronize");
  ASSERT_NE(last_dispatch(compiler::Pass::forward), nullptr);
  EXPECT_EQ(last_dispatch(compiler::Pass::forward)->source, dispatch::KernelSource::compile);
  EXPECT_GT(last_dispatch(compiler::Pass::forward)->compile_ms, 0.0);
  EXPECT_GT(last_dispatch(compiler::Pass::forward)->workspace_bytes, 0u);
  const std::vector<uint8_t> first = o.download();
  expect_finite_bf16(first);

  fill(o, dp.output_bytes, 0xFF);
  ASSERT_EQ(lla_forward(ctx(), &dp.problem, &a, stream), LLA_SUCCESS) << lla_last_error(ctx());
  check_cuda(driver(), driver().cuStreamSynchronize(stream), "cuStreamSynchronize");
  EXPECT_EQ(last_dispatch(compiler::Pass::forward)->source, dispatch::KernelSource::memory);
  EXPECT_EQ(last_dispatch(compiler::Pass::forward)->compile_ms, 0.0);
  EXPECT_EQ(o.download(), first) << "the same call gave different bytes";

  // A second context over the same cache folder finds the binary there (tuning off, as the
  // first: a tuned winner may be another kernel, with other rounding).
  lla_options options;
  lla_options_init(&options);
  options.cache_dir = ctx_->cache_dir().c_str();
  options.tune = LLA_TUNE_OFF;
  lla_context* second = nullptr;
  ASSERT_EQ(lla_create(&options, &second), LLA_SUCCESS) << lla_last_error(nullptr);
  fill(o, dp.output_bytes, 0xFF);
  EXPECT_EQ(lla_forward(second, &dp.problem, &a, stream), LLA_SUCCESS) << lla_last_error(second);
  check_cuda(driver(), driver().cuStreamSynchronize(stream), "cuStreamSynchronize");
  EXPECT_EQ(last_dispatch(compiler::Pass::forward)->source, dispatch::KernelSource::cache);
  EXPECT_EQ(o.download(), first);
  lla_destroy(second);
  driver().cuStreamDestroy(stream);
}

TEST_F(GpuSmoke, ConcurrentCallersShareOneCompile) {
  constexpr int kThreads = 4;
  DeviceProblem dp(driver(), 1, 300, 2, 1, 32);
  std::vector<std::unique_ptr<DeviceBuffer>> outputs;
  std::vector<CUstream> streams;
  for (int i = 0; i < kThreads; ++i) {
    outputs.push_back(std::make_unique<DeviceBuffer>(driver(), dp.output_bytes));
    fill(*outputs.back(), dp.output_bytes, 0xFF);
    streams.push_back(new_stream());
  }
  std::vector<lla_status> status(kThreads, LLA_ERR_INTERNAL);
  std::vector<std::string> errors(kThreads);
  std::vector<dispatch::KernelSource> sources(kThreads, dispatch::KernelSource::memory);
  std::vector<std::thread> threads;
  // The threads have no current context of their own: lla_forward must bring its own.
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] {
      const lla_forward_args a = dp.args(*outputs[i]);
      status[i] = lla_forward(ctx(), &dp.problem, &a, streams[i]);
      errors[i] = lla_last_error(ctx());
      if (status[i] == LLA_SUCCESS) sources[i] = last_dispatch(compiler::Pass::forward)->source;
    });
  for (std::thread& t : threads) t.join();
  int compiles = 0;
  for (int i = 0; i < kThreads; ++i) {
    ASSERT_EQ(status[i], LLA_SUCCESS) << "thread " << i << ": " << errors[i];
    EXPECT_EQ(errors[i], "");
    compiles += sources[i] == dispatch::KernelSource::compile;
    check_cuda(driver(), driver().cuStreamSynchronize(streams[i]), "cuStreamSynchronize");
  }
  EXPECT_EQ(compiles, 1);
  const std::vector<uint8_t> first = outputs[0]->download();
  expect_finite_bf16(first);
  for (int i = 1; i < kThreads; ++i) EXPECT_EQ(outputs[i]->download(), first) << "thread " << i;
  for (CUstream s : streams) driver().cuStreamDestroy(s);
}

}  // namespace
}  // namespace lla::runtime
