// Log-linear Mamba-2 forward (spec/loglinear.md section 3), for any T >= 1: what both of its
// algorithms share (mamba2_forward_fma.cuh, CUDA cores in fp32; mamba2_forward_mma.cuh, tensor
// cores for 16-bit inputs) and the state kernels after them (mamba2_forward_state.cuh).
//
//   o_t = sum_{s<=t} lambda_t^{level(t,s)} exp(G_t - G_s) (q_t . k_s) v_s
//
// Levels 0..log2(C) lie inside a chunk and are computed densely with a per-pair lambda.
// Levels above lie across chunks: for chunk c and chunk level e with bit e of c set, the
// sources are the aligned block of 2^e chunks just before c's own aligned block of 2^e chunks
// (spec 3.2). So every chunk's state is computed once (lla_mamba2_chunk_states) and merged as
// a tree of aligned blocks (lla_mamba2_merge_states, once per tree level); the output pass
// (lla_mamba2_output) reads one tree node per live level. Nothing is repeated per level and o
// is written once, rounded once.
//
// Tree (common.cuh): decays[node] then states[node][K*V] (fp32). A node holds sum over its
// sources s of exp(G_end - G_s) k_s v_s^T, G_end the block's last token, and its decay the
// block's total log decay. Each algorithm lays a node's K x V out its own way (node_element).
//
// Sequences. A plain call is B sequences of T tokens from position 0 (`sequences` NULL; the
// grid's z is b * H + h). Otherwise a table describes each sequence: where its tokens are in
// the packed tensors and the absolute position P of its first one (the grid's z is h, its y an
// item of the table). Chunks are aligned to absolute positions, so a sequence continuing from
// P has slots of its first chunk before P; those read as zero tokens with zero decay. An
// initial Fenwick state (after P - 1) enters the tree as nodes of its own (spec 7): each of
// its levels lies in one aligned block before chunk P / C (a "prefix node", decay 0, values
// decayed to P - 1) or, for levels inside chunk P / C, in that chunk's node. A node holding
// prefix values keeps them decayed to P - 1 until a merge decays them across later tokens, so
// every read sees exp(G_t - G_{P-1}) on them, the rule of spec 7. Targets in chunk P / C also
// read the levels inside it one by one ("in-chunk prefix slots"), with lambda level
// max(level, bit_length(t XOR (P - 1))).

namespace lla_mamba2 {

using lla_config::Element;
using lla_config::kBlockK;
using lla_config::kBlockV;
using lla_config::kChunk;
using lla_config::kKeyDim;
using lla_config::kLevels;
using lla_config::kLog2Chunk;
using lla_config::kThreads;
using lla_config::kValueDim;

static_assert(kThreads == 32 * lla_config::kWarps, "a block is kWarps whole warps");
static_assert(kValueDim % kBlockV == 0, "block_v must divide V");

constexpr int kStateElements = kKeyDim * kValueDim;

// Where a sequence of a call lies (host twin: SequenceEntry in
// compiler/kernels/mamba2_forward_plan.cpp).
struct lla_sequence {
  long long row0;       // packed row of its first token
  long long node_base;  // its first tree node; head h's nodes start at node_base + h * nodes
  int start;            // absolute position of its first token (P)
  int length;           // tokens, >= 0
  int nodes;            // tree nodes per head
  int prefix_slot;      // its head 0's first in-chunk prefix slot (head h: + h * kIntraLevels);
                        // -1 when it has none
};
// One chunk (index: absolute chunk) or tree node (index: node of the merged level) of a
// sequence: the grid's y walks a list of them.
struct lla_item {
  int seq;
  int index;
};
static_assert(sizeof(lla_sequence) == 32 && sizeof(lla_item) == 8, "the host twins' layout");

constexpr int kIntraLevels = kLog2Chunk + 1;

__device__ __forceinline__ int bit_length(int x) { return 32 - __clz(x); }

// What a block of the chunk kernels works on.
struct ChunkTask {
  long long row_base;  // packed row of chunk slot 0; slot i is a token iff first <= i < end
  size_t node0;        // the (sequence, head)'s first tree node
  int first, end;
  int chunk, first_chunk, last_chunk;  // absolute
  int start;                           // the sequence's P
  int head;
  int prefix_slot;  // this head's first in-chunk prefix slot; -1 when none

  // Whether chunk slot i holds a token of this call.
  __device__ bool is_token(int i) const { return i >= first && i < end; }
  __device__ size_t node(int level, int block) const {
    return node0 + lla_tree_level_offset(level, first_chunk, last_chunk) + block -
           lla_tree_first(level, first_chunk);
  }
};

// Sequence b of a plain call: T tokens from position 0, every sequence's tree alike.
__device__ __forceinline__ lla_sequence plain_sequence(int b, int seq_len, int heads,
                                                      int tree_nodes) {
  return {static_cast<long long>(b) * seq_len, static_cast<long long>(b) * heads * tree_nodes, 0,
          seq_len, tree_nodes, -1};
}

__device__ __forceinline__ ChunkTask chunk_task(const lla_sequence& s, int head, int chunk) {
  ChunkTask t;
  t.first_chunk = s.start / kChunk;
  t.last_chunk = (s.start + s.length - 1) / kChunk;
  t.chunk = chunk;
  t.first = chunk == t.first_chunk ? s.start % kChunk : 0;
  t.end = min(kChunk, s.start + s.length - chunk * kChunk);
  t.row_base = s.row0 + static_cast<long long>(chunk) * kChunk - s.start;
  t.node0 = static_cast<size_t>(s.node_base) + static_cast<size_t>(head) * s.nodes;
  t.start = s.start;
  t.head = head;
  t.prefix_slot = s.prefix_slot < 0 ? -1 : s.prefix_slot + head * kIntraLevels;
  return t;
}

// What blockIdx.y and z name: blockIdx.y an index (a chunk or a node) and blockIdx.z b * H + h
// (plain call), or blockIdx.y an item of `items` and blockIdx.z h.
struct BlockItem {
  lla_sequence sequence;
  int head;
  int index;
};
__device__ BlockItem resolve_item(const lla_sequence* __restrict__ sequences,
                                  const lla_item* __restrict__ items, int seq_len, int heads,
                                  int tree_nodes) {
  if (sequences) {
    const lla_item item = items[blockIdx.y];
    return {sequences[item.seq], static_cast<int>(blockIdx.z), item.index};
  }
  return {plain_sequence(blockIdx.z / heads, seq_len, heads, tree_nodes),
          static_cast<int>(blockIdx.z % heads), static_cast<int>(blockIdx.y)};
}

// The chunk of this block (resolve_item).
__device__ ChunkTask resolve_chunk(const lla_sequence* __restrict__ sequences,
                                   const lla_item* __restrict__ items, int seq_len, int heads,
                                   int tree_nodes) {
  const BlockItem item = resolve_item(sequences, items, seq_len, heads, tree_nodes);
  return chunk_task(item.sequence, item.head, item.index);
}

// Chunk-local inclusive cumulative sum of g (spec 3.2 step 0) into gc[0, kChunk); slots that
// are not tokens add nothing.
__device__ void load_chunk_cumsum(const float* __restrict__ g, const ChunkTask& task, int heads,
                                  float* gc) {
  for (int i = threadIdx.x; i < kChunk; i += kThreads)
    gc[i] = task.is_token(i) ? g[(task.row_base + i) * heads + task.head] : 0.0f;
  __syncthreads();
  if (threadIdx.x == 0)
    for (int i = 1; i < kChunk; ++i) gc[i] += gc[i - 1];
  __syncthreads();
}

// One node the output pass of a chunk reads: a tree node at chunk level `level` >= 0, with the
// log decay from its end to the chunk's start, or in-chunk prefix slot `node` of the initial
// state's level -1 - `level`.
struct NodeRead {
  long long node;
  float gap;
  int level;
};
// Live chunk levels (at most 31) and in-chunk prefix levels.
constexpr int kMaxReads = 31 + kIntraLevels;

// The nodes a chunk reads, in order: one per live chunk level (bit e of the chunk set), then,
// in the first chunk of a continued sequence, the initial state's live levels inside it. One
// walk up the levels keeps the level offsets and gaps running. Returns the count.
__device__ int list_reads(const ChunkTask& task, const float* __restrict__ decays,
                          NodeRead* reads) {
  int count = 0;
  long long level_base = static_cast<long long>(task.node0);
  float gap = 0.0f;
  for (int e = 0; (task.chunk >> e) != 0; ++e) {
    const int first = lla_tree_first(e, task.first_chunk);
    if ((task.chunk >> e) & 1) {
      const long long node = level_base + (task.chunk >> e) - 1 - first;
      reads[count++] = {node, gap, e};
      gap += decays[node];
    }
    level_base += (task.last_chunk >> e) - first + 1;
  }
  if (task.prefix_slot >= 0 && task.chunk == task.first_chunk)
    for (int level = 0; level < kIntraLevels; ++level)
      if (lla_fenwick_level_live(task.start - 1, level))
        reads[count++] = {task.prefix_slot + level, 0.0f, -1 - level};
  return count;
}

// lambda_i at `level` of chunk slot i (a token).
__device__ __forceinline__ float slot_lambda(const Element* __restrict__ lambda,
                                             const ChunkTask& task, int heads, int i, int level) {
  return lla_to_float(lambda[((task.row_base + i) * heads + task.head) * kLevels + level]);
}

// The weight of a read for each slot i of the chunk, into row_factor[0, kChunk), zero for
// slots that are not tokens: scale * lambda_i^(log2 C + 1 + e) * exp(G_i + gap) for chunk
// level e; for the initial state's in-chunk level l, scale * lambda_i^max(l, bit_length(i XOR
// (P - 1) mod C)) * exp(G_i) (spec 7).
__device__ void read_row_factors(const Element* __restrict__ lambda, const ChunkTask& task,
                                 int heads, const NodeRead& read, float scale, const float* gc,
                                 float* row_factor) {
  for (int i = threadIdx.x; i < kChunk; i += kThreads) {
    float factor = 0.0f;
    if (task.is_token(i)) {
      const int level = read.level >= 0 ? kIntraLevels + read.level
                                        : max(-1 - read.level, bit_length(i ^ (task.first - 1)));
      factor = scale * expf(gc[i] + read.gap) * slot_lambda(lambda, task, heads, i, level);
    }
    row_factor[i] = factor;
  }
}

// grid (x, nodes, B*H) for a plain call, (x, items, H) from a table, any x: tree
// node (level+1, j) from its two children (level, 2j) and (level, 2j+1): the left one decays
// across the right. The same for every node layout.
extern "C" __global__ void __launch_bounds__(kThreads)
    lla_mamba2_merge_states(const lla_sequence* __restrict__ sequences,
                            const lla_item* __restrict__ items, float* __restrict__ decays,
                            float* __restrict__ states, int level, int seq_len, int heads,
                            int tree_nodes) {
  const BlockItem item = resolve_item(sequences, items, seq_len, heads, tree_nodes);
  const int j = item.index;
  const ChunkTask task = chunk_task(item.sequence, item.head, item.sequence.start / kChunk);
  const size_t parent = task.node(level + 1, j), left = task.node(level, 2 * j), right = left + 1;
  const float right_decay = decays[right], across = expf(right_decay);
  // Grid-stride over the node in 16-byte accesses, so the node arithmetic above is paid once
  // for many elements.
  const float4* left_values = reinterpret_cast<const float4*>(states + left * kStateElements);
  const float4* right_values = reinterpret_cast<const float4*>(states + right * kStateElements);
  float4* parent_values = reinterpret_cast<float4*>(states + parent * kStateElements);
  for (int e = blockIdx.x * kThreads + threadIdx.x; e < kStateElements / 4; e += gridDim.x * kThreads) {
    const float4 l = left_values[e], r = right_values[e];
    parent_values[e] = make_float4(fmaf(across, l.x, r.x), fmaf(across, l.y, r.y),
                                   fmaf(across, l.z, r.z), fmaf(across, l.w, r.w));
  }
  if (blockIdx.x == 0 && threadIdx.x == 0) decays[parent] = decays[left] + right_decay;
}

}  // namespace lla_mamba2
