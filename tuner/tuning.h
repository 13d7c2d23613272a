#pragma once
// Tuning any family: the search over its configuration space (pruned, timed, recorded row by
// row), the stored winner of a problem bucket, and the policy that decides between the
// heuristic default, a stored winner and a new search. What a configuration means is the
// family's (compiler/families/kernel_family.h); the tuner only orders, times and records.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "binary_cache.h"
#include "candidate_bench.h"
#include "heuristic_config.h"
#include "selection.h"
#include "tune_policy.h"

namespace lla::tuner {

// The configuration space of `base`'s family, in its fixed order.
std::vector<compiler::TileConfig> config_space(const compiler::KernelSpec& base);

struct TuneOptions {
  double budget_s = 30;     // no new measurement starts once this much time has passed
  int max_candidates = 64;  // the most candidates one search compiles and times
  bool retime = false;      // time configs that already have a row again (policy force)
  int warmup = 5;
  int repetitions = kMinRepetitions;
  int compile_threads = 0;       // compiles running ahead of the timing; 0: one per core
  size_t exhaustive_limit = 32;  // candidates left to time at most this many: all, in order
};

enum class CandidateOutcome {
  timed,
  failed,
  pruned,
  reused,   // its row was already stored (measured by an earlier search)
  skipped,  // the time budget or count limit ended the search first
};
const char* candidate_outcome_name(CandidateOutcome o);

struct CandidateResult {
  compiler::KernelSpec spec;
  CandidateOutcome outcome = CandidateOutcome::skipped;
  cache::TuningRow row;  // the stored row; empty when skipped
};

struct TuneReport {
  std::string problem;                      // problem_key
  std::string device;                       // device_key
  std::vector<CandidateResult> candidates;  // in the space's order
  std::optional<size_t> winner;             // index into candidates
  std::optional<size_t> heuristic;          // index of the heuristic default, when in the space
  std::string stopped_by;                   // "", "time budget" or "count limit"
  double elapsed_s = 0;
  std::vector<std::string> warnings;  // rows that could not be stored
};

// The report as JSON: {"problem", "device", "elapsed_s", "stopped_by", "winner" (config text or
// null), "heuristic" (config text or null), "configs": [{"config", "outcome", "median_ms",
// "min_ms", "max_ms", "noise_ms", "repetitions", "detail"}]} in the space's order.
std::string tune_report_json(const TuneReport& report);

// Called after each candidate is settled, with how many of the candidates are settled.
using TuneProgress = std::function<void(const CandidateResult&, size_t settled, size_t total)>;

// Searches the configuration space of the request's family on the bench's device. Rows already
// stored for the bucket are reused (unless options.retime); every new row is stored as soon as
// it is known (when `store` is not null). The heuristic default is timed first, so it always
// has a row when anything is timed. Exhaustive when at most options.exhaustive_limit candidates
// are left to time; otherwise a coarse sample spread over the space's order, then the untimed
// configs nearest to the best so far. Throws std::invalid_argument when the request has no
// heuristic spec.
TuneReport tune_problem(const compiler::Request& request, const compiler::DeviceInfo& device,
                        CandidateBench& bench, cache::BinaryCache* store,
                        const TuneOptions& options, TuningClock& clock = steady_tuning_clock(),
                        const TuneProgress& progress = {});

// The stored winner of the request's bucket on `device`, from rows alone; nullopt when the
// bucket has no timed row of the current space.
std::optional<compiler::KernelSpec> stored_winner(const compiler::Request& request,
                                                  const compiler::DeviceInfo& device, cache::BinaryCache& store);

struct Choice {
  enum class Source { heuristic, stored, tuned };
  compiler::KernelSpec spec;
  Source source = Source::heuristic;
  std::optional<TuneReport> report;  // when tuned
  std::string note;                  // why the heuristic was used, when it was under a policy
  bool ask_again = false;            // another process is tuning: a later call may find its winner
};
const char* choice_source_name(Choice::Source s);  // "heuristic", "stored", "tuned"

// The lease a search of the request's bucket (resolved `chunk`) on `device` runs under.
std::string search_lease_name(const compiler::Request& request, const compiler::DeviceInfo& device, int chunk);

// A search of the request's bucket (tune_problem with `options`) run once across processes:
// it waits for any other search of the bucket to end (its lease released or expired), then
// searches under the lease. With no store it searches without a lease. The choice is the
// winner (source tuned), or the heuristic with a note when nothing was timed.
Choice search_spec(const compiler::Request& request, const compiler::DeviceInfo& device,
                   cache::BinaryCache* store, CandidateBench& bench, const TuneOptions& options,
                   const TuneProgress& progress = {});

// The spec to run under `policy`:
//   off      the heuristic; nothing is read or timed.
//   on-miss  the stored winner of the bucket; when there is none, a search (a lease makes it run
//            in one process; another process finding the lease held uses the heuristic now
//            rather than wait); with no store, the heuristic.
//   force    a search that times every config again, after waiting for any other search of the
//            bucket to end (its lease released or expired).
// `make_bench` is called only when a search runs. A search that times nothing leaves the
// heuristic in place (note says why).
Choice choose_spec(const compiler::Request& request, const compiler::DeviceInfo& device, TunePolicy policy,
                   cache::BinaryCache* store, const std::function<std::unique_ptr<CandidateBench>()>& make_bench,
                   const TuneOptions& options);

}  // namespace lla::tuner
