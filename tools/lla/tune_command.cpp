// lla tune: tune one problem, or sweep a grid of shapes to tune a new GPU, on GPU 0. Every
// measurement goes to the cache; the best configurations are shown at the end.

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "api/context_internal.h"
#include "commands.h"
#include "tuning.h"
#include "options.h"
#include "progress.h"
#include "problem_bucket.h"

namespace lla::tools {

namespace {

constexpr double kDefaultBudgetS = 30;
constexpr double kDefaultSweepBudgetS = 600;

struct TuneRequest {
  compiler::Request forward;
  bool sweep = false;
  bool force = false;
  bool as_json = false;
  double budget_s = 0;  // 0: the default of the mode
  int max_configs = 64;
  int top = 5;
  std::string cache_dir;
};

// The command line of `lla tune`, storing into *r (whose values are the defaults) and *groups.
CommandLine command_line(TuneRequest* r, int* groups) {
  compiler::Request& f = r->forward;
  CommandLine c("tune",
                {"tune [options]            tune one problem",
                 "tune --sweep [options]    tune a grid of shapes (a new GPU)"},
                "Times the configurations of the log-linear Mamba-2 forward on GPU 0, checks each "
                "against the heuristic configuration's output, and keeps every measurement in the "
                "cache. Only configurations without a stored measurement are timed, unless "
                "--force. On a terminal, a line on stderr shows the problem, the configurations "
                "settled and the time left.");
  c.option("--dtype", "bf16|f16|f32", "element type (bf16)", dtype(&f.dtype))
      .option("--batch", "B", "batch (2)", integer(&f.shape.batch))
      .option("--seq-len", "T", "sequence length (4096)", integer(&f.shape.seq_len))
      .option("--heads", "H", "heads (16)", integer(&f.shape.heads))
      .option("--groups", "G", "q/k groups (= H)", integer(groups))
      .option("--dk", "K", "key head dim (128)", integer(&f.key_dim))
      .option("--dv", "V", "value head dim (128)", integer(&f.value_dim))
      .option("--chunk", "C", "chunk size (0: lla chooses)", integer(&f.chunk))
      .option("--budget", "S", "seconds per problem (30); with --sweep, for the whole sweep (600)",
              positive_seconds(&r->budget_s))
      .option("--max-configs", "N", "the most configurations one problem compiles and times (64)",
              integer(&r->max_configs))
      .flag("--force", "time every configuration again", &r->force)
      .option("--top", "N", "rows of the table of best configurations (5)", integer(&r->top))
      .option("--cache-dir", "DIR", "the cache folder (default: LLA_CACHE_DIR, else the XDG cache)",
              text(&r->cache_dir))
      .flag("--sweep", "tune the grid of shapes below instead of one problem", &r->sweep)
      .flag("--json", "print the reports as JSON instead of text", &r->as_json)
      .notes("--sweep tunes bf16 problems of 32768 tokens (T = 2048 .. 16384) for head dims (64, "
             "64), (128, 64) and (128, 128) with 16 heads, and the paper's log-linear Mamba-2 (48 "
             "heads, one q/k group, K = 128, V = 64, T = 16384).\n\n"
             "Exit status: 0 tuned; 1 no configuration could be timed; 2 bad usage or no GPU.");
  return c;
}

compiler::Request model_shape(int batch, int seq_len, int heads, int groups, int key_dim,
                                  int value_dim) {
  compiler::Request r;
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
std::vector<compiler::Request> sweep_grid() {
  std::vector<compiler::Request> grid;
  for (const auto& [key_dim, value_dim] : {std::pair{64, 64}, {128, 64}, {128, 128}})
    for (int seq_len : {2048, 4096, 8192, 16384})
      grid.push_back(model_shape(32768 / seq_len, seq_len, 16, 16, key_dim, value_dim));
  grid.push_back(model_shape(2, 16384, 48, 1, 128, 64));
  return grid;
}

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
  TuneRequest request;
  request.forward.shape.batch = 2;
  request.forward.shape.seq_len = 4096;
  request.forward.shape.heads = 16;
  int groups = 0;
  if (const std::optional<int> exit = command_line(&request, &groups).handle(args)) return *exit;
  request.forward.shape.groups = groups ? groups : request.forward.shape.heads;
  request.forward.levels = lla_num_levels(request.forward.shape.seq_len);
  if (request.budget_s == 0) request.budget_s = request.sweep ? kDefaultSweepBudgetS : kDefaultBudgetS;
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

  const std::vector<compiler::Request> problems =
      request.sweep ? sweep_grid() : std::vector<compiler::Request>{request.forward};
  const double started = tuner::steady_tuning_clock().seconds();
  nlohmann::json reports = nlohmann::json::array();
  bool all_timed = true;
  Progress progress = Progress::on_terminal(stderr, request.as_json);
  progress.set_budget(request.budget_s);
  for (size_t i = 0; i < problems.size(); ++i) {
    const double left = request.budget_s - (tuner::steady_tuning_clock().seconds() - started);
    if (left <= 0) {
      progress.clear();
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
    progress.task("tuning " + tuner::problem_key(problems[i], tuner::heuristic_spec(
                                                                  problems[i], runtime::context_device_info(*ctx))
                                                                  .chunk),
                  i, problems.size());
    double best_ms = 0;
    const tuner::TuneProgress show = [&](const tuner::CandidateResult& c, size_t settled,
                                         size_t total) {
      if (c.outcome == tuner::CandidateOutcome::timed && (best_ms == 0 || c.row.median_ms < best_ms))
        best_ms = c.row.median_ms;
      char best[64] = "";
      if (best_ms > 0) std::snprintf(best, sizeof best, "best %.4f ms", best_ms);
      progress.update(settled, total, "configs", best);
    };
    try {
      const std::unique_ptr<tuner::CandidateBench> bench = runtime::context_candidate_bench(*ctx, problems[i]);
      const tuner::Choice choice =
          tuner::search_spec(problems[i], runtime::context_device_info(*ctx), runtime::context_binary_cache(*ctx),
                             *bench, tune_options, progress.enabled() ? show : tuner::TuneProgress());
      progress.clear();
      all_timed = all_timed && choice.report->winner.has_value();
      if (request.as_json)
        reports.push_back(nlohmann::json::parse(tuner::tune_report_json(*choice.report)));
      else
        print_report(*choice.report, request.top);
    } catch (const std::exception& e) {
      progress.clear();
      std::fprintf(stderr, "lla tune: %s\n", e.what());
      return 2;
    }
  }
  if (request.as_json)
    std::printf("%s\n", (request.sweep ? reports : reports.at(0)).dump(1).c_str());
  return all_timed ? 0 : 1;
}

}  // namespace lla::tools
