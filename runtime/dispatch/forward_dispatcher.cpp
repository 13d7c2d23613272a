#include "dispatch/forward_dispatcher.h"

#include <chrono>
#include <stdexcept>
#include <variant>
#include <vector>

#include "api/status_error.h"
#include "dispatch/binary_provider.h"
#include "kernels/forward_plan.h"

namespace lla::runtime::dispatch {
namespace {

using Clock = std::chrono::steady_clock;

// Shared memory a block may use without opting in (CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES).
constexpr int kDefaultSharedBytesPerBlock = 48 * 1024;
// What LaunchPlan promises its workspace (launch_plan.h).
constexpr size_t kWorkspaceAlignment = 256;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

compiler::Dtype to_compiler_dtype(lla_dtype dtype) {
  switch (dtype) {
    case LLA_DTYPE_F32: return compiler::Dtype::f32;
    case LLA_DTYPE_F16: return compiler::Dtype::f16;
    case LLA_DTYPE_BF16: return compiler::Dtype::bf16;
  }
  throw StatusError(LLA_ERR_INTERNAL, "unvalidated lla_problem.dtype reached dispatch");
}

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

// The device address of each LaunchPlan buffer for one call.
struct BoundBuffers {
  CUdeviceptr address[static_cast<int>(compiler::Buffer::workspace) + 1] = {};

  CUdeviceptr resolve(const compiler::BufferArg& arg, const std::string& kernel) const {
    const CUdeviceptr base = address[static_cast<int>(arg.buffer)];
    if (!base)
      throw StatusError(LLA_ERR_INTERNAL, "the launch plan passes " + kernel +
                                              " a buffer this call does not have (Buffer " +
                                              std::to_string(static_cast<int>(arg.buffer)) + ")");
    return base + arg.offset_bytes;
  }
};

BoundBuffers bind_buffers(const lla_forward_args& a) {
  auto device_address = [](const void* p) { return reinterpret_cast<CUdeviceptr>(p); };
  BoundBuffers b;
  b.address[static_cast<int>(compiler::Buffer::q)] = device_address(a.q);
  b.address[static_cast<int>(compiler::Buffer::k)] = device_address(a.k);
  b.address[static_cast<int>(compiler::Buffer::v)] = device_address(a.v);
  b.address[static_cast<int>(compiler::Buffer::g)] = device_address(a.g);
  b.address[static_cast<int>(compiler::Buffer::beta)] = device_address(a.beta);
  b.address[static_cast<int>(compiler::Buffer::lambda)] = device_address(a.lambda);
  b.address[static_cast<int>(compiler::Buffer::o)] = device_address(a.o);
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

// One kernel parameter's bytes; cuLaunchKernel reads each through a pointer to it.
union ParamValue {
  CUdeviceptr pointer;
  int32_t i32;
  int64_t i64;
  float f32;
};

struct ParamWriter {
  const BoundBuffers& buffers;
  const std::string& kernel;
  ParamValue& out;
  void operator()(const compiler::BufferArg& a) const { out.pointer = buffers.resolve(a, kernel); }
  void operator()(int32_t x) const { out.i32 = x; }
  void operator()(int64_t x) const { out.i64 = x; }
  void operator()(compiler::NullPointer) const { out.pointer = 0; }
  void operator()(float x) const { out.f32 = x; }
};

void launch(const driver::CudaDriver& driver, const LoadedModule& module,
            const compiler::Launch& l, const BoundBuffers& buffers, CUstream stream) {
  const auto found = module.functions.find(l.kernel);
  if (found == module.functions.end())
    throw StatusError(LLA_ERR_INTERNAL, "the launch plan names " + l.kernel +
                                            ", which the generated module does not define");
  const LoadedFunction& f = found->second;
  if (static_cast<int>(l.shared_bytes) > f.max_dynamic_shared_bytes)
    throw StatusError(LLA_ERR_NOT_SUPPORTED,
                      l.kernel + " needs " + std::to_string(l.shared_bytes) +
                          " bytes of dynamic shared memory; the device allows it " +
                          std::to_string(f.max_dynamic_shared_bytes));
  std::vector<ParamValue> values(l.args.size());
  std::vector<void*> params(l.args.size());
  for (size_t i = 0; i < l.args.size(); ++i) {
    std::visit(ParamWriter{buffers, l.kernel, values[i]}, l.args[i]);
    params[i] = &values[i];
  }
  driver::check_cuda(driver,
                     driver.cuLaunchKernel(f.function, l.grid[0], l.grid[1], l.grid[2], l.block[0],
                                           l.block[1], l.block[2], l.shared_bytes, stream,
                                           params.data(), nullptr),
                     ("cuLaunchKernel(" + l.kernel + ")").c_str());
}

LoadedFunction load_function(const driver::CudaDriver& driver, const tuner::DeviceInfo& device,
                             CUmodule module, const std::string& name) {
  LoadedFunction f;
  driver::check_cuda(driver, driver.cuModuleGetFunction(&f.function, module, name.c_str()),
                     ("cuModuleGetFunction(" + name + ")").c_str());
  int static_shared = 0;
  driver::check_cuda(driver,
                     driver.cuFuncGetAttribute(&static_shared, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES,
                                               f.function),
                     "cuFuncGetAttribute(CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES)");
  // Opt in once, at load, to all the shared memory the device offers: later launches then need
  // no attribute change, which would race between threads launching the same function.
  f.max_dynamic_shared_bytes = kDefaultSharedBytesPerBlock - static_shared;
  if (device.max_shared_per_block_optin > kDefaultSharedBytesPerBlock) {
    f.max_dynamic_shared_bytes = device.max_shared_per_block_optin - static_shared;
    driver::check_cuda(driver,
                       driver.cuFuncSetAttribute(f.function,
                                                 CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                                 f.max_dynamic_shared_bytes),
                       "cuFuncSetAttribute(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES)");
  }
  return f;
}

}  // namespace

ForwardDispatcher::ForwardDispatcher(const driver::CudaDriver& driver,
                                     const tuner::DeviceInfo& device, cache::BinaryCache* cache,
                                     const Logger& logger)
    : driver_(driver), device_(device), cache_(cache), logger_(logger) {}

std::unique_ptr<LoadedModule> ForwardDispatcher::build_module(const compiler::KernelSpec& spec) const {
  const Clock::time_point start = Clock::now();
  ObtainedBinary binary = obtain_binary(spec, cache_, logger_);
  auto module = std::make_unique<LoadedModule>();
  module->loaded_from = binary.source;
  module->compile_ms = binary.compile_ms;
  driver::check_cuda(driver_, driver_.cuModuleLoadData(&module->module, binary.image.data()),
                     "cuModuleLoadData");
  try {
    for (const std::string& name : binary.entry_points)
      module->functions.emplace(name, load_function(driver_, device_, module->module, name));
  } catch (...) {
    driver_.cuModuleUnload(module->module);
    throw;
  }
  module->build_ms = ms_since(start);
  return module;
}

ForwardDispatchInfo ForwardDispatcher::forward(const lla_problem& p, const lla_forward_args& a,
                                               CUstream stream) {
  const PlannedProblem planned = plan_problem(p, device_);
  const compiler::LaunchPlan& plan = planned.plan;
  ForwardDispatchInfo info;
  info.spec = planned.spec;
  info.kernel = compiler::describe(planned.spec);
  bool was_loaded = false;
  const LoadedModule& module = table_.find_or_build(
      info.kernel, [&] { return build_module(planned.spec); }, &was_loaded);
  info.source = was_loaded ? KernelSource::memory : module.loaded_from;
  if (!was_loaded) {
    info.compile_ms = module.compile_ms;
    info.build_ms = module.build_ms;
  }
  info.launches = plan.launches.size();
  info.workspace_bytes = plan.workspace_bytes;

  BoundBuffers buffers = bind_buffers(a);
  StreamWorkspace workspace(driver_, stream, plan.workspace_bytes);
  if (!workspace.empty())
    buffers.address[static_cast<int>(compiler::Buffer::workspace)] = workspace.aligned();
  for (const compiler::Launch& l : plan.launches) launch(driver_, module, l, buffers, stream);
  return info;
}

void ForwardDispatcher::unload_modules() {
  for (CUmodule m : table_.modules()) driver_.cuModuleUnload(m);
}

}  // namespace lla::runtime::dispatch
