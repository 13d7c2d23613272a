#pragma once
// Generated source -> cubin (and PTX) through NVRTC, in process and without a GPU, plus the
// inspection helpers (ptxas resource report, SASS). Thread safe: every call owns its program.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "generator/source_generator.h"

namespace lla::compiler {

// The NVRTC options lla compiles `arch` (e.g. "sm_90a") with. Part of the binary cache key.
std::vector<std::string> nvrtc_options(const std::string& arch);
std::string join_options(const std::vector<std::string>& options);  // space-separated
std::string nvrtc_version_string();                                  // e.g. "13.0"

// One entry point's resource usage as ptxas reports it.
struct KernelResources {
  std::string kernel;
  int registers = 0;
  int shared_bytes = 0;  // static shared memory
  int stack_frame_bytes = 0;
  int spill_store_bytes = 0;
  int spill_load_bytes = 0;
  int constant_bytes = 0;  // all cmem banks of the "Used ..." line (sm_90+ reports none)
};

struct CompiledModule {
  std::vector<uint8_t> cubin;
  std::string ptx;  // empty unless asked for
  std::string log;  // the NVRTC log, ptxas report included
  std::vector<KernelResources> resources;  // in the order ptxas reports them
  std::string options;                     // join_options(nvrtc_options(arch))
  double compile_ms = 0;
};

// Any NVRTC failure. what() carries the NVRTC error string and the log, with each
// "<name>(LINE): error" line followed by the generated source around LINE.
class CompileError : public std::runtime_error {
 public:
  CompileError(const std::string& message, std::string log)
      : std::runtime_error(message), log_(std::move(log)) {}
  const std::string& log() const { return log_; }

 private:
  std::string log_;
};

// Compiles `src` for the real target `arch` (sm_XY[a]); the PTX of the same compilation
// when `want_ptx`. Throws CompileError.
CompiledModule compile(const GeneratedSource& src, const std::string& arch, bool want_ptx = false);

// The per-entry-point resources in an NVRTC log compiled with --ptxas-options=-v.
std::vector<KernelResources> parse_ptxas_resources(const std::string& log);

// SASS of a cubin through cuobjdump --dump-sass (from $CUDA_HOME/bin, /usr/local/cuda/bin or
// PATH). Throws std::runtime_error when cuobjdump is not found or fails.
std::string disassemble_sass(const std::vector<uint8_t>& cubin);

}  // namespace lla::compiler
