// lla run: the main job. JIT-compile a problem's kernel (or find it in the cache), run it on
// the device lla_create picks (LLA_BACKEND_AUTO), check it against the float64 reference and
// time it. With no device to run on it compiles for a named architecture, says that nothing ran
// and why, and succeeds.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "api/context_internal.h"
#include "api/validation_checks.h"
#include "api/logger.h"
#include "api/status_error.h"
#include "backend/registry.h"
#include "binary_cache.h"
#include "cache_location.h"
#include "commands.h"
#include "dispatch/binary_provider.h"
#include "forward_cost.h"
#include "options.h"
#include "owned_context.h"
#include "heuristic_config.h"
#include "reference/dtype_codec.h"
#include "reference/reference.h"
#include "verification/device_forward.h"

namespace lla::tools {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kReferenceChunk = 64;

struct RunOptions {
  reference::Problem problem;
  compiler::Dtype dtype = compiler::Dtype::bf16;
  int chunk = 0;
  std::string arch = "sm_90a";  // without a GPU only
  int warmup = 5;
  int repetitions = 20;
  uint64_t seed = 1;
};

// The command line of `lla run`, storing into *o (whose values are the defaults).
CommandLine command_line(RunOptions* o) {
  reference::Problem& p = o->problem;
  CommandLine c("run", {"run [options]"},
                "JIT-compiles the log-linear Mamba-2 forward for a problem (or finds it in the "
                "cache), runs it on GPU 0, checks it against the float64 reference on the same "
                "random inputs, and times it (median of the repetitions, L2 flushed between).\n"
                "Without a GPU it compiles for --arch, says that nothing ran and why, and exits 0.");
  c.option("--dtype", "bf16|f16|f32", "element type of q, k, v, o (bf16)", dtype(&o->dtype))
      .option("--batch", "B", "batch (2)", integer(&p.batch, 1))
      .option("--seq-len", "T", "sequence length (2048)", integer(&p.seq_len, 1))
      .option("--heads", "H", "heads (8)", integer(&p.heads, 1))
      .option("--groups", "G", "q/k groups (8)", integer(&p.groups, 1))
      .option("--dk", "K", "key head dim (128)", integer(&p.key_dim, 1))
      .option("--dv", "V", "value head dim (128)", integer(&p.value_dim, 1))
      .option("--chunk", "C", "chunk size (0: lla chooses)", integer(&o->chunk, 0))
      .option("--arch", "ARCH", "NVRTC target without a GPU (sm_90a)", text(&o->arch))
      .option("--warmup", "N", "untimed runs first (5)", integer(&o->warmup, 0))
      .option("--repetitions", "N", "timed runs (20)", integer(&o->repetitions, 1))
      .option("--seed", "S", "seed of the random inputs (1)", unsigned64(&o->seed))
      .notes("Exit status: 0 checked (or compiled without a GPU); 1 the check failed; 2 bad usage "
             "or a failure to compile or run.");
  return c;
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

void print_problem(const RunOptions& o) {
  const reference::Problem& p = o.problem;
  std::printf("problem   log-linear Mamba-2 %s B=%d T=%d H=%d G=%d K=%d V=%d L=%d chunk=%s\n",
              compiler::dtype_name(o.dtype), p.batch, p.seq_len, p.heads, p.groups,
              p.key_dim, p.value_dim, p.levels,
              o.chunk ? std::to_string(o.chunk).c_str() : "auto");
}

// No device: generate and compile (or find in the cache) what a GPU of `arch` would run.
int compile_only(const RunOptions& o, const std::string& why) {
  const runtime::Logger logger(runtime::log_level_from_env());
  compiler::DeviceInfo device;
  device.target = compiler::cuda_target(o.arch);
  compiler::Request request;
  request.family = {compiler::Variant::mamba2, compiler::Pass::forward};
  request.dtype = o.dtype;
  request.key_dim = o.problem.key_dim;
  request.value_dim = o.problem.value_dim;
  request.levels = o.problem.levels;
  request.chunk = o.chunk;
  const compiler::KernelSpec spec = tuner::heuristic_spec(request, device);

  std::unique_ptr<cache::BinaryCache> cache;
  try {
    cache = std::make_unique<cache::BinaryCache>(
        cache::default_cache_dir(), [&](const std::string& m) { logger.warn(m); });
  } catch (const cache::CacheError& e) {
    logger.warn(std::string("running without a binary cache: ") + e.what());
  }
  const runtime::backend::Toolchain* toolchain = runtime::backend::find_toolchain(spec.target.backend);
  if (!toolchain)
    throw std::runtime_error(std::string("this build has no ") + compiler::backend_name(spec.target.backend) +
                             " toolchain");
  const Clock::time_point start = Clock::now();
  const runtime::dispatch::ObtainedBinary binary = runtime::dispatch::obtain_binary(*toolchain, spec, cache.get(), logger);
  const double obtain_ms = ms_since(start);

  print_problem(o);
  std::printf("kernel    %s\n", compiler::describe(spec).c_str());
  std::printf("cache     %s\n", cache ? cache->path().c_str() : "(none)");
  if (binary.source == runtime::dispatch::KernelSource::cache)
    std::printf("binary    cache hit (%zu bytes, %.1f ms)\n", binary.image.bytes.size(), obtain_ms);
  else
    std::printf("binary    compiled with NVRTC in %.1f ms (%zu bytes, %.1f ms in all)\n",
                binary.image.compile_ms, binary.image.bytes.size(), obtain_ms);
  std::printf("no GPU    nothing ran: %s\n", why.c_str());
  return 0;
}

// `device_start_ms`: opening the device in this process (CUDA: the driver's cuInit and the
// primary context, which a host application that uses CUDA already holds) before anything of
// lla's; `device` stays open meanwhile, so lla_create finds it started.
int run_on_device(const RunOptions& o, const runtime::backend::Backend& device_started, double device_start_ms) {
  const reference::Problem& p = o.problem;

  const Clock::time_point create_start = Clock::now();
  lla_options options;
  lla_options_init(&options);
  const OwnedContext owned = create_context(&options);
  const double create_ms = ms_since(create_start);
  lla_context* ctx = owned.get();
  const compiler::DeviceInfo& device = runtime::context_device_info(*ctx);
  const std::string cache_path = runtime::context_cache_path(*ctx);
  const char* backend = compiler::backend_name(device_started.kind());

  const reference::Inputs inputs =
      reference::round_inputs(reference::random_inputs(p, o.seed), o.dtype);
  runtime::DeviceForwardOptions run_options;
  run_options.dtype = runtime::to_lla_dtype(o.dtype);
  run_options.chunk = o.chunk;
  run_options.warmup = o.warmup;
  run_options.repetitions = o.repetitions;
  const runtime::DeviceForwardRun run = runtime::run_forward_on_device(ctx, p, inputs, run_options);

  const Clock::time_point reference_start = Clock::now();
  const reference::Result want = reference::forward_chunkwise(p, inputs, kReferenceChunk);
  const double reference_ms = ms_since(reference_start);
  const double error = reference::relative_frobenius_error(run.o, want.o);
  const double tolerance = o.dtype == compiler::Dtype::f32 ? 1e-4 : 1e-2;
  const bool passed = run.unwritten == 0 && error < tolerance;

  const auto& info = run.first_call;
  const ForwardCost cost =
      mamba2_forward_cost(p, info.spec.chunk, compiler::dtype_bytes(o.dtype));
  const double seconds = run.timing.median_ms * 1e-3;

  print_problem(o);
  std::printf("device    %s: %s (%s, %d parallel units)\n", backend, device.name.c_str(), device.target.name.c_str(),
              device.sm_count);
  std::printf("kernel    %s\n", info.kernel.c_str());
  std::printf("cache     %s\n", cache_path.empty() ? "(none)" : cache_path.c_str());
  std::printf("binary    %s", runtime::dispatch::kernel_source_name(info.source));
  if (info.source == runtime::dispatch::KernelSource::compile)
    std::printf(" (compiled in %.1f ms)", info.compile_ms);
  std::printf(", module ready in %.1f ms\n", info.build_ms);
  std::printf("startup   the device itself: %.1f ms to open the %s backend (CUDA: cuInit and the primary "
              "context; paid once by any process on it)\n",
              device_start_ms, backend);
  std::printf("launch    lla_create %.1f ms + first lla_forward %.1f ms = %.1f ms to a queued "
              "kernel (%zu launches, %.1f MiB workspace)\n",
              create_ms, run.first_call_host_ms, create_ms + run.first_call_host_ms, info.launches,
              info.workspace_bytes / 1048576.0);
  std::printf("check     %s rel_frobenius_err=%.3g (tolerance %.0e) unwritten=%zu "
              "(reference %.0f ms)\n",
              passed ? "PASS" : "FAIL", error, tolerance, run.unwritten, reference_ms);
  std::printf("time      median %.4f ms (min %.4f, max %.4f, %d runs)\n", run.timing.median_ms,
              run.timing.min_ms, run.timing.max_ms, run.timing.repetitions);
  std::printf("rate      %.1f TFLOP/s of %.1f GFLOP floor work, %.0f GB/s of %.1f MB floor traffic\n",
              cost.flops / seconds * 1e-12, cost.flops * 1e-9, cost.bytes / seconds * 1e-9,
              cost.bytes * 1e-6);
  return passed ? 0 : 1;
}

}  // namespace

int run_command(const Args& args) {
  RunOptions options;
  options.problem = reference::mamba2_problem(2, 2048, 8, 8, 128, 128);
  if (const std::optional<int> exit = command_line(&options).handle(args)) return *exit;
  options.problem.levels = lla_num_levels(options.problem.seq_len);
  try {
    const Clock::time_point device_start = Clock::now();
    std::unique_ptr<runtime::backend::Backend> device;
    try {
      device = runtime::backend::open_backend(LLA_BACKEND_AUTO, {});
    } catch (const runtime::StatusError& e) {
      if (e.status() != LLA_ERR_NO_DEVICE) throw;
      return compile_only(options, e.what());
    }
    return run_on_device(options, *device, ms_since(device_start));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lla run: %s\n", e.what());
    return 2;
  }
}

}  // namespace lla::tools
