// lla check: golden cases through a backend, compared with their expected outputs.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "case_report.h"
#include "commands.h"
#include "backend/registry.h"
#include "backend_case_runner.h"
#include "options.h"
#include "reference/backward.h"
#include "reference/golden_case.h"
#include "reference/reference.h"
#include "reference/vla.h"
#include "reference/vla_backward.h"

namespace lla::tools {
namespace {

using reference::GoldenCase;

constexpr int kReferenceChunk = 64;  // the models' chunk size (spec section 1)

// A backend computes what it can of a case from its inputs (o, the final state, the case's
// gradients); chunk 0 lets it choose. What it leaves empty is reported as skipped; a case it
// does not cover at all throws CaseSkipped.
using RunCase = std::function<CaseOutputs(const GoldenCase&, int chunk)>;

struct Backend {
  std::string name;
  double default_tolerance;
  // Makes the backend ready, once per run; throws std::runtime_error when it cannot be used here.
  std::function<RunCase()> open;
};

// A "vla" case through the reference: the chunkwise forward and, when the case carries
// gradients, the chunkwise backward of sum(o * do).
CaseOutputs run_vla_reference(const reference::VlaGoldenCase& c, int chunk) {
  CaseOutputs out;
  out.vla_forward = reference::vla::forward_chunkwise(c.problem, c.inputs, chunk);
  if (c.grads) {
    out.vla_gradients =
        reference::vla::backward(c.problem, c.inputs, nullptr, {c.grads->d_o, {}},
                                 {reference::vla::BackwardForm::chunkwise, chunk});
  }
  return out;
}

// The float64 reference: the chunkwise forward, and the chunkwise backward of the case's loss
// (sum(o * do) + sum(final_state * dfinal_state)) when the case carries gradients.
RunCase open_reference() {
  return [](const GoldenCase& c, int chunk) {
    const int reference_chunk = chunk == 0 ? kReferenceChunk : chunk;
    if (c.vla) return run_vla_reference(*c.vla, reference_chunk);
    // A case may give the gradient of an initial state at position 0 (all zero) without the
    // state itself: the empty state after no tokens.
    const bool wants_initial_gradient = c.grads && !c.grads->d_initial_state.empty();
    const reference::FenwickState empty{
        0, wants_initial_gradient && !c.initial_state
               ? std::vector<double>(c.expected.final_state.levels.size(), 0.0)
               : std::vector<double>()};
    const reference::FenwickState* initial =
        c.initial_state ? &*c.initial_state : (wants_initial_gradient ? &empty : nullptr);
    CaseOutputs out;
    out.forward = reference::forward_chunkwise(c.problem, c.inputs, reference_chunk, initial);
    if (c.grads) {
      out.gradients = reference::backward(c.problem, c.inputs, initial,
                                          {c.grads->d_o, c.grads->d_final_state},
                                          {reference::BackwardForm::chunkwise, reference_chunk});
    }
    return out;
  };
}

// The kernels of a backend of this build (runtime/backend/registry.h) run fp32 inputs: their
// tolerance covers fp32 accumulation over a case.
RunCase open_kernels(lla_backend choice) {
  auto runner = std::make_shared<BackendCaseRunner>(choice);
  return [runner, choice](const GoldenCase& c, int chunk) {
    if (c.vla)
      throw CaseSkipped(std::string("variant vla: the ") + runtime::backend::lla_backend_name(choice) +
                        " backend has no VLA kernel yet");
    return CaseOutputs{runner->run(c, chunk), {}, {}, {}};
  };
}

// The float64 reference, then every backend of this build.
const std::vector<Backend>& backends() {
  static const std::vector<Backend> table = [] {
    std::vector<Backend> all = {{"reference", 1e-9, open_reference}};
    for (const runtime::backend::BackendEntry& entry : runtime::backend::registered_backends())
      all.push_back({runtime::backend::lla_backend_name(entry.choice), 1e-4,
                     [choice = entry.choice] { return open_kernels(choice); }});
    return all;
  }();
  return table;
}

// The names --backend takes ("reference|cuda"), or with `kernels_only` those of the backends
// that run kernels.
std::string backend_names(bool kernels_only) {
  std::string names;
  for (const Backend& b : backends())
    if (!kernels_only || &b != &backends().front()) names += (names.empty() ? "" : "|") + b.name;
  return names;
}

struct Options {
  const Backend* backend = &backends().front();
  double tolerance = 0.0;  // 0: the backend's default
  int chunk = 0;
  std::vector<std::string> files;
};

const Backend& find_backend(const std::string& name) {
  std::vector<std::string> known;
  for (const Backend& b : backends()) {
    if (name == b.name) return b;
    known.push_back(b.name);
  }
  throw std::invalid_argument("unknown backend '" + name + "' (known: " + joined_names(known) +
                              ")");
}

// A chunk size: a power of two.
ValueSetter power_of_two(int* target) {
  return [target](const std::string& text) {
    integer(target, 1)(text);
    if ((*target & (*target - 1)) != 0)
      throw std::invalid_argument("'" + text + "' is not a power of two");
  };
}

// The command line of `lla check`, storing into *o.
CommandLine command_line(Options* o) {
  CommandLine c("check", {"check [--backend " + backend_names(false) + "] [--tolerance X] [--chunk C] CASE.json..."},
                "Runs golden cases (format lla-case-v1, with its extensions for a call that "
                "continues a sequence and for variant vla) through a backend and compares every "
                "output and gradient a case carries that the backend computes (o, final_state, dq, "
                "dk, dv, dg, dlambda, dbeta, dinitial_state; for vla o, final_state.A, "
                "final_state.S, final_state.z, dq, dk, du, dv) by max relative error (max |got - expected| / max "
                "|expected|). Prints one line per case: PASS with each tensor's error, FAIL with "
                "what differed, SKIP for a case the backend cannot run; tensors a backend does not "
                "compute are named as SKIP on their case's line, never counted as passed. Then \"N "
                "passed, M failed\", with \" (P in part)\" for passes with skipped tensors and "
                "\", S skipped\", \", E errors\" when there are any.");
  c.option("--backend", "NAME",
           "reference (the float64 CPU reference, the default: forward and backward), or the "
           "kernels of a backend of this build: " + backend_names(true) +
               " (the forward's o only; cases of a variant without kernels, vla cases and cases "
               "that continue a sequence are reported as SKIP)",
           [o](const std::string& name) { o->backend = &find_backend(name); })
      .option("--tolerance", "X",
              "largest accepted max relative error; default 1e-9 for reference, 1e-4 for kernels "
              "(fp32 inputs; head dims zero-padded to multiples of 16)",
              positive_number(&o->tolerance))
      .option("--chunk", "C",
              "chunk size, a power of two; default: the backend's choice (reference: " +
                  std::to_string(kReferenceChunk) + ")",
              power_of_two(&o->chunk))
      .operands("CASE.json...", "golden case files", &o->files)
      .notes("Every file is processed; one that cannot be read as a case (at most " +
             std::to_string(reference::kMaxCaseFileBytes) + " bytes, JSON nested at most " +
             std::to_string(reference::kMaxCaseDepth) +
             " deep) gets the line \"error: FILE: WHAT\" on stderr. Control characters in what "
             "is printed are written as \\xNN.\n"
             "Exit status: 0 all passed; 1 some case failed; 2 bad usage or some file that is not "
             "a valid case.");
  return c;
}

// One line of output, whatever bytes it holds.
void print_line(FILE* out, const std::string& line) {
  std::fprintf(out, "%s\n", printable(line).c_str());
}

}  // namespace

int check_command(const Args& args) {
  Options options;
  if (const std::optional<int> exit = command_line(&options).handle(args, [&] {
        if (options.files.empty()) throw UsageError("no case files given");
      }))
    return *exit;
  const Backend& backend = *options.backend;
  RunCase run;
  try {
    run = backend.open();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lla check: the %s backend cannot run here: %s\n", backend.name.c_str(), e.what());
    return 2;
  }
  const double tolerance = options.tolerance > 0.0 ? options.tolerance : backend.default_tolerance;

  int passed = 0, partly_passed = 0, failed = 0, skipped = 0, errors = 0;
  for (const std::string& file : options.files) {
    try {
      const GoldenCase c = reference::load_golden_case(file);
      CaseVerdict verdict;
      try {
        verdict = judge_case(c, run(c, options.chunk), tolerance, backend.name);
      } catch (const CaseSkipped& e) {
        verdict = {Outcome::skip, false, "SKIP " + c.name + " " + e.what()};
      } catch (const std::exception& e) {
        verdict = {Outcome::fail, false,
                   "FAIL " + c.name + " the " + backend.name + " backend failed: " + e.what()};
      }
      switch (verdict.outcome) {
        case Outcome::pass:
          ++passed;
          partly_passed += verdict.partial ? 1 : 0;
          break;
        case Outcome::fail:
          ++failed;
          break;
        case Outcome::skip:
          ++skipped;
          break;
      }
      print_line(stdout, verdict.line);
    } catch (const std::exception& e) {  // CaseFormatError, or anything else this file caused
      std::fflush(stdout);
      print_line(stderr, std::string("error: ") + e.what());
      ++errors;
    }
  }
  std::printf("%d passed", passed);
  if (partly_passed > 0) std::printf(" (%d in part)", partly_passed);
  std::printf(", %d failed", failed);
  if (skipped > 0) std::printf(", %d skipped", skipped);
  if (errors > 0) std::printf(", %d error%s", errors, errors == 1 ? "" : "s");
  std::printf("\n");
  if (errors > 0) return 2;
  return failed > 0 ? 1 : 0;
}

}  // namespace lla::tools
