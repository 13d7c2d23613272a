// lla bench: the forward benchmark of perf.md (its shapes by default, any shape on the command
// line), and with --decode the decode-step benchmark (bench_decode.cpp).
//
// Protocol (perf.md): random inputs of the real distribution; the output checked against the
// float64 reference before any timing (the first and last head of batch 0: a full float64
// reference at these sizes takes minutes); CUDA events around each run, warm-up first, the
// median of the repetitions with min and max, L2 flushed between runs.

#include <algorithm>
#include <optional>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/context_internal.h"
#include "api/validation_checks.h"
#include "bench_decode.h"
#include "commands.h"
#include "forward_cost.h"
#include "options.h"
#include "progress.h"
#include "owned_context.h"
#include "reference/dtype_codec.h"
#include "reference/reference.h"
#include "verification/device_forward.h"

namespace lla::tools {
namespace {

struct BenchShape {
  int seq_len, batch, heads, groups, key_dim, value_dim;
};

// perf.md's shapes (bf16, H = 16, K = V = 128 unless said) and the peers measured there.
struct PeerFigures {
  BenchShape shape;
  double official_ms;  // 0: not measured (the official code refuses T > 16384)
  double flash_attention_ms;
};

const PeerFigures kPerfShapes[] = {
    {{2048, 16, 16, 16, 128, 128}, 1.94, 0.557},
    {{4096, 8, 16, 16, 128, 128}, 2.44, 1.025},
    {{8192, 4, 16, 16, 128, 128}, 2.74, 1.950},
    {{16384, 2, 16, 16, 128, 128}, 4.03, 3.654},
    {{16384, 2, 48, 1, 128, 64}, 4.58, 0},
    {{65536, 1, 16, 16, 128, 128}, 0, 0},
};

struct BenchOptions {
  std::vector<BenchShape> shapes;
  compiler::Dtype dtype = compiler::Dtype::bf16;
  int chunk = 0;
  int warmup = 5;
  int repetitions = 20;
  bool json = false;
};

BenchShape parse_shape(const std::string& text) {
  std::string as_list = text;
  std::replace(as_list.begin(), as_list.end(), ':', ',');
  const std::string not_a_shape = "'" + text + "' is not T:B[:H[:G[:K[:V]]]]";
  std::vector<int> fields;
  try {
    integer_list(&fields, 1)(as_list);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(not_a_shape + ": " + e.what());
  }
  if (fields.size() < 2 || fields.size() > 6) throw std::invalid_argument(not_a_shape);
  BenchShape s{fields[0], fields[1], 16, 0, 128, 128};
  if (fields.size() > 2) s.heads = fields[2];
  s.groups = fields.size() > 3 ? fields[3] : s.heads;
  if (fields.size() > 4) s.key_dim = fields[4];
  if (fields.size() > 5) s.value_dim = fields[5];
  return s;
}

// The command line of `lla bench` (the forward), storing into *o.
CommandLine command_line(BenchOptions* o) {
  CommandLine c("bench",
                {"bench [--shape T:B[:H[:G[:K[:V]]]]]... [--dtype bf16|f16|f32] [--chunk C] "
                 "[--warmup N] [--repetitions N] [--json]",
                 "bench --decode [options]   (see lla bench --decode --help)"},
                "Times the log-linear Mamba-2 forward on GPU 0 by perf.md's protocol: checked "
                "against the float64 reference first (first and last head of batch 0), then CUDA "
                "events around each run, the warm-ups, the median of the runs with min and max, "
                "L2 flushed between runs. Without --shape: perf.md's shapes (H = 16, K = V = 128; "
                "the paper's H = 48, G = 1, V = 64; and T = 65536). Reports the configuration "
                "chosen, TFLOP/s and GB/s against the floors, and perf.md's peers where it "
                "measured them. On a terminal, a line on stderr shows which shape runs.");
  c.option("--shape", "T:B[:H[:G[:K[:V]]]]",
           "a shape to time, repeatable; H defaults to 16, G to H, K and V to 128",
           [o](const std::string& text) { o->shapes.push_back(parse_shape(text)); })
      .option("--dtype", "bf16|f16|f32", "element type (bf16)", dtype(&o->dtype))
      .option("--chunk", "C", "chunk size (lla chooses)", integer(&o->chunk, 1))
      .option("--warmup", "N", "untimed runs first (5)", integer(&o->warmup, 0))
      .option("--repetitions", "N", "timed runs (20)", integer(&o->repetitions, 1))
      .flag("--json", "print JSON instead of a table", &o->json);
  return c;
}

// One (batch, head) of a problem as a problem of its own, so the reference can check it alone.
reference::Problem single_head(const reference::Problem& p) {
  reference::Problem one = p;
  one.batch = one.heads = one.groups = 1;
  return one;
}

reference::Inputs slice_head(const reference::Problem& p, const reference::Inputs& in, int b,
                             int h) {
  const int group = h / (p.heads / p.groups);
  reference::Inputs out;
  for (int64_t t = 0; t < p.seq_len; ++t) {
    const int64_t token = int64_t{b} * p.seq_len + t;
    const auto qk = in.q.begin() + (token * p.groups + group) * p.key_dim;
    out.q.insert(out.q.end(), qk, qk + p.key_dim);
    const auto kk = in.k.begin() + (token * p.groups + group) * p.key_dim;
    out.k.insert(out.k.end(), kk, kk + p.key_dim);
    const auto vv = in.v.begin() + (token * p.heads + h) * p.value_dim;
    out.v.insert(out.v.end(), vv, vv + p.value_dim);
    out.g.push_back(in.g[token * p.heads + h]);
    const auto ll = in.lambda.begin() + (token * p.heads + h) * p.levels;
    out.lambda.insert(out.lambda.end(), ll, ll + p.levels);
  }
  return out;
}

std::vector<double> output_of_head(const reference::Problem& p, const std::vector<double>& o,
                                   int b, int h) {
  std::vector<double> out;
  for (int64_t t = 0; t < p.seq_len; ++t) {
    const auto row = o.begin() + ((int64_t{b} * p.seq_len + t) * p.heads + h) * p.value_dim;
    out.insert(out.end(), row, row + p.value_dim);
  }
  return out;
}

struct BenchRow {
  BenchShape shape;
  std::string kernel;
  double check_error = 0;
  bool passed = false;
  runtime::TimingSummary timing;
  ForwardCost cost;
  double official_ms = 0, flash_attention_ms = 0;
};

BenchRow bench_shape(lla_context* ctx, const BenchOptions& o, const BenchShape& s) {
  const reference::Problem p = reference::mamba2_problem(s.batch, s.seq_len, s.heads, s.groups,
                                                         s.key_dim, s.value_dim);
  const reference::Inputs inputs = reference::round_inputs(reference::random_inputs(p, 1), o.dtype);

  runtime::DeviceForwardOptions run_options;
  run_options.dtype = runtime::to_lla_dtype(o.dtype);
  run_options.chunk = o.chunk;
  run_options.warmup = o.warmup;
  run_options.repetitions = o.repetitions;
  const runtime::DeviceForwardRun run = runtime::run_forward_on_device(ctx, p, inputs, run_options);

  BenchRow row;
  row.shape = s;
  row.kernel = run.first_call.kernel;
  row.timing = run.timing;
  row.cost = mamba2_forward_cost(p, run.first_call.spec.chunk, compiler::dtype_bytes(o.dtype));
  for (int h : {0, s.heads - 1}) {
    const reference::Problem one = single_head(p);
    const reference::Result want = reference::forward_chunkwise(one, slice_head(p, inputs, 0, h), 64);
    row.check_error = std::max(row.check_error, reference::relative_frobenius_error(
                                                    output_of_head(p, run.o, 0, h), want.o));
  }
  const double tolerance = o.dtype == compiler::Dtype::f32 ? 1e-4 : 1e-2;
  row.passed = run.unwritten == 0 && row.check_error < tolerance;
  for (const PeerFigures& peer : kPerfShapes) {
    const BenchShape& q = peer.shape;
    if (q.seq_len == s.seq_len && q.batch == s.batch && q.heads == s.heads &&
        q.groups == s.groups && q.key_dim == s.key_dim && q.value_dim == s.value_dim &&
        o.dtype == compiler::Dtype::bf16) {
      row.official_ms = peer.official_ms;
      row.flash_attention_ms = peer.flash_attention_ms;
    }
  }
  return row;
}

std::string peer_text(double ms) { return ms > 0 ? std::to_string(ms).substr(0, 5) : "-"; }

std::string shape_text(const BenchShape& s) {
  char text[64];
  std::snprintf(text, sizeof text, "%d:%d:%d:%d:%d:%d", s.seq_len, s.batch, s.heads, s.groups,
                s.key_dim, s.value_dim);
  return text;
}

}  // namespace

int bench_command(const Args& args) {
  if (std::find(args.begin(), args.end(), "--decode") != args.end()) {
    Args rest;
    for (const std::string& a : args)
      if (a != "--decode") rest.push_back(a);
    return bench_decode(rest);
  }
  BenchOptions options;
  if (const std::optional<int> exit = command_line(&options).handle(args)) return *exit;
  if (options.shapes.empty())
    for (const PeerFigures& p : kPerfShapes) options.shapes.push_back(p.shape);
  lla_context* ctx = nullptr;
  if (lla_create(nullptr, &ctx) != LLA_SUCCESS) {
    std::fprintf(stderr, "lla bench: needs a GPU: %s\n", lla_last_error(nullptr));
    return 2;
  }
  const OwnedContext owned(ctx, lla_destroy);
  const compiler::DeviceInfo& device = runtime::context_device_info(*ctx);

  std::vector<BenchRow> rows;
  bool all_passed = true;
  if (!options.json)
    std::printf("%-24s %-8s %-8s %-24s %-9s %-9s %-8s %-8s %s\n", "shape T:B:H:G:K:V", "official",
                "flashatt", "ours median (min-max)", "TFLOP/s", "GB/s", "rel.err", "check", "kernel");
  Progress progress = Progress::on_terminal(stderr, options.json);
  for (size_t i = 0; i < options.shapes.size(); ++i) {
    const BenchShape& s = options.shapes[i];
    progress.task("shape " + shape_text(s) + ": tuning where new, checking, timing", i,
                  options.shapes.size());
    BenchRow row;
    try {
      row = bench_shape(ctx, options, s);
    } catch (const std::exception& e) {
      progress.clear();
      std::fprintf(stderr, "lla bench: %s: %s\n", shape_text(s).c_str(), e.what());
      return 2;
    }
    progress.clear();
    all_passed = all_passed && row.passed;
    rows.push_back(row);
    if (options.json) continue;
    const double seconds = row.timing.median_ms * 1e-3;
    char times[64];
    std::snprintf(times, sizeof times, "%.3f (%.3f-%.3f)", row.timing.median_ms, row.timing.min_ms,
                  row.timing.max_ms);
    std::printf("%-24s %-8s %-8s %-24s %-9.1f %-9.0f %-8.1e %-8s %s\n", shape_text(s).c_str(),
                peer_text(row.official_ms).c_str(), peer_text(row.flash_attention_ms).c_str(), times,
                row.cost.flops / seconds * 1e-12, row.cost.bytes / seconds * 1e-9, row.check_error,
                row.passed ? "PASS" : "FAIL", row.kernel.c_str());
    std::fflush(stdout);
  }
  if (options.json) {
    nlohmann::json report = {{"device", device.name}, {"arch", device.target.name}, {"rows", nlohmann::json::array()}};
    for (const BenchRow& r : rows) {
      const double seconds = r.timing.median_ms * 1e-3;
      report["rows"].push_back({{"seq_len", r.shape.seq_len}, {"batch", r.shape.batch},
                                {"heads", r.shape.heads}, {"groups", r.shape.groups},
                                {"key_dim", r.shape.key_dim}, {"value_dim", r.shape.value_dim},
                                {"kernel", r.kernel}, {"median_ms", r.timing.median_ms},
                                {"min_ms", r.timing.min_ms}, {"max_ms", r.timing.max_ms},
                                {"repetitions", r.timing.repetitions},
                                {"tflops", r.cost.flops / seconds * 1e-12},
                                {"gbps", r.cost.bytes / seconds * 1e-9},
                                {"floor_gflop", r.cost.flops * 1e-9}, {"floor_mb", r.cost.bytes * 1e-6},
                                {"check_rel_error", r.check_error}, {"check_passed", r.passed},
                                {"official_ms", r.official_ms},
                                {"flash_attention_ms", r.flash_attention_ms}});
    }
    std::printf("%s\n", report.dump(2).c_str());
  }
  return all_passed ? 0 : 1;
}

}  // namespace lla::tools
