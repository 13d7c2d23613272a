#include "generator/source_generator.h"

#include <stdexcept>
#include <string_view>
#include <utility>

#include "embedded_templates.h"
#include "generator/wgmma_wrappers.h"
#include "kernels/mamba2_decode_plan.h"
#include "kernels/mamba2_forward_plan.h"

namespace lla::compiler {

namespace {

std::string constant(const char* name, int value) {
  return std::string("constexpr int ") + name + " = " + std::to_string(value) + ";\n";
}

// What the host plan decides that the kernel must agree with (e.g. dynamic shared memory):
// compiled in, so the template can static_assert it against its own layout.
std::string mamba2_forward_plan_constants(const KernelSpec& spec) {
  std::string constants = constant("kStateSharedBytes", mamba2::state_shared_bytes(spec)) +
                          constant("kOutputSharedBytes", mamba2::output_shared_bytes(spec));
  if (is_scan(spec.tile.algorithm))
    constants += constant("kScanFixedBytes", mamba2::scan_fixed_bytes(spec)) +
                 constant("kScanSlotBytes", mamba2::scan_slot_bytes(spec));
  return constants;
}

// The tensor-core algorithms' PTX, and scan_wgmma's Hopper part with its wgmma instructions:
// 64 x block_v, and 64 x chunk / 2 for a warpgroup's scores.
std::vector<const char*> mamba2_forward_library(const KernelSpec& spec) {
  if (spec.tile.algorithm == Algorithm::fma) return {};
  if (spec.tile.algorithm == Algorithm::scan_wgmma) return {"ptx/sm80.cuh", "ptx/sm90.cuh"};
  return {"ptx/sm80.cuh"};
}
std::string mamba2_forward_library_code(const KernelSpec& spec) {
  if (spec.tile.algorithm != Algorithm::scan_wgmma) return "";
  std::vector<int> widths = {spec.tile.block_v};
  if (spec.chunk / 2 != spec.tile.block_v) widths.push_back(spec.chunk / 2);
  return wgmma_wrappers(spec.dtype, widths);
}

// scan, scan_wgmma: the mma kernels (for calls with a sequence table), the scan kernel and the
// kernels that split it along the sequence.
std::vector<const char*> mamba2_forward_templates(const KernelSpec& spec) {
  switch (spec.tile.algorithm) {
    case Algorithm::fma:
      return {"mamba2_forward_common.cuh", "mamba2_forward_fma.cuh", "mamba2_forward_state.cuh"};
    case Algorithm::mma:
      return {"mamba2_forward_common.cuh", "mamba2_forward_mma.cuh", "mamba2_forward_state.cuh"};
    case Algorithm::scan:
      return {"mamba2_forward_common.cuh", "mamba2_forward_mma.cuh", "mamba2_forward_state.cuh",
              "mamba2_forward_scan_common.cuh", "mamba2_forward_scan.cuh", "mamba2_forward_scan_split.cuh"};
    case Algorithm::scan_wgmma:
      return {"mamba2_forward_common.cuh", "mamba2_forward_mma.cuh", "mamba2_forward_state.cuh",
              "mamba2_forward_scan_common.cuh", "mamba2_forward_scan_wgmma.cuh",
              "mamba2_forward_scan_split.cuh"};
  }
  throw std::invalid_argument("tile.algorithm: unknown value");
}

std::vector<std::string> mamba2_forward_entry_points(const KernelSpec& spec) {
  std::vector<std::string> names = {"lla_mamba2_chunk_states", "lla_mamba2_merge_states",
                                    "lla_mamba2_output", "lla_mamba2_seed_prefix",
                                    "lla_mamba2_final_state"};
  if (is_scan(spec.tile.algorithm))
    for (const char* name : {"lla_mamba2_scan", "lla_mamba2_scan_pieces", "lla_mamba2_scan_seeds"})
      names.push_back(name);
  return names;
}

// The decode plan checks its tile against K with rows_per_pass; the template asserts that
// its own thread layout covers the same rows.
std::string mamba2_decode_plan_constants(const KernelSpec& spec) {
  return constant("kRowsPerPass", mamba2_decode::rows_per_pass(spec.tile));
}

std::vector<const char*> mamba2_decode_templates(const KernelSpec&) {
  return {"mamba2_decode.cuh"};
}

std::vector<const char*> no_library(const KernelSpec&) { return {}; }
std::string no_library_code(const KernelSpec&) { return ""; }

std::vector<std::string> mamba2_decode_entry_points(const KernelSpec&) {
  return {"lla_mamba2_decode_step", "lla_decode_advance_positions"};
}

struct FamilyTemplate {
  Family family;
  std::vector<const char*> (*library_files)(const KernelSpec&);  // templates/ptx/, in order
  std::string (*library_code)(const KernelSpec&);  // generated into lla_ptx after them
  std::vector<const char*> (*template_files)(const KernelSpec&);  // after lla_config, in order
  std::vector<std::string> (*entry_points)(const KernelSpec&);  // extern "C" kernels
  std::string (*plan_constants)(const KernelSpec&);
};

const FamilyTemplate& family_template(Family f) {
  static const std::vector<FamilyTemplate> table = {
      {Family::mamba2_forward, mamba2_forward_library, mamba2_forward_library_code,
       mamba2_forward_templates, mamba2_forward_entry_points, mamba2_forward_plan_constants},
      {Family::mamba2_decode, no_library, no_library_code,
       mamba2_decode_templates, mamba2_decode_entry_points, mamba2_decode_plan_constants},
  };
  for (const FamilyTemplate& t : table)
    if (t.family == f) return t;
  throw std::logic_error(std::string("no template is registered for family ") + family_name(f));
}

void append(std::string& src, std::string_view text) {
  src += text;
  if (!text.empty() && text.back() != '\n') src += '\n';
}

std::string_view template_text(const char* file) {
  std::string_view text = templates::find(file);
  if (text.empty())
    throw std::logic_error(std::string("template ") + file +
                           " is not embedded in this build (templates/" + file + ")");
  return text;
}

const char* element_type(Dtype d) {
  switch (d) {
    case Dtype::f32: return "float";
    case Dtype::f16: return "lla_f16";
    case Dtype::bf16: return "lla_bf16";
  }
  throw std::invalid_argument("dtype: unknown value " + std::to_string(static_cast<int>(d)));
}

int log2_exact(int power_of_two) {
  int log = 0;
  while ((1 << log) < power_of_two) ++log;
  return log;
}

std::string source_name(const KernelSpec& s) {
  return std::string(family_name(s.family)) + "_" + dtype_name(s.dtype) + "_k" +
         std::to_string(s.key_dim) + "_v" + std::to_string(s.value_dim) + "_c" +
         std::to_string(s.chunk) + "_l" + std::to_string(s.levels) + "_bk" +
         std::to_string(s.tile.block_k) + "_bv" + std::to_string(s.tile.block_v) + "_w" +
         std::to_string(s.tile.warps) + "_" + algorithm_name(s.tile.algorithm) + "_" + s.arch;
}

}  // namespace

GeneratedSource generate(const KernelSpec& spec) {
  validate(spec);
  const FamilyTemplate& family = family_template(spec.family);
  std::string src;
  src += "// lla generated source: " + describe(spec) + "\n";
  src += std::string("// generator version ") + kGeneratorVersion + "\n";
  src += "#define LLA_TARGET_SM " + std::to_string(arch_sm_number(spec.arch)) + "\n";
  append(src, template_text("common.cuh"));
  for (const char* file : family.library_files(spec)) append(src, template_text(file));
  if (const std::string code = family.library_code(spec); !code.empty())
    src += "namespace lla_ptx {\n" + code + "}  // namespace lla_ptx\n";
  src += "namespace lla_config {\n";
  src += constant("kKeyDim", spec.key_dim);
  src += constant("kValueDim", spec.value_dim);
  src += constant("kChunk", spec.chunk);
  src += constant("kLog2Chunk", log2_exact(spec.chunk));
  src += constant("kLevels", spec.levels);
  src += constant("kBlockK", spec.tile.block_k);
  src += constant("kBlockV", spec.tile.block_v);
  src += constant("kWarps", spec.tile.warps);
  src += constant("kThreads", 32 * spec.tile.warps);
  src += std::string("using Element = ") + element_type(spec.dtype) + ";\n";
  src += family.plan_constants(spec);
  src += "}  // namespace lla_config\n";
  for (const char* file : family.template_files(spec)) append(src, template_text(file));
  return {source_name(spec), std::move(src), family.entry_points(spec)};
}

}  // namespace lla::compiler
