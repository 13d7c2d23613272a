// Log-linear Mamba-2 forward (spec/loglinear.md section 3), for any T >= 1: what both of its
// algorithms share (mamba2_forward_fma.cuh, CUDA cores in fp32; mamba2_forward_mma.cuh, tensor
// cores for 16-bit inputs).
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
// Workspace per (batch, head): decays[tree] then states[tree][K*V] (fp32), where tree node
// (e, j) is block j of 2^e chunks, stored at lla_tree_level_offset(e) + j. A node holds
// sum over its tokens s of exp(G_end - G_s) k_s v_s^T, G_end the block's last token, and its
// decay the block's total log decay. Each algorithm lays a node's K x V out its own way.

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

// Chunk-local inclusive cumulative sum of g (spec 3.2 step 0) into gc[0, kChunk); positions
// past the sequence add nothing.
__device__ void load_chunk_cumsum(const float* __restrict__ g, int b, int h, int heads,
                                  int seq_len, int start, int n, float* gc) {
  for (int i = threadIdx.x; i < kChunk; i += kThreads)
    gc[i] = i < n ? g[(static_cast<size_t>(b) * seq_len + start + i) * heads + h] : 0.0f;
  __syncthreads();
  if (threadIdx.x == 0)
    for (int i = 1; i < kChunk; ++i) gc[i] += gc[i - 1];
  __syncthreads();
}

// The tree node holding chunk c's sources at chunk level e (bit e of c set).
__device__ __forceinline__ size_t level_node(size_t node0, int c, int e, int num_chunks) {
  return node0 + lla_tree_level_offset(e, num_chunks) + (c >> e) - 1;
}

// Log decay from the end of level_node(c, e) to the start of chunk c: the aligned blocks given
// by the set bits of c below e.
__device__ float level_gap(const float* __restrict__ decays, size_t node0, int c, int e,
                           int num_chunks) {
  float gap = 0.0f;
  for (int lower = 0; lower < e; ++lower)
    if ((c >> lower) & 1) gap += decays[level_node(node0, c, lower, num_chunks)];
  return gap;
}

// The weight of chunk level e for each row i of a chunk, scale * lambda_i^(log2 C + 1 + e) *
// exp(G_i + gap), into row_factor[0, kChunk); zero past the sequence.
__device__ void level_row_factors(const Element* __restrict__ lambda, size_t lambda_row0,
                                  int heads, int n, int e, float gap, float scale,
                                  const float* gc, float* row_factor) {
  for (int i = threadIdx.x; i < kChunk; i += kThreads) {
    row_factor[i] =
        i < n ? scale * expf(gc[i] + gap) *
                    lla_to_float(lambda[(lambda_row0 + static_cast<size_t>(i) * heads) * kLevels +
                                        kLog2Chunk + 1 + e])
              : 0.0f;
  }
}

// grid (ceil(K*V / threads), num_chunks >> (level+1), B*H): tree node (level+1, j) from its
// two children (level, 2j) and (level, 2j+1): the left one decays across the right. The same
// for every node layout.
extern "C" __global__ void __launch_bounds__(kThreads)
    lla_mamba2_merge_states(float* __restrict__ decays, float* __restrict__ states, int level,
                            int num_chunks, int tree_nodes) {
  const int j = blockIdx.y, bh = blockIdx.z;
  const int child_level = lla_tree_level_offset(level, num_chunks);
  const int parent = lla_tree_level_offset(level + 1, num_chunks) + j;
  const size_t node0 = static_cast<size_t>(bh) * tree_nodes;
  const size_t left = node0 + child_level + 2 * j, right = left + 1;
  const float right_decay = decays[right];
  const int e = blockIdx.x * kThreads + threadIdx.x;
  if (e < kStateElements) {
    states[(node0 + parent) * kStateElements + e] =
        expf(right_decay) * states[left * kStateElements + e] + states[right * kStateElements + e];
  }
  if (blockIdx.x == 0 && threadIdx.x == 0) decays[node0 + parent] = decays[left] + right_decay;
}

}  // namespace lla_mamba2
