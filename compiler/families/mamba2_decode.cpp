// The log-linear Mamba-2 decode step family: its descriptor.
#include "families/mamba2_decode.h"

#include <stdexcept>
#include <string>

#include "families/family_rules.h"
#include "generator/source_generator.h"
#include "kernels/mamba2_decode_plan.h"

namespace lla::compiler::mamba2_decode {

namespace {

class DecodeFamily final : public KernelFamily {
 public:
  FamilyKey key() const override { return {Variant::mamba2, Pass::decode}; }
  const char* name() const override { return "mamba2_decode"; }
  const char* summary() const override { return "the log-linear Mamba-2 decode step"; }
  bool has_chunk() const override { return false; }

  const std::vector<KnobSchema>& knobs() const override {
    static const std::vector<KnobSchema> schema = {
        {"block_v", "bv", DecodeTile{}.block_v, {}, "tile columns of V a block owns"},
        {"warps", "w", DecodeTile{}.warps, {}, "warps per block"},
    };
    return schema;
  }

  void validate(const KernelSpec& s) const override {
    validate_head_sizes(s);
    const DecodeTile t = tile_of(s);
    validate_tile_width("tile.block_v", t.block_v, "value_dim", s.value_dim);
    validate_warps(t.warps);
  }

  std::optional<std::string> unsupported(const Request& request) const override { return mamba2_unsupported(request); }

  // The plan checks its tile against K with rows_per_pass; the template asserts that its own
  // thread layout covers the same rows.
  CudaSourceParts cuda_source(const KernelSpec& spec) const override {
    const DecodeTile t = tile_of(spec);
    CudaSourceParts parts;
    parts.constants = cuda_constant("kBlockV", t.block_v) + cuda_constant("kWarps", t.warps) +
                      cuda_constant("kThreads", 32 * t.warps) + cuda_constant("kRowsPerPass", rows_per_pass(t));
    parts.template_files = {"mamba2_decode.cuh"};
    parts.entry_points = {"lla_mamba2_decode_step", "lla_decode_advance_positions"};
    return parts;
  }

  LaunchPlan plan(const KernelSpec& spec, const ProblemShape& shape) const override {
    return mamba2_decode::plan(spec, shape);
  }

  // The step streams its state once: the heuristic below is the decode path's only config.
  bool tunable() const override { return false; }
  std::vector<TileConfig> config_space(const KernelSpec& base) const override {
    return mamba2_decode::config_space(base);
  }
  // Per row a thread owns: its 16-byte vector of the merge and its q and k values; plus a
  // fixed allowance (ptxas: 72 registers at 8 rows, K = 128 with V tile 32).
  int estimated_registers(const KernelSpec& spec) const override {
    const int rows = spec.key_dim / rows_per_pass(tile_of(spec));
    return 24 + 6 * rows;
  }

  // Rule: the step streams the state once, so what matters is enough blocks in flight. 32-wide
  // V tiles (8 rows of 16-byte accesses per thread at K = 128, 72 registers) unless that leaves
  // fewer than two blocks per SM, then 16-wide; four warps, halved until a pass's rows divide K.
  KernelSpec heuristic(const Request& request, const DeviceInfo& device) const override {
    if (request.value_dim % 16 != 0) throw std::invalid_argument("no tile divides " + std::to_string(request.value_dim));
    DecodeTile t;
    t.block_v = request.value_dim % 32 == 0 ? 32 : 16;
    const int64_t sequence_heads = int64_t{request.shape.batch} * request.shape.heads;
    if (sequence_heads * (request.value_dim / t.block_v) < 2 * int64_t{device.sm_count}) t.block_v = 16;
    t.warps = 4;
    while (t.warps > 1 && request.key_dim % rows_per_pass(t) != 0) t.warps /= 2;
    return spec_for(request, device, t);
  }
};

}  // namespace

DecodeTile DecodeTile::of(const TileConfig& tile) {
  const DecodeTile d;
  return {tile.get("block_v", d.block_v), tile.get("warps", d.warps)};
}

DecodeTile::operator TileConfig() const { return {{"block_v", block_v}, {"warps", warps}}; }

}  // namespace lla::compiler::mamba2_decode

namespace lla::compiler::mamba2 {

const KernelFamily& decode_family() {
  static const mamba2_decode::DecodeFamily family;
  return family;
}

}  // namespace lla::compiler::mamba2
