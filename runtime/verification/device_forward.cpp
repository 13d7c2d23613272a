#include "verification/device_forward.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "api/context_internal.h"
#include "dispatch/module_launch.h"
#include "driver/cuda_driver.h"
#include "reference/dtype_codec.h"
#include "verification/device_resources.h"

namespace lla::runtime {

lla_problem to_lla_problem(const reference::Problem& p, lla_dtype dtype, int chunk) {
  lla_problem lp;
  lla_problem_init(&lp,
                   p.variant == reference::Variant::mamba2 ? LLA_VARIANT_MAMBA2
                                                           : LLA_VARIANT_GATED_DELTANET,
                   dtype, p.batch, p.seq_len, p.heads, p.groups, p.key_dim, p.value_dim);
  lp.levels = p.levels;
  lp.chunk = chunk;
  lp.scale = static_cast<float>(p.scale);
  lp.qk_l2norm = p.qk_l2norm ? 1 : 0;
  return lp;
}

DeviceForwardRun run_forward_on_device(lla_context* ctx, int device, const reference::Problem& p,
                                       const reference::Inputs& in,
                                       const DeviceForwardOptions& options) {
  const driver::CudaDriver& d = driver::cuda_driver();
  const compiler::Dtype dtype = dispatch::to_compiler_dtype(options.dtype);
  CUdevice cu_device = 0;
  driver::check_cuda(d, d.cuDeviceGet(&cu_device, device), "cuDeviceGet");
  driver::RetainedPrimaryContext context(d, cu_device);
  driver::ScopedContext current(d, context.get());

  DeviceBuffer q(d, in.q.size() * compiler::dtype_bytes(dtype));
  DeviceBuffer k(d, in.k.size() * compiler::dtype_bytes(dtype));
  DeviceBuffer v(d, in.v.size() * compiler::dtype_bytes(dtype));
  DeviceBuffer g(d, in.g.size() * sizeof(float));
  DeviceBuffer lambda(d, in.lambda.size() * compiler::dtype_bytes(dtype));
  DeviceBuffer beta(d, in.beta.size() * compiler::dtype_bytes(dtype));
  DeviceBuffer o(d, reference::v_size(p) * compiler::dtype_bytes(dtype));
  q.upload(reference::encode(in.q, dtype));
  k.upload(reference::encode(in.k, dtype));
  v.upload(reference::encode(in.v, dtype));
  g.upload(reference::encode(in.g, compiler::Dtype::f32));
  lambda.upload(reference::encode(in.lambda, dtype));
  beta.upload(reference::encode(in.beta, dtype));
  o.upload(std::vector<uint8_t>(o.bytes(), 0xff));  // NaN in every dtype

  const lla_problem problem = to_lla_problem(p, options.dtype, options.chunk);
  const size_t sequences = options.seq_offsets.empty() ? p.batch : options.seq_offsets.size() - 1;
  const size_t state_elements = sequences * reference::state_size(p) / p.batch;
  DeviceBuffer initial_state(d, options.initial_state.size() * sizeof(float));
  DeviceBuffer final_state(d, options.final_state && !options.state_in_place
                                  ? state_elements * sizeof(float)
                                  : 0);
  if (!options.initial_state.empty())
    initial_state.upload(reference::encode(options.initial_state, compiler::Dtype::f32));
  if (options.final_state && !options.state_in_place)
    final_state.upload(std::vector<uint8_t>(final_state.bytes(), 0xff));
  std::vector<long long> final_positions(sequences, -1);

  lla_forward_args args;
  lla_forward_args_init(&args);
  if (!options.seq_offsets.empty()) {
    args.num_seqs = static_cast<int>(sequences);
    args.seq_offsets = options.seq_offsets.data();
  }
  if (!options.start_positions.empty()) args.start_positions = options.start_positions.data();
  if (!options.initial_state.empty()) args.initial_state = static_cast<const float*>(initial_state.get());
  if (options.final_state) {
    args.final_state = static_cast<float*>(options.state_in_place ? initial_state.get() : final_state.get());
    args.final_positions = final_positions.data();
  }
  args.q = q.get();
  args.k = k.get();
  args.v = v.get();
  args.g = static_cast<const float*>(g.get());
  args.lambda = lambda.get();
  args.beta = in.beta.empty() ? nullptr : beta.get();
  args.o = o.get();

  Stream stream(d);
  DeviceForwardRun run;
  const auto first_start = std::chrono::steady_clock::now();
  require_success("lla_forward", ctx, lla_forward(ctx, &problem, &args, stream.get()));
  run.first_call_host_ms = std::chrono::duration<double, std::milli>(
                               std::chrono::steady_clock::now() - first_start).count();
  run.first_call = *last_forward_dispatch();
  stream.synchronize();

  run.o = reference::decode(o.download(), dtype);
  if (options.final_state) {
    run.final_state = reference::decode(
        options.state_in_place ? initial_state.download() : final_state.download(), compiler::Dtype::f32);
    run.final_positions = final_positions;
  }
  run.unwritten = static_cast<size_t>(
      std::count_if(run.o.begin(), run.o.end(), [](double x) { return std::isnan(x); }));

  for (int i = 0; i < options.warmup; ++i)
    require_success("lla_forward", ctx, lla_forward(ctx, &problem, &args, stream.get()));
  if (options.repetitions > 0)
    run.timing = time_repetitions(d, cu_device, stream.get(), options.repetitions, [&] {
      require_success("lla_forward", ctx, lla_forward(ctx, &problem, &args, stream.get()));
    });
  stream.synchronize();
  return run;
}

}  // namespace lla::runtime
