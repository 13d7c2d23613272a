// The CUDA backend's modules and launches: cubins loaded with every entry point opted in to the
// device's shared memory, plans run with their workspace from the stream-ordered pool.
#include <variant>

#include "api/status_error.h"
#include "backend/cuda/cuda_internal.h"
#include "backend/launch_args.h"

namespace lla::runtime::backend::cuda {
namespace {

// Shared memory a block may use without opting in (CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES).
constexpr int kDefaultSharedBytesPerBlock = 48 * 1024;

// What LaunchPlan promises its workspace (launch_plan.h).
constexpr size_t kWorkspaceAlignment = 256;

LoadedFunction load_function(const driver::CudaDriver& driver, const compiler::DeviceInfo& device, CUmodule module,
                             const std::string& name) {
  LoadedFunction f;
  driver::check_cuda(driver, driver.cuModuleGetFunction(&f.function, module, name.c_str()),
                     ("cuModuleGetFunction(" + name + ")").c_str());
  int static_shared = 0;
  driver::check_cuda(driver, driver.cuFuncGetAttribute(&static_shared, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, f.function),
                     "cuFuncGetAttribute(CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES)");
  // Opt in once, at load, to all the shared memory the device offers: later launches then need
  // no attribute change, which would race between threads launching the same function.
  f.max_dynamic_shared_bytes = kDefaultSharedBytesPerBlock - static_shared;
  if (device.max_shared_per_block_optin > kDefaultSharedBytesPerBlock) {
    f.max_dynamic_shared_bytes = device.max_shared_per_block_optin - static_shared;
    driver::check_cuda(driver,
                       driver.cuFuncSetAttribute(f.function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                                 f.max_dynamic_shared_bytes),
                       "cuFuncSetAttribute(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES)");
  }
  return f;
}

// Scratch memory ordered on the caller's stream: allocated from the context's pool before the
// launches, freed after them, with no host synchronisation (and so capturable into a CUDA graph).
class StreamWorkspace {
 public:
  StreamWorkspace(const driver::CudaDriver& driver, CUmemoryPool pool, CUstream stream, size_t bytes)
      : driver_(driver), stream_(stream) {
    if (bytes == 0) return;
    driver::check_cuda(driver_,
                       driver_.cuMemAllocFromPoolAsync(&allocation_, bytes + kWorkspaceAlignment - 1, pool, stream_),
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

// The device addresses of a call: its tensors and the plan's workspace.
struct Addresses {
  const BoundBuffers& buffers;
  CUdeviceptr workspace;
  CUdeviceptr resolve(const compiler::BufferArg& arg, const std::string& kernel) const {
    const CUdeviceptr base = arg.buffer == compiler::Buffer::workspace
                                 ? workspace
                                 : reinterpret_cast<CUdeviceptr>(buffers.address(arg.buffer));
    if (!base)
      throw StatusError(LLA_ERR_INTERNAL, "the launch plan passes " + kernel +
                                              " a buffer this call does not have (Buffer " +
                                              std::to_string(static_cast<int>(arg.buffer)) + ")");
    return base + arg.offset_bytes;
  }
};

struct ParamWriter {
  const Addresses& addresses;
  const std::string& kernel;
  ParamValue& out;
  void operator()(const compiler::BufferArg& a) const { out.pointer = addresses.resolve(a, kernel); }
  void operator()(int32_t x) const { out.i32 = x; }
  void operator()(int64_t x) const { out.i64 = x; }
  void operator()(compiler::NullPointer) const { out.pointer = 0; }
  void operator()(float x) const { out.f32 = x; }
};

void launch(const driver::CudaDriver& driver, const CudaModule& module, const compiler::Launch& l,
            const Addresses& addresses, CUstream stream) {
  const auto found = module.functions.find(l.kernel);
  if (found == module.functions.end())
    throw StatusError(LLA_ERR_INTERNAL,
                      "the launch plan names " + l.kernel + ", which the generated module does not define");
  const LoadedFunction& f = found->second;
  if (static_cast<int>(l.shared_bytes) > f.max_dynamic_shared_bytes)
    throw StatusError(LLA_ERR_NOT_SUPPORTED, l.kernel + " needs " + std::to_string(l.shared_bytes) +
                                                 " bytes of dynamic shared memory; the device allows it " +
                                                 std::to_string(f.max_dynamic_shared_bytes));
  std::vector<ParamValue> values(l.args.size());
  std::vector<void*> params(l.args.size());
  for (size_t i = 0; i < l.args.size(); ++i) {
    std::visit(ParamWriter{addresses, l.kernel, values[i]}, l.args[i]);
    params[i] = &values[i];
  }
  // A kernel of one parameter struct takes the struct's bytes, its pointers bound.
  std::vector<uint8_t> block;
  if (!l.params.bytes.empty()) {
    block = bind_param_block(l.params, [&](const compiler::BufferArg& a) { return addresses.resolve(a, l.kernel); });
    params.assign(1, block.data());
  }
  driver::check_cuda(driver,
                     driver.cuLaunchKernel(f.function, l.grid[0], l.grid[1], l.grid[2], l.block[0], l.block[1],
                                           l.block[2], l.shared_bytes, stream, params.data(), nullptr),
                     ("cuLaunchKernel(" + l.kernel + ")").c_str());
}

}  // namespace

CudaModule::~CudaModule() {
  release_in(backend_.driver(), backend_.context(), [&] { backend_.driver().cuModuleUnload(module_); });
}

std::unique_ptr<Module> CudaBackend::load(const CompiledImage& image,
                                          const std::vector<std::string>& entry_points) const {
  CUmodule loaded = nullptr;
  driver::check_cuda(driver_, driver_.cuModuleLoadData(&loaded, image.bytes.data()), "cuModuleLoadData");
  auto module = std::make_unique<CudaModule>(*this, loaded);
  for (const std::string& name : entry_points)
    module->functions.emplace(name, load_function(driver_, info_, loaded, name));
  return module;
}

void CudaBackend::run(const Module& module, const compiler::LaunchPlan& plan, const BoundBuffers& buffers,
                      void* stream) const {
  const auto* cuda_module = dynamic_cast<const CudaModule*>(&module);
  if (!cuda_module) throw StatusError(LLA_ERR_INTERNAL, "the CUDA backend was given a module of another backend");
  const auto s = static_cast<CUstream>(stream);
  const StreamWorkspace workspace(driver_, workspace_pool_->get(), s, plan.workspace_bytes);
  if (!plan.upload.empty())
    driver::check_cuda(driver_, driver_.cuMemcpyHtoDAsync(workspace.aligned(), plan.upload.data(), plan.upload.size(), s),
                       "cuMemcpyHtoDAsync");
  const Addresses addresses{buffers, plan.workspace_bytes ? workspace.aligned() : 0};
  for (const compiler::Launch& l : plan.launches) launch(driver_, *cuda_module, l, addresses, s);
}

}  // namespace lla::runtime::backend::cuda
