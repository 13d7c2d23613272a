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

#include "commands.h"
#include "cuda_case_runner.h"
#include "options.h"
#include "reference/golden_case.h"
#include "reference/reference.h"

namespace lla::tools {
namespace {

using reference::GoldenCase;
using reference::Result;

constexpr int kReferenceChunk = 64;  // the models' chunk size (spec section 1)

// A backend computes a case's o and final state from its inputs; chunk 0 lets it choose.
// An output it leaves empty is not compared (and the PASS line says so); a case it does not
// cover throws CaseSkipped.
using RunCase = std::function<Result(const GoldenCase&, int chunk)>;

struct Backend {
  const char* name;
  double default_tolerance;
  // Makes the backend ready, once per run; throws std::runtime_error when it cannot be used here.
  std::function<RunCase()> open;
};

RunCase open_reference() {
  return [](const GoldenCase& c, int chunk) {
    return reference::forward_chunkwise(c.problem, c.inputs, chunk == 0 ? kReferenceChunk : chunk);
  };
}

// The cuda backend runs fp32 inputs: its tolerance covers fp32 accumulation over a case.
RunCase open_cuda() {
  auto runner = std::make_shared<CudaCaseRunner>();
  return [runner](const GoldenCase& c, int chunk) { return runner->run(c, chunk); };
}

const std::vector<Backend>& backends() {
  static const std::vector<Backend> table = {
      {"reference", 1e-9, open_reference},
      {"cuda", 1e-4, open_cuda},
  };
  return table;
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
  CommandLine c("check", {"check [--backend reference|cuda] [--tolerance X] [--chunk C] CASE.json..."},
                "Runs golden cases (format lla-case-v1) through a backend and compares o and the "
                "final state with the expected ones by max relative error (max |got - expected| / "
                "max |expected|). Prints one PASS, FAIL or SKIP line per case, then \"N passed, M "
                "failed\", with \", E errors\" added when some files are not valid cases.");
  c.option("--backend", "NAME", "reference (the float64 CPU reference, the default) or cuda",
           [o](const std::string& name) { o->backend = &find_backend(name); })
      .option("--tolerance", "X",
              "largest accepted max relative error; default 1e-9 for reference, 1e-4 for cuda "
              "(fp32 inputs; head dims zero-padded to multiples of 16; o only until kernels "
              "write final states; Gated DeltaNet cases are reported as SKIP)",
              positive_number(&o->tolerance))
      .option("--chunk", "C",
              "chunk size, a power of two; default: the backend's choice (reference: " +
                  std::to_string(kReferenceChunk) + ")",
              power_of_two(&o->chunk))
      .operands("CASE.json...", "golden case files", &o->files)
      .notes("Every file is processed; one that cannot be read as a case gets the line \"error: "
             "FILE: WHAT\" on stderr.\n"
             "Exit status: 0 all passed; 1 some case failed; 2 bad usage or some file that is not "
             "a valid case.");
  return c;
}

// The index where |got - expected| is largest; a NaN difference counts as the largest.
size_t worst_index(const std::vector<double>& got, const std::vector<double>& expected) {
  size_t worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double diff = std::abs(got[i] - expected[i]);
    if (std::isnan(diff)) return i;
    if (diff > std::abs(got[worst] - expected[worst])) worst = i;
  }
  return worst;
}

struct Verdict {
  bool passed;
  std::string line;  // "PASS <name> max_rel_err=<e>" or "FAIL <name> <what differed>"
};

Verdict check_case(const GoldenCase& c, const Result& got, double tolerance) {
  struct Output {
    const char* name;
    const std::vector<double>& got;
    const std::vector<double>& expected;
  };
  const Output outputs[] = {
      {"o", got.o, c.expected.o},
      {"final_state", got.final_state.levels, c.expected.final_state.levels},
  };
  double max_rel_err = 0.0;
  std::vector<std::string> differences;
  std::string not_compared;
  char text[256];
  for (const Output& out : outputs) {
    if (out.got.empty() && !out.expected.empty()) {
      not_compared += std::string(" (") + out.name + " not produced by this backend)";
      continue;
    }
    if (out.got.size() != out.expected.size()) {
      std::snprintf(text, sizeof text, "%s has %zu values, expected %zu", out.name, out.got.size(),
                    out.expected.size());
      differences.push_back(text);
      continue;
    }
    const double err = reference::max_relative_error(out.got, out.expected);
    max_rel_err = std::max(max_rel_err, err);
    if (err <= tolerance) continue;  // a NaN error is not <= and fails
    const size_t worst = worst_index(out.got, out.expected);
    std::snprintf(text, sizeof text, "%s max_rel_err=%.3e worst_index=%zu got=%.17g expected=%.17g",
                  out.name, err, worst, out.got[worst], out.expected[worst]);
    differences.push_back(text);
  }
  if (differences.empty()) {
    std::snprintf(text, sizeof text, "max_rel_err=%.3e", max_rel_err);
    return {true, "PASS " + c.name + " " + text + not_compared};
  }
  std::string line = "FAIL " + c.name;
  for (size_t i = 0; i < differences.size(); ++i) line += (i == 0 ? " " : "; ") + differences[i];
  return {false, line};
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
    std::fprintf(stderr, "lla check: the %s backend cannot run here: %s\n", backend.name, e.what());
    return 2;
  }
  const double tolerance = options.tolerance > 0.0 ? options.tolerance : backend.default_tolerance;

  int passed = 0, failed = 0, skipped = 0, errors = 0;
  for (const std::string& file : options.files) {
    GoldenCase c;
    try {
      c = reference::load_golden_case(file);
    } catch (const reference::CaseFormatError& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      ++errors;
      continue;
    }
    Verdict verdict;
    try {
      verdict = check_case(c, run(c, options.chunk), tolerance);
    } catch (const CaseSkipped& e) {
      std::printf("SKIP %s %s\n", c.name.c_str(), e.what());
      ++skipped;
      continue;
    } catch (const std::exception& e) {
      verdict = {false, "FAIL " + c.name + " the " + backend.name + " backend failed: " + e.what()};
    }
    ++(verdict.passed ? passed : failed);
    std::printf("%s\n", verdict.line.c_str());
  }
  std::printf("%d passed, %d failed", passed, failed);
  if (skipped > 0) std::printf(", %d skipped", skipped);
  if (errors > 0) std::printf(", %d error%s", errors, errors == 1 ? "" : "s");
  std::printf("\n");
  if (errors > 0) return 2;
  return failed > 0 ? 1 : 0;
}

}  // namespace lla::tools
