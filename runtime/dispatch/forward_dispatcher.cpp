#include "dispatch/forward_dispatcher.h"

#include <stdexcept>

#include "api/status_error.h"
#include "dispatch/module_launch.h"
#include "kernels/forward_plan.h"

namespace lla::runtime::dispatch {
namespace {

// What LaunchPlan promises its workspace (launch_plan.h).
constexpr size_t kWorkspaceAlignment = 256;

compiler::ForwardShape forward_shape(const lla_problem& p) {
  compiler::ForwardShape shape;
  shape.batch = p.batch;
  shape.seq_len = p.seq_len;
  shape.heads = p.heads;
  shape.groups = p.groups;
  shape.scale = p.scale == 0.0f ? 1.0f : p.scale;  // lla.h: 0 means 1
  return shape;
}

// The heuristic spec and its launch plan. Both reject what no kernel can run (a too large
// grid, an architecture lla does not generate for) with std::invalid_argument.
struct PlannedProblem {
  compiler::KernelSpec spec;
  compiler::LaunchPlan plan;
};

PlannedProblem plan_problem(const lla_problem& p, const tuner::DeviceInfo& device) {
  tuner::ForwardRequest request;
  request.family = compiler::Family::mamba2_forward;
  request.dtype = to_compiler_dtype(p.dtype);
  request.key_dim = p.key_dim;
  request.value_dim = p.value_dim;
  request.levels = p.levels;
  request.chunk = p.chunk;
  request.shape = forward_shape(p);
  try {
    compiler::KernelSpec spec = tuner::heuristic_forward_spec(request, device);
    compiler::LaunchPlan plan = compiler::plan_forward(spec, request.shape);
    return {std::move(spec), std::move(plan)};
  } catch (const std::invalid_argument& e) {
    throw StatusError(LLA_ERR_NOT_SUPPORTED,
                      std::string("lla has no kernel for this problem on ") + device.name + " (" +
                          device.arch + "): " + e.what());
  }
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
  return b;
}

// Scratch memory ordered on the caller's stream: allocated before the launches, freed after
// them, with no host synchronisation (and so capturable into a CUDA graph).
class StreamWorkspace {
 public:
  StreamWorkspace(const driver::CudaDriver& driver, CUstream stream, size_t bytes)
      : driver_(driver), stream_(stream) {
    if (bytes == 0) return;
    driver::check_cuda(driver_,
                       driver_.cuMemAllocAsync(&allocation_, bytes + kWorkspaceAlignment - 1, stream_),
                       "cuMemAllocAsync");
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
                                     const tuner::DeviceInfo& device, cache::BinaryCache* cache,
                                     const Logger& logger)
    : driver_(driver), device_(device), cache_(cache), logger_(logger) {}

ForwardDispatchInfo ForwardDispatcher::forward(const lla_problem& p, const lla_forward_args& a,
                                               CUstream stream) {
  const PlannedProblem planned = plan_problem(p, device_);
  const compiler::LaunchPlan& plan = planned.plan;
  ForwardDispatchInfo info;
  info.spec = planned.spec;
  info.kernel = compiler::describe(planned.spec);
  bool was_loaded = false;
  const LoadedModule& module = table_.find_or_build(
      info.kernel, [&] { return build_module(driver_, device_, planned.spec, cache_, logger_); },
      &was_loaded);
  info.source = was_loaded ? KernelSource::memory : module.loaded_from;
  if (!was_loaded) {
    info.compile_ms = module.compile_ms;
    info.build_ms = module.build_ms;
  }
  info.launches = plan.launches.size();
  info.workspace_bytes = plan.workspace_bytes;

  BoundBuffers buffers = bind_buffers(a);
  StreamWorkspace workspace(driver_, stream, plan.workspace_bytes);
  if (!workspace.empty()) buffers.bind(compiler::Buffer::workspace, workspace.aligned());
  for (const compiler::Launch& l : plan.launches) launch(driver_, module, l, buffers, stream);
  return info;
}

void ForwardDispatcher::unload_modules() {
  for (CUmodule m : table_.modules()) driver_.cuModuleUnload(m);
}

}  // namespace lla::runtime::dispatch
