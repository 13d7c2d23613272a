#include "generator/kernel_spec.h"

#include <stdexcept>
#include <string>

#include "families/kernel_family.h"

namespace lla::compiler {

namespace {

struct ArchEntry {
  const char* name;
  int sm;
};

// The NVRTC targets lla generates for; the suffixed ones enable architecture-specific
// instructions (wgmma, tcgen05) and run only on that exact compute capability.
constexpr ArchEntry kSupportedArchs[] = {
    {"sm_80", 80},   {"sm_86", 86},  {"sm_89", 89},     {"sm_90", 90},
    {"sm_90a", 90},  {"sm_100", 100}, {"sm_100a", 100}, {"sm_120", 120},
};

std::string supported_arch_list() {
  std::string list;
  for (const ArchEntry& a : kSupportedArchs)
    list += (list.empty() ? "" : ", ") + std::string(a.name);
  return list;
}

[[noreturn]] void unknown(const char* what, int value) {
  throw std::invalid_argument(std::string(what) + ": unknown value " + std::to_string(value));
}

std::string knob_text(const KnobSchema& k, int value) {
  if (value >= 0 && static_cast<size_t>(value) < k.value_names.size()) return k.value_names[value];
  return std::to_string(value);
}

}  // namespace

const char* dtype_name(Dtype d) {
  switch (d) {
    case Dtype::f32: return "f32";
    case Dtype::f16: return "f16";
    case Dtype::bf16: return "bf16";
  }
  unknown("dtype", static_cast<int>(d));
}

int dtype_bytes(Dtype d) {
  switch (d) {
    case Dtype::f32: return 4;
    case Dtype::f16: return 2;
    case Dtype::bf16: return 2;
  }
  unknown("dtype", static_cast<int>(d));
}

const char* variant_name(Variant v) {
  switch (v) {
    case Variant::mamba2: return "mamba2";
    case Variant::gated_deltanet: return "gated_deltanet";
  }
  unknown("variant", static_cast<int>(v));
}

const char* pass_name(Pass p) {
  switch (p) {
    case Pass::forward: return "forward";
    case Pass::decode: return "decode";
  }
  unknown("pass", static_cast<int>(p));
}

const char* backend_name(BackendKind b) {
  switch (b) {
    case BackendKind::cuda: return "cuda";
    case BackendKind::cpu: return "cpu";
  }
  unknown("backend", static_cast<int>(b));
}

Target cuda_target(std::string arch) { return {BackendKind::cuda, std::move(arch)}; }

bool TileConfig::has(std::string_view name) const {
  for (const Knob& k : knobs_)
    if (k.name == name) return true;
  return false;
}

int TileConfig::get(std::string_view name, int fallback) const {
  for (const Knob& k : knobs_)
    if (k.name == name) return k.value;
  return fallback;
}

void TileConfig::set(std::string_view name, int value) {
  for (Knob& k : knobs_)
    if (k.name == name) {
      k.value = value;
      return;
    }
  knobs_.push_back({std::string(name), value});
}

int arch_sm_number(const std::string& arch) {
  for (const ArchEntry& a : kSupportedArchs)
    if (arch == a.name) return a.sm;
  throw std::invalid_argument("arch=" + arch + ": must be one of " + supported_arch_list());
}

std::string describe(const KernelSpec& s) {
  const KernelFamily& family = family_for(s.family);
  std::string text = std::string(family.name()) + " dtype=" + dtype_name(s.dtype) +
                     " K=" + std::to_string(s.key_dim) + " V=" + std::to_string(s.value_dim);
  if (family.has_chunk()) text += " C=" + std::to_string(s.chunk);
  text += " L=" + std::to_string(s.levels);
  for (const KnobSchema& k : family.knobs())
    text += " " + k.name + "=" + knob_text(k, s.tile.get(k.name, k.default_value));
  // CUDA specs keep the arch= of lla's first tuning rows, which are keyed by this text.
  text += s.target.backend == BackendKind::cuda ? " arch=" : std::string(" ") + backend_name(s.target.backend) + "=";
  return text + s.target.name;
}

void validate(const KernelSpec& s) {
  dtype_name(s.dtype);  // throws for an enum value cast from an out-of-range integer
  backend_name(s.target.backend);
  const KernelFamily& family = family_for(s.family);
  for (const Knob& k : s.tile.knobs()) {
    bool known = false;
    for (const KnobSchema& schema : family.knobs()) known = known || schema.name == k.name;
    if (!known)
      throw std::invalid_argument("tile." + k.name + "=" + std::to_string(k.value) + ": " +
                                  family.name() + " has no such knob");
  }
  family.validate(s);
  if (s.target.backend == BackendKind::cuda) arch_sm_number(s.target.name);
}

}  // namespace lla::compiler
