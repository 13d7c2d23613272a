// The backend seam on the CPU: the registry and lla_options' backend choice, the CUDA
// toolchain (NVRTC needs no device), the binary key it feeds, and the dispatcher and the
// candidate bench driving a backend that runs nothing (tests/support/fake_backend.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "api/forward_call.h"
#include "api/status_error.h"
#include "backend/cuda/cuda_driver.h"
#include "backend/cuda/cuda_toolchain.h"
#include "backend/launch_args.h"
#include "backend/registry.h"
#include "dispatch/binary_provider.h"
#include "dispatch/dispatcher.h"
#include "fake_backend.h"
#include "nvrtc/nvrtc_compiler.h"
#include "reference/dtype_codec.h"
#include "tuning/backend_candidate_bench.h"

namespace lla::runtime {
namespace {

using ::testing::HasSubstr;
using test::FakeBackend;

std::string scratch_dir(const char* name) {
  const std::string dir = std::string(LLA_TEST_BINARY_DIR) + "/backend-seam-" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

lla_status status_of(const std::function<void()>& call, std::string* message) {
  try {
    call();
  } catch (const StatusError& e) {
    *message = e.what();
    return e.status();
  }
  return LLA_SUCCESS;
}

TEST(BackendRegistry, TheCpuBackendIsNotInThisBuildYet) {
  std::string message;
  EXPECT_EQ(status_of([] { backend::open_backend(LLA_BACKEND_CPU, {}); }, &message), LLA_ERR_NOT_SUPPORTED);
  EXPECT_EQ(message, "lla_options.backend: the cpu backend is not available in this build of lla yet");
  EXPECT_EQ(backend::find_toolchain(compiler::BackendKind::cpu), nullptr);
  lla_options options;
  lla_options_init(&options);
  EXPECT_EQ(options.backend, LLA_BACKEND_AUTO);
  options.backend = LLA_BACKEND_CPU;
  lla_context* ctx = reinterpret_cast<lla_context*>(0x1);
  EXPECT_EQ(lla_create(&options, &ctx), LLA_ERR_NOT_SUPPORTED);
  EXPECT_EQ(ctx, nullptr);
  EXPECT_THAT(lla_last_error(nullptr), HasSubstr("lla_options.backend: the cpu backend"));
}

TEST(BackendRegistry, AValueThatIsNoBackendIsNamed) {
  lla_options options;
  lla_options_init(&options);
  options.backend = static_cast<lla_backend>(7);
  lla_context* ctx = nullptr;
  EXPECT_EQ(lla_create(&options, &ctx), LLA_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(lla_last_error(nullptr), HasSubstr("lla_options.backend: 7 is not an lla_backend"));
  EXPECT_EQ(backend::lla_backend_name(static_cast<lla_backend>(7)), nullptr);
}

TEST(BackendRegistry, AutoOnAMachineWithoutADeviceSaysWhyCudaCannotRun) {
  const auto& loaded = driver::load_cuda_driver();
  if (loaded.driver) GTEST_SKIP() << "a CUDA device is usable here; this test covers machines without one";
  std::string message;
  EXPECT_EQ(status_of([] { backend::open_backend(LLA_BACKEND_AUTO, {}); }, &message), LLA_ERR_NO_DEVICE);
  EXPECT_EQ(message, loaded.unavailable_reason);
  EXPECT_EQ(status_of([] { backend::open_backend(LLA_BACKEND_CUDA, {}); }, &message), LLA_ERR_NO_DEVICE);
}

TEST(BackendRegistry, CudaIsRegisteredWithItsToolchain) {
  ASSERT_FALSE(backend::registered_backends().empty());
  const backend::BackendEntry& cuda = backend::registered_backends().front();
  EXPECT_EQ(cuda.kind, compiler::BackendKind::cuda);
  EXPECT_EQ(cuda.choice, LLA_BACKEND_CUDA);
  EXPECT_EQ(backend::find_toolchain(compiler::BackendKind::cuda), &cuda.toolchain());
  EXPECT_STREQ(backend::lla_backend_name(LLA_BACKEND_AUTO), "auto");
}

TEST(CudaToolchain, IdentityIsTheNvrtcVersionOptionsAndArch) {
  const backend::Toolchain& cuda = backend::cuda::cuda_toolchain();
  const backend::ToolchainIdentity id = cuda.identity(compiler::cuda_target("sm_90a"));
  EXPECT_EQ(id.version, compiler::nvrtc_version_string());
  EXPECT_EQ(id.options, compiler::join_options(compiler::nvrtc_options("sm_90a")));
  EXPECT_EQ(id.target, "sm_90a");
  std::string message;
  EXPECT_EQ(status_of([&] { cuda.identity(compiler::cuda_target("sm_75")); }, &message), LLA_ERR_NOT_SUPPORTED);
  EXPECT_THAT(message, HasSubstr("arch=sm_75"));
  EXPECT_EQ(status_of([&] { cuda.identity({compiler::BackendKind::cpu, "znver3"}); }, &message), LLA_ERR_INTERNAL);
}

TEST(CudaToolchain, GeneratesCompilesAndReportsResources) {
  const backend::Toolchain& cuda = backend::cuda::cuda_toolchain();
  compiler::KernelSpec spec;
  spec.family = {compiler::Variant::mamba2, compiler::Pass::decode};
  spec.target = compiler::cuda_target("sm_80");
  const compiler::GeneratedSource source = cuda.generate(spec);
  const backend::CompiledImage image = cuda.compile(source, spec.target);
  EXPECT_FALSE(image.bytes.empty());
  EXPECT_GT(image.compile_ms, 0);
  const std::vector<compiler::KernelResources> resources = cuda.resources(image.log);
  ASSERT_EQ(resources.size(), source.entry_points.size());

  std::string message;
  spec.key_dim = 24;
  EXPECT_EQ(status_of([&] { cuda.generate(spec); }, &message), LLA_ERR_NOT_SUPPORTED);
  EXPECT_THAT(message, HasSubstr("key_dim=24"));
  compiler::GeneratedSource broken = source;
  broken.source += "\nthis is not CUDA;\n";
  EXPECT_EQ(status_of([&] { cuda.compile(broken, spec.target); }, &message), LLA_ERR_COMPILE);
}

// Each part of the key: the generator version, the source, and every field of the toolchain's
// identity (the compile options and NVRTC version follow the target's arch here).
TEST(BinaryKey, CarriesTheSourceAndTheToolchainIdentity) {
  const backend::Toolchain& cuda = backend::cuda::cuda_toolchain();
  compiler::KernelSpec spec;
  spec.family = {compiler::Variant::mamba2, compiler::Pass::decode};
  const compiler::GeneratedSource source = cuda.generate(spec);
  const cache::BinaryKey key = dispatch::binary_key(cuda, source, spec.target);
  const backend::ToolchainIdentity id = cuda.identity(spec.target);
  EXPECT_EQ(key.generator_version, compiler::kGeneratorVersion);
  EXPECT_EQ(key.compile_options, id.options);
  EXPECT_EQ(key.nvrtc_version, id.version);
  EXPECT_EQ(key.arch, id.target);
  const cache::BinaryKey other_arch = dispatch::binary_key(cuda, source, compiler::cuda_target("sm_90"));
  EXPECT_NE(cache::key_digest(other_arch), cache::key_digest(key));
  EXPECT_NE(other_arch.compile_options, key.compile_options);
  compiler::GeneratedSource edited = source;
  edited.source += " ";
  EXPECT_NE(dispatch::binary_key(cuda, edited, spec.target).source_hash, key.source_hash);
}

// A decode step's call: the pass's tensors in fake device memory, bound by role.
struct DecodeCall {
  explicit DecodeCall(const FakeBackend& backend) {
    call.request.family = {compiler::Variant::mamba2, compiler::Pass::decode};
    call.request.key_dim = call.request.value_dim = 64;
    call.request.levels = 8;
    call.request.shape.batch = 2;
    call.request.shape.heads = 2;
    call.request.shape.groups = 1;
    call.request.shape.max_position = 100;
    call.shape = call.request.shape;
    for (const compiler::TensorDecl& t : compiler::tensors_of(call.request.family)) {
      memory.push_back(backend.allocate(64));
      call.buffers.bind(t.role, memory.back()->data());
    }
  }
  dispatch::Call call;
  std::vector<std::unique_ptr<backend::DeviceMemory>> memory;
};

TEST(Dispatcher, CompilesThenServesFromMemoryThenFromTheCache) {
  FakeBackend fake;
  const std::string dir = scratch_dir("dispatch");
  const Logger logger(LLA_LOG_ERROR);
  DecodeCall decode(fake);
  {
    cache::BinaryCache cache(dir);
    dispatch::Dispatcher dispatcher(fake, &cache, logger, {tuner::TunePolicy::force, {}});
    const dispatch::DispatchInfo first = dispatcher.run(decode.call);
    EXPECT_EQ(first.source, dispatch::KernelSource::compile);
    EXPECT_GT(first.compile_ms, 0);
    EXPECT_EQ(first.chosen_by, tuner::Choice::Source::heuristic);  // decode does not tune
    EXPECT_EQ(first.kernel, compiler::describe(first.spec));
    EXPECT_EQ(first.spec.target, fake.device().target);
    EXPECT_EQ(dispatcher.run(decode.call).source, dispatch::KernelSource::memory);
    EXPECT_EQ(fake.loads, 1);
  }
  cache::BinaryCache cache(dir);
  dispatch::Dispatcher fresh(fake, &cache, logger, {tuner::TunePolicy::off, {}});
  EXPECT_EQ(fresh.run(decode.call).source, dispatch::KernelSource::cache);
  EXPECT_EQ(fake.loads, 2);
}

TEST(Dispatcher, HandsTheBackendThePlanAndTheCallsTensorsByRole) {
  FakeBackend fake;
  const Logger logger(LLA_LOG_ERROR);
  DecodeCall decode(fake);
  decode.call.shape.advance_positions = true;
  dispatch::Dispatcher dispatcher(fake, nullptr, logger, {});
  const dispatch::DispatchInfo info = dispatcher.run(decode.call);
  ASSERT_EQ(fake.runs.size(), 1u);
  const FakeBackend::Run& run = fake.runs.front();
  ASSERT_EQ(run.plan.launches.size(), 2u);  // the step, and the advance of the positions
  EXPECT_EQ(info.launches, 2u);
  for (const compiler::Launch& l : run.plan.launches)
    for (const compiler::KernelArg& arg : l.args) {
      if (const auto* buffer = std::get_if<compiler::BufferArg>(&arg)) {
        EXPECT_NE(run.buffers.address(buffer->buffer), nullptr);
        EXPECT_EQ(run.buffers.address(buffer->buffer), decode.call.buffers.address(buffer->buffer));
      }
    }
}

TEST(Dispatcher, AProblemNoKernelServesIsNotSupportedNamingTheFamily) {
  FakeBackend fake;
  const Logger logger(LLA_LOG_ERROR);
  DecodeCall decode(fake);
  decode.call.shape.max_position = 1 << 20;  // more than 8 levels hold
  dispatch::Dispatcher dispatcher(fake, nullptr, logger, {});
  std::string message;
  EXPECT_EQ(status_of([&] { dispatcher.run(decode.call); }, &message), LLA_ERR_NOT_SUPPORTED);
  EXPECT_THAT(message, HasSubstr("lla has no mamba2_decode kernel for this problem on Fake Device (sm_80)"));
}

compiler::Request small_forward() {
  compiler::Request r;
  r.dtype = compiler::Dtype::f32;
  r.key_dim = r.value_dim = 16;
  r.levels = 7;
  r.shape.batch = 1;
  r.shape.seq_len = 64;
  r.shape.heads = 2;
  r.shape.groups = 1;
  return r;
}

TEST(BackendCandidateBench, AllocatesTheFamilysTensorsAndDrawsInputsFromTheirRanges) {
  FakeBackend fake;
  const Logger logger(LLA_LOG_ERROR);
  tuning::BackendCandidateBench bench(fake, nullptr, logger, small_forward());
  ASSERT_EQ(fake.runs.size(), 1u);  // the trusted result
  const backend::BoundBuffers& bound = fake.runs.front().buffers;
  const std::vector<uint8_t>* q = fake.bytes_at(bound.address(compiler::Buffer::q));
  const std::vector<uint8_t>* g = fake.bytes_at(bound.address(compiler::Buffer::g));
  const std::vector<uint8_t>* o = fake.bytes_at(bound.address(compiler::Buffer::o));
  ASSERT_TRUE(q && g && o);
  EXPECT_EQ(q->size(), 1u * 64 * 1 * 16 * 4);
  EXPECT_EQ(o->size(), 1u * 64 * 2 * 16 * 4);
  EXPECT_EQ(bound.address(compiler::Buffer::beta), nullptr);
  EXPECT_EQ(bound.address(compiler::Buffer::initial_state), nullptr);  // optional: left out
  for (double x : reference::decode(*g, compiler::Dtype::f32)) {
    EXPECT_LE(x, 0.0);
    EXPECT_GE(x, -0.1);
  }
  for (double x : reference::decode(*q, compiler::Dtype::f32)) EXPECT_LE(std::abs(x), 1.0);
  EXPECT_EQ(bench.provenance().device_name, "Fake Device");
  EXPECT_FALSE(bench.provenance().nvrtc_version.empty());
}

TEST(BackendCandidateBench, TimesACandidateThatMatchesAndFailsOneThatWritesNothing) {
  FakeBackend fake;
  const Logger logger(LLA_LOG_ERROR);
  const compiler::Request request = small_forward();
  tuning::BackendCandidateBench bench(fake, nullptr, logger, request);
  compiler::KernelSpec other = compiler::family_for(request.family).heuristic(request, fake.device());
  other.tile.set("block_v", 16);
  other.tile.set("block_k", 16);
  const tuner::PreparedCandidate candidate = bench.prepare(other);
  EXPECT_FALSE(candidate.resources.empty());
  fake.sample_ms = 0.25;
  const std::vector<double> samples = bench.measure(candidate, 2, 20);
  EXPECT_EQ(samples, std::vector<double>(20, 0.25));
  fake.write_outputs = false;
  try {
    bench.measure(candidate, 0, 20);
    FAIL() << "a candidate that wrote nothing was timed";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("unwritten or NaN"));
  }
}

TEST(LaunchArgs, AParameterStructGetsTheCallsAddresses) {
  struct Params {
    const void* k;
    int32_t heads;
    const void* none;
  };
  const compiler::ParamBlock block =
      compiler::param_block(Params{nullptr, 7, nullptr}, {{offsetof(Params, k), compiler::BufferArg{compiler::Buffer::k, 64}},
                                                          {offsetof(Params, none), compiler::NullPointer{}}});
  const std::vector<uint8_t> bound = backend::bind_param_block(block, [](const compiler::BufferArg& a) {
    return (a.buffer == compiler::Buffer::k ? uint64_t{0x7000} : uint64_t{0}) + a.offset_bytes;
  });
  Params read;
  std::memcpy(&read, bound.data(), sizeof read);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(read.k), 0x7040u);
  EXPECT_EQ(read.heads, 7);
  EXPECT_EQ(read.none, nullptr);
}

TEST(ForwardCall, TheBackendSaysWhatMemoryItCanUse) {
  FakeBackend fake;
  lla_problem p;
  lla_problem_init(&p, LLA_VARIANT_MAMBA2, LLA_DTYPE_BF16, 1, 16, 1, 1, 16, 16);
  std::vector<std::unique_ptr<backend::DeviceMemory>> memory;
  const auto tensor = [&] {
    memory.push_back(fake.allocate(4096));
    return memory.back()->data();
  };
  lla_forward_args a{};
  a.q = tensor();
  a.k = tensor();
  a.v = tensor();
  a.g = static_cast<const float*>(tensor());
  a.lambda = tensor();
  a.o = tensor();
  EXPECT_TRUE(validate_forward(&p, &a, fake).ok()) << validate_forward(&p, &a, fake).message;
  std::vector<uint8_t> host(4096);
  a.v = host.data();
  const ValidationResult r = validate_forward(&p, &a, fake);
  EXPECT_EQ(r.status, LLA_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(r.message, HasSubstr("lla_forward_args.v: "));
  EXPECT_THAT(r.message, HasSubstr("is not memory of the fake device"));
}

}  // namespace
}  // namespace lla::runtime
