#pragma once
// What to compile: a kernel family specialised on every compile-time constant it has, for one
// target. Two equal specs give byte-identical source (the generator is deterministic). What a
// family is (its knobs, tensors, templates, plan) is its descriptor's (families/kernel_family.h).

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace lla::compiler {

enum class Dtype { f32, f16, bf16 };

const char* dtype_name(Dtype d);  // "f32", "f16", "bf16"
int dtype_bytes(Dtype d);

// The two attention variants of spec/loglinear.md (the C API's lla_variant) and the passes a
// call makes over them (lla_forward, lla_decode_step). A family is one (variant, pass).
enum class Variant { mamba2, gated_deltanet };
enum class Pass { forward, decode };
const char* variant_name(Variant v);  // "mamba2", "gated_deltanet"
const char* pass_name(Pass p);        // "forward", "decode"

struct FamilyKey {
  Variant variant = Variant::mamba2;
  Pass pass = Pass::forward;
  bool operator==(const FamilyKey& o) const { return variant == o.variant && pass == o.pass; }
  bool operator!=(const FamilyKey& o) const { return !(*this == o); }
};

// Where a kernel runs: a backend (runtime/backend/backend.h) and the target its toolchain
// compiles for. CUDA: the NVRTC architecture, suffix included ("sm_90a"). CPU: the CPU model
// LLVM compiles for (its feature list belongs to the toolchain identity, not to the spec).
enum class BackendKind { cuda, cpu };
const char* backend_name(BackendKind b);  // "cuda", "cpu"

struct Target {
  BackendKind backend = BackendKind::cuda;
  std::string name = "sm_90a";
  bool operator==(const Target& o) const { return backend == o.backend && name == o.name; }
  bool operator!=(const Target& o) const { return !(*this == o); }
};
Target cuda_target(std::string arch);  // {cuda, arch}

// One knob of a family's configuration: its name in the family's schema (KnobSchema) and its
// value (an enumerated knob holds the index of its value's name).
struct Knob {
  std::string name;
  int value = 0;
  bool operator==(const Knob& o) const { return name == o.name && value == o.value; }
};

// A family's tuning configuration: knobs by name. Each family owns its knobs and their meaning;
// the tuner compares, orders and records configurations without knowing what a knob is. A knob
// the config lacks has the family's default.
class TileConfig {
 public:
  TileConfig() = default;
  TileConfig(std::initializer_list<Knob> knobs) : knobs_(knobs) {}

  const std::vector<Knob>& knobs() const { return knobs_; }
  bool has(std::string_view name) const;
  // The knob's value; `fallback` when the config lacks it.
  int get(std::string_view name, int fallback) const;
  // Sets the knob, adding it after the others when the config lacks it.
  void set(std::string_view name, int value);

  // Equal knobs in equal order. Families make their configs canonical (every knob, schema
  // order), so configs of one family compare by value.
  bool operator==(const TileConfig& o) const { return knobs_ == o.knobs_; }
  bool operator!=(const TileConfig& o) const { return !(*this == o); }

 private:
  std::vector<Knob> knobs_;
};

struct KernelSpec {
  FamilyKey family;
  Dtype dtype = Dtype::bf16;
  int key_dim = 128;    // K
  int value_dim = 128;  // V
  int chunk = 64;       // C, a power of two (families that have no chunk ignore it)
  int levels = 15;      // L, lambda levels
  TileConfig tile;      // the family's knobs
  Target target;
};

// A canonical one-line description: the family's name, the constants it is specialised on,
// its knobs in schema order and the target, e.g.
// "mamba2_forward dtype=bf16 K=128 V=128 C=64 L=15 block_k=32 block_v=32 warps=4 algorithm=fma
// arch=sm_90a". Equal descriptions are the same kernel: used in generated source headers,
// logs, tuning rows and the in-process kernel table. Throws std::invalid_argument for a family
// with no descriptor.
std::string describe(const KernelSpec& s);

// The numeric SM of a supported NVRTC target: 90 for "sm_90a", 80 for "sm_80".
// Throws std::invalid_argument naming `arch` when lla does not support it.
int arch_sm_number(const std::string& arch);

// Throws std::invalid_argument naming the field ("key_dim=24: ...", "tile.block_v=8: ...")
// when the spec cannot be generated: the dtype, the target, and the family's own rules
// (KernelFamily::validate).
void validate(const KernelSpec& s);

}  // namespace lla::compiler
