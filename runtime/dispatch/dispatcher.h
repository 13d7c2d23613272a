#pragma once
// Every pass of the C API after validation: call -> kernel spec (the tuning policy's choice for
// the family's bucket, or its heuristic) -> loaded module (table, then binary cache, then the
// toolchain) -> the plan run by the backend on the caller's stream. Parameterised by the call's
// family, so forward, decode and the passes to come share it; it names no family.

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "api/logger.h"
#include "backend/backend.h"
#include "binary_cache.h"
#include "dispatch/kernel_table.h"
#include "families/kernel_family.h"
#include "tuning.h"

namespace lla::runtime::dispatch {

// A validated call of any pass: its family's request (the tuning bucket's view), the shape its
// plan is made for, its tensors bound by role, and the caller's stream.
struct Call {
  compiler::Request request;
  compiler::ProblemShape shape;  // request.shape, or with a call's sequences (forward)
  backend::BoundBuffers buffers;
  void* stream = nullptr;
};

// What one call ran and where its kernel came from (for `lla run`, the tests and logs).
struct DispatchInfo {
  compiler::KernelSpec spec;
  std::string kernel;  // describe(spec)
  KernelSource source = KernelSource::memory;
  double compile_ms = 0;  // toolchain time spent by this call; 0 unless source == compile
  double build_ms = 0;    // time this call spent obtaining the module; 0 when source == memory
  size_t launches = 0;
  size_t workspace_bytes = 0;
  tuner::Choice::Source chosen_by = tuner::Choice::Source::heuristic;
};

// How the dispatcher picks configurations of tunable families.
struct DispatchTuning {
  tuner::TunePolicy policy = tuner::TunePolicy::off;
  tuner::TuneOptions options;
};

class Dispatcher {
 public:
  // `cache` may be null (run uncached). All references must outlive the dispatcher.
  Dispatcher(const backend::Backend& backend, cache::BinaryCache* cache, const Logger& logger, DispatchTuning tuning);

  // Runs a validated call with the configuration the policy picks for its bucket (decided once
  // per bucket and process; a search, when the policy calls for one, runs inside this call and
  // synchronises the device; a family that does not tune runs its heuristic). Needs the backend
  // active on the calling thread; safe to call from many threads at once. Throws StatusError.
  DispatchInfo run(const Call& call);

  // lla_tune: searches the validated request's bucket now, whatever the policy, timing the
  // configurations without a stored row; later calls of the bucket use the winner. Throws
  // StatusError.
  tuner::TuneReport tune(const compiler::Request& request);

  // A candidate bench for the request on this dispatcher's backend (lla tune).
  std::unique_ptr<tuner::CandidateBench> make_bench(const compiler::Request& request) const;

 private:
  // The configuration for the request's bucket under the policy; remembered per bucket.
  compiler::KernelSpec choose_spec(const compiler::Request& request, tuner::Choice::Source* chosen_by);
  void remember(const compiler::Request& request, const tuner::Choice& choice);

  const backend::Backend& backend_;
  cache::BinaryCache* cache_;
  const Logger& logger_;
  const DispatchTuning tuning_;
  KernelTable table_;
  std::mutex chosen_mutex_;
  // By problem key (tuner/problem_bucket.h).
  std::unordered_map<std::string, std::pair<compiler::KernelSpec, tuner::Choice::Source>> chosen_;
};

}  // namespace lla::runtime::dispatch
