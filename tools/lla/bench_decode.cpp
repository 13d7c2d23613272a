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
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "api/context_internal.h"
#include "dispatch/module_launch.h"
#include "driver/cuda_driver.h"
#include "kernels/mamba2_decode_plan.h"
#include "option_values.h"
#include "reference/dtype_codec.h"
#include "reference/reference.h"
#include "verification/device_decode.h"
#include "verification/device_resources.h"

namespace lla::tools {
namespace {

const char* const kUsage =
    "usage: lla bench --decode [options]\n"
    "\n"
    "Times lla_decode_step (log-linear Mamba-2) on GPU 0 for each batch size, every sequence at\n"
    "a random position in [max-position - spread + 1, max-position], and reports the state\n"
    "bytes one step moves against the device-to-device copy bandwidth measured in the same run.\n"
    "\n"
    "  --batches B1,B2,...   batch sizes (1,16,64,256)\n"
    "  --heads H (16)        --dk K (128)        --dv V (128)       --dtype bf16|f16|f32 (bf16)\n"
    "  --max-position P (16383; levels = lla_num_levels(P + 1))    --spread S (4096)\n"
    "  --warmup N (5)        --repetitions N (20, at least 20)     --seed S (1)\n"
    "  --copy-mib M (1024)   bytes of the bandwidth copy\n"
    "  --json                print JSON instead of a table\n";

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
  bool help = false;
};

// A 64-bit integer option (positions); parse_int covers the int ones.
int64_t parse_int64(const std::string& option, const std::string& text) {
  size_t used = 0;
  long long parsed = 0;
  try {
    parsed = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size())
    throw std::invalid_argument(option + ": '" + text + "' is not an integer");
  return parsed;
}

lla_dtype to_lla_dtype(compiler::Dtype d) {
  switch (d) {
    case compiler::Dtype::f32: return LLA_DTYPE_F32;
    case compiler::Dtype::f16: return LLA_DTYPE_F16;
    case compiler::Dtype::bf16: return LLA_DTYPE_BF16;
  }
  throw std::invalid_argument("dtype: unknown value");
}

std::vector<int> parse_list(const std::string& option, const std::string& text) {
  std::vector<int> values;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    values.push_back(parse_int(option, text.substr(start, comma - start)));
    start = comma + 1;
  }
  return values;
}

BenchOptions parse_options(const Args& args) {
  BenchOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      o.help = true;
      continue;
    }
    if (arg == "--json") {
      o.json = true;
      continue;
    }
    if (i + 1 >= args.size()) throw std::invalid_argument("unknown option or missing value: " + arg);
    const std::string& value = args[++i];
    if (arg == "--batches") o.batches = parse_list(arg, value);
    else if (arg == "--heads") o.heads = parse_int(arg, value);
    else if (arg == "--dk") o.key_dim = parse_int(arg, value);
    else if (arg == "--dv") o.value_dim = parse_int(arg, value);
    else if (arg == "--max-position") o.max_position = parse_int64(arg, value);
    else if (arg == "--spread") o.spread = parse_int64(arg, value);
    else if (arg == "--warmup") o.warmup = parse_int(arg, value);
    else if (arg == "--repetitions") o.repetitions = parse_int(arg, value);
    else if (arg == "--seed") o.seed = static_cast<uint64_t>(parse_int64(arg, value));
    else if (arg == "--copy-mib") o.copy_mib = parse_int64(arg, value);
    else if (arg == "--dtype") o.dtype = to_lla_dtype(parse_dtype(value));
    else {
      throw std::invalid_argument("unknown option " + arg);
    }
  }
  for (int b : o.batches)
    if (b < 1) throw std::invalid_argument("--batches: " + std::to_string(b) + " is not positive");
  if (o.max_position < 0) throw std::invalid_argument("--max-position must not be negative");
  if (o.spread < 1 || o.spread > o.max_position + 1)
    throw std::invalid_argument("--spread must be in [1, max-position + 1]");
  if (o.warmup < 0) throw std::invalid_argument("--warmup must not be negative");
  if (o.repetitions < 20) throw std::invalid_argument("--repetitions must be at least 20");
  if (o.copy_mib < 1) throw std::invalid_argument("--copy-mib must be positive");
  return o;
}

// Device-to-device copy bandwidth in bytes per second: bytes read plus written over the
// median time of a large cuMemcpyDtoDAsync.
double copy_bandwidth(const runtime::driver::CudaDriver& d, CUdevice device, int64_t mib,
                      int repetitions) {
  const size_t bytes = static_cast<size_t>(mib) << 20;
  runtime::DeviceBuffer source(d, bytes), destination(d, bytes);
  runtime::Stream stream(d);
  const auto copy = [&] {
    runtime::driver::check_cuda(
        d, d.cuMemcpyDtoDAsync(destination.address(), source.address(), bytes, stream.get()),
        "cuMemcpyDtoDAsync");
  };
  copy();
  stream.synchronize();
  const runtime::TimingSummary t =
      runtime::time_repetitions(d, device, stream.get(), repetitions, copy);
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

  runtime::DeviceDecode device(0, p, o.dtype, o.max_position);
  device.fill_state(0.01f);
  device.upload_positions(positions);
  device.upload_inputs(reference::round_inputs(reference::random_inputs(p, seed),
                                               runtime::dispatch::to_compiler_dtype(o.dtype)));

  BatchResult r;
  r.batch = batch;
  r.min_position = *std::min_element(positions.begin(), positions.end());
  r.max_position = *std::max_element(positions.begin(), positions.end());
  int64_t blocks = 0;
  for (int64_t t : positions) blocks += compiler::mamba2_decode::level_blocks_moved(t, p.levels);
  r.level_blocks_per_sequence = static_cast<double>(blocks) / batch;
  r.state_bytes = static_cast<double>(blocks) * o.heads * o.key_dim * o.value_dim * 4.0;

  const std::vector<double> first = device.step(ctx, false);
  r.kernel = runtime::last_decode_dispatch()->kernel;
  for (double x : first) r.unwritten += std::isfinite(x) ? 0 : 1;
  const lla_decode_args args = device.args(false);
  const auto step = [&] {
    runtime::require_success("lla_decode_step", ctx,
                             lla_decode_step(ctx, &device.problem(), &args, device.stream()));
  };
  for (int i = 0; i < o.warmup; ++i) step();
  r.timing = runtime::time_repetitions(runtime::driver::cuda_driver(), device.device(),
                                       device.stream(), o.repetitions, step);
  return r;
}

void print_table(const BenchOptions& o, const std::string& device_name, double copy_bytes_per_s,
                 const std::vector<BatchResult>& results) {
  std::printf("decode step, log-linear Mamba-2 %s, H=%d K=%d V=%d L=%d, on %s\n",
              compiler::dtype_name(runtime::dispatch::to_compiler_dtype(o.dtype)), o.heads, o.key_dim, o.value_dim, lla_num_levels(o.max_position + 1),
              device_name.c_str());
  std::printf("copy bandwidth (cuMemcpyDtoDAsync, read + write): %.0f GB/s\n\n",
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
      {"dtype", compiler::dtype_name(runtime::dispatch::to_compiler_dtype(o.dtype))},
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
  try {
    o = parse_options(args);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "lla bench --decode: %s\n", e.what());
    return 2;
  }
  if (o.help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  const auto& loaded = runtime::driver::load_cuda_driver();
  if (!loaded.driver) {
    std::fprintf(stderr, "lla bench --decode: nothing ran: %s\n",
                 loaded.unavailable_reason.c_str());
    return 2;
  }
  lla_options options;
  lla_options_init(&options);
  options.tune = LLA_TUNE_OFF;
  lla_context* ctx = nullptr;
  if (lla_create(&options, &ctx) != LLA_SUCCESS) {
    std::fprintf(stderr, "lla bench --decode: %s\n", lla_last_error(nullptr));
    return 2;
  }
  int status = 0;
  try {
    const tuner::DeviceInfo& device = runtime::context_device_info(*ctx);
    const runtime::driver::CudaDriver& d = runtime::driver::cuda_driver();
    CUdevice cu_device = 0;
    runtime::driver::check_cuda(d, d.cuDeviceGet(&cu_device, 0), "cuDeviceGet");
    double copy_bytes_per_s = 0;
    {
      runtime::driver::RetainedPrimaryContext primary(d, cu_device);
      runtime::driver::ScopedContext current(d, primary.get());
      copy_bytes_per_s = copy_bandwidth(d, cu_device, o.copy_mib, o.repetitions);
    }
    std::vector<BatchResult> results;
    for (size_t i = 0; i < o.batches.size(); ++i)
      results.push_back(bench_batch(ctx, o, o.batches[i], o.seed + i));
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
