#include "dispatch/dispatcher.h"

#include <chrono>
#include <stdexcept>

#include "api/status_error.h"
#include "dispatch/binary_provider.h"
#include "problem_bucket.h"
#include "tuning/backend_candidate_bench.h"

namespace lla::runtime::dispatch {
namespace {

using Clock = std::chrono::steady_clock;

// What no kernel can run (a too large grid, an architecture lla does not generate for) is
// rejected by the heuristic, the tuner and the launch plan with std::invalid_argument.
StatusError not_supported(const compiler::Request& request, const compiler::DeviceInfo& device,
                          const std::invalid_argument& e) {
  const compiler::KernelFamily* family = compiler::find_family(request.family);
  return StatusError(LLA_ERR_NOT_SUPPORTED, std::string("lla has no ") + (family ? family->name() : "such") +
                                                " kernel for this problem on " + device.name + " (" +
                                                device.target.name + "): " + e.what());
}

}  // namespace

Dispatcher::Dispatcher(const backend::Backend& backend, cache::BinaryCache* cache, const Logger& logger,
                       DispatchTuning tuning)
    : backend_(backend), cache_(cache), logger_(logger), tuning_(std::move(tuning)) {}

std::unique_ptr<tuner::CandidateBench> Dispatcher::make_bench(const compiler::Request& request) const {
  return std::make_unique<tuning::BackendCandidateBench>(backend_, cache_, logger_, request);
}

void Dispatcher::remember(const compiler::Request& request, const tuner::Choice& choice) {
  const std::string key = tuner::problem_key(request, choice.spec.chunk);
  std::lock_guard<std::mutex> lock(chosen_mutex_);
  chosen_[key] = {choice.spec, choice.source};
}

compiler::KernelSpec Dispatcher::choose_spec(const compiler::Request& request, tuner::Choice::Source* chosen_by) {
  const compiler::KernelSpec heuristic = tuner::heuristic_spec(request, backend_.device());
  *chosen_by = tuner::Choice::Source::heuristic;
  if (tuning_.policy == tuner::TunePolicy::off || !compiler::family_for(request.family).tunable()) return heuristic;
  {
    std::lock_guard<std::mutex> lock(chosen_mutex_);
    const auto found = chosen_.find(tuner::problem_key(request, heuristic.chunk));
    if (found != chosen_.end()) {
      *chosen_by = found->second.second;
      return found->second.first;
    }
  }
  tuner::Choice choice;
  try {
    choice = tuner::choose_spec(
        request, backend_.device(), tuning_.policy, cache_, [&] { return make_bench(request); }, tuning_.options);
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::exception& e) {
    // Tuning only ever speeds things up: the heuristic runs, and the bucket is not retried in
    // this process.
    logger_.warn(std::string("tuning failed; using the heuristic configuration: ") + e.what());
    choice.spec = heuristic;
  }
  if (choice.report) {
    logger_.info("tuned " + choice.report->problem + " in " + std::to_string(choice.report->elapsed_s) +
                 " s: " + compiler::describe(choice.spec));
  }
  if (!choice.note.empty()) logger_.info("using the heuristic configuration: " + choice.note);
  if (!choice.ask_again) remember(request, choice);
  *chosen_by = choice.source;
  return choice.spec;
}

tuner::TuneReport Dispatcher::tune(const compiler::Request& request) {
  try {
    tuner::TuneOptions options = tuning_.options;
    options.retime = false;
    const std::unique_ptr<tuner::CandidateBench> bench = make_bench(request);
    tuner::Choice choice = tuner::search_spec(request, backend_.device(), cache_, *bench, options);
    remember(request, choice);
    return std::move(*choice.report);
  } catch (const std::invalid_argument& e) {
    throw not_supported(request, backend_.device(), e);
  } catch (const cache::CacheError& e) {
    throw StatusError(LLA_ERR_CACHE, std::string("lla_tune: ") + e.what());
  }
}

DispatchInfo Dispatcher::run(const Call& call) {
  DispatchInfo info;
  compiler::LaunchPlan plan;
  try {
    info.spec = choose_spec(call.request, &info.chosen_by);
    plan = compiler::plan_launches(info.spec, call.shape);
  } catch (const std::invalid_argument& e) {
    throw not_supported(call.request, backend_.device(), e);
  }
  info.kernel = compiler::describe(info.spec);
  bool was_loaded = false;
  const LoadedModule& module = table_.find_or_build(
      info.kernel,
      [&] {
        const Clock::time_point start = Clock::now();
        ObtainedBinary binary = obtain_binary(backend_.toolchain(), info.spec, cache_, logger_);
        auto loaded = std::make_unique<LoadedModule>();
        loaded->module = backend_.load(binary.image, binary.entry_points);
        loaded->loaded_from = binary.source;
        loaded->compile_ms = binary.image.compile_ms;
        loaded->build_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        return loaded;
      },
      &was_loaded);
  info.source = was_loaded ? KernelSource::memory : module.loaded_from;
  if (!was_loaded) {
    info.compile_ms = module.compile_ms;
    info.build_ms = module.build_ms;
  }
  info.launches = plan.launches.size();
  info.workspace_bytes = plan.workspace_bytes;
  backend_.run(*module.module, plan, call.buffers, call.stream);
  return info;
}

}  // namespace lla::runtime::dispatch
