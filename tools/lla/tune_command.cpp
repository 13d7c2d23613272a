// lla tune: tune one problem, or sweep a grid of shapes to tune a new GPU, on GPU 0. Every
// measurement goes to the cache; the best configurations are shown at the end.

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "api/context.h"
#include "commands.h"
#include "forward_tuning.h"
#include "option_values.h"
#include "problem_bucket.h"
#include "tuning/gpu_candidate_bench.h"

namespace lla::tools {

namespace {

const char* const kUsage =
    "usage: lla tune [options]            tune one problem\n"
    "       lla tune --sweep [options]    tune a grid of shapes (a new GPU)\n"
    "\n"
    "Times the configurations of the log-linear Mamba-2 forward on GPU 0, checks each against\n"
    "the heuristic configuration's output, and keeps every measurement in the cache. Only\n"
    "configurations without a stored measurement are timed, unless --force.\n"
    "\n"
    "  --dtype bf16|f16|f32 (bf16)   --batch B (2)   --seq-len T (4096)   --heads H (16)\n"
    "  --groups G (= H)              --dk K (128)    --dv V (128)          --chunk C (0: lla "
    "chooses)\n"
    "  --budget S        seconds per problem (30); with --sweep, for the whole sweep (600)\n"
    "  --max-configs N   the most configurations one problem compiles and times (64)\n"
    "  --force           time every configuration again\n"
    "  --top N           rows of the table of best configurations (5)\n"
    "  --cache-dir DIR   the cache folder (default: LLA_CACHE_DIR, else the XDG cache)\n"
    "  --json            print the reports as JSON instead of text\n"
    "\n"
    "--sweep tunes bf16 problems of 32768 tokens (T = 2048 .. 16384) for head dims (64, 64),\n"
    "(128, 64) and (128, 128) with 16 heads, and the paper's log-linear Mamba-2 (48 heads, one\n"
    "q/k group, K = 128, V = 64, T = 16384).\n"
    "\n"
    "Exit status: 0 tuned; 1 no configuration could be timed; 2 bad usage or no GPU.\n";

constexpr double kDefaultBudgetS = 30;
constexpr double kDefaultSweepBudgetS = 600;

struct TuneRequest {
  tuner::ForwardRequest forward;
  bool sweep = false;
  bool force = false;
  bool as_json = false;
  double budget_s = 0;  // 0: the default of the mode
  int max_configs = 64;
  int top = 5;
  std::string cache_dir;
};

TuneRequest parse(const Args& args) {
  TuneRequest r;
  r.forward.shape.batch = 2;
  r.forward.shape.seq_len = 4096;
  r.forward.shape.heads = 16;
  int groups = 0;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) throw std::invalid_argument(a + " needs a value");
      return args[++i];
    };
    if (a == "--sweep")
      r.sweep = true;
    else if (a == "--force")
      r.force = true;
    else if (a == "--json")
      r.as_json = true;
    else if (a == "--dtype")
      r.forward.dtype = parse_dtype(value());
    else if (a == "--batch")
      r.forward.shape.batch = parse_int(a, value());
    else if (a == "--seq-len")
      r.forward.shape.seq_len = parse_int(a, value());
    else if (a == "--heads")
      r.forward.shape.heads = parse_int(a, value());
    else if (a == "--groups")
      groups = parse_int(a, value());
    else if (a == "--dk")
      r.forward.key_dim = parse_int(a, value());
    else if (a == "--dv")
      r.forward.value_dim = parse_int(a, value());
    else if (a == "--chunk")
      r.forward.chunk = parse_int(a, value());
    else if (a == "--budget")
      r.budget_s = parse_positive_seconds(a, value());
    else if (a == "--max-configs")
      r.max_configs = parse_int(a, value());
    else if (a == "--top")
      r.top = parse_int(a, value());
    else if (a == "--cache-dir")
      r.cache_dir = value();
    else
      throw std::invalid_argument("unknown option " + a);
  }
  r.forward.shape.groups = groups ? groups : r.forward.shape.heads;
  r.forward.levels = lla_num_levels(r.forward.shape.seq_len);
  if (r.budget_s == 0) r.budget_s = r.sweep ? kDefaultSweepBudgetS : kDefaultBudgetS;
  return r;
}

tuner::ForwardRequest model_shape(int batch, int seq_len, int heads, int groups, int key_dim,
                                  int value_dim) {
  tuner::ForwardRequest r;
  r.shape.batch = batch;
  r.shape.seq_len = seq_len;
  r.shape.heads = heads;
  r.shape.groups = groups;
  r.key_dim = key_dim;
  r.value_dim = value_dim;
  r.levels = lla_num_levels(seq_len);
  return r;
}

// perf.md's shapes (32768 tokens, 16 heads) for common head dims, then the paper's model.
std::vector<tuner::ForwardRequest> sweep_grid() {
  std::vector<tuner::ForwardRequest> grid;
  for (const auto& [key_dim, value_dim] : {std::pair{64, 64}, {128, 64}, {128, 128}})
    for (int seq_len : {2048, 4096, 8192, 16384})
      grid.push_back(model_shape(32768 / seq_len, seq_len, 16, 16, key_dim, value_dim));
  grid.push_back(model_shape(2, 16384, 48, 1, 128, 64));
  return grid;
}

// A bar redrawn in place on a terminal; one line per configuration otherwise.
class ProgressDisplay {
 public:
  ProgressDisplay() : terminal_(isatty(STDERR_FILENO) == 1) {}

  void operator()(const tuner::CandidateResult& c, size_t settled, size_t total) {
    if (c.outcome == tuner::CandidateOutcome::timed &&
        (best_ms_ == 0 || c.row.median_ms < best_ms_))
      best_ms_ = c.row.median_ms;
    if (!terminal_) {
      std::fprintf(stderr, "[%zu/%zu] %-7s %s%s%s\n", settled, total,
                   tuner::candidate_outcome_name(c.outcome), compiler::describe(c.spec).c_str(),
                   c.row.detail.empty() ? "" : ": ", c.row.detail.c_str());
      return;
    }
    constexpr size_t kWidth = 30;
    const size_t filled = total ? settled * kWidth / total : kWidth;
    std::fprintf(stderr, "\r[%s%s] %zu/%zu configs, best %.4f ms ",
                 std::string(filled, '#').c_str(), std::string(kWidth - filled, '.').c_str(),
                 settled, total, best_ms_);
    if (settled == total) std::fprintf(stderr, "\n");
  }
  void finish() {
    if (terminal_) std::fprintf(stderr, "\n");
    best_ms_ = 0;
  }

 private:
  bool terminal_;
  double best_ms_ = 0;
};

void print_report(const tuner::TuneReport& report, int top) {
  std::printf("%s\non %s: ", report.problem.c_str(), report.device.c_str());
  size_t counts[5] = {};
  for (const auto& c : report.candidates) ++counts[static_cast<int>(c.outcome)];
  std::printf(
      "%zu configs: %zu timed, %zu reused, %zu failed, %zu pruned, %zu skipped in %.1f s%s%s\n",
      report.candidates.size(), counts[0], counts[3], counts[1], counts[2], counts[4],
      report.elapsed_s, report.stopped_by.empty() ? "" : "; stopped by the ",
      report.stopped_by.c_str());
  std::vector<size_t> timed;
  for (size_t i = 0; i < report.candidates.size(); ++i)
    if (report.candidates[i].row.status == cache::TuningStatus::timed &&
        report.candidates[i].outcome != tuner::CandidateOutcome::skipped)
      timed.push_back(i);
  std::stable_sort(timed.begin(), timed.end(), [&](size_t a, size_t b) {
    return report.candidates[a].row.median_ms < report.candidates[b].row.median_ms;
  });
  std::printf("  %-4s %10s %10s %10s %8s  %s\n", "", "median ms", "min", "max", "noise", "config");
  for (size_t rank = 0; rank < timed.size() && rank < static_cast<size_t>(top); ++rank) {
    const size_t i = timed[rank];
    const cache::TuningRow& row = report.candidates[i].row;
    const char* mark = report.winner == i ? "win" : report.heuristic == i ? "def" : "";
    std::printf("  %-4s %10.4f %10.4f %10.4f %8.4f  %s\n", mark, row.median_ms, row.min_ms,
                row.max_ms, row.noise_ms, compiler::describe(report.candidates[i].spec).c_str());
  }
  for (const auto& c : report.candidates) {
    if (c.row.detail.empty() || c.outcome == tuner::CandidateOutcome::skipped) continue;
    std::printf("  %-6s %s: %s\n", cache::tuning_status_name(c.row.status),
                compiler::describe(c.spec).c_str(), c.row.detail.c_str());
  }
  if (report.winner && report.heuristic &&
      report.candidates[*report.heuristic].row.status == cache::TuningStatus::timed) {
    std::printf("winner: %s, %.2fx the heuristic default\n",
                compiler::describe(report.candidates[*report.winner].spec).c_str(),
                report.candidates[*report.heuristic].row.median_ms /
                    report.candidates[*report.winner].row.median_ms);
  } else if (!report.winner) {
    std::printf("no configuration could be timed\n");
  }
}

}  // namespace

int tune_command(const Args& args) {
  if (std::find(args.begin(), args.end(), "--help") != args.end()) {
    std::printf("%s", kUsage);
    return 0;
  }
  TuneRequest request;
  try {
    request = parse(args);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "lla tune: %s\n\n%s", e.what(), kUsage);
    return 2;
  }
  lla_options options;
  lla_options_init(&options);
  options.tune = LLA_TUNE_OFF;
  if (!request.cache_dir.empty()) options.cache_dir = request.cache_dir.c_str();
  lla_context* ctx = nullptr;
  if (lla_create(&options, &ctx) != LLA_SUCCESS) {
    std::fprintf(stderr, "lla tune: needs a GPU: %s\n", lla_last_error(nullptr));
    return 2;
  }
  const std::unique_ptr<lla_context, void (*)(lla_context*)> owned(ctx, lla_destroy);

  const std::vector<tuner::ForwardRequest> problems =
      request.sweep ? sweep_grid() : std::vector<tuner::ForwardRequest>{request.forward};
  const double started = tuner::steady_tuning_clock().seconds();
  nlohmann::json reports = nlohmann::json::array();
  bool all_timed = true;
  ProgressDisplay progress;
  for (size_t i = 0; i < problems.size(); ++i) {
    const double left = request.budget_s - (tuner::steady_tuning_clock().seconds() - started);
    if (left <= 0) {
      std::fprintf(stderr, "lla tune: the budget ran out before %zu of %zu problems\n",
                   problems.size() - i, problems.size());
      all_timed = false;
      break;
    }
    tuner::TuneOptions tune_options;
    // A sweep shares what is left evenly among the problems still to tune.
    tune_options.budget_s = request.sweep ? left / static_cast<double>(problems.size() - i) : left;
    tune_options.max_candidates = request.max_configs;
    tune_options.retime = request.force;
    if (!request.as_json)
      std::fprintf(
          stderr, "tuning %s (budget %.0f s)\n",
          tuner::problem_key(problems[i],
                             tuner::heuristic_forward_spec(problems[i], ctx->device_info).chunk)
              .c_str(),
          tune_options.budget_s);
    try {
      runtime::driver::ScopedContext current(ctx->driver, ctx->primary_context.get());
      runtime::tuning::GpuCandidateBench bench(ctx->driver, ctx->device, ctx->primary_context.get(),
                                               ctx->device_info, ctx->binary_cache.get(),
                                               ctx->logger, problems[i]);
      const tuner::ForwardChoice choice = tuner::search_forward_spec(
          problems[i], ctx->device_info, ctx->binary_cache.get(), bench, tune_options,
          request.as_json ? tuner::TuneProgress() : tuner::TuneProgress(std::ref(progress)));
      progress.finish();
      all_timed = all_timed && choice.report->winner.has_value();
      if (request.as_json)
        reports.push_back(nlohmann::json::parse(tuner::tune_report_json(*choice.report)));
      else
        print_report(*choice.report, request.top);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "lla tune: %s\n", e.what());
      return 2;
    }
  }
  if (request.as_json)
    std::printf("%s\n", (request.sweep ? reports : reports.at(0)).dump(1).c_str());
  return all_timed ? 0 : 1;
}

}  // namespace lla::tools
