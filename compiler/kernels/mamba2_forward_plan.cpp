#include "kernels/mamba2_forward_plan.h"

#include <algorithm>
#include <cstring>
#include <utility>
#include <limits>
#include <stdexcept>
#include <string>

#include "levels/fenwick_levels.h"

namespace lla::compiler::mamba2 {

namespace {

constexpr size_t kWorkspaceAlignment = 256;
constexpr int64_t kMaxGridYZ = 65535;

size_t align_up(size_t bytes) {
  return (bytes + kWorkspaceAlignment - 1) / kWorkspaceAlignment * kWorkspaceAlignment;
}

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

unsigned to_grid(int64_t n) { return static_cast<unsigned>(n); }

int bit_length(int64_t x) { return x <= 0 ? 0 : levels::bit_length(static_cast<uint64_t>(x)); }

// Nodes of level `level` + 1 that a merge builds: those past the prefix node whose two
// children exist, j in [first_chunk >> (level + 1), ((last_chunk >> level) - 1) / 2].
std::pair<int64_t, int64_t> merged_nodes(int64_t first_chunk, int64_t last_chunk, int level) {
  const int64_t children = last_chunk >> level;
  const int64_t lo = first_chunk >> (level + 1);
  const int64_t hi = children >= 1 ? (children - 1) / 2 : -1;
  return {lo, hi};
}

// The scratch memory of a call, region after region, each 256-byte aligned.
class WorkspaceLayout {
 public:
  size_t add(size_t bytes) {
    const size_t offset = align_up(size_);
    size_ = offset + bytes;
    return offset;
  }
  size_t size() const { return size_; }

 private:
  size_t size_ = 0;
};

// Host twins of the kernels' lla_sequence and lla_item (mamba2_forward_common.cuh).
struct SequenceEntry {
  int64_t row0;
  int64_t node_base;
  int32_t start;
  int32_t length;
  int32_t nodes;
  int32_t prefix_slot;
};
struct ItemEntry {
  int32_t seq;
  int32_t index;
};
static_assert(sizeof(SequenceEntry) == kSequenceEntryBytes && sizeof(ItemEntry) == kItemBytes,
              "the kernels' table layout");

template <typename T>
size_t append_bytes(std::vector<uint8_t>& bytes, const std::vector<T>& entries) {
  const size_t offset = bytes.size();
  bytes.resize(offset + entries.size() * sizeof(T));
  if (!entries.empty()) std::memcpy(bytes.data() + offset, entries.data(), entries.size() * sizeof(T));
  return offset;
}

}  // namespace

int tree_levels(int64_t last_chunk) { return bit_length(last_chunk); }

int64_t tree_first(int level, int64_t first_chunk) {
  const int64_t block = first_chunk >> level;
  return block > 0 ? block - 1 : 0;
}

int64_t tree_nodes(int64_t first_chunk, int64_t last_chunk) {
  int64_t nodes = 0;
  for (int e = 0; e < tree_levels(last_chunk); ++e)
    nodes += (last_chunk >> e) - tree_first(e, first_chunk) + 1;
  return nodes;
}

namespace {
int log2_exact(int power_of_two) { return __builtin_ctz(static_cast<unsigned>(power_of_two)); }
}  // namespace

// Layouts: templates/mamba2_forward_fma.cuh and mamba2_forward_mma.cuh (16-bit tiles padded by
// 8 elements a row).
int state_shared_bytes(const KernelSpec& spec) {
  const ForwardTile t = tile_of(spec);
  if (!uses_tensor_cores(t.algorithm)) return 0;
  const int c = spec.chunk, k = spec.key_dim, bv = t.block_v;
  return 4 * c + 2 * (bv + k) * (c + 8);
}

int output_shared_bytes(const KernelSpec& spec) {
  const ForwardTile t = tile_of(spec);
  const int c = spec.chunk, k = spec.key_dim, bk = t.block_k, bv = t.block_v;
  if (uses_tensor_cores(t.algorithm)) {
    const int intra_levels = log2_exact(c) + 1;
    return 4 * (2 * c + c * intra_levels) + 2 * (2 * c * (k + 8) + bv * (c + 8) + bv * (k + 8));
  }
  const int floats = 2 * c + c * (c + 1) + 2 * c * (bk + 1) + c * (bv + 1) + bk * (bv + 1);
  return floats * 4;
}

// scan: tiles with rows padded by 8 elements, each warp's partial sums for its partner.
// scan_wgmma: unpadded (swizzled) tiles, stages on 1024 bytes (after up to 1024 bytes of
// alignment); the warpgroups' exchange of sums (rows of block_v / 2 + 8 floats) in room of its
// own, or with V tile 64 in a stage's tiles. Both: then the slots' log2 decays (a float per
// chunk level, in 16 bytes).
int scan_fixed_bytes(const KernelSpec& spec) {
  const ForwardTile t = tile_of(spec);
  const int c = spec.chunk, k = spec.key_dim, bv = t.block_v;
  const int rows = 4 * c + 2 * c * spec.levels;  // g and lambda
  const int slots = std::max(spec.levels - (log2_exact(c) + 1), 1);
  const int decays = (4 * slots + 15) / 16 * 16;
  if (t.algorithm == Algorithm::scan_wgmma) {
    const int stage = 2 * (2 * c * k + c * bv) + rows;
    const int exchange = bv == 64 ? 0 : 4 * 2 * c * (bv / 2 + 8);
    return 1024 + 2 * ((stage + 1023) / 1024 * 1024) + exchange + decays;
  }
  const int stage = 2 * (2 * c * (k + 8) + c * (bv + 8)) + rows;
  const int exchange = 2 * t.warps * 4 * 16 * bv / 2;  // the scan's two warps per 16 rows
  return 2 * ((stage + 15) / 16 * 16) + exchange + decays;
}

int scan_slot_bytes(const KernelSpec& spec) {
  const ForwardTile t = tile_of(spec);
  const int row = t.algorithm == Algorithm::scan_wgmma ? spec.key_dim : spec.key_dim + 8;
  return 2 * t.block_v * row;
}

int scan_shared_bytes(const KernelSpec& spec, int64_t seq_len) {
  const int64_t chunks = (seq_len + spec.chunk - 1) / spec.chunk;
  return scan_fixed_bytes(spec) + tree_levels(chunks - 1) * scan_slot_bytes(spec);
}

bool scan_supports(const KernelSpec& spec) {
  if (spec.dtype == Dtype::f32) return false;
  // K in 64-row steps, chunk 64, wgmma (validate says why).
  if (tile_of(spec).algorithm == Algorithm::scan_wgmma)
    return spec.target == cuda_target("sm_90a") && spec.key_dim % 64 == 0 && spec.chunk == 64;
  // K in 32-row steps; chunks up to 64.
  return spec.key_dim % 32 == 0 && spec.chunk <= 64;
}

std::vector<TileConfig> config_space(const KernelSpec& base) {
  std::vector<TileConfig> space;
  for (Algorithm scan : {Algorithm::scan_wgmma, Algorithm::scan}) {
    KernelSpec spec = base;
    spec.tile = ForwardTile{ForwardTile{}.block_k, ForwardTile{}.block_v, base.chunk / 16, scan};
    if (!scan_supports(spec)) continue;
    for (int block_v : {16, 32, 64})
      if (base.value_dim % block_v == 0 && (scan == Algorithm::scan || block_v != 16))
        space.push_back(ForwardTile{ForwardTile{}.block_k, block_v, base.chunk / 16, scan});
  }
  if (base.dtype != Dtype::f32)
    for (int block_v : {16, 32, 64})
      if (base.value_dim % block_v == 0)
        space.push_back(ForwardTile{ForwardTile{}.block_k, block_v, base.chunk / 16, Algorithm::mma});
  for (int block_k : {16, 32, 64})
    for (int block_v : {16, 32, 64})
      for (int warps : {2, 4, 8}) {
        if (base.key_dim % block_k != 0 || base.value_dim % block_v != 0) continue;
        // Every thread must own at least one element of the chunk x block_v output tile and
        // of the block_k x block_v state tile (ThreadTile in the template).
        const int threads = 32 * warps;
        if (base.chunk * block_v < threads || block_k * block_v < threads) continue;
        space.push_back(ForwardTile{block_k, block_v, warps, Algorithm::fma});
      }
  return space;
}

namespace {
// Chunks a piece of the split scan holds: a power of two, so pieces tile the aligned blocks of
// a segment's seeds, and large enough that the pieces' states (K x V fp32 each) stay a small
// fraction of the inputs they sum.
constexpr int64_t kPieceChunks = 16;
// A piece's chunk against a scanned one, in time (the pieces read k and v once, the scan does
// all the products): an estimate, checked against lla bench on the H100.
constexpr double kPieceChunkCost = 0.25;
}  // namespace

ScanSplit scan_split(const KernelSpec& spec, const ProblemShape& shape) {
  const int64_t chunks = (int64_t{shape.seq_len} + spec.chunk - 1) / spec.chunk;
  ScanSplit split;
  split.segment_chunks = chunks;
  if (shape.multiprocessors <= 0 || chunks < 2 * kPieceChunks) return split;
  const int64_t blocks = int64_t{shape.batch} * shape.heads * (spec.value_dim / tile_of(spec).block_v);
  const auto waves = [&](int64_t segments) {
    return (blocks * segments + shape.multiprocessors - 1) / shape.multiprocessors;
  };
  double best = static_cast<double>(waves(1) * chunks);
  for (int64_t length = kPieceChunks; length < chunks; length += kPieceChunks) {
    const int64_t segments = (chunks + length - 1) / length;
    const int64_t pieced = (segments - 1) * length;  // chunks before the last segment
    const double cost = static_cast<double>(waves(segments) * length) +
                        kPieceChunkCost * static_cast<double>(pieced * blocks) / shape.multiprocessors;
    if (cost < best && segments <= kMaxGridYZ) {
      best = cost;
      split.segment_chunks = length;
      split.segments = segments;
    }
  }
  if (split.segments > 1) {
    split.piece_chunks = kPieceChunks;
    split.pieces = (split.segments - 1) * split.segment_chunks / kPieceChunks;
    for (int64_t s = 1; s < split.segments; ++s)
      split.seeds_per_head += __builtin_popcountll(static_cast<unsigned long long>(s * split.segment_chunks));
  }
  return split;
}

int estimated_registers(const KernelSpec& spec) {
  // Allowances read off ptxas for the smallest tiles (sm_90a): what is not a held tile.
  constexpr int kFmaAllowance = 40, kMmaAllowance = 56;
  const ForwardTile t = tile_of(spec);
  const int threads = 32 * t.warps, bv = t.block_v;
  if (t.algorithm == Algorithm::mma) {
    // A warp's 16 x chunk scores, 16 x block_v output and 16 x block_v level part, over 32 lanes.
    return kMmaAllowance + spec.chunk / 2 + bv;
  }
  if (t.algorithm == Algorithm::scan_wgmma) {
    // Held tiles over a warpgroup's 128 threads, counted loosely (16 for P and the partial
    // products, block_v / 2 output, the K x block_v slot state, K / 4 for q's and the slot
    // operand's registers): a floor that flags only the clearly oversized tiles (K = 256 with
    // V tile 64); ptxas reports 238 at K = 128, V tile 32.
    return kMmaAllowance + 16 + bv / 2 + spec.key_dim * bv / 128 + spec.key_dim / 4;
  }
  if (t.algorithm == Algorithm::scan) {
    // A warp's half of the 16 x chunk scores, 16 x block_v output, a 16 x block_v / 2 level
    // part and 16 x K operand A of q (held across the chunk's reads), over 32 lanes.
    return kMmaAllowance + spec.chunk / 4 + bv + bv / 4 + spec.key_dim / 4;
  }
  // Output: chunk x block_v output and level part; states: a block_k x block_v tile.
  const int output = 2 * spec.chunk * bv / threads, states = t.block_k * bv / threads;
  return kFmaAllowance + std::max(output, states);
}

namespace {

// The kernels' arguments that do not change between launches of one plan.
struct TreeArgs {
  KernelArg sequences = NullPointer{};
  KernelArg decays = NullPointer{};
  KernelArg states = NullPointer{};
  KernelArg prefix_slots = NullPointer{};
  int32_t tree_nodes = 0;  // per (sequence, head) of a plain call
};

class PlanBuilder {
 public:
  PlanBuilder(const KernelSpec& spec, const ProblemShape& shape, LaunchPlan& plan)
      : spec_(spec), tile_(tile_of(spec)), shape_(shape), plan_(plan), threads_(32 * tile_.warps) {}

  // grid (tiles, chunks or items, B*H or H) of the chunk kernels.
  void chunk_states(const TreeArgs& tree, const KernelArg& items, int64_t chunks, int64_t z) {
    Launch l = launch("lla_mamba2_chunk_states", state_tiles(), chunks, z);
    l.shared_bytes = static_cast<unsigned>(state_shared_bytes(spec_));
    l.args = {tree.sequences, items, BufferArg{Buffer::k}, BufferArg{Buffer::v}, BufferArg{Buffer::g},
              tree.decays, tree.states, seq_len(), heads(), groups(), tree.tree_nodes};
    plan_.launches.push_back(std::move(l));
  }
  void merge(const TreeArgs& tree, const KernelArg& items, int level, int64_t nodes, int64_t z) {
    Launch l = launch("lla_mamba2_merge_states", merge_blocks(), nodes, z);
    l.args = {tree.sequences, items, tree.decays, tree.states, int32_t{level}, seq_len(), heads(),
              tree.tree_nodes};
    plan_.launches.push_back(std::move(l));
  }
  void output(const TreeArgs& tree, const KernelArg& items, int64_t chunks, int64_t z) {
    Launch l = launch("lla_mamba2_output", spec_.value_dim / tile_.block_v, chunks, z);
    l.shared_bytes = static_cast<unsigned>(output_shared_bytes(spec_));
    l.args = {tree.sequences, items, BufferArg{Buffer::q}, BufferArg{Buffer::k},
              BufferArg{Buffer::v}, BufferArg{Buffer::g}, BufferArg{Buffer::lambda},
              BufferArg{Buffer::o}, tree.decays, tree.states, tree.prefix_slots, seq_len(),
              heads(), groups(), tree.tree_nodes, shape_.scale};
    plan_.launches.push_back(std::move(l));
  }
  // The whole forward of a plain call: grid (V/block_v, B*H, segments) of the scan, after the
  // pieces' and seeds' kernels when it is split.
  void scan(const ScanSplit& split) {
    const int64_t batch_heads = int64_t{shape_.batch} * shape_.heads;
    const int64_t v_tiles = spec_.value_dim / tile_.block_v;
    const int scan_threads = 2 * threads_;  // two warps per 16 rows
    KernelArg seeds = NullPointer{}, seed_decays = NullPointer{};
    if (split.segments > 1) {
      const size_t elements = static_cast<size_t>(spec_.key_dim) * spec_.value_dim;
      const size_t pieces = static_cast<size_t>(batch_heads * split.pieces);
      const size_t seed_count = static_cast<size_t>(batch_heads * split.seeds_per_head);
      WorkspaceLayout layout;
      const BufferArg piece_states{Buffer::workspace, layout.add(pieces * elements * sizeof(float))};
      const BufferArg piece_decays{Buffer::workspace, layout.add(pieces * sizeof(float))};
      seeds = BufferArg{Buffer::workspace, layout.add(seed_count * elements * sizeof(float))};
      seed_decays = BufferArg{Buffer::workspace, layout.add(seed_count * sizeof(float))};
      plan_.workspace_bytes = layout.size();

      Launch pieces_launch = launch("lla_mamba2_scan_pieces", v_tiles, batch_heads, split.pieces);
      pieces_launch.block[0] = scan_threads;
      pieces_launch.shared_bytes = static_cast<unsigned>(scan_fixed_bytes(spec_));
      pieces_launch.args = {BufferArg{Buffer::k}, BufferArg{Buffer::v}, BufferArg{Buffer::g}, piece_states,
                            piece_decays, seq_len(), heads(), groups(), static_cast<int32_t>(split.piece_chunks)};
      plan_.launches.push_back(std::move(pieces_launch));

      const int64_t seed_threads = static_cast<int64_t>(elements) / 4;  // four elements a thread
      Launch seeds_launch =
          launch("lla_mamba2_scan_seeds", (seed_threads + scan_threads - 1) / scan_threads, batch_heads, 1);
      seeds_launch.block[0] = scan_threads;
      seeds_launch.args = {piece_states, piece_decays, seeds, seed_decays, static_cast<int32_t>(split.pieces),
                           static_cast<int32_t>(split.piece_chunks), static_cast<int32_t>(split.segment_chunks),
                           static_cast<int32_t>(split.seeds_per_head)};
      plan_.launches.push_back(std::move(seeds_launch));
    }
    Launch l = launch("lla_mamba2_scan", v_tiles, batch_heads, split.segments);
    l.block[0] = scan_threads;
    l.shared_bytes = static_cast<unsigned>(scan_shared_bytes(spec_, shape_.seq_len));
    l.args = {BufferArg{Buffer::q}, BufferArg{Buffer::k}, BufferArg{Buffer::v}, BufferArg{Buffer::g},
              BufferArg{Buffer::lambda}, BufferArg{Buffer::o}, seeds, seed_decays, seq_len(), heads(), groups(),
              shape_.scale, static_cast<int32_t>(split.segment_chunks), static_cast<int32_t>(split.seeds_per_head)};
    plan_.launches.push_back(std::move(l));
  }
  void seed_prefix(const TreeArgs& tree, int64_t sequences) {
    Launch l = launch("lla_mamba2_seed_prefix", state_blocks(), sequences, shape_.heads);
    l.args = {tree.sequences, BufferArg{Buffer::initial_state}, tree.decays, tree.states,
              tree.prefix_slots, heads()};
    plan_.launches.push_back(std::move(l));
  }
  void final_state(const TreeArgs& tree, int64_t sequences) {
    Launch l = launch("lla_mamba2_final_state", state_blocks(), sequences, shape_.heads);
    const KernelArg initial =
        shape_.initial_state ? KernelArg{BufferArg{Buffer::initial_state}} : NullPointer{};
    l.args = {tree.sequences, BufferArg{Buffer::k}, BufferArg{Buffer::v}, BufferArg{Buffer::g},
              tree.decays, tree.states, tree.prefix_slots, initial,
              BufferArg{Buffer::final_state}, heads(), groups()};
    plan_.launches.push_back(std::move(l));
  }

 private:
  Launch launch(const char* kernel, int64_t x, int64_t y, int64_t z) const {
    Launch l;
    l.kernel = kernel;
    l.grid[0] = to_grid(x);
    l.grid[1] = to_grid(y);
    l.grid[2] = to_grid(z);
    l.block[0] = threads_;
    return l;
  }
  // fma: a block per (block_k x block_v) tile of a node; mma (and scan's tree kernels): per
  // block_v rows of its transpose.
  int64_t state_tiles() const {
    return uses_tensor_cores(tile_.algorithm)
               ? spec_.value_dim / tile_.block_v
               : int64_t{spec_.key_dim / tile_.block_k} * (spec_.value_dim / tile_.block_v);
  }
  // One thread per element of a K x V node.
  int64_t state_blocks() const {
    return (int64_t{spec_.key_dim} * spec_.value_dim + threads_ - 1) / threads_;
  }
  // The merge walks a node in 16-byte accesses, four a thread.
  int64_t merge_blocks() const {
    return (int64_t{spec_.key_dim} * spec_.value_dim + 16 * threads_ - 1) / (16 * threads_);
  }
  int32_t seq_len() const { return shape_.seq_len; }
  int32_t heads() const { return shape_.heads; }
  int32_t groups() const { return shape_.groups; }

  const KernelSpec& spec_;
  const ForwardTile tile_;
  const ProblemShape& shape_;
  LaunchPlan& plan_;
  const int threads_;
};

size_t node_bytes(const KernelSpec& spec) {
  return size_t{4} * static_cast<size_t>(spec.key_dim) * static_cast<size_t>(spec.value_dim);
}

// B sequences of T tokens from position 0, nothing in or out but o: no table.
LaunchPlan plan_plain(const KernelSpec& spec, const ProblemShape& shape) {
  const int64_t batch_heads = int64_t{shape.batch} * shape.heads;
  const int64_t num_chunks = (shape.seq_len + spec.chunk - 1) / spec.chunk;
  const int64_t nodes = tree_nodes(0, num_chunks - 1);
  require(batch_heads <= kMaxGridYZ, "batch * heads must be at most 65535");
  require(num_chunks <= kMaxGridYZ, "seq_len / chunk must be at most 65535");
  require(nodes <= std::numeric_limits<int32_t>::max(), "seq_len too large for the state tree");

  LaunchPlan plan;
  TreeArgs tree;
  PlanBuilder build(spec, shape, plan);
  if (is_scan(tile_of(spec).algorithm)) {
    build.scan(scan_split(spec, shape));
    return plan;
  }
  if (nodes > 0) {
    WorkspaceLayout layout;
    const size_t tree_nodes_all = static_cast<size_t>(batch_heads * nodes);
    tree.decays = BufferArg{Buffer::workspace, layout.add(tree_nodes_all * sizeof(float))};
    tree.states = BufferArg{Buffer::workspace, layout.add(tree_nodes_all * node_bytes(spec))};
    tree.tree_nodes = static_cast<int32_t>(nodes);
    plan.workspace_bytes = layout.size();
    build.chunk_states(tree, NullPointer{}, num_chunks, batch_heads);
    for (int level = 0; level + 1 < tree_levels(num_chunks - 1); ++level) {
      const auto [lo, hi] = merged_nodes(0, num_chunks - 1, level);
      build.merge(tree, NullPointer{}, level, hi - lo + 1, batch_heads);
    }
  }
  build.output(tree, NullPointer{}, num_chunks, batch_heads);
  return plan;
}

// Sequences described by a table: packed, continuing from initial states, handing on final
// states.
LaunchPlan plan_sequences(const KernelSpec& spec, const ProblemShape& shape) {
  const int64_t count = static_cast<int64_t>(shape.sequences.size());
  const int64_t rows = int64_t{shape.batch} * shape.seq_len;
  const int64_t heads = shape.heads;
  require(count <= kMaxGridYZ, "at most 65535 sequences");
  require(heads <= kMaxGridYZ, "heads must be at most 65535");
  const int intra_levels = log2_exact(spec.chunk) + 1;

  std::vector<SequenceEntry> entries;
  std::vector<ItemEntry> chunk_items;
  std::vector<std::vector<ItemEntry>> merge_items;  // by level
  int64_t node_count = 0, prefix_slots = 0;
  bool seeds = false;
  for (int64_t s = 0; s < count; ++s) {
    const SequenceSpan& span = shape.sequences[s];
    const std::string name = "sequence " + std::to_string(s);
    check_sequence_span(span, static_cast<size_t>(s), rows, spec.levels);
    SequenceEntry e{span.row0, 0, static_cast<int32_t>(span.start),
                    static_cast<int32_t>(span.length), 0, -1};
    if (span.length > 0) {
      const int64_t a0 = span.start / spec.chunk, a1 = (span.start + span.length - 1) / spec.chunk;
      const int64_t nodes = tree_nodes(a0, a1);
      require(nodes <= std::numeric_limits<int32_t>::max(), name + ": too long for the state tree");
      e.nodes = static_cast<int32_t>(nodes);
      e.node_base = node_count;
      node_count += nodes * heads;
      const bool continues = shape.initial_state && span.start > 0;
      seeds = seeds || continues;
      if (continues && span.start % spec.chunk != 0) {
        e.prefix_slot = static_cast<int32_t>(prefix_slots);
        prefix_slots += heads * intra_levels;
      }
      for (int64_t a = a0; a <= a1; ++a)
        chunk_items.push_back({static_cast<int32_t>(s), static_cast<int32_t>(a)});
      for (int level = 0; level + 1 < tree_levels(a1); ++level) {
        if (merge_items.size() <= static_cast<size_t>(level)) merge_items.resize(level + 1);
        const auto [lo, hi] = merged_nodes(a0, a1, level);
        for (int64_t j = lo; j <= hi; ++j)
          merge_items[level].push_back({static_cast<int32_t>(s), static_cast<int32_t>(j)});
      }
    }
    entries.push_back(e);
  }
  require(static_cast<int64_t>(chunk_items.size()) <= kMaxGridYZ,
          "the sequences span more than 65535 chunks");

  LaunchPlan plan;
  const size_t sequences_at = append_bytes(plan.upload, entries);
  const size_t chunk_items_at = append_bytes(plan.upload, chunk_items);
  std::vector<size_t> merge_items_at;
  for (const std::vector<ItemEntry>& items : merge_items) {
    require(static_cast<int64_t>(items.size()) <= kMaxGridYZ,
            "the sequences' state trees have more than 65535 nodes on one level");
    merge_items_at.push_back(append_bytes(plan.upload, items));
  }

  WorkspaceLayout layout;
  layout.add(plan.upload.size());
  TreeArgs tree;
  tree.sequences = BufferArg{Buffer::workspace, sequences_at};
  if (node_count > 0) {
    tree.decays = BufferArg{Buffer::workspace, layout.add(static_cast<size_t>(node_count) * sizeof(float))};
    tree.states = BufferArg{Buffer::workspace, layout.add(static_cast<size_t>(node_count) * node_bytes(spec))};
  }
  if (prefix_slots > 0)
    tree.prefix_slots = BufferArg{Buffer::workspace, layout.add(static_cast<size_t>(prefix_slots) * node_bytes(spec))};
  plan.workspace_bytes = layout.size();

  PlanBuilder build(spec, shape, plan);
  const KernelArg chunks = BufferArg{Buffer::workspace, chunk_items_at};
  const auto chunk_count = static_cast<int64_t>(chunk_items.size());
  if (node_count > 0) build.chunk_states(tree, chunks, chunk_count, heads);
  if (seeds) build.seed_prefix(tree, count);
  for (size_t level = 0; level < merge_items.size(); ++level)
    if (!merge_items[level].empty())
      build.merge(tree, BufferArg{Buffer::workspace, merge_items_at[level]}, static_cast<int>(level),
                  static_cast<int64_t>(merge_items[level].size()), heads);
  if (chunk_count > 0) build.output(tree, chunks, chunk_count, heads);
  if (shape.final_state) build.final_state(tree, count);
  return plan;
}

}  // namespace

LaunchPlan plan(const KernelSpec& spec, const ProblemShape& shape) {
  require(shape.batch >= 1, "batch must be at least 1");
  require(shape.seq_len >= 1, "seq_len must be at least 1");
  require(shape.heads >= 1 && shape.groups >= 1 && shape.heads % shape.groups == 0,
          "heads must be a positive multiple of groups");
  if (!shape.sequences.empty()) return plan_sequences(spec, shape);
  require(!shape.initial_state && !shape.final_state,
          "initial and final states need the call's sequences");
  require(spec.levels >= levels::num_levels(shape.seq_len),
          "levels=" + std::to_string(spec.levels) + " is below num_levels(seq_len)=" +
              std::to_string(levels::num_levels(shape.seq_len)));
  return plan_plain(spec, shape);
}

}  // namespace lla::compiler::mamba2
