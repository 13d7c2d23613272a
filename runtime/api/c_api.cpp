// The C entry points that take or make a context. No exception crosses this boundary: each
// becomes a status, and its message the calling thread's lla_last_error(). Every struct the
// caller passes is read into this library's layout first (api/sized_structs.h).
#include <new>
#include <optional>
#include <string>

#include "api/context.h"
#include "api/sized_structs.h"
#include "api/status_error.h"
#include "lla/lla.h"

namespace {

thread_local std::string t_last_error;

void set_last_error(const char* message, const char* detail = "") noexcept {
  try {
    t_last_error = message;
    t_last_error += detail;
  } catch (...) {
    t_last_error.clear();  // no memory even for the message; the status still says what failed
  }
}

// Runs `body` with the calling thread's last error cleared, turning what it throws into a status.
template <class Body>
lla_status guarded(Body&& body) noexcept {
  t_last_error.clear();
  try {
    body();
    return LLA_SUCCESS;
  } catch (const lla::runtime::StatusError& e) {
    set_last_error(e.what());
    return e.status();
  } catch (const std::bad_alloc&) {
    set_last_error("out of host memory");
    return LLA_ERR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    set_last_error("internal error (an lla bug): ", e.what());
    return LLA_ERR_INTERNAL;
  } catch (...) {
    set_last_error("internal error (an lla bug): an exception of unknown type");
    return LLA_ERR_INTERNAL;
  }
}

thread_local std::string t_tune_details;

void fill_tune_report(const lla::tuner::TuneReport& tuned, lla_tune_report* report) {
  using lla::tuner::CandidateOutcome;
  *report = lla_tune_report{};
  report->configs = static_cast<int>(tuned.candidates.size());
  for (const lla::tuner::CandidateResult& c : tuned.candidates) {
    switch (c.outcome) {
      case CandidateOutcome::timed: ++report->timed; break;
      case CandidateOutcome::reused: ++report->reused; break;
      case CandidateOutcome::failed: ++report->failed; break;
      case CandidateOutcome::pruned: ++report->pruned; break;
      case CandidateOutcome::skipped: ++report->skipped; break;
    }
  }
  const auto timed_ms = [&](std::optional<size_t> index) {
    if (!index) return 0.0;
    const lla::cache::TuningRow& row = tuned.candidates[*index].row;
    return row.status == lla::cache::TuningStatus::timed ? row.median_ms : 0.0;
  };
  report->winner_ms = timed_ms(tuned.winner);
  report->heuristic_ms = timed_ms(tuned.heuristic);
  report->elapsed_s = tuned.elapsed_s;
  if (tuned.winner) {
    const std::string winner = lla::compiler::describe(tuned.candidates[*tuned.winner].spec);
    winner.copy(report->winner, sizeof report->winner - 1);
  }
  t_tune_details = lla::tuner::tune_report_json(tuned);
  report->details_json = t_tune_details.c_str();
}

}  // namespace

extern "C" {

lla_status lla_create(const lla_options* opts, lla_context** ctx) {
  return guarded([&] {
    if (!ctx) throw lla::runtime::StatusError(LLA_ERR_INVALID_ARGUMENT, "ctx (the output) is NULL");
    *ctx = nullptr;
    lla_options known;
    const lla::runtime::ResolvedOptions options =
        lla::runtime::resolve_options(lla::runtime::read_sized(opts, &known));
    *ctx = new lla_context(options);
  });
}

void lla_destroy(lla_context* ctx) {
  t_last_error.clear();
  delete ctx;
}

const char* lla_last_error(const lla_context*) { return t_last_error.c_str(); }

lla_status lla_forward(lla_context* ctx, const lla_problem* p, const lla_forward_args* a,
                       void* stream) {
  return guarded([&] {
    if (!ctx) throw lla::runtime::StatusError(LLA_ERR_INVALID_ARGUMENT, "ctx is NULL");
    lla_problem problem;
    lla_forward_args args;
    ctx->forward(lla::runtime::read_sized(p, &problem), lla::runtime::read_sized(a, &args), stream);
  });
}

lla_status lla_tune(lla_context* ctx, const lla_problem* p, lla_tune_report* report) {
  return guarded([&] {
    if (!ctx) throw lla::runtime::StatusError(LLA_ERR_INVALID_ARGUMENT, "ctx is NULL");
    lla_problem problem;
    const lla::tuner::TuneReport tuned = ctx->tune(lla::runtime::read_sized(p, &problem));
    if (report) fill_tune_report(tuned, report);
  });
}

lla_status lla_decode_step(lla_context* ctx, const lla_decode_problem* p,
                           const lla_decode_args* a, void* stream) {
  return guarded([&] {
    if (!ctx) throw lla::runtime::StatusError(LLA_ERR_INVALID_ARGUMENT, "ctx is NULL");
    lla_decode_problem problem;
    lla_decode_args args;
    ctx->decode_step(lla::runtime::read_sized(p, &problem), lla::runtime::read_sized(a, &args), stream);
  });
}

}  // extern "C"
