#include "dispatch/decode_dispatcher.h"

#include <stdexcept>

#include "api/status_error.h"
#include "dispatch/module_launch.h"
#include "families/kernel_family.h"

namespace lla::runtime::dispatch {

DecodeDispatcher::DecodeDispatcher(const driver::CudaDriver& driver,
                                   const compiler::DeviceInfo& device, cache::BinaryCache* cache,
                                   const Logger& logger)
    : driver_(driver), device_(device), cache_(cache), logger_(logger) {}

DecodeDispatchInfo DecodeDispatcher::decode_step(const lla_decode_problem& p,
                                                 const lla_decode_args& a, CUstream stream) {
  compiler::Request request;
  request.family = {compiler::Variant::mamba2, compiler::Pass::decode};
  request.dtype = to_compiler_dtype(p.dtype);
  request.key_dim = p.key_dim;
  request.value_dim = p.value_dim;
  request.levels = p.levels;
  compiler::ProblemShape& shape = request.shape;
  shape.batch = p.batch;
  shape.heads = p.heads;
  shape.groups = p.groups;
  shape.max_position = p.max_position;
  shape.scale = p.scale == 0.0f ? 1.0f : p.scale;  // lla.h: 0 means 1
  shape.advance_positions = a.advance_positions != 0;

  DecodeDispatchInfo info;
  compiler::LaunchPlan plan;
  try {
    info.spec = tuner::heuristic_spec(request, device_);
    plan = compiler::plan_launches(info.spec, shape);
  } catch (const std::invalid_argument& e) {
    throw StatusError(LLA_ERR_NOT_SUPPORTED, std::string("lla has no decode kernel for this "
                                                         "problem on ") +
                                                 device_.name + " (" + device_.target.name +
                                                 "): " + e.what());
  }
  info.kernel = compiler::describe(info.spec);
  info.launches = plan.launches.size();
  bool was_loaded = false;
  const LoadedModule& module = table_.find_or_build(
      info.kernel, [&] { return build_module(driver_, device_, info.spec, cache_, logger_); },
      &was_loaded);
  info.source = was_loaded ? KernelSource::memory : module.loaded_from;

  BoundBuffers buffers;
  buffers.bind(compiler::Buffer::q, a.q);
  buffers.bind(compiler::Buffer::k, a.k);
  buffers.bind(compiler::Buffer::v, a.v);
  buffers.bind(compiler::Buffer::g, a.g);
  buffers.bind(compiler::Buffer::lambda, a.lambda);
  buffers.bind(compiler::Buffer::o, a.o);
  buffers.bind(compiler::Buffer::state, a.state);
  buffers.bind(compiler::Buffer::positions, a.positions);
  for (const compiler::Launch& l : plan.launches) launch(driver_, module, l, buffers, stream);
  return info;
}

void DecodeDispatcher::unload_modules() {
  for (CUmodule m : table_.modules()) driver_.cuModuleUnload(m);
}

}  // namespace lla::runtime::dispatch
