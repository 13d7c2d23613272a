#include "generator/source_generator.h"

#include <stdexcept>
#include <string_view>
#include <utility>

#include "embedded_templates.h"
#include "families/kernel_family.h"

namespace lla::compiler {

namespace {

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

// "<family>_<dtype>_k<K>_v<V>[_c<C>]_l<L>_<knobs>_<arch>", knobs as their short names and
// values (an enumerated knob as its value's name).
std::string source_name(const KernelFamily& family, const KernelSpec& s) {
  std::string name = std::string(family.name()) + "_" + dtype_name(s.dtype) + "_k" + std::to_string(s.key_dim) +
                     "_v" + std::to_string(s.value_dim);
  if (family.has_chunk()) name += "_c" + std::to_string(s.chunk);
  name += "_l" + std::to_string(s.levels);
  for (const KnobSchema& k : family.knobs()) {
    const int value = s.tile.get(k.name, k.default_value);
    name += "_" + k.short_name +
            (k.value_names.empty() ? std::to_string(value) : k.value_names.at(static_cast<size_t>(value)));
  }
  return name + "_" + s.target.name;
}

}  // namespace

std::string cuda_constant(const char* name, int value) {
  return std::string("constexpr int ") + name + " = " + std::to_string(value) + ";\n";
}

GeneratedSource generate(const KernelSpec& spec) {
  validate(spec);
  if (spec.target.backend != BackendKind::cuda)
    throw std::invalid_argument(std::string("target: lla generates CUDA source only, not for ") +
                                backend_name(spec.target.backend));
  const KernelFamily& family = family_for(spec.family);
  const CudaSourceParts parts = family.cuda_source(spec);

  std::string src;
  src += "// lla generated source: " + describe(spec) + "\n";
  src += std::string("// generator version ") + kGeneratorVersion + "\n";
  src += "#define LLA_TARGET_SM " + std::to_string(arch_sm_number(spec.target.name)) + "\n";
  append(src, template_text("common.cuh"));
  for (const char* file : parts.library_files) append(src, template_text(file));
  if (!parts.library_code.empty()) src += "namespace lla_ptx {\n" + parts.library_code + "}  // namespace lla_ptx\n";
  src += "namespace lla_config {\n";
  src += cuda_constant("kKeyDim", spec.key_dim);
  src += cuda_constant("kValueDim", spec.value_dim);
  if (family.has_chunk()) {
    src += cuda_constant("kChunk", spec.chunk);
    src += cuda_constant("kLog2Chunk", log2_exact(spec.chunk));
  }
  src += cuda_constant("kLevels", spec.levels);
  src += std::string("using Element = ") + element_type(spec.dtype) + ";\n";
  src += parts.constants;
  src += "}  // namespace lla_config\n";
  for (const char* file : parts.template_files) append(src, template_text(file));
  return {source_name(family, spec), std::move(src), parts.entry_points};
}

}  // namespace lla::compiler
