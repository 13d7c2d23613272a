// lla inspect: what lla generates for one kernel spec (source, PTX, SASS, ptxas resources).
// Needs no GPU: generation and NVRTC run for any target.

#include <algorithm>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "commands.h"
#include "options.h"
#include "generator/source_generator.h"
#include "nvrtc/nvrtc_compiler.h"

namespace lla::tools {

namespace {

enum class Emit { source, ptx, sass, resources };

struct Request {
  compiler::KernelSpec spec;
  std::vector<Emit> emits;
};

void add_emits(const std::string& list, std::vector<Emit>& emits) {
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = std::min(list.find(',', start), list.size());
    const std::string what = list.substr(start, comma - start);
    if (what == "source")
      emits.push_back(Emit::source);
    else if (what == "ptx")
      emits.push_back(Emit::ptx);
    else if (what == "sass")
      emits.push_back(Emit::sass);
    else if (what == "resources")
      emits.push_back(Emit::resources);
    else
      throw std::invalid_argument("'" + what + "' is not one of source, ptx, sass, resources");
    start = comma + 1;
  }
}

// A validation message prefixed with the inspect option that sets its field, so the error
// names what was typed.
std::string with_option(const std::string& message) {
  static const std::pair<const char*, const char*> kFields[] = {
      {"key_dim=", "--dk"},         {"value_dim=", "--dv"},       {"chunk=", "--chunk"},
      {"levels=", "--levels"},      {"tile.block_k=", "--block-k"}, {"tile.block_v=", "--block-v"},
      {"tile.warps=", "--warps"},   {"arch=", "--arch"},          {"tile.algorithm=", "--algorithm"},
  };
  for (const auto& [field, option] : kFields)
    if (message.rfind(field, 0) == 0) return std::string(option) + ": " + message;
  return message;
}

// The command line of `lla inspect`, storing into *r (whose spec holds the defaults).
CommandLine command_line(Request* r) {
  compiler::KernelSpec& spec = r->spec;
  CommandLine c("inspect", {"inspect [options] --emit source|ptx|sass|resources"},
                "Generates the kernel module of one spec and shows it; works without a GPU.");
  c.option("--variant", "mamba2|mamba2_decode",
           "kernel family: mamba2, the log-linear Mamba-2 forward (default); mamba2_decode, its "
           "decode step, which uses --block-v and --warps, with --block-k 16",
           choice(&spec.family, {{"mamba2", compiler::Family::mamba2_forward},
                                 {"mamba2_decode", compiler::Family::mamba2_decode}}))
      .option("--dtype", "bf16|f16|f32", "element type of q, k, v, o (bf16)", dtype(&spec.dtype))
      .option("--dk", "N", "key head dim K (128)", integer(&spec.key_dim))
      .option("--dv", "N", "value head dim V (128)", integer(&spec.value_dim))
      .option("--chunk", "N", "chunk size C (64)", integer(&spec.chunk))
      .option("--levels", "N", "lambda levels L (15)", integer(&spec.levels))
      .option("--block-k", "N", "tile rows of K (32)", integer(&spec.tile.block_k))
      .option("--block-v", "N", "tile columns of V (32)", integer(&spec.tile.block_v))
      .option("--warps", "N", "warps per block (4; mma, scan: chunk / 16)",
              integer(&spec.tile.warps))
      .option("--algorithm", "fma|mma|scan|scan_wgmma",
              "CUDA cores in fp32 (fma, the default), or tensor cores (16-bit dtypes): a "
              "chunk-state tree in memory (mma) or a chunk scan with the states on chip (scan; "
              "scan_wgmma on Hopper warpgroups, sm_90a, chunk 64)",
              choice(&spec.tile.algorithm, {{"fma", compiler::Algorithm::fma},
                                            {"mma", compiler::Algorithm::mma},
                                            {"scan", compiler::Algorithm::scan},
                                            {"scan_wgmma", compiler::Algorithm::scan_wgmma}}))
      .option("--arch", "sm_XY", "NVRTC target (sm_90a)", text(&spec.arch))
      .option("--emit", "WHAT[,WHAT...]",
              "source, ptx, sass (needs cuobjdump) or resources; repeatable, shown in the order "
              "given",
              [r](const std::string& list) { add_emits(list, r->emits); });
  return c;
}

// The request's spec is valid; throws UsageError naming the option of a wrong field.
void check_request(const Request& r) {
  if (r.emits.empty()) throw UsageError("--emit: missing; give source, ptx, sass or resources");
  try {
    compiler::validate(r.spec);
  } catch (const std::invalid_argument& e) {
    throw UsageError(with_option(e.what()));
  }
}

const char* emit_name(Emit e) {
  switch (e) {
    case Emit::source: return "source";
    case Emit::ptx: return "ptx";
    case Emit::sass: return "sass";
    case Emit::resources: return "resources";
  }
  return "";
}

void print_resources(const compiler::GeneratedSource& src, const compiler::CompiledModule& m,
                     const compiler::KernelSpec& spec) {
  std::printf("%s\n", compiler::describe(spec).c_str());
  std::printf("NVRTC %s, %s\n", compiler::nvrtc_version_string().c_str(), m.options.c_str());
  std::printf("compile time: %.1f ms\n", m.compile_ms);
  std::printf("%-28s %9s %12s %9s %12s %12s\n", "entry point", "registers", "static smem",
              "stack", "spill store", "spill load");
  for (const std::string& entry : src.entry_points) {
    const compiler::KernelResources* found = nullptr;
    for (const compiler::KernelResources& r : m.resources)
      if (r.kernel == entry) found = &r;
    if (!found) {
      std::printf("%-28s (not in the ptxas report)\n", entry.c_str());
      continue;
    }
    std::printf("%-28s %9d %10d B %7d B %10d B %10d B\n", entry.c_str(), found->registers,
                found->shared_bytes, found->stack_frame_bytes, found->spill_store_bytes,
                found->spill_load_bytes);
  }
}

}  // namespace

int inspect_command(const Args& args) {
  Request request;
  if (const std::optional<int> exit =
          command_line(&request).handle(args, [&] { check_request(request); }))
    return *exit;

  const compiler::GeneratedSource src = compiler::generate(request.spec);
  bool needs_compile = false, needs_ptx = false;
  for (Emit e : request.emits) {
    needs_compile = needs_compile || e != Emit::source;
    needs_ptx = needs_ptx || e == Emit::ptx;
  }
  compiler::CompiledModule module;
  if (needs_compile) module = compiler::compile(src, request.spec.arch, needs_ptx);

  const bool banners = request.emits.size() > 1;
  for (Emit e : request.emits) {
    if (banners) std::printf("// ===== %s: %s =====\n", emit_name(e), src.name.c_str());
    switch (e) {
      case Emit::source: std::fputs(src.source.c_str(), stdout); break;
      case Emit::ptx: std::fputs(module.ptx.c_str(), stdout); break;
      case Emit::sass: std::fputs(compiler::disassemble_sass(module.cubin).c_str(), stdout); break;
      case Emit::resources: print_resources(src, module, request.spec); break;
    }
  }
  return 0;
}

}  // namespace lla::tools
