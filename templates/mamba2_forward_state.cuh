// Log-linear Mamba-2 forward: the Fenwick states of a call that continues sequences or hands
// their states on (spec/loglinear.md sections 5 and 7). lla_mamba2_seed_prefix puts each
// initial state into the tree before the merges; lla_mamba2_final_state reads each sequence's
// state after its last token off the tree and its last chunk. Both work on any node layout
// (node_element of the algorithm). See mamba2_forward_common.cuh for the tree.

namespace lla_mamba2 {

// Tokens [begin, end) of Fenwick level `level` of position t (spec 2.1): t itself at level 0,
// else the aligned block of 2^(level-1) tokens below t's own block of 2^level.
struct TokenBlock {
  long long begin, end;
};
__device__ __forceinline__ TokenBlock fenwick_block(long long t, int level) {
  if (level == 0) return {t, t + 1};
  const long long begin = (t >> level) << level;
  return {begin, begin + (1LL << (level - 1))};
}

// grid (ceil(K*V / threads), sequences, H), after the chunk states and before the merges:
// for every sequence continuing from P > 0, each level of its initial state (after P - 1,
// [S,H,L,K,V]) goes into the one tree block that holds its tokens: the prefix node of chunk
// level e (bit e of P / C set) when it lies before chunk P / C, else chunk P / C's node,
// decayed across that chunk's tokens, and an in-chunk prefix slot of its own.
extern "C" __global__ void __launch_bounds__(kThreads)
    lla_mamba2_seed_prefix(const lla_sequence* __restrict__ sequences,
                           const float* __restrict__ initial_state, float* __restrict__ decays,
                           float* __restrict__ states, float* __restrict__ prefix_slots,
                           int heads) {
  const lla_sequence s = sequences[blockIdx.y];
  const int head = blockIdx.z;
  const int element = blockIdx.x * kThreads + threadIdx.x;
  if (s.start == 0 || s.length == 0 || element >= kStateElements) return;
  const int kk = element / kValueDim, vv = element % kValueDim;
  const ChunkTask task = chunk_task(s, head, s.start / kChunk);
  const int a0 = task.first_chunk;
  const long long last_prefix = s.start - 1;
  const float* levels = initial_state + (static_cast<size_t>(blockIdx.y) * heads + head) *
                                            kLevels * kStateElements + element;
  const int at = node_element(kk, vv);

  for (int e = 0; (a0 >> e) != 0; ++e) {
    if (((a0 >> e) & 1) == 0) continue;
    const long long lo = static_cast<long long>((a0 >> e) - 1) * (kChunk << e);
    const long long hi = lo + (static_cast<long long>(kChunk) << e);
    float sum = 0.0f;
    for (int level = 0; level < kLevels; ++level) {
      if (!lla_fenwick_level_live(last_prefix, level)) continue;
      const TokenBlock block = fenwick_block(last_prefix, level);
      if (block.begin >= lo && block.end <= hi) sum += levels[static_cast<size_t>(level) * kStateElements];
    }
    const size_t node = task.node(e, (a0 >> e) - 1);
    states[node * kStateElements + at] = sum;
    if (element == 0) decays[node] = 0.0f;
  }

  if (task.prefix_slot < 0) return;  // P is a multiple of C: no level lies inside chunk a0
  float inside = 0.0f;
  for (int level = 0; level < kIntraLevels; ++level) {
    if (!lla_fenwick_level_live(last_prefix, level)) continue;
    const float x = levels[static_cast<size_t>(level) * kStateElements];
    prefix_slots[static_cast<size_t>(task.prefix_slot + level) * kStateElements + at] = x;
    inside += x;
  }
  if (s.nodes == 0) return;  // one chunk: no tree
  const size_t chunk_node = task.node(0, a0);
  states[chunk_node * kStateElements + at] += expf(decays[chunk_node]) * inside;
}

// grid (ceil(K*V / threads), sequences, H), last: each sequence's Fenwick state after its
// last token t ([S,H,L,K,V], level l as in spec 5, empty levels zero). Levels above log2 C
// are tree nodes decayed to t; the rest lie in t's chunk, summed from its tokens (and, when
// that chunk is the first and continues a state, the in-chunk prefix slots). A sequence with
// no tokens keeps its initial state. Reads no initial state otherwise, so final_state may be
// the initial state's memory.
extern "C" __global__ void __launch_bounds__(kThreads)
    lla_mamba2_final_state(const lla_sequence* __restrict__ sequences,
                           const Element* __restrict__ k, const Element* __restrict__ v,
                           const float* __restrict__ g, const float* __restrict__ decays,
                           const float* __restrict__ states, const float* __restrict__ prefix_slots,
                           const float* __restrict__ initial_state, float* __restrict__ final_state,
                           int heads, int groups) {
  __shared__ float gc[kChunk];
  const lla_sequence s = sequences[blockIdx.y];
  const int head = blockIdx.z, group = head / (heads / groups);
  const int element = blockIdx.x * kThreads + threadIdx.x;
  const int kk = element / kValueDim, vv = element % kValueDim;
  const size_t out0 = (static_cast<size_t>(blockIdx.y) * heads + head) * kLevels * kStateElements;
  if (s.length == 0) {
    if (element < kStateElements)
      for (int level = 0; level < kLevels; ++level) {
        const size_t at = out0 + static_cast<size_t>(level) * kStateElements + element;
        final_state[at] = s.start > 0 ? initial_state[at] : 0.0f;
      }
    return;
  }

  const long long t = static_cast<long long>(s.start) + s.length - 1;
  const ChunkTask task = chunk_task(s, head, static_cast<int>(t / kChunk));
  __shared__ NodeRead reads[kMaxReads];
  if (threadIdx.x == 0) list_reads(task, decays, reads);
  load_chunk_cumsum(g, task, heads, gc);
  if (element >= kStateElements) return;
  const int slot = static_cast<int>(t % kChunk);
  const int at = node_element(kk, vv);
  // The in-chunk prefix slots hold the levels of P - 1 inside this chunk.
  const bool continues = task.prefix_slot >= 0 && task.chunk == task.first_chunk;

  int tree_read = 0;  // reads[] holds the live chunk levels in order
  for (int level = 0; level < kLevels; ++level) {
    const bool live = lla_fenwick_level_live(t, level);
    float x = 0.0f;  // an empty level stays zero
    if (live && level >= kIntraLevels) {
      const NodeRead read = reads[tree_read++];
      x = expf(read.gap + gc[slot]) * states[read.node * kStateElements + at];
    } else if (live) {
      const TokenBlock block = fenwick_block(slot, level);
      for (int u = max(static_cast<int>(block.begin), task.first);
           u < min(static_cast<int>(block.end), task.end); ++u) {
        const long long row = task.row_base + u;
        x += expf(gc[slot] - gc[u]) *
             lla_to_float(k[(row * groups + group) * kKeyDim + kk]) *
             lla_to_float(v[(row * heads + head) * kValueDim + vv]);
      }
      if (continues) {
        const int last_prefix = task.first - 1;
        for (int inner = 0; inner < kIntraLevels; ++inner) {
          if (!lla_fenwick_level_live(last_prefix, inner)) continue;
          const TokenBlock held = fenwick_block(last_prefix, inner);
          if (held.begin >= block.begin && held.end <= block.end)
            x += expf(gc[slot]) *
                 prefix_slots[static_cast<size_t>(task.prefix_slot + inner) * kStateElements + at];
        }
      }
    }
    final_state[out0 + static_cast<size_t>(level) * kStateElements + element] = x;
  }
}

}  // namespace lla_mamba2
