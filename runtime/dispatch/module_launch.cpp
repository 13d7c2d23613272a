#include "dispatch/module_launch.h"

#include <chrono>
#include <variant>
#include <vector>

#include "api/status_error.h"
#include "dispatch/binary_provider.h"

namespace lla::runtime::dispatch {
namespace {

using Clock = std::chrono::steady_clock;

// Shared memory a block may use without opting in (CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES).
constexpr int kDefaultSharedBytesPerBlock = 48 * 1024;

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

LoadedFunction load_function(const driver::CudaDriver& driver, const compiler::DeviceInfo& device,
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

compiler::Dtype to_compiler_dtype(lla_dtype dtype) {
  switch (dtype) {
    case LLA_DTYPE_F32: return compiler::Dtype::f32;
    case LLA_DTYPE_F16: return compiler::Dtype::f16;
    case LLA_DTYPE_BF16: return compiler::Dtype::bf16;
  }
  throw StatusError(LLA_ERR_INTERNAL, "an unvalidated lla_dtype reached dispatch");
}

lla_dtype to_lla_dtype(compiler::Dtype dtype) {
  switch (dtype) {
    case compiler::Dtype::f32: return LLA_DTYPE_F32;
    case compiler::Dtype::f16: return LLA_DTYPE_F16;
    case compiler::Dtype::bf16: return LLA_DTYPE_BF16;
  }
  throw StatusError(LLA_ERR_INTERNAL, "an unknown compiler::Dtype");
}

std::unique_ptr<LoadedModule> build_module(const driver::CudaDriver& driver,
                                           const compiler::DeviceInfo& device,
                                           const compiler::KernelSpec& spec,
                                           cache::BinaryCache* cache, const Logger& logger) {
  const Clock::time_point start = Clock::now();
  const ObtainedBinary binary = obtain_binary(spec, cache, logger);
  std::unique_ptr<LoadedModule> module =
      load_module(driver, device, binary.image, binary.entry_points);
  module->loaded_from = binary.source;
  module->compile_ms = binary.compile_ms;
  module->build_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  return module;
}

std::unique_ptr<LoadedModule> load_module(const driver::CudaDriver& driver,
                                          const compiler::DeviceInfo& device,
                                          const std::vector<uint8_t>& image,
                                          const std::vector<std::string>& entry_points) {
  auto module = std::make_unique<LoadedModule>();
  driver::check_cuda(driver, driver.cuModuleLoadData(&module->module, image.data()),
                     "cuModuleLoadData");
  try {
    for (const std::string& name : entry_points)
      module->functions.emplace(name, load_function(driver, device, module->module, name));
  } catch (...) {
    driver.cuModuleUnload(module->module);
    throw;
  }
  return module;
}

CUdeviceptr BoundBuffers::resolve(const compiler::BufferArg& arg, const std::string& kernel) const {
  const CUdeviceptr base = address_[static_cast<int>(arg.buffer)];
  if (!base)
    throw StatusError(LLA_ERR_INTERNAL, "the launch plan passes " + kernel +
                                            " a buffer this call does not have (Buffer " +
                                            std::to_string(static_cast<int>(arg.buffer)) + ")");
  return base + arg.offset_bytes;
}

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

}  // namespace lla::runtime::dispatch
