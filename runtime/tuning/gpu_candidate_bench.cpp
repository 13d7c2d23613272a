#include "tuning/gpu_candidate_bench.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>

#include "dispatch/binary_provider.h"
#include "dispatch/module_launch.h"
#include "families/kernel_family.h"
#include "reference/dtype_codec.h"

namespace lla::runtime::tuning {

namespace {

constexpr uint32_t kInputSeed = 20261122;

std::vector<double> uniform(size_t n, double low, double high, std::mt19937& random) {
  std::uniform_real_distribution<double> draw(low, high);
  std::vector<double> values(n);
  for (double& v : values) v = draw(random);
  return values;
}

}  // namespace

struct GpuCandidateBench::Inputs {
  Inputs(const driver::CudaDriver& d, const compiler::Request& r)
      : tokens(size_t(r.shape.batch) * r.shape.seq_len),
        element_bytes(compiler::dtype_bytes(r.dtype)),
        q(d, tokens * r.shape.groups * r.key_dim * element_bytes),
        k(d, q.bytes()),
        v(d, tokens * r.shape.heads * r.value_dim * element_bytes),
        g(d, tokens * r.shape.heads * sizeof(float)),
        lambda(d, tokens * r.shape.heads * r.levels * element_bytes),
        o(d, v.bytes()) {
    std::mt19937 random(kInputSeed);
    const size_t qk = tokens * r.shape.groups * r.key_dim;
    q.upload(reference::encode(uniform(qk, -1, 1, random), r.dtype));
    k.upload(reference::encode(uniform(qk, -1, 1, random), r.dtype));
    v.upload(
        reference::encode(uniform(tokens * r.shape.heads * r.value_dim, -1, 1, random), r.dtype));
    g.upload(
        reference::encode(uniform(tokens * r.shape.heads, -0.1, 0, random), compiler::Dtype::f32));
    lambda.upload(
        reference::encode(uniform(tokens * r.shape.heads * r.levels, 0.5, 1.5, random), r.dtype));
  }
  size_t tokens;
  size_t element_bytes;
  DeviceBuffer q, k, v, g, lambda, o;
};

// A candidate's module loaded and its launch plan bound to the bench's buffers; unloaded when
// it goes.
class GpuCandidateBench::LoadedCandidate {
 public:
  LoadedCandidate(const GpuCandidateBench& bench, const tuner::PreparedCandidate& candidate)
      : driver_(bench.driver_),
        module_(dispatch::load_module(bench.driver_, bench.info_, candidate.image,
                                      candidate.entry_points)),
        plan_(compiler::plan_launches(candidate.spec, bench.request_.shape)),
        workspace_(bench.driver_, plan_.workspace_bytes) {
    const Inputs& in = *bench.inputs_;
    buffers_.bind(compiler::Buffer::q, in.q.address());
    buffers_.bind(compiler::Buffer::k, in.k.address());
    buffers_.bind(compiler::Buffer::v, in.v.address());
    buffers_.bind(compiler::Buffer::g, in.g.address());
    buffers_.bind(compiler::Buffer::lambda, in.lambda.address());
    buffers_.bind(compiler::Buffer::o, in.o.address());
    if (plan_.workspace_bytes) buffers_.bind(compiler::Buffer::workspace, workspace_.address());
  }
  ~LoadedCandidate() { driver_.cuModuleUnload(module_->module); }
  LoadedCandidate(const LoadedCandidate&) = delete;
  LoadedCandidate& operator=(const LoadedCandidate&) = delete;

  void run(CUstream stream) const {
    for (const compiler::Launch& l : plan_.launches)
      dispatch::launch(driver_, *module_, l, buffers_, stream);
  }

 private:
  const driver::CudaDriver& driver_;
  std::unique_ptr<dispatch::LoadedModule> module_;
  compiler::LaunchPlan plan_;
  DeviceBuffer workspace_;
  dispatch::BoundBuffers buffers_;
};

GpuCandidateBench::GpuCandidateBench(const driver::CudaDriver& driver, CUdevice device,
                                     CUcontext context, const compiler::DeviceInfo& info,
                                     cache::BinaryCache* cache, const Logger& logger,
                                     const compiler::Request& request)
    : driver_(driver),
      device_(device),
      context_(context),
      info_(info),
      cache_(cache),
      logger_(logger),
      request_(request) {
  driver::ScopedContext current(driver_, context_);
  inputs_ = std::make_unique<Inputs>(driver_, request_);
  Stream stream(driver_);
  const LoadedCandidate heuristic(*this, prepare(tuner::heuristic_spec(request_, info_)));
  trusted_ = output_of(heuristic, stream.get());
}

GpuCandidateBench::~GpuCandidateBench() {
  driver::ScopedContext current(driver_, context_);
  inputs_.reset();
}

tuner::PreparedCandidate GpuCandidateBench::prepare(const compiler::KernelSpec& spec) {
  dispatch::ObtainedBinary binary = dispatch::obtain_binary(spec, cache_, logger_);
  tuner::PreparedCandidate candidate;
  candidate.spec = spec;
  candidate.image = std::move(binary.image);
  candidate.entry_points = std::move(binary.entry_points);
  candidate.resources = compiler::parse_ptxas_resources(binary.log);
  candidate.compile_ms = binary.compile_ms;
  return candidate;
}

std::vector<double> GpuCandidateBench::output_of(const LoadedCandidate& loaded, CUstream stream) {
  inputs_->o.upload(std::vector<uint8_t>(inputs_->o.bytes(), 0xff));  // NaN in every dtype
  loaded.run(stream);
  driver::check_cuda(driver_, driver_.cuStreamSynchronize(stream), "cuStreamSynchronize");
  return reference::decode(inputs_->o.download(), request_.dtype);
}

std::vector<double> GpuCandidateBench::measure(const tuner::PreparedCandidate& candidate,
                                               int warmup, int repetitions) {
  driver::ScopedContext current(driver_, context_);
  Stream stream(driver_);
  const LoadedCandidate loaded(*this, candidate);
  const std::vector<double> o = output_of(loaded, stream.get());
  double error = 0, norm = 0;
  for (size_t i = 0; i < o.size(); ++i) {
    if (std::isnan(o[i]))
      throw std::runtime_error("output element " + std::to_string(i) + " is unwritten or NaN");
    error += (o[i] - trusted_[i]) * (o[i] - trusted_[i]);
    norm += trusted_[i] * trusted_[i];
  }
  const double relative = std::sqrt(error / std::max(norm, 1e-300));
  if (!(relative < kMaxRelativeError))
    throw std::runtime_error(
        "output differs from the trusted result (the heuristic "
        "configuration): relative Frobenius error " +
        std::to_string(relative) + ", limit " + std::to_string(kMaxRelativeError));
  for (int i = 0; i < warmup; ++i) loaded.run(stream.get());
  return time_samples(driver_, device_, stream.get(), repetitions,
                      [&] { loaded.run(stream.get()); });
}

cache::Provenance GpuCandidateBench::provenance() const {
  cache::Provenance p;
  p.device_name = info_.name;
  p.sm_count = info_.sm_count;
  int sm_khz = 0, memory_khz = 0;
  if (driver_.cuDeviceGetAttribute(&sm_khz, CU_DEVICE_ATTRIBUTE_CLOCK_RATE, device_) ==
          CUDA_SUCCESS &&
      driver_.cuDeviceGetAttribute(&memory_khz, CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE, device_) ==
          CUDA_SUCCESS) {
    p.clocks = "sm " + std::to_string(sm_khz / 1000) + " MHz, memory " +
               std::to_string(memory_khz / 1000) + " MHz";
  }
  const int version = driver_.version;
  p.driver_version = std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10);
  return p;
}

}  // namespace lla::runtime::tuning
