#pragma once
// One lla_forward on a context's backend from reference inputs, read back as float64: what
// `lla run`, `lla check` and the GPU tests check against the reference, and what they time
// (perf.md protocol: the backend's timer, warm-up, median with min and max, caches flushed
// between runs).

#include <cstddef>
#include <vector>

#include "dispatch/dispatcher.h"
#include "lla/lla.h"
#include "reference/reference.h"
#include "verification/device_resources.h"

namespace lla::runtime {

struct DeviceForwardOptions {
  lla_dtype dtype = LLA_DTYPE_BF16;
  int chunk = 0;        // 0: lla chooses
  int warmup = 0;       // untimed runs after the checked one
  int repetitions = 0;  // timed runs after the warm-up
  // The optional sequence fields of lla_forward_args (lla.h). Packed: the reference problem
  // has batch 1 and seq_offsets splits its tokens. Empty vectors leave a field unset.
  std::vector<long long> seq_offsets;
  std::vector<long long> start_positions;
  std::vector<double> initial_state;  // [S,H,L,K,V], uploaded as fp32
  bool final_state = false;           // read back into DeviceForwardRun::final_state
  bool state_in_place = false;        // the final state overwrites the initial state's memory
};

struct DeviceForwardRun {
  std::vector<double> o;  // the output of the first (checked) run
  size_t unwritten = 0;   // output elements that still hold the NaN poison written before it
  std::vector<double> final_state;         // [S,H,L,K,V] after the first run, with final_state
  std::vector<long long> final_positions;  // with final_state
  dispatch::DispatchInfo first_call;  // what the first lla_forward ran, and from where
  double first_call_host_ms = 0;  // host time of the first lla_forward (until it was queued)
  TimingSummary timing;
};

// The lla_problem of a reference problem.
lla_problem to_lla_problem(const reference::Problem& p, lla_dtype dtype, int chunk);

// Runs on ctx's backend with inputs already rounded to the dtype (reference::round_inputs), so
// the reference can be given exactly what the kernel read. Throws std::runtime_error with the
// status and lla_last_error when a call fails.
DeviceForwardRun run_forward_on_device(lla_context* ctx, const reference::Problem& p, const reference::Inputs& in,
                                       const DeviceForwardOptions& options);

}  // namespace lla::runtime
