// The log-linear Mamba-2 forward family: its descriptor.
#include "families/mamba2_forward.h"

#include <stdexcept>
#include <string>

#include "families/family_rules.h"
#include "generator/source_generator.h"
#include "generator/wgmma_wrappers.h"
#include "kernels/mamba2_forward_plan.h"

namespace lla::compiler::mamba2 {

namespace {

constexpr int kDefaultChunk = 64;

// The widest tile of `candidates` (widest first) that divides `dim`.
int widest_dividing_tile(int dim, std::initializer_list<int> candidates) {
  for (int tile : candidates)
    if (dim % tile == 0) return tile;
  throw std::invalid_argument("no tile divides " + std::to_string(dim));
}

class ForwardFamily final : public KernelFamily {
 public:
  FamilyKey key() const override { return {Variant::mamba2, Pass::forward}; }
  const char* name() const override { return "mamba2_forward"; }
  const char* summary() const override { return "the log-linear Mamba-2 forward (prefill, training forward)"; }
  bool has_chunk() const override { return true; }

  const std::vector<KnobSchema>& knobs() const override {
    static const std::vector<KnobSchema> schema = {
        {"block_k", "bk", ForwardTile{}.block_k, {}, "tile rows of K (fma's state work)"},
        {"block_v", "bv", ForwardTile{}.block_v, {}, "tile columns of V"},
        {"warps", "w", ForwardTile{}.warps, {}, "warps per block (mma, scan: chunk / 16)"},
        {"algorithm", "", static_cast<int>(ForwardTile{}.algorithm), {"fma", "mma", "scan", "scan_wgmma"},
         "CUDA cores in fp32, or tensor cores (16-bit dtypes): a chunk-state tree in memory (mma) or a "
         "chunk scan with the states on chip (scan; scan_wgmma on Hopper warpgroups, sm_90a, chunk 64)"},
    };
    return schema;
  }

  void validate(const KernelSpec& s) const override {
    validate_head_sizes(s);
    if (s.chunk < 16 || s.chunk > 128 || !is_power_of_two(s.chunk))
      reject("chunk", s.chunk, "must be a power of two in [16, 128]");
    const ForwardTile t = tile_of(s);
    algorithm_name(t.algorithm);  // throws for a value outside the enum
    if (t.algorithm == Algorithm::fma) validate_tile_width("tile.block_k", t.block_k, "key_dim", s.key_dim);
    validate_tile_width("tile.block_v", t.block_v, "value_dim", s.value_dim);
    validate_warps(t.warps);
    if (uses_tensor_cores(t.algorithm)) {
      const std::string algorithm = algorithm_name(t.algorithm);
      if (s.dtype == Dtype::f32)
        throw std::invalid_argument("tile.algorithm=" + algorithm + ": needs bf16 or f16 inputs, not f32");
      if (t.warps * 16 != s.chunk)
        reject("tile.warps", t.warps,
               "must be chunk / 16 = " + std::to_string(s.chunk / 16) + " for algorithm " + algorithm);
    }
    // The scan reads K in 32-row steps. At chunk 128 its 16 warps get 128 registers each
    // (65536 a block) and spill, so it stops at 64.
    if (t.algorithm == Algorithm::scan && s.key_dim % 32 != 0)
      reject("key_dim", s.key_dim, "must be a multiple of 32 for algorithm scan");
    if (t.algorithm == Algorithm::scan && s.chunk > 64) reject("chunk", s.chunk, "must be at most 64 for algorithm scan");
    // A chunk is one warpgroup's 64 rows; slots form in 64-row steps of K; block_v is a wgmma N.
    if (t.algorithm == Algorithm::scan_wgmma) {
      if (s.target != cuda_target("sm_90a"))
        throw std::invalid_argument("arch=" + s.target.name + ": algorithm scan_wgmma needs sm_90a (wgmma)");
      if (s.chunk != 64) reject("chunk", s.chunk, "must be 64 for algorithm scan_wgmma");
      if (s.key_dim % 64 != 0) reject("key_dim", s.key_dim, "must be a multiple of 64 for algorithm scan_wgmma");
      if (t.block_v == 16) reject("tile.block_v", t.block_v, "must be 32 or 64 for algorithm scan_wgmma");
    }
  }

  std::optional<std::string> unsupported(const Request& request) const override { return mamba2_unsupported(request); }

  CudaSourceParts cuda_source(const KernelSpec& spec) const override {
    const ForwardTile t = tile_of(spec);
    CudaSourceParts parts;
    // The tensor-core algorithms' PTX, and scan_wgmma's Hopper part with its wgmma instructions:
    // 64 x block_v, and 64 x chunk / 2 for a warpgroup's scores.
    if (uses_tensor_cores(t.algorithm)) parts.library_files.push_back("ptx/sm80.cuh");
    if (t.algorithm == Algorithm::scan_wgmma) {
      parts.library_files.push_back("ptx/sm90.cuh");
      std::vector<int> widths = {t.block_v};
      if (spec.chunk / 2 != t.block_v) widths.push_back(spec.chunk / 2);
      parts.library_code = wgmma_wrappers(spec.dtype, widths);
    }
    // What the host plan decides that the kernels must agree with (dynamic shared memory):
    // compiled in, so the templates can static_assert it against their own layouts.
    parts.constants = cuda_constant("kBlockK", t.block_k) + cuda_constant("kBlockV", t.block_v) +
                      cuda_constant("kWarps", t.warps) + cuda_constant("kThreads", 32 * t.warps) +
                      cuda_constant("kStateSharedBytes", state_shared_bytes(spec)) +
                      cuda_constant("kOutputSharedBytes", output_shared_bytes(spec));
    if (is_scan(t.algorithm))
      parts.constants += cuda_constant("kScanFixedBytes", scan_fixed_bytes(spec)) +
                         cuda_constant("kScanSlotBytes", scan_slot_bytes(spec));
    // scan, scan_wgmma: the mma kernels (for calls with a sequence table), the scan kernel and
    // the kernels that split it along the sequence.
    parts.template_files = {"mamba2_forward_common.cuh",
                            t.algorithm == Algorithm::fma ? "mamba2_forward_fma.cuh" : "mamba2_forward_mma.cuh",
                            "mamba2_forward_state.cuh"};
    if (is_scan(t.algorithm))
      for (const char* file : {"mamba2_forward_scan_common.cuh",
                               t.algorithm == Algorithm::scan ? "mamba2_forward_scan.cuh" : "mamba2_forward_scan_wgmma.cuh",
                               "mamba2_forward_scan_split.cuh"})
        parts.template_files.push_back(file);
    parts.entry_points = {"lla_mamba2_chunk_states", "lla_mamba2_merge_states", "lla_mamba2_output",
                          "lla_mamba2_seed_prefix", "lla_mamba2_final_state"};
    if (is_scan(t.algorithm))
      for (const char* name : {"lla_mamba2_scan", "lla_mamba2_scan_pieces", "lla_mamba2_scan_seeds"})
        parts.entry_points.push_back(name);
    return parts;
  }

  LaunchPlan plan(const KernelSpec& spec, const ProblemShape& shape) const override {
    return mamba2::plan(spec, shape);
  }

  bool tunable() const override { return true; }
  std::vector<TileConfig> config_space(const KernelSpec& base) const override { return mamba2::config_space(base); }
  int estimated_registers(const KernelSpec& spec) const override { return mamba2::estimated_registers(spec); }

  // Rule: chunk 64 (the models' chunk and the best balance of intra-chunk work against state
  // work at K = V = 128). 16-bit inputs: tensor cores, a warp per 16 rows; the scan where K
  // allows it with the widest V tile whose states fit in shared memory and whose blocks (one
  // per sequence, head, V tile and segment of a split sequence: scan_split) fill enough SMs:
  // 64 where they fill 7/8 of them, 32 or 16 where they fill half (fewer, and the sequential
  // walk loses to the tree); else mma with 64-wide V tiles where they divide. On sm_90a a scan
  // with 32- or 64-wide tiles runs on warpgroups (scan_wgmma) where it takes the spec.
  // fp32 inputs: CUDA cores (fma), 32-wide K and V tiles where they divide, 16 otherwise, four
  // warps. A chunk of 128 on a device with little shared memory falls back to narrower V, then
  // K tiles.
  KernelSpec heuristic(const Request& request, const DeviceInfo& device) const override {
    KernelSpec spec = spec_for(request, device, {});
    spec.chunk = request.chunk ? request.chunk : kDefaultChunk;
    ForwardTile t;
    if (request.dtype == Dtype::f32) {
      t.block_k = widest_dividing_tile(request.key_dim, {32, 16});
      t.block_v = widest_dividing_tile(request.value_dim, {32, 16});
      t.warps = 4;
    } else {
      t.warps = spec.chunk / 16;
      ProblemShape shape = request.shape;
      shape.multiprocessors = device.sm_count;
      const auto fits = [&](const KernelSpec& s) {
        return device.max_shared_per_block_optin <= 0 ||
               scan_shared_bytes(s, shape.seq_len) <= device.max_shared_per_block_optin;
      };
      // The scan of a V tile, on warpgroups where it takes the spec. Wider tiles repeat a
      // chunk's scores less often; measured on the H100, tuned: 64-wide tiles 0.48 / 0.53 /
      // 0.55 ms at T = 2048 x 16, 4096 x 8, 8192 x 4, where 32-wide ones are slower.
      const auto scan_serves = [&](int block_v) {
        if (request.value_dim % block_v != 0) return false;
        t.block_v = block_v;
        t.algorithm = Algorithm::scan_wgmma;
        spec.tile = t;
        if (block_v == 16 || !scan_supports(spec)) t.algorithm = Algorithm::scan;
        spec.tile = t;
        if (!scan_supports(spec) || !fits(spec)) return false;
        const int64_t blocks = int64_t{shape.batch} * shape.heads * (request.value_dim / block_v) *
                               scan_split(spec, shape).segments;
        return block_v == 64 ? 8 * blocks >= 7 * device.sm_count : 2 * blocks >= device.sm_count;
      };
      if (!scan_serves(64) && !scan_serves(32) && !scan_serves(16)) {
        t.algorithm = Algorithm::mma;
        t.block_v = widest_dividing_tile(request.value_dim, {64, 32, 16});
      }
    }
    spec.tile = t;
    while (device.max_shared_per_block_optin > 0 && output_shared_bytes(spec) > device.max_shared_per_block_optin) {
      if (t.block_v > 16) t.block_v /= 2;
      else if (t.algorithm == Algorithm::fma && t.block_k > 16) t.block_k /= 2;
      else break;  // the chunk alone is too large: the launch reports it
      spec.tile = t;
    }
    return spec;
  }
};

}  // namespace

const char* algorithm_name(Algorithm a) {
  switch (a) {
    case Algorithm::fma: return "fma";
    case Algorithm::mma: return "mma";
    case Algorithm::scan: return "scan";
    case Algorithm::scan_wgmma: return "scan_wgmma";
  }
  throw std::invalid_argument("tile.algorithm: unknown value " + std::to_string(static_cast<int>(a)));
}

bool uses_tensor_cores(Algorithm a) { return a != Algorithm::fma; }

bool is_scan(Algorithm a) { return a == Algorithm::scan || a == Algorithm::scan_wgmma; }

ForwardTile ForwardTile::of(const TileConfig& tile) {
  const ForwardTile d;
  return {tile.get("block_k", d.block_k), tile.get("block_v", d.block_v), tile.get("warps", d.warps),
          static_cast<Algorithm>(tile.get("algorithm", static_cast<int>(d.algorithm)))};
}

ForwardTile::operator TileConfig() const {
  return {{"block_k", block_k}, {"block_v", block_v}, {"warps", warps}, {"algorithm", static_cast<int>(algorithm)}};
}

const KernelFamily& forward_family() {
  static const ForwardFamily family;
  return family;
}

}  // namespace lla::compiler::mamba2
