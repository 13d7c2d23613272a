#include "verification/device_forward.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include "api/context_internal.h"
#include "api/validation_checks.h"
#include "reference/dtype_codec.h"
#include "verification/device_resources.h"

namespace lla::runtime {

lla_problem to_lla_problem(const reference::Problem& p, lla_dtype dtype, int chunk) {
  lla_problem lp;
  lla_problem_init(&lp, p.variant == reference::Variant::mamba2 ? LLA_VARIANT_MAMBA2 : LLA_VARIANT_GATED_DELTANET,
                   dtype, p.batch, p.seq_len, p.heads, p.groups, p.key_dim, p.value_dim);
  lp.levels = p.levels;
  lp.chunk = chunk;
  lp.scale = static_cast<float>(p.scale);
  lp.qk_l2norm = p.qk_l2norm ? 1 : 0;
  return lp;
}

DeviceForwardRun run_forward_on_device(lla_context* ctx, const reference::Problem& p, const reference::Inputs& in,
                                       const DeviceForwardOptions& options) {
  const backend::Backend& device = context_backend(*ctx);
  const compiler::Dtype dtype = to_compiler_dtype(options.dtype);
  const auto buffer = [&](size_t elements, compiler::Dtype d) { return device.allocate(elements * compiler::dtype_bytes(d)); };
  const auto uploaded = [&](const std::vector<double>& values, compiler::Dtype d) {
    std::unique_ptr<backend::DeviceMemory> memory = buffer(values.size(), d);
    memory->upload(reference::encode(values, d));
    return memory;
  };
  const auto q = uploaded(in.q, dtype), k = uploaded(in.k, dtype), v = uploaded(in.v, dtype);
  const auto g = uploaded(in.g, compiler::Dtype::f32), lambda = uploaded(in.lambda, dtype);
  const auto beta = uploaded(in.beta, dtype);
  const auto o = buffer(reference::v_size(p), dtype);
  o->upload(std::vector<uint8_t>(o->bytes(), 0xff));  // NaN in every dtype

  const lla_problem problem = to_lla_problem(p, options.dtype, options.chunk);
  const size_t sequences = options.seq_offsets.empty() ? p.batch : options.seq_offsets.size() - 1;
  const size_t state_elements = sequences * reference::state_size(p) / p.batch;
  const auto initial_state = uploaded(options.initial_state, compiler::Dtype::f32);
  const auto final_state =
      buffer(options.final_state && !options.state_in_place ? state_elements : 0, compiler::Dtype::f32);
  if (options.final_state && !options.state_in_place)
    final_state->upload(std::vector<uint8_t>(final_state->bytes(), 0xff));
  std::vector<long long> final_positions(sequences, -1);

  lla_forward_args args;
  lla_forward_args_init(&args);
  if (!options.seq_offsets.empty()) {
    args.num_seqs = static_cast<int>(sequences);
    args.seq_offsets = options.seq_offsets.data();
  }
  if (!options.start_positions.empty()) args.start_positions = options.start_positions.data();
  if (!options.initial_state.empty()) args.initial_state = static_cast<const float*>(initial_state->data());
  if (options.final_state) {
    args.final_state = static_cast<float*>(options.state_in_place ? initial_state->data() : final_state->data());
    args.final_positions = final_positions.data();
  }
  args.q = q->data();
  args.k = k->data();
  args.v = v->data();
  args.g = static_cast<const float*>(g->data());
  args.lambda = lambda->data();
  args.beta = in.beta.empty() ? nullptr : beta->data();
  args.o = o->data();

  const std::unique_ptr<backend::Stream> stream = device.create_stream();
  const auto forward = [&] { require_success("lla_forward", ctx, lla_forward(ctx, &problem, &args, stream->handle())); };
  DeviceForwardRun run;
  const auto first_start = std::chrono::steady_clock::now();
  forward();
  run.first_call_host_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - first_start).count();
  run.first_call = *last_dispatch(compiler::Pass::forward);
  stream->synchronize();

  run.o = reference::decode(o->download(), dtype);
  if (options.final_state) {
    run.final_state = reference::decode(options.state_in_place ? initial_state->download() : final_state->download(),
                                        compiler::Dtype::f32);
    run.final_positions = final_positions;
  }
  run.unwritten =
      static_cast<size_t>(std::count_if(run.o.begin(), run.o.end(), [](double x) { return std::isnan(x); }));

  for (int i = 0; i < options.warmup; ++i) forward();
  if (options.repetitions > 0) run.timing = time_repetitions(device, *stream, options.repetitions, forward);
  stream->synchronize();
  return run;
}

}  // namespace lla::runtime
