#include "families/kernel_family.h"

#include <stdexcept>

namespace lla::compiler {

const char* dim_name(Dim d) {
  switch (d) {
    case Dim::batch: return "batch";
    case Dim::seq_len: return "seq_len";
    case Dim::sequences: return "sequences";
    case Dim::heads: return "heads";
    case Dim::groups: return "groups";
    case Dim::key_dim: return "key_dim";
    case Dim::value_dim: return "value_dim";
    case Dim::levels: return "levels";
  }
  throw std::invalid_argument("dim: unknown value " + std::to_string(static_cast<int>(d)));
}

int64_t ProblemSizes::operator[](Dim d) const {
  switch (d) {
    case Dim::batch: return batch;
    case Dim::seq_len: return seq_len;
    case Dim::sequences: return sequences;
    case Dim::heads: return heads;
    case Dim::groups: return groups;
    case Dim::key_dim: return key_dim;
    case Dim::value_dim: return value_dim;
    case Dim::levels: return levels;
  }
  throw std::invalid_argument("dim: unknown value " + std::to_string(static_cast<int>(d)));
}

int element_bytes(const TensorDecl& t, Dtype dtype) {
  switch (t.element) {
    case ElementType::problem: return dtype_bytes(dtype);
    case ElementType::f32: return 4;
    case ElementType::i64: return 8;
  }
  throw std::invalid_argument(std::string(t.field) + ": unknown element type");
}

std::string shape_text(const TensorDecl& t) {
  std::string text;
  for (Dim d : t.shape) text += (text.empty() ? "" : "*") + std::string(dim_name(d));
  return text;
}

int64_t element_count(const TensorDecl& t, const ProblemSizes& sizes) {
  int64_t count = 1;
  for (Dim d : t.shape)
    if (__builtin_mul_overflow(count, sizes[d], &count)) return -1;
  return count;
}

LaunchPlan plan_launches(const KernelSpec& spec, const ProblemShape& shape) {
  validate(spec);
  return family_for(spec.family).plan(spec, shape);
}

TileConfig KernelFamily::canonical(const TileConfig& tile) const {
  TileConfig full;
  for (const KnobSchema& k : knobs()) full.set(k.name, tile.get(k.name, k.default_value));
  return full;
}

int KernelFamily::knob(const TileConfig& tile, const char* name) const {
  for (const KnobSchema& k : knobs())
    if (k.name == name) return tile.get(name, k.default_value);
  throw std::logic_error(std::string(this->name()) + " has no knob " + name);
}

KernelSpec KernelFamily::spec_for(const Request& request, const DeviceInfo& device,
                                  const TileConfig& tile) const {
  KernelSpec spec;
  spec.family = key();
  spec.dtype = request.dtype;
  spec.key_dim = request.key_dim;
  spec.value_dim = request.value_dim;
  spec.levels = request.levels;
  if (has_chunk() && request.chunk) spec.chunk = request.chunk;
  spec.tile = canonical(tile);
  spec.target = device.target;
  return spec;
}

}  // namespace lla::compiler
