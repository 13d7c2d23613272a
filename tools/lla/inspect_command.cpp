// lla inspect: what lla generates for one kernel spec (source, PTX, SASS, ptxas resources).
// Needs no GPU: generation and NVRTC run for any target.

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "commands.h"
#include "option_values.h"
#include "generator/source_generator.h"
#include "nvrtc/nvrtc_compiler.h"

namespace lla::tools {

namespace {

const char* const kUsage =
    "usage: lla inspect [options] --emit source|ptx|sass|resources\n"
    "\n"
    "Generates the kernel module of one spec and shows it; works without a GPU.\n"
    "\n"
    "  --variant mamba2            kernel family (mamba2: the log-linear Mamba-2 forward;\n"
    "                              mamba2_decode: its decode step, which uses --block-v and\n"
    "                              --warps, with --block-k 16)\n"
    "  --dtype bf16|f16|f32        element type of q, k, v, o (default bf16)\n"
    "  --dk N                      key head dim K (default 128)\n"
    "  --dv N                      value head dim V (default 128)\n"
    "  --chunk N                   chunk size C (default 64)\n"
    "  --levels N                  lambda levels L (default 15)\n"
    "  --block-k N                 tile rows of K (default 32)\n"
    "  --block-v N                 tile columns of V (default 32)\n"
    "  --warps N                   warps per block (default 4; mma, scan: chunk / 16)\n"
    "  --algorithm fma|mma|scan|scan_wgmma\n"
    "                              CUDA cores in fp32, or tensor cores (16-bit dtypes):\n"
    "                              a chunk-state tree in memory (mma) or a chunk scan\n"
    "                              with the states on chip (scan; scan_wgmma on Hopper\n"
    "                              warpgroups, sm_90a, chunk 64); default fma\n"
    "  --arch sm_XY                NVRTC target (default sm_90a)\n"
    "  --emit WHAT[,WHAT...]       source, ptx, sass (needs cuobjdump) or resources;\n"
    "                              repeatable, shown in the order given\n";

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
      throw std::invalid_argument("--emit: '" + what +
                                  "' is not one of source, ptx, sass, resources");
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

Request parse(const Args& args) {
  Request r;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string option = args[i], value;
    const size_t equals = option.find('=');
    if (option.rfind("--", 0) == 0 && equals != std::string::npos) {
      value = option.substr(equals + 1);
      option.resize(equals);
    } else if (option.rfind("--", 0) != 0) {
      throw std::invalid_argument("unexpected argument '" + option + "'");
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      throw std::invalid_argument(option + ": needs a value");
    }

    if (option == "--variant") {
      if (value != "mamba2" && value != "mamba2_decode")
        throw std::invalid_argument("--variant: '" + value +
                                    "' is not one of mamba2, mamba2_decode");
      r.spec.family = value == "mamba2" ? compiler::Family::mamba2_forward
                                        : compiler::Family::mamba2_decode;
    } else if (option == "--dtype") {
      r.spec.dtype = parse_dtype(value);
    } else if (option == "--dk") {
      r.spec.key_dim = parse_int(option, value);
    } else if (option == "--dv") {
      r.spec.value_dim = parse_int(option, value);
    } else if (option == "--chunk") {
      r.spec.chunk = parse_int(option, value);
    } else if (option == "--levels") {
      r.spec.levels = parse_int(option, value);
    } else if (option == "--block-k") {
      r.spec.tile.block_k = parse_int(option, value);
    } else if (option == "--block-v") {
      r.spec.tile.block_v = parse_int(option, value);
    } else if (option == "--warps") {
      r.spec.tile.warps = parse_int(option, value);
    } else if (option == "--algorithm") {
      if (value == "fma") r.spec.tile.algorithm = compiler::Algorithm::fma;
      else if (value == "mma") r.spec.tile.algorithm = compiler::Algorithm::mma;
      else if (value == "scan") r.spec.tile.algorithm = compiler::Algorithm::scan;
      else if (value == "scan_wgmma") r.spec.tile.algorithm = compiler::Algorithm::scan_wgmma;
      else
        throw std::invalid_argument("--algorithm: '" + value +
                                    "' is not one of fma, mma, scan, scan_wgmma");
    } else if (option == "--arch") {
      r.spec.arch = value;
    } else if (option == "--emit") {
      add_emits(value, r.emits);
    } else {
      throw std::invalid_argument("unknown option '" + option + "' (see lla inspect --help)");
    }
  }
  if (r.emits.empty())
    throw std::invalid_argument("--emit: missing; give source, ptx, sass or resources");
  try {
    compiler::validate(r.spec);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(with_option(e.what()));
  }
  return r;
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
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
  }
  Request request;
  try {
    request = parse(args);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "lla inspect: %s\n", e.what());
    return 2;
  }

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
