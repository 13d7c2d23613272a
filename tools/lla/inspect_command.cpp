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
#include "families/kernel_family.h"
#include "options.h"
#include "generator/source_generator.h"
#include "nvrtc/nvrtc_compiler.h"

namespace lla::tools {

namespace {

enum class Emit { source, ptx, sass, resources };

struct Request {
  compiler::KernelSpec spec;
  std::string variant;  // a family, or a variant for its forward: resolved once all are read
  std::vector<std::pair<std::string, std::string>> knobs;  // (option, value), by its family's schema
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

// "--block-v" of the knob "block_v".
std::string knob_option(const std::string& knob) {
  std::string option = "--" + knob;
  std::replace(option.begin(), option.end(), '_', '-');
  return option;
}

// A validation message prefixed with the inspect option that sets its field, so the error
// names what was typed (a knob's "tile.<knob>=" is --<knob>).
std::string with_option(const std::string& message) {
  static const std::pair<const char*, const char*> kFields[] = {
      {"key_dim=", "--dk"}, {"value_dim=", "--dv"}, {"chunk=", "--chunk"},
      {"levels=", "--levels"}, {"arch=", "--arch"},
  };
  for (const auto& [field, option] : kFields)
    if (message.rfind(field, 0) == 0) return std::string(option) + ": " + message;
  const size_t equals = message.find('=');
  if (message.rfind("tile.", 0) == 0 && equals != std::string::npos)
    return knob_option(message.substr(5, equals - 5)) + ": " + message;
  return message;
}

// The family --variant names: a family ("mamba2_decode"), or a variant for its forward ("mamba2").
const compiler::KernelFamily& family_of(const std::string& value) {
  std::vector<std::string> known;
  for (const compiler::KernelFamily* f : compiler::all_families()) {
    if (f->key().pass == compiler::Pass::forward) {
      if (value == compiler::variant_name(f->key().variant)) return *f;
      known.push_back(compiler::variant_name(f->key().variant));
    }
    if (value == f->name()) return *f;
    known.push_back(f->name());
  }
  throw UsageError("--variant: '" + value + "' is not one of " + joined_names(known));
}

// A knob option (--block-v 32, --algorithm scan) into the spec's config, by its family's schema.
void set_knob(compiler::KernelSpec& spec, const std::string& option, const std::string& value) {
  const compiler::KernelFamily& family = compiler::family_for(spec.family);
  std::vector<std::string> knobs;
  for (const compiler::KnobSchema& k : family.knobs()) {
    knobs.push_back(k.name);
    if (knob_option(k.name) != option) continue;
    if (k.value_names.empty()) {
      int number = 0;
      try {
        integer(&number)(value);
      } catch (const std::invalid_argument& e) {
        throw UsageError(option + ": " + e.what());
      }
      return spec.tile.set(k.name, number);
    }
    for (size_t i = 0; i < k.value_names.size(); ++i)
      if (k.value_names[i] == value) return spec.tile.set(k.name, static_cast<int>(i));
    throw UsageError(option + ": '" + value + "' is not one of " + joined_names(k.value_names));
  }
  throw UsageError(option + ": " + family.name() + " has no such knob (its knobs: " + joined_names(knobs) + ")");
}

// The command line of `lla inspect`, storing into *r (whose spec holds the defaults).
CommandLine command_line(Request* r) {
  compiler::KernelSpec& spec = r->spec;
  CommandLine c("inspect", {"inspect [options] --emit source|ptx|sass|resources"},
                "Generates the kernel module of one spec and shows it; works without a GPU.");
  std::vector<std::string> families;
  for (const compiler::KernelFamily* f : compiler::all_families())
    families.push_back(std::string(f->name()) + " (" + f->summary() + ")");
  c.option("--variant", "NAME",
           "kernel family: a family of " + joined_names(families) +
               ", or a variant for its forward (mamba2, the default)",
           text(&r->variant))
      .option("--dtype", "bf16|f16|f32", "element type of q, k, v, o (bf16)", dtype(&spec.dtype))
      .option("--dk", "N", "key head dim K (128)", integer(&spec.key_dim))
      .option("--dv", "N", "value head dim V (128)", integer(&spec.value_dim))
      .option("--chunk", "N", "chunk size C (64; for families that have one)", integer(&spec.chunk))
      .option("--levels", "N", "lambda levels L (15)", integer(&spec.levels));
  // Every family's knobs, from its schema: --block-v sets the named family's block_v.
  std::vector<std::string> knobs;
  std::vector<std::vector<std::string>> owners;  // the families that have each knob
  std::vector<const compiler::KnobSchema*> schemas;
  for (const compiler::KernelFamily* f : compiler::all_families())
    for (const compiler::KnobSchema& k : f->knobs()) {
      const size_t at = std::find(knobs.begin(), knobs.end(), k.name) - knobs.begin();
      if (at == knobs.size()) {
        knobs.push_back(k.name);
        owners.emplace_back();
        schemas.push_back(&k);
      }
      owners[at].push_back(f->name());
    }
  for (size_t i = 0; i < knobs.size(); ++i) {
    const compiler::KnobSchema& k = *schemas[i];
    const std::string option = knob_option(k.name);
    std::string values;
    for (const std::string& name : k.value_names) values += (values.empty() ? "" : "|") + name;
    c.option(option, values.empty() ? "N" : values,
             k.help + " (" + joined_names(owners[i]) + "; the family's default when not given)",
             [r, option, names = k.value_names](const std::string& value) {
               // The value's form is checked here; which family takes it, once all are read.
               int number = 0;
               if (names.empty()) integer(&number)(value);
               else if (std::find(names.begin(), names.end(), value) == names.end())
                 throw std::invalid_argument("'" + value + "' is not one of " + joined_names(names));
               r->knobs.emplace_back(option, value);
             });
  }
  c.option("--arch", "sm_XY", "NVRTC target (sm_90a)", text(&spec.target.name))
      .option("--emit", "WHAT[,WHAT...]",
              "source, ptx, sass (needs cuobjdump) or resources; repeatable, shown in the order "
              "given",
              [r](const std::string& list) { add_emits(list, r->emits); });
  return c;
}

// The request's family and knobs set, and its spec valid; throws UsageError naming the option
// of a wrong field.
void check_request(Request& r) {
  if (r.emits.empty()) throw UsageError("--emit: missing; give source, ptx, sass or resources");
  if (!r.variant.empty()) r.spec.family = family_of(r.variant).key();
  for (const auto& [option, value] : r.knobs) set_knob(r.spec, option, value);
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
  if (needs_compile) module = compiler::compile(src, request.spec.target.name, needs_ptx);

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
