#include "tuning/backend_candidate_bench.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>

#include "dispatch/binary_provider.h"
#include "reference/dtype_codec.h"

namespace lla::runtime::tuning {
namespace {

constexpr uint32_t kInputSeed = 20261122;

compiler::ProblemSizes sizes_of(const compiler::Request& r) {
  compiler::ProblemSizes s;
  s.batch = r.shape.batch;
  s.seq_len = r.shape.seq_len;
  s.sequences = r.shape.batch;
  s.heads = r.shape.heads;
  s.groups = r.shape.groups;
  s.key_dim = r.key_dim;
  s.value_dim = r.value_dim;
  s.levels = r.levels;
  return s;
}

// The dtype a tensor's floating-point elements are encoded in.
compiler::Dtype storage(const compiler::TensorDecl& t, compiler::Dtype problem) {
  return t.element == compiler::ElementType::problem ? problem : compiler::Dtype::f32;
}

// `count` elements of `t` drawn from its distribution (integers for i64 tensors).
std::vector<uint8_t> random_bytes(const compiler::TensorDecl& t, size_t count, compiler::Dtype problem,
                                  std::mt19937& random) {
  if (t.element == compiler::ElementType::i64) {
    std::uniform_int_distribution<int64_t> draw(static_cast<int64_t>(t.fill.low), static_cast<int64_t>(t.fill.high));
    std::vector<uint8_t> bytes(count * sizeof(int64_t));
    for (size_t i = 0; i < count; ++i) {
      const int64_t x = draw(random);
      std::memcpy(bytes.data() + i * sizeof x, &x, sizeof x);
    }
    return bytes;
  }
  std::uniform_real_distribution<double> draw(t.fill.low, t.fill.high);
  std::vector<double> values(count);
  for (double& v : values) v = draw(random);
  return reference::encode(values, storage(t, problem));
}

}  // namespace

struct BackendCandidateBench::Tensor {
  const compiler::TensorDecl* decl;
  std::unique_ptr<backend::DeviceMemory> memory;
};

// A candidate's module loaded and its plan made for the bench's problem; unloaded when it goes.
class BackendCandidateBench::Loaded {
 public:
  Loaded(const BackendCandidateBench& bench, const tuner::PreparedCandidate& candidate)
      : bench_(bench),
        module_(bench.backend_.load({candidate.image, "", 0}, candidate.entry_points)),
        plan_(compiler::plan_launches(candidate.spec, bench.request_.shape)) {}

  void run(const backend::Stream& stream) const {
    bench_.backend_.run(*module_, plan_, bench_.buffers_, stream.handle());
  }

 private:
  const BackendCandidateBench& bench_;
  std::unique_ptr<backend::Module> module_;
  compiler::LaunchPlan plan_;
};

BackendCandidateBench::BackendCandidateBench(const backend::Backend& backend, cache::BinaryCache* cache,
                                             const Logger& logger, const compiler::Request& request)
    : backend_(backend), cache_(cache), logger_(logger), request_(request) {
  const auto active = backend_.activate();
  const compiler::ProblemSizes sizes = sizes_of(request_);
  std::mt19937 random(kInputSeed);
  for (const compiler::TensorDecl& t : compiler::family_for(request_.family).tensors()) {
    if (t.optional) continue;
    const int64_t count = compiler::element_count(t, sizes);
    if (count < 0) throw std::runtime_error(std::string("the bench's ") + t.field + " does not fit in memory");
    Tensor tensor{&t, backend_.allocate(static_cast<size_t>(count) * compiler::element_bytes(t, request_.dtype))};
    if (t.access != compiler::Access::write)
      tensor.memory->upload(random_bytes(t, static_cast<size_t>(count), request_.dtype, random));
    buffers_.bind(t.role, tensor.memory->data());
    tensors_.push_back(std::move(tensor));
  }
  const std::unique_ptr<backend::Stream> stream = backend_.create_stream();
  const Loaded heuristic(*this, prepare(compiler::family_for(request_.family).heuristic(request_, backend_.device())));
  trusted_ = outputs_of(heuristic, *stream);
}

BackendCandidateBench::~BackendCandidateBench() = default;

tuner::PreparedCandidate BackendCandidateBench::prepare(const compiler::KernelSpec& spec) {
  dispatch::ObtainedBinary binary = dispatch::obtain_binary(backend_.toolchain(), spec, cache_, logger_);
  tuner::PreparedCandidate candidate;
  candidate.spec = spec;
  candidate.resources = backend_.toolchain().resources(binary.image.log);
  candidate.compile_ms = binary.image.compile_ms;
  candidate.image = std::move(binary.image.bytes);
  candidate.entry_points = std::move(binary.entry_points);
  return candidate;
}

std::vector<double> BackendCandidateBench::outputs_of(const Loaded& loaded, const backend::Stream& stream) {
  for (Tensor& t : tensors_)
    if (t.decl->access == compiler::Access::write) backend_.fill(*t.memory, 0xffffffffu, stream);  // NaN in every dtype
  loaded.run(stream);
  stream.synchronize();
  std::vector<double> values;
  for (const Tensor& t : tensors_) {
    if (t.decl->access != compiler::Access::write) continue;
    const std::vector<double> decoded = reference::decode(t.memory->download(), storage(*t.decl, request_.dtype));
    values.insert(values.end(), decoded.begin(), decoded.end());
  }
  return values;
}

std::vector<double> BackendCandidateBench::measure(const tuner::PreparedCandidate& candidate, int warmup,
                                                   int repetitions) {
  const auto active = backend_.activate();
  const std::unique_ptr<backend::Stream> stream = backend_.create_stream();
  const Loaded loaded(*this, candidate);
  const std::vector<double> o = outputs_of(loaded, *stream);
  double error = 0, norm = 0;
  for (size_t i = 0; i < o.size(); ++i) {
    if (std::isnan(o[i])) throw std::runtime_error("output element " + std::to_string(i) + " is unwritten or NaN");
    error += (o[i] - trusted_[i]) * (o[i] - trusted_[i]);
    norm += trusted_[i] * trusted_[i];
  }
  const double relative = std::sqrt(error / std::max(norm, 1e-300));
  if (!(relative < kMaxRelativeError))
    throw std::runtime_error(
        "output differs from the trusted result (the heuristic configuration): relative Frobenius error " +
        std::to_string(relative) + ", limit " + std::to_string(kMaxRelativeError));
  for (int i = 0; i < warmup; ++i) loaded.run(*stream);
  return backend_.time(*stream, repetitions, [&] { loaded.run(*stream); });
}

cache::Provenance BackendCandidateBench::provenance() const { return backend_.provenance(); }

}  // namespace lla::runtime::tuning
