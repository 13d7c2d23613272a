#pragma once
// Kernel families: one descriptor per (variant, pass) holding everything the layers above ask
// of a family, and the registry that finds it. The tuner, the dispatcher, the C API's
// validation and binding, the candidate bench and the tools ask the descriptor; none of them
// names a family. Adding a family is a descriptor (a family file and its plan), its templates,
// and one line in registry.cpp.
//
// Descriptors are immutable singletons: every member is safe to call from any thread, and a
// reference from the registry stays valid for the whole process.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "generator/kernel_spec.h"
#include "kernels/launch_plan.h"

namespace lla::compiler {

// ---- Knobs ----------------------------------------------------------------------------------

// One knob of a family's TileConfig: how it is named, written and defaulted.
struct KnobSchema {
  std::string name;        // "block_v"; the CLI spells it --block-v; errors say "tile.block_v=..."
  std::string short_name;  // in generated source names: "bv" (then the value), "" (the value alone)
  int default_value = 0;
  std::vector<std::string> value_names;  // an enumerated knob's values by index; empty: an integer
  std::string help;                      // one line for the CLI
};

// ---- Tensors --------------------------------------------------------------------------------

// The sizes a call's tensors are shaped by (the C API's problem fields; `sequences` is the
// number of sequences of a call: its batch, or num_seqs when packed).
enum class Dim { batch, seq_len, sequences, heads, groups, key_dim, value_dim, levels };
const char* dim_name(Dim d);  // "batch", "seq_len", "sequences", "heads", ...

struct ProblemSizes {
  int64_t batch = 1, seq_len = 1, sequences = 1, heads = 1, groups = 1;
  int64_t key_dim = 1, value_dim = 1, levels = 1;
  int64_t operator[](Dim d) const;
};

enum class ElementType {
  problem,  // the problem's dtype
  f32,
  i64,
};
enum class Access { read, write, read_write };

// How the candidate bench fills an input it allocates: uniform on [low, high] (random inputs of
// the real distribution, design.md "Measuring"); an output is poisoned instead.
struct InputDistribution {
  double low = 0;
  double high = 0;
};

// One tensor of a pass: a field of the pass's C API arguments (lla_forward_args, ...). The table
// drives C API validation (NULL, size, alignment, overlap, memory kind), argument binding (the
// launch plan's Buffer), the candidate bench's allocation and its fill, and the tools.
struct TensorDecl {
  Buffer role;             // the launch plan's name for it
  const char* field;       // its field in the pass's C API arguments ("q", "initial_state")
  std::vector<Dim> shape;  // row-major; elements = the product of the sizes
  ElementType element;
  int alignment;           // bytes its address must be a multiple of
  Access access;
  bool optional;           // NULL is allowed: the call does without it (a state not handed on)
  // Another tensor whose memory this one may be (an in-place update: the final state written
  // over the initial one); Buffer::workspace for none.
  Buffer may_alias = Buffer::workspace;
  InputDistribution fill = {};
  bool gated_deltanet_only = false;  // beta: a Gated DeltaNet input, NULL for Mamba-2
};

// The tensors of (variant, pass), inputs first: the pass's table without the tensors other
// variants alone take. Every family of the key has exactly these (kernel families do not
// declare tensors of their own: a tensor is a field of the C API's arguments first). Also
// defined for a key lla has no family for yet, so its calls are validated all the same.
const std::vector<TensorDecl>& tensors_of(FamilyKey key);

// Bytes of one element of `t` in a problem of `dtype`.
int element_bytes(const TensorDecl& t, Dtype dtype);
// "batch*seq_len*groups*key_dim": the tensor's shape as its sizes' names.
std::string shape_text(const TensorDecl& t);
// Elements of `t` for `sizes`; -1 when the count does not fit in int64.
int64_t element_count(const TensorDecl& t, const ProblemSizes& sizes);

// ---- Requests and devices -------------------------------------------------------------------

// What the heuristic and the tuner know of the machine a kernel runs on (filled by the
// backend that runs it: runtime/backend/backend.h).
struct DeviceInfo {
  std::string name;
  int cc_major = 0;  // CUDA: compute capability; 0 elsewhere
  int cc_minor = 0;
  int sm_count = 0;  // parallel units the plans balance over: SMs (CUDA), worker threads (CPU)
  int max_shared_per_block_optin = 0;  // bytes; 0: no such limit
  Target target;                       // what kernels for it are compiled for
};

// A problem as a family's heuristic and the tuner see it: everything but the pointers.
struct Request {
  FamilyKey family;
  Dtype dtype = Dtype::bf16;
  int key_dim = 128;
  int value_dim = 128;
  int levels = 15;
  int chunk = 0;  // 0: let the family choose (families without a chunk ignore it)
  bool qk_l2norm = false;
  ProblemShape shape;
};

// ---- Generated CUDA source ------------------------------------------------------------------

// What the CUDA generator (generator/source_generator.h) puts together for one spec, after the
// header and templates/common.cuh.
struct CudaSourceParts {
  std::vector<const char*> library_files;  // templates/ptx/ files the kernels use, in order
  std::string library_code;                // generated into namespace lla_ptx after them
  // The family's knobs and what its plan decides that the kernels must agree with (dynamic
  // shared memory; the sizeof of each kernel's parameter struct: ParamBlock), into namespace
  // lla_config after the spec's constants.
  std::string constants;
  std::vector<const char*> template_files;  // the family's templates, in order
  std::vector<std::string> entry_points;    // the extern "C" kernels the module defines
};

// ---- The descriptor -------------------------------------------------------------------------

class KernelFamily {
 public:
  virtual ~KernelFamily() = default;

  virtual FamilyKey key() const = 0;
  virtual const char* name() const = 0;     // "mamba2_forward"
  virtual const char* summary() const = 0;  // one line for the CLI

  // Whether a spec's chunk is one of its constants (describe and validate skip it otherwise).
  virtual bool has_chunk() const = 0;
  // The knobs of its TileConfig, in order.
  virtual const std::vector<KnobSchema>& knobs() const = 0;

  // The family's rules for a spec (sizes, knobs, their combinations, the target):
  // std::invalid_argument naming the field ("tile.block_v=8: ...").
  virtual void validate(const KernelSpec& spec) const = 0;
  // Why lla has no kernel of this family for a request it could otherwise run (a feature
  // the kernels lack, named by its C API field: "qk_l2norm: ..."); nullopt when it has one.
  virtual std::optional<std::string> unsupported(const Request& request) const = 0;

  // The tensors of its kernels, inputs first (tensors_of(key())).
  const std::vector<TensorDecl>& tensors() const { return tensors_of(key()); }

  // CUDA source of a validated spec.
  virtual CudaSourceParts cuda_source(const KernelSpec& spec) const = 0;

  // The launches that run `shape` with the module of a validated spec. Throws
  // std::invalid_argument naming the field when the shape does not fit the spec.
  virtual LaunchPlan plan(const KernelSpec& spec, const ProblemShape& shape) const = 0;

  // Whether calls tune (the policy of lla_options applies), or always run the heuristic.
  virtual bool tunable() const = 0;
  // Every config the family accepts for the base spec's constants and target, in its fixed
  // order (the tuner breaks ties by it; a search cut short reaches the first ones). Static
  // pruning is the tuner's.
  virtual std::vector<TileConfig> config_space(const KernelSpec& base) const = 0;
  // The documented default for a request on a device: what runs untuned, and the baseline a
  // tuned result must beat. Throws std::invalid_argument when no config serves it.
  virtual KernelSpec heuristic(const Request& request, const DeviceInfo& device) const = 0;
  // Registers a thread of the hungriest kernel needs, estimated before compiling (over 255 it
  // cannot run without spilling).
  virtual int estimated_registers(const KernelSpec& spec) const = 0;

  // The spec's knobs in schema order, every one present (defaults for missing ones).
  TileConfig canonical(const TileConfig& tile) const;
  // A knob's value in `tile` (its default when absent).
  int knob(const TileConfig& tile, const char* name) const;
  // The spec with the request's constants, the device's target and `tile` canonical.
  KernelSpec spec_for(const Request& request, const DeviceInfo& device, const TileConfig& tile) const;
};

// The launches that run `shape` with the module of `spec`: validate(spec), then its family's
// plan. Throws std::invalid_argument naming the field when either rejects it.
LaunchPlan plan_launches(const KernelSpec& spec, const ProblemShape& shape);

// ---- Registry -------------------------------------------------------------------------------

// Every family lla has, in a fixed order.
const std::vector<const KernelFamily*>& all_families();
// The family of (variant, pass); null when lla has none yet.
const KernelFamily* find_family(FamilyKey key);
// The same, throwing std::invalid_argument "no kernel family for <variant> <pass>" for none.
const KernelFamily& family_for(FamilyKey key);
inline const KernelFamily& family_for(Variant variant, Pass pass) { return family_for({variant, pass}); }
// By name ("mamba2_forward"); null when there is none.
const KernelFamily* family_named(const std::string& name);

}  // namespace lla::compiler
