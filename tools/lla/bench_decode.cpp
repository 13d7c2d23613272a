// lla bench --decode: time per decode step (median, min, max over repetitions after a warm-up,
// L2 flushed before each), the state bytes the step moves (level_blocks_moved of every
// sequence's position), and that traffic as a share of the device's copy bandwidth, measured
// in the same run with a large device-to-device copy (bytes read plus written).
//
// The state is filled with a nonzero constant on the device (a 4 GiB state at batch 256 is no
// host upload): the step's traffic depends on the positions only, and its output is checked
// to be written and finite. Correctness against the reference is the GPU tests' job. Positions
// stay put between repetitions (no advance), so every repetition moves the same bytes.

#include "bench_decode.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "api/context_internal.h"
#include "api/validation_checks.h"
#include "kernels/mamba2_decode_plan.h"
#include "options.h"
#include "progress.h"
#include "reference/dtype_codec.h"
#include "reference/reference.h"
#include "verification/device_decode.h"
#include "verification/device_resources.h"

namespace lla::tools {
namespace {

struct BenchOptions {
  std::vector<int> batches = {1, 16, 64, 256};
  int heads = 16;
  int key_dim = 128;
  int value_dim = 128;
  lla_dtype dtype = LLA_DTYPE_BF16;
  int64_t max_position = 16383;
  int64_t spread = 4096;
  int warmup = 5;
  int repetitions = 20;
  uint64_t seed = 1;
  int64_t copy_mib = 1024;
  bool json = false;
};

// The command line of `lla bench --decode`, storing into *o (whose values are the defaults).
CommandLine command_line(BenchOptions* o) {
  CommandLine c("bench --decode", {"bench --decode [options]"},
                "Times lla_decode_step (log-linear Mamba-2) on GPU 0 for each batch size, every "
                "sequence at a random position in [max-position - spread + 1, max-position], and "
                "reports the state bytes one step moves against the device-to-device copy "
                "bandwidth measured in the same run. On a terminal, a line on stderr shows which "
                "batch runs.");
  c.option("--batches", "B1,B2,...", "batch sizes (1,16,64,256)", integer_list(&o->batches, 1))
      .option("--heads", "H", "heads (16)", integer(&o->heads, 1))
      .option("--dk", "K", "key head dim (128)", integer(&o->key_dim, 1))
      .option("--dv", "V", "value head dim (128)", integer(&o->value_dim, 1))
      .option("--dtype", "bf16|f16|f32", "element type (bf16)",
              choice(&o->dtype, {{"bf16", LLA_DTYPE_BF16},
                                 {"f16", LLA_DTYPE_F16},
                                 {"f32", LLA_DTYPE_F32}}))
      .option("--max-position", "P", "largest position (16383; levels = lla_num_levels(P + 1))",
              integer64(&o->max_position, 0))
      .option("--spread", "S", "positions spread over the last S (4096; at most P + 1)",
              integer64(&o->spread, 1))
      .option("--warmup", "N", "untimed steps first (5)", integer(&o->warmup, 0))
      .option("--repetitions", "N", "timed steps (20, at least 20)", integer(&o->repetitions, 20))
      .option("--seed", "S", "seed of the positions and inputs (1)", unsigned64(&o->seed))
      .option("--copy-mib", "M", "MiB of the bandwidth copy (1024)", integer64(&o->copy_mib, 1))
      .flag("--json", "print JSON instead of a table", &o->json);
  return c;
}

// The device's copy bandwidth in bytes per second: bytes read plus written over the median
// time of a large copy within its memory (CUDA: cuMemcpyDtoDAsync).
double copy_bandwidth(const runtime::backend::Backend& device, int64_t mib, int repetitions) {
  const auto active = device.activate();
  const size_t bytes = static_cast<size_t>(mib) << 20;
  const std::unique_ptr<runtime::backend::DeviceMemory> source = device.allocate(bytes),
                                                        destination = device.allocate(bytes);
  const std::unique_ptr<runtime::backend::Stream> stream = device.create_stream();
  const auto copy = [&] { device.copy(*destination, *source, bytes, *stream); };
  copy();
  stream->synchronize();
  const runtime::TimingSummary t = runtime::time_repetitions(device, *stream, repetitions, copy);
  return 2.0 * static_cast<double>(bytes) / (t.median_ms * 1e-3);
}

struct BatchResult {
  int batch = 0;
  int64_t min_position = 0, max_position = 0;
  double level_blocks_per_sequence = 0;  // mean of level_blocks_moved over the batch
  double state_bytes = 0;                // per step, all sequences and heads
  runtime::TimingSummary timing;
  std::string kernel;
  size_t unwritten = 0;  // o elements left NaN or not finite
};

BatchResult bench_batch(lla_context* ctx, const BenchOptions& o, int batch, uint64_t seed) {
  reference::Problem p;
  p.variant = reference::Variant::mamba2;
  p.batch = batch;
  p.seq_len = 1;
  p.heads = o.heads;
  p.groups = 1;
  p.key_dim = o.key_dim;
  p.value_dim = o.value_dim;
  p.levels = lla_num_levels(o.max_position + 1);
  p.scale = 1.0 / std::sqrt(static_cast<double>(o.key_dim));

  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> around(o.max_position - o.spread + 1, o.max_position);
  std::vector<int64_t> positions(batch);
  for (int64_t& t : positions) t = around(rng);

  runtime::DeviceDecode device(ctx, p, o.dtype, o.max_position);
  device.fill_state(0.01f);
  device.upload_positions(positions);
  device.upload_inputs(reference::round_inputs(reference::random_inputs(p, seed),
                                               runtime::to_compiler_dtype(o.dtype)));

  BatchResult r;
  r.batch = batch;
  r.min_position = *std::min_element(positions.begin(), positions.end());
  r.max_position = *std::max_element(positions.begin(), positions.end());
  int64_t blocks = 0;
  for (int64_t t : positions) blocks += compiler::mamba2_decode::level_blocks_moved(t, p.levels);
  r.level_blocks_per_sequence = static_cast<double>(blocks) / batch;
  r.state_bytes = static_cast<double>(blocks) * o.heads * o.key_dim * o.value_dim * 4.0;

  const std::vector<double> first = device.step(ctx, false);
  r.kernel = runtime::last_dispatch(compiler::Pass::decode)->kernel;
  for (double x : first) r.unwritten += std::isfinite(x) ? 0 : 1;
  const lla_decode_args args = device.args(false);
  const auto step = [&] {
    runtime::require_success("lla_decode_step", ctx,
                             lla_decode_step(ctx, &device.problem(), &args, device.stream().handle()));
  };
  for (int i = 0; i < o.warmup; ++i) step();
  r.timing = runtime::time_repetitions(device.backend(), device.stream(), o.repetitions, step);
  return r;
}

void print_table(const BenchOptions& o, const std::string& device_name, double copy_bytes_per_s,
                 const std::vector<BatchResult>& results) {
  std::printf("decode step, log-linear Mamba-2 %s, H=%d K=%d V=%d L=%d, on %s\n",
              compiler::dtype_name(runtime::to_compiler_dtype(o.dtype)), o.heads, o.key_dim, o.value_dim, lla_num_levels(o.max_position + 1),
              device_name.c_str());
  std::printf("copy bandwidth (a copy within device memory, read + write): %.0f GB/s\n\n",
              copy_bytes_per_s * 1e-9);
  std::printf("%6s %13s %11s %11s %10s %10s %10s %9s %8s\n", "batch", "positions",
              "levels/seq", "state MB", "median us", "min us", "max us", "GB/s", "% copy");
  for (const BatchResult& r : results) {
    const double bytes_per_s = r.state_bytes / (r.timing.median_ms * 1e-3);
    const std::string range = std::to_string(r.min_position) + "-" + std::to_string(r.max_position);
    std::printf("%6d %13s %11.1f %11.2f %10.2f %10.2f %10.2f %9.0f %7.1f%%\n", r.batch,
                range.c_str(), r.level_blocks_per_sequence, r.state_bytes * 1e-6,
                r.timing.median_ms * 1e3, r.timing.min_ms * 1e3, r.timing.max_ms * 1e3,
                bytes_per_s * 1e-9, 100.0 * bytes_per_s / copy_bytes_per_s);
  }
  if (!results.empty()) std::printf("\nkernel: %s (at batch %d)\n", results.back().kernel.c_str(),
                                    results.back().batch);
}

void print_json(const BenchOptions& o, const std::string& device_name, double copy_bytes_per_s,
                const std::vector<BatchResult>& results) {
  nlohmann::json rows = nlohmann::json::array();
  for (const BatchResult& r : results) {
    const double bytes_per_s = r.state_bytes / (r.timing.median_ms * 1e-3);
    rows.push_back({{"batch", r.batch},
                    {"min_position", r.min_position},
                    {"max_position", r.max_position},
                    {"level_blocks_per_sequence", r.level_blocks_per_sequence},
                    {"state_bytes_per_step", r.state_bytes},
                    {"median_us", r.timing.median_ms * 1e3},
                    {"min_us", r.timing.min_ms * 1e3},
                    {"max_us", r.timing.max_ms * 1e3},
                    {"repetitions", r.timing.repetitions},
                    {"state_bytes_per_s", bytes_per_s},
                    {"fraction_of_copy_bandwidth", bytes_per_s / copy_bytes_per_s},
                    {"kernel", r.kernel}});
  }
  const nlohmann::json out = {
      {"benchmark", "decode"},
      {"variant", "mamba2"},
      {"dtype", compiler::dtype_name(runtime::to_compiler_dtype(o.dtype))},
      {"heads", o.heads},
      {"key_dim", o.key_dim},
      {"value_dim", o.value_dim},
      {"levels", lla_num_levels(o.max_position + 1)},
      {"device", device_name},
      {"copy_bytes_per_s", copy_bytes_per_s},
      {"results", rows}};
  std::printf("%s\n", out.dump(2).c_str());
}

}  // namespace

int bench_decode(const Args& args) {
  BenchOptions o;
  if (const std::optional<int> exit = command_line(&o).handle(args, [&] {
        if (o.spread > o.max_position + 1)
          throw UsageError("--spread: " + std::to_string(o.spread) + " is more than " +
                           "--max-position + 1 = " + std::to_string(o.max_position + 1));
      }))
    return *exit;
  lla_options options;
  lla_options_init(&options);
  options.tune = LLA_TUNE_OFF;
  lla_context* ctx = nullptr;
  if (lla_create(&options, &ctx) != LLA_SUCCESS) {
    std::fprintf(stderr, "lla bench --decode: nothing ran: %s\n", lla_last_error(nullptr));
    return 2;
  }
  int status = 0;
  try {
    const compiler::DeviceInfo& device = runtime::context_device_info(*ctx);
    Progress progress = Progress::on_terminal(stderr, o.json);
    progress.task("measuring the device-to-device copy bandwidth", 0, 1);
    const double copy_bytes_per_s = copy_bandwidth(runtime::context_backend(*ctx), o.copy_mib, o.repetitions);
    std::vector<BatchResult> results;
    for (size_t i = 0; i < o.batches.size(); ++i) {
      progress.task("decode step at batch " + std::to_string(o.batches[i]) + ": timing", i,
                    o.batches.size());
      results.push_back(bench_batch(ctx, o, o.batches[i], o.seed + i));
    }
    progress.clear();
    if (o.json) print_json(o, device.name, copy_bytes_per_s, results);
    else print_table(o, device.name, copy_bytes_per_s, results);
    for (const BatchResult& r : results) {
      if (r.unwritten == 0) continue;
      std::fprintf(stderr, "lla bench --decode: batch %d left %zu output elements unwritten or "
                           "not finite\n", r.batch, r.unwritten);
      status = 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lla bench --decode: %s\n", e.what());
    status = 2;
  }
  lla_destroy(ctx);
  return status;
}

}  // namespace lla::tools
