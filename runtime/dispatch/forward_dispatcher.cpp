#include "dispatch/forward_dispatcher.h"

#include <algorithm>
#include <stdexcept>


#include "api/status_error.h"
#include "dispatch/forward_sequences.h"
#include "dispatch/module_launch.h"
#include "families/kernel_family.h"
#include "problem_bucket.h"
#include "tuning/gpu_candidate_bench.h"

namespace lla::runtime::dispatch {
namespace {

// What LaunchPlan promises its workspace (launch_plan.h).
constexpr size_t kWorkspaceAlignment = 256;

compiler::ProblemShape forward_shape(const lla_problem& p, const compiler::DeviceInfo& device) {
  compiler::ProblemShape shape;
  shape.multiprocessors = device.sm_count;
  shape.batch = p.batch;
  shape.seq_len = p.seq_len;
  shape.heads = p.heads;
  shape.groups = p.groups;
  shape.scale = p.scale == 0.0f ? 1.0f : p.scale;  // lla.h: 0 means 1
  return shape;
}

compiler::Request forward_request(const lla_problem& p, const compiler::DeviceInfo& device) {
  compiler::Request request;
  request.family = {compiler::Variant::mamba2, compiler::Pass::forward};
  request.dtype = to_compiler_dtype(p.dtype);
  request.key_dim = p.key_dim;
  request.value_dim = p.value_dim;
  request.levels = p.levels;
  request.chunk = p.chunk;
  request.shape = forward_shape(p, device);
  return request;
}

// What no kernel can run (a too large grid, an architecture lla does not generate for) is
// rejected by the heuristic, the tuner and the launch plan with std::invalid_argument.
StatusError not_supported(const compiler::DeviceInfo& device, const std::invalid_argument& e) {
  return StatusError(LLA_ERR_NOT_SUPPORTED, std::string("lla has no kernel for this problem on ") +
                                                device.name + " (" + device.target.name +
                                                "): " + e.what());
}

// A call with sequences or states plans from a table of its sequences; its configuration is
// that of num_seqs sequences of the longest one's length.
void add_sequences(const lla_problem& p, const lla_forward_args& a, compiler::Request& request,
                   compiler::ProblemShape& shape) {
  if (!has_sequences(a)) return;
  int64_t longest = 1;
  for (int64_t s = 0; s < sequence_count(p, a); ++s) {
    const SequenceExtent e = sequence_extent(p, a, s);
    shape.sequences.push_back({e.row0, e.start, e.length});
    longest = std::max(longest, e.length);
  }
  shape.initial_state = a.initial_state != nullptr;
  shape.final_state = a.final_state != nullptr;
  request.shape.batch = static_cast<int>(sequence_count(p, a));
  request.shape.seq_len = static_cast<int>(longest);
}

BoundBuffers bind_buffers(const lla_forward_args& a) {
  BoundBuffers b;
  b.bind(compiler::Buffer::q, a.q);
  b.bind(compiler::Buffer::k, a.k);
  b.bind(compiler::Buffer::v, a.v);
  b.bind(compiler::Buffer::g, a.g);
  b.bind(compiler::Buffer::beta, a.beta);
  b.bind(compiler::Buffer::lambda, a.lambda);
  b.bind(compiler::Buffer::o, a.o);
  b.bind(compiler::Buffer::initial_state, a.initial_state);
  b.bind(compiler::Buffer::final_state, a.final_state);
  return b;
}

// Scratch memory ordered on the caller's stream: allocated from the context's pool before the
// launches, freed after them, with no host synchronisation (and so capturable into a CUDA graph).
class StreamWorkspace {
 public:
  StreamWorkspace(const driver::CudaDriver& driver, CUmemoryPool pool, CUstream stream, size_t bytes)
      : driver_(driver), stream_(stream) {
    if (bytes == 0) return;
    driver::check_cuda(driver_,
                       driver_.cuMemAllocFromPoolAsync(&allocation_, bytes + kWorkspaceAlignment - 1,
                                                       pool, stream_),
                       "cuMemAllocFromPoolAsync");
  }
  ~StreamWorkspace() {
    if (allocation_) driver_.cuMemFreeAsync(allocation_, stream_);
  }
  StreamWorkspace(const StreamWorkspace&) = delete;
  StreamWorkspace& operator=(const StreamWorkspace&) = delete;

  CUdeviceptr aligned() const {
    return (allocation_ + kWorkspaceAlignment - 1) / kWorkspaceAlignment * kWorkspaceAlignment;
  }
  bool empty() const { return allocation_ == 0; }

 private:
  const driver::CudaDriver& driver_;
  CUstream stream_;
  CUdeviceptr allocation_ = 0;
};

}  // namespace

ForwardDispatcher::ForwardDispatcher(const driver::CudaDriver& driver,
                                     const compiler::DeviceInfo& device, cache::BinaryCache* cache,
                                     const Logger& logger, ForwardTuning tuning,
                                     CUmemoryPool workspace_pool)
    : driver_(driver),
      device_(device),
      cache_(cache),
      logger_(logger),
      tuning_(std::move(tuning)),
      workspace_pool_(workspace_pool) {}

std::unique_ptr<tuner::CandidateBench> ForwardDispatcher::make_bench(
    const compiler::Request& request) const {
  return std::make_unique<tuning::GpuCandidateBench>(driver_, tuning_.device, tuning_.context,
                                                     device_, cache_, logger_, request);
}

void ForwardDispatcher::remember(const compiler::Request& request,
                                 const tuner::Choice& choice) {
  const std::string key = tuner::problem_key(request, choice.spec.chunk);
  std::lock_guard<std::mutex> lock(chosen_mutex_);
  chosen_[key] = {choice.spec, choice.source};
}

compiler::KernelSpec ForwardDispatcher::choose_spec(const compiler::Request& request,
                                                    tuner::Choice::Source* chosen_by) {
  const compiler::KernelSpec heuristic = tuner::heuristic_spec(request, device_);
  *chosen_by = tuner::Choice::Source::heuristic;
  if (tuning_.policy == tuner::TunePolicy::off) return heuristic;
  {
    std::lock_guard<std::mutex> lock(chosen_mutex_);
    const auto found = chosen_.find(tuner::problem_key(request, heuristic.chunk));
    if (found != chosen_.end()) {
      *chosen_by = found->second.second;
      return found->second.first;
    }
  }
  tuner::Choice choice;
  try {
    choice = tuner::choose_spec(
        request, device_, tuning_.policy, cache_, [&] { return make_bench(request); },
        tuning_.options);
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::exception& e) {
    // Tuning only ever speeds things up: the heuristic runs, and the bucket is not retried in
    // this process.
    logger_.warn(std::string("tuning failed; using the heuristic configuration: ") + e.what());
    choice.spec = heuristic;
  }
  if (choice.report) {
    logger_.info("tuned " + choice.report->problem + " in " +
                 std::to_string(choice.report->elapsed_s) + " s: " +
                 compiler::describe(choice.spec));
  }
  if (!choice.note.empty()) logger_.info("using the heuristic configuration: " + choice.note);
  if (!choice.ask_again) remember(request, choice);
  *chosen_by = choice.source;
  return choice.spec;
}

tuner::TuneReport ForwardDispatcher::tune(const lla_problem& p) {
  const compiler::Request request = forward_request(p, device_);
  try {
    tuner::TuneOptions options = tuning_.options;
    options.retime = false;
    const std::unique_ptr<tuner::CandidateBench> bench = make_bench(request);
    tuner::Choice choice =
        tuner::search_spec(request, device_, cache_, *bench, options);
    remember(request, choice);
    return std::move(*choice.report);
  } catch (const std::invalid_argument& e) {
    throw not_supported(device_, e);
  } catch (const cache::CacheError& e) {
    throw StatusError(LLA_ERR_CACHE, std::string("lla_tune: ") + e.what());
  }
}

ForwardDispatchInfo ForwardDispatcher::forward(const lla_problem& p, const lla_forward_args& a,
                                               CUstream stream) {
  compiler::Request request = forward_request(p, device_);
  compiler::ProblemShape shape = request.shape;
  add_sequences(p, a, request, shape);
  ForwardDispatchInfo info;
  compiler::LaunchPlan plan;
  try {
    info.spec = choose_spec(request, &info.chosen_by);
    plan = compiler::plan_launches(info.spec, shape);
  } catch (const std::invalid_argument& e) {
    throw not_supported(device_, e);
  }
  info.kernel = compiler::describe(info.spec);
  bool was_loaded = false;
  const LoadedModule& module = table_.find_or_build(
      info.kernel, [&] { return build_module(driver_, device_, info.spec, cache_, logger_); },
      &was_loaded);
  info.source = was_loaded ? KernelSource::memory : module.loaded_from;
  if (!was_loaded) {
    info.compile_ms = module.compile_ms;
    info.build_ms = module.build_ms;
  }
  info.launches = plan.launches.size();
  info.workspace_bytes = plan.workspace_bytes;

  BoundBuffers buffers = bind_buffers(a);
  StreamWorkspace workspace(driver_, workspace_pool_, stream, plan.workspace_bytes);
  if (!workspace.empty()) buffers.bind(compiler::Buffer::workspace, workspace.aligned());
  if (!plan.upload.empty())
    driver::check_cuda(driver_,
                       driver_.cuMemcpyHtoDAsync(workspace.aligned(), plan.upload.data(),
                                                 plan.upload.size(), stream),
                       "cuMemcpyHtoDAsync");
  for (const compiler::Launch& l : plan.launches) launch(driver_, module, l, buffers, stream);
  if (a.final_positions)
    for (int64_t s = 0; s < sequence_count(p, a); ++s) {
      const SequenceExtent e = sequence_extent(p, a, s);
      a.final_positions[s] = e.start + e.length;
    }
  return info;
}

void ForwardDispatcher::unload_modules() {
  for (CUmodule m : table_.modules()) driver_.cuModuleUnload(m);
}

}  // namespace lla::runtime::dispatch
