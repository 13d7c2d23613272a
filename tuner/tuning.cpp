#include "tuning.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <future>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <thread>

#include "problem_bucket.h"
#include "pruning.h"

namespace lla::tuner {

namespace {

// A search's lease outlives its budget by this much before others may take it over.
constexpr double kTuneLeaseMarginS = 120;

int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class SteadyTuningClock : public TuningClock {
 public:
  double seconds() override {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

compiler::KernelSpec with_tile(compiler::KernelSpec base, const compiler::TileConfig& tile) {
  base.tile = tile;
  return base;
}

// The order in which a search times candidates: the heuristic first, then the space's order
// (exhaustive) or a coarse sample followed by the untimed configs nearest the best so far.
class CandidateOrder {
 public:
  CandidateOrder(std::vector<size_t> pending, std::optional<size_t> heuristic,
                 size_t exhaustive_limit)
      : pending_(std::move(pending)) {
    if (heuristic && std::count(pending_.begin(), pending_.end(), *heuristic))
      sample_.push_back(*heuristic);
    const size_t stride = pending_.size() <= exhaustive_limit
                              ? 1
                              : (pending_.size() + exhaustive_limit - 1) / exhaustive_limit;
    for (size_t i = 0; i < pending_.size(); i += stride)
      if (pending_[i] != heuristic) sample_.push_back(pending_[i]);
  }

  bool empty() const { return taken_.size() == pending_.size(); }

  // The next candidate; `best` is the space index of the best timed config so far. Once the
  // sample is used up: the untaken config nearest to `best` in the space's order, the earlier
  // of two at the same distance.
  size_t next(std::optional<size_t> best) {
    size_t chosen = SIZE_MAX;
    if (!sample_.empty()) {
      chosen = sample_.front();
      sample_.pop_front();
    } else {
      const size_t centre = best.value_or(pending_.front());
      size_t nearest = SIZE_MAX;
      for (size_t index : pending_) {
        const size_t distance = index > centre ? index - centre : centre - index;
        if (!taken_.count(index) && distance < nearest) {
          nearest = distance;
          chosen = index;
        }
      }
    }
    taken_.insert(chosen);
    return chosen;
  }

 private:
  std::vector<size_t> pending_;  // space indices left to time, in the space's order
  std::deque<size_t> sample_;    // the heuristic, then every stride-th pending index
  std::set<size_t> taken_;
};

std::vector<const cache::TuningRow*> rows_in_space_order(
    const std::vector<CandidateResult>& candidates) {
  std::vector<const cache::TuningRow*> rows;
  for (const CandidateResult& c : candidates)
    rows.push_back(c.outcome == CandidateOutcome::skipped ? nullptr : &c.row);
  return rows;
}

}  // namespace

TuningClock& steady_tuning_clock() {
  static SteadyTuningClock clock;
  return clock;
}

std::vector<compiler::TileConfig> config_space(const compiler::KernelSpec& base) {
  return compiler::family_for(base.family).config_space(base);
}

const char* candidate_outcome_name(CandidateOutcome o) {
  static const char* const kNames[] = {"timed", "failed", "pruned", "reused", "skipped"};  // enum order
  const auto i = static_cast<size_t>(o);
  return i < std::size(kNames) ? kNames[i] : "?";
}

std::string tune_report_json(const TuneReport& report) {
  using nlohmann::json;
  json configs = json::array();
  for (const CandidateResult& c : report.candidates) {
    configs.push_back({{"config", compiler::describe(c.spec)},
                       {"outcome", candidate_outcome_name(c.outcome)},
                       {"median_ms", c.row.median_ms},
                       {"min_ms", c.row.min_ms},
                       {"max_ms", c.row.max_ms},
                       {"noise_ms", c.row.noise_ms},
                       {"repetitions", c.row.repetitions},
                       {"detail", c.row.detail}});
  }
  const auto config_at = [&](std::optional<size_t> index) {
    return index ? json(compiler::describe(report.candidates[*index].spec)) : json(nullptr);
  };
  return json{{"problem", report.problem},
              {"device", report.device},
              {"elapsed_s", report.elapsed_s},
              {"stopped_by", report.stopped_by},
              {"winner", config_at(report.winner)},
              {"heuristic", config_at(report.heuristic)},
              {"configs", configs}}
      .dump(1);
}

const char* choice_source_name(Choice::Source s) {
  switch (s) {
    case Choice::Source::heuristic:
      return "heuristic";
    case Choice::Source::stored:
      return "stored";
    case Choice::Source::tuned:
      return "tuned";
  }
  return "?";
}

TuneReport tune_problem(const compiler::Request& request, const compiler::DeviceInfo& device,
                        CandidateBench& bench, cache::BinaryCache* store,
                        const TuneOptions& options, TuningClock& clock,
                        const TuneProgress& progress) {
  const double started_at = clock.seconds();
  const compiler::KernelSpec heuristic = heuristic_spec(request, device);
  TuneReport report;
  report.problem = problem_key(request, heuristic.chunk);
  report.device = device_key(device);

  cache::TuningRow blank;
  blank.problem = report.problem;
  blank.device = report.device;
  blank.lla_version = lla_version();
  blank.provenance = bench.provenance();

  std::vector<cache::TuningRow> stored;
  if (store) stored = store->tuning_rows(report.problem, report.device, lla_version());

  std::vector<size_t> pending;
  std::vector<cache::TuningRow> static_pruned;
  for (const compiler::TileConfig& tile : config_space(heuristic)) {
    CandidateResult c;
    c.spec = with_tile(heuristic, tile);
    const size_t index = report.candidates.size();
    if (tile == heuristic.tile) report.heuristic = index;
    c.row = blank;
    c.row.config = compiler::describe(c.spec);
    const auto found = std::find_if(stored.begin(), stored.end(), [&](const cache::TuningRow& r) {
      return r.config == c.row.config;
    });
    if (found != stored.end() && !options.retime) {
      c.outcome = CandidateOutcome::reused;
      c.row = *found;
    } else if (const auto reason = static_prune_reason(c.spec, request.shape, device)) {
      c.outcome = CandidateOutcome::pruned;
      c.row.status = cache::TuningStatus::pruned;
      c.row.detail = *reason;
      c.row.provenance.measured_at = unix_seconds();
      static_pruned.push_back(c.row);
    } else {
      pending.push_back(index);
    }
    report.candidates.push_back(std::move(c));
  }
  const auto keep = [&](const std::vector<cache::TuningRow>& rows) {
    if (!store || rows.empty()) return;
    try {
      store->put_tuning_rows(rows);
    } catch (const cache::CacheError& e) {
      report.warnings.push_back(e.what());
    }
  };
  keep(static_pruned);

  const size_t total = report.candidates.size();
  size_t settled = total - pending.size();
  if (progress)
    for (const CandidateResult& c : report.candidates)
      if (c.outcome != CandidateOutcome::skipped) progress(c, settled, total);

  CandidateOrder order(pending, report.heuristic, options.exhaustive_limit);
  const size_t window = static_cast<size_t>(
      options.compile_threads > 0 ? options.compile_threads
                                  : std::max(1u, std::thread::hardware_concurrency()));
  std::deque<std::pair<size_t, std::future<PreparedCandidate>>> compiling;
  std::optional<size_t> best;
  int started = 0;
  for (;;) {
    while (compiling.size() < window && !order.empty() && started < options.max_candidates) {
      const size_t index = order.next(best);
      compiling.emplace_back(
          index, std::async(std::launch::async, [&bench, spec = report.candidates[index].spec] {
            return bench.prepare(spec);
          }));
      ++started;
    }
    if (compiling.empty()) {
      if (!order.empty()) report.stopped_by = "count limit";
      break;
    }
    if (clock.seconds() - started_at >= options.budget_s) {
      report.stopped_by = "time budget";
      break;
    }
    const size_t index = compiling.front().first;
    std::future<PreparedCandidate> prepared = std::move(compiling.front().second);
    compiling.pop_front();

    CandidateResult& c = report.candidates[index];
    c.outcome = CandidateOutcome::failed;
    c.row.status = cache::TuningStatus::failed;
    try {
      const PreparedCandidate candidate = prepared.get();
      const compiler::LaunchPlan plan = compiler::plan_launches(c.spec, request.shape);
      if (const auto reason = compiled_prune_reason(plan, candidate.resources, device)) {
        c.outcome = CandidateOutcome::pruned;
        c.row.status = cache::TuningStatus::pruned;
        c.row.detail = *reason;
      } else {
        const TimingSummary timing =
            summarize_samples(bench.measure(candidate, options.warmup, options.repetitions));
        c.outcome = CandidateOutcome::timed;
        c.row.status = cache::TuningStatus::timed;
        c.row.median_ms = timing.median_ms;
        c.row.min_ms = timing.min_ms;
        c.row.max_ms = timing.max_ms;
        c.row.noise_ms = timing.noise_ms;
        c.row.repetitions = timing.repetitions;
      }
    } catch (const std::exception& e) {
      c.row.detail = e.what();
    }
    c.row.provenance.measured_at = unix_seconds();
    keep({c.row});
    if (c.outcome == CandidateOutcome::timed &&
        (!best || c.row.median_ms < report.candidates[*best].row.median_ms))
      best = index;
    ++settled;
    if (progress) progress(c, settled, total);
  }
  report.winner = select_winner(rows_in_space_order(report.candidates));
  report.elapsed_s = clock.seconds() - started_at;
  return report;
}

std::optional<compiler::KernelSpec> stored_winner(const compiler::Request& request,
                                                          const compiler::DeviceInfo& device,
                                                          cache::BinaryCache& store) {
  const compiler::KernelSpec heuristic = heuristic_spec(request, device);
  const std::vector<cache::TuningRow> stored =
      store.tuning_rows(problem_key(request, heuristic.chunk), device_key(device), lla_version());
  std::vector<compiler::KernelSpec> specs;
  std::vector<const cache::TuningRow*> rows;
  for (const compiler::TileConfig& tile : config_space(heuristic)) {
    specs.push_back(with_tile(heuristic, tile));
    const std::string config = compiler::describe(specs.back());
    const auto found = std::find_if(stored.begin(), stored.end(),
                                    [&](const cache::TuningRow& r) { return r.config == config; });
    rows.push_back(found == stored.end() ? nullptr : &*found);
  }
  const auto winner = select_winner(rows);
  if (!winner) return std::nullopt;
  return specs[*winner];
}

namespace {

Choice choice_of(TuneReport report, const compiler::KernelSpec& heuristic) {
  Choice choice;
  choice.spec = heuristic;
  if (report.winner) {
    choice.spec = report.candidates[*report.winner].spec;
    choice.source = Choice::Source::tuned;
  } else {
    choice.note = "tuning timed no configuration";
  }
  choice.report = std::move(report);
  return choice;
}

// Holds a search's lease from acquisition to the end of the scope.
class SearchLease {
 public:
  SearchLease(cache::BinaryCache& store, const compiler::Request& request, const compiler::DeviceInfo& device,
              int chunk, double budget_s)
      : store_(store),
        name_(search_lease_name(request, device, chunk)),
        holder_(cache::BinaryCache::unique_holder_name()),
        ttl_ms_(static_cast<int64_t>((budget_s + kTuneLeaseMarginS) * 1000)) {}
  ~SearchLease() {
    if (!held_) return;
    try {
      store_.release_lease(name_, holder_);
    } catch (const cache::CacheError&) {
      // It expires by itself.
    }
  }
  SearchLease(const SearchLease&) = delete;
  SearchLease& operator=(const SearchLease&) = delete;

  bool try_acquire() { return held_ = store_.try_acquire_lease(name_, holder_, ttl_ms_); }
  void acquire() {
    while (!try_acquire())
      std::this_thread::sleep_for(std::chrono::milliseconds(cache::BinaryCache::kLeasePollMs));
  }

 private:
  cache::BinaryCache& store_;
  std::string name_;
  std::string holder_;
  int64_t ttl_ms_;
  bool held_ = false;
};

}  // namespace

std::string search_lease_name(const compiler::Request& request, const compiler::DeviceInfo& device, int chunk) {
  return "tune:" + problem_key(request, chunk) + "|" + device_key(device) + "|" + lla_version();
}

Choice search_spec(const compiler::Request& request, const compiler::DeviceInfo& device,
                                  cache::BinaryCache* store, CandidateBench& bench,
                                  const TuneOptions& options, const TuneProgress& progress) {
  const compiler::KernelSpec heuristic = heuristic_spec(request, device);
  std::optional<SearchLease> lease;
  if (store) {
    lease.emplace(*store, request, device, heuristic.chunk, options.budget_s);
    lease->acquire();
  }
  return choice_of(
      tune_problem(request, device, bench, store, options, steady_tuning_clock(), progress),
      heuristic);
}

Choice choose_spec(
    const compiler::Request& request, const compiler::DeviceInfo& device, TunePolicy policy,
    cache::BinaryCache* store, const std::function<std::unique_ptr<CandidateBench>()>& make_bench,
    const TuneOptions& options) {
  Choice choice;
  choice.spec = heuristic_spec(request, device);
  if (policy == TunePolicy::off) return choice;
  TuneOptions search = options;
  search.retime = policy == TunePolicy::force;
  if (policy == TunePolicy::force)
    return search_spec(request, device, store, *make_bench(), search);
  if (!store) {
    choice.note = "no cache to keep tuning results in";
    return choice;
  }
  const auto use_stored = [&] {
    const auto winner = stored_winner(request, device, *store);
    if (!winner) return false;
    choice.spec = *winner;
    choice.source = Choice::Source::stored;
    return true;
  };
  if (use_stored()) return choice;
  SearchLease lease(*store, request, device, choice.spec.chunk, options.budget_s);
  if (!lease.try_acquire()) {
    choice.note = "another process is tuning this problem";
    choice.ask_again = true;
    return choice;
  }
  // The search that held the lease before us may have stored a winner meanwhile.
  if (use_stored()) return choice;
  return choice_of(tune_problem(request, device, *make_bench(), store, search), choice.spec);
}

}  // namespace lla::tuner
