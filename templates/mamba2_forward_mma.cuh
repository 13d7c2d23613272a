// Log-linear Mamba-2 forward, mma algorithm: tensor cores (mma.sync m16n8k16, fp32
// accumulation) for bf16 and f16 inputs. In the output pass one warp owns 16 rows of a chunk:
// its scores stay in registers from QK^T to the masked P of PV (the accumulator layout of one
// mma is the operand layout of the next). Tree nodes are laid out [V][K], the operand layout
// the output pass reads. See mamba2_forward_common.cuh.

namespace lla_mamba2 {

using namespace lla_ptx;  // the device library (ptx/sm80.cuh)

static_assert(sizeof(Element) == 2, "mma: 16-bit inputs only");
static_assert(kChunk == 16 * lla_config::kWarps, "mma: one warp per 16 rows of the chunk");
static_assert(kKeyDim % 16 == 0 && kBlockV % 16 == 0, "mma: K and block_v in steps of 16");

// Row pitches of shared tiles, in 16-bit elements: 8 more than the row spreads the rows of a
// fragment load over all banks.
constexpr int kKeyPitch = kKeyDim + 8;   // rows of K values: q, k, node tiles
constexpr int kChunkPitch = kChunk + 8;  // rows of chunk positions: transposed v and k tiles
// 16-byte accesses: shared rows (pitch * 2 bytes) and global rows (K or V * 2 bytes) start
// on 16-byte boundaries.
static_assert(kKeyPitch % 8 == 0 && kChunkPitch % 8 == 0, "mma: 16-byte aligned shared rows");

// The library's 16-bit conversions and mma at the module's Element.
__device__ __forceinline__ Bits to_bits(float x) { return lla_ptx::to_bits<Element>(x); }
__device__ __forceinline__ unsigned pack(float lo, float hi) { return lla_ptx::pack<Element>(lo, hi); }
__device__ __forceinline__ void mma(float c[4], const unsigned a[4], const unsigned b[2]) {
  mma_sync(c, a, b, Element{});
}

// Eight 16-bit elements, one 16-byte access; `at` counts elements from a 16-byte aligned base.
struct Eight {
  Bits e[8];
};
__device__ __forceinline__ Eight load_eight(const Element* base, size_t at) {
  const uint4 raw = *reinterpret_cast<const uint4*>(base + at);
  return *reinterpret_cast<const Eight*>(&raw);
}

// The chunk's slots of a [rows, X, kDim] tensor at x, columns [col0, col0 + kCols), into a
// shared tile with slots transposed to columns: tile[d * kChunkPitch + slot], zero for slots
// that are not tokens. 16-byte global reads.
template <int kDim, int kCols>
__device__ void load_transposed(const Element* __restrict__ src, const ChunkTask& task, int x,
                                int x_count, int col0, Bits* tile) {
  for (int idx = threadIdx.x; idx < kChunk * (kCols / 8); idx += kThreads) {
    const int row = idx / (kCols / 8), d0 = 8 * (idx % (kCols / 8));
    Eight v = {};
    if (task.is_token(row))
      v = load_eight(src, ((task.row_base + row) * x_count + x) * kDim + col0 + d0);
#pragma unroll
    for (int u = 0; u < 8; ++u) tile[(d0 + u) * kChunkPitch + row] = v.e[u];
  }
}

// Shared memory of the kernels, in bytes (the host plan passes the same sizes).
constexpr int kStateSharedBytes = 4 * kChunk + 2 * (kBlockV + kKeyDim) * kChunkPitch;
constexpr int kOutputSharedBytes =
    4 * (2 * kChunk + kChunk * kIntraLevels) +
    2 * (2 * kChunk * kKeyPitch + kBlockV * kChunkPitch + kBlockV * kKeyPitch);
static_assert(kStateSharedBytes == lla_config::kStateSharedBytes &&
                  kOutputSharedBytes == lla_config::kOutputSharedBytes,
              "the host plan's shared memory sizes disagree with the kernels' layouts");

// A node's element (kk, vv) at node[node_element(kk, vv)]: [V][K], the operand layout of the
// output pass.
__device__ __forceinline__ int node_element(int kk, int vv) { return vv * kKeyDim + kk; }

// grid (V/block_v, chunks or items, B*H or H; see resolve_chunk): rows [v0, v0 + block_v) of
// the chunk's node transposed, S_c^T = (w v)^T k with w_j = exp(Glast - G_j), and from the
// first block its log decay.
extern "C" __global__ void __launch_bounds__(kThreads)
    lla_mamba2_chunk_states(const lla_sequence* __restrict__ sequences,
                            const lla_item* __restrict__ items, const Element* __restrict__ k,
                            const Element* __restrict__ v, const float* __restrict__ g,
                            float* __restrict__ decays, float* __restrict__ states, int seq_len,
                            int heads, int groups, int tree_nodes) {
  extern __shared__ float smem[];
  float* gc = smem;
  Bits* wv_t = reinterpret_cast<Bits*>(gc + kChunk);  // [block_v][chunk]
  Bits* k_t = wv_t + kBlockV * kChunkPitch;           // [K][chunk]

  const ChunkTask task = resolve_chunk(sequences, items, seq_len, heads, tree_nodes);
  if (task.last_chunk == 0) return;  // a sequence of one chunk has no tree
  const int group = task.head / (heads / groups);
  const int v0 = blockIdx.x * kBlockV;

  load_chunk_cumsum(g, task, heads, gc);
  const float g_last = gc[kChunk - 1];
  load_transposed<kKeyDim, kKeyDim>(k, task, group, groups, 0, k_t);
  load_transposed<kValueDim, kBlockV>(v, task, task.head, heads, v0, wv_t);
  __syncthreads();
  // Fold each position's decay to the chunk end into its v, rounded once.
  for (int idx = threadIdx.x; idx < kBlockV * kChunk; idx += kThreads) {
    const int vv = idx / kChunk, j = idx % kChunk;
    Element e;
    e.bits = wv_t[vv * kChunkPitch + j];
    wv_t[vv * kChunkPitch + j] = to_bits(expf(g_last - gc[j]) * lla_to_float(e));
  }
  __syncthreads();

  // 16 x 16 blocks of the block_v x K result, dealt round-robin to the warps.
  const size_t node_index = task.node(0, task.chunk);
  float* node = states + node_index * kStateElements;
  const int warp = threadIdx.x >> 5;
  constexpr int kBlocksK = kKeyDim / 16;
  for (int block = warp; block < (kBlockV / 16) * kBlocksK; block += lla_config::kWarps) {
    const int m0 = (block / kBlocksK) * 16, n0 = (block % kBlocksK) * 16;
    float acc[2][4] = {};
#pragma unroll
    for (int k0 = 0; k0 < kChunk; k0 += 16) {
      unsigned a[4], bf[2];
      load_a(a, wv_t, kChunkPitch, m0, k0);
#pragma unroll
      for (int u = 0; u < 2; ++u) {
        load_b(bf, k_t, kChunkPitch, n0 + 8 * u, k0);
        mma(acc[u], a, bf);
      }
    }
#pragma unroll
    for (int u = 0; u < 2; ++u) {
      const int col = n0 + 8 * u + 2 * lane_in_group();
      float* top = node + (v0 + m0 + lane_group()) * kKeyDim + col;
      *reinterpret_cast<float2*>(top) = make_float2(acc[u][0], acc[u][1]);
      *reinterpret_cast<float2*>(top + 8 * kKeyDim) = make_float2(acc[u][2], acc[u][3]);
    }
  }
  if (blockIdx.x == 0 && threadIdx.x == 0) decays[node_index] = g_last;
}

// Rows [v0, v0 + block_v) of a node ([V][K] fp32) into node_s as 16-bit operands.
__device__ void stage_node(const float* __restrict__ node, int v0, Bits* node_s) {
  node += static_cast<size_t>(v0) * kKeyDim;
  for (int idx = threadIdx.x; idx < kBlockV * (kKeyDim / 4); idx += kThreads) {
    const int vv = idx / (kKeyDim / 4), kk = 4 * (idx % (kKeyDim / 4));
    const float4 x = *reinterpret_cast<const float4*>(node + vv * kKeyDim + kk);
    *reinterpret_cast<uint2*>(node_s + vv * kKeyPitch + kk) = make_uint2(pack(x.x, x.y), pack(x.z, x.w));
  }
}

// acc += diag(row_factor) Q N for the warp's 16 rows from r0, N the staged node.
__device__ __forceinline__ void add_staged_node(const Bits* q_s, const Bits* node_s,
                                                const float* row_factor, int r0,
                                                float acc[kBlockV / 8][4]) {
  float part[kBlockV / 8][4] = {};
#pragma unroll
  for (int k0 = 0; k0 < kKeyDim; k0 += 16) {
    unsigned a[4], bf[2];
    load_a(a, q_s, kKeyPitch, r0, k0);
#pragma unroll
    for (int t = 0; t < kBlockV / 8; ++t) {
      load_b(bf, node_s, kKeyPitch, 8 * t, k0);
      mma(part[t], a, bf);
    }
  }
  const float top = row_factor[r0 + lane_group()], bottom = row_factor[r0 + lane_group() + 8];
#pragma unroll
  for (int t = 0; t < kBlockV / 8; ++t) {
    acc[t][0] += top * part[t][0];
    acc[t][1] += top * part[t][1];
    acc[t][2] += bottom * part[t][2];
    acc[t][3] += bottom * part[t][3];
  }
}

// 384 threads a multiprocessor (about 170 registers each, enough for the warp's 16 x chunk
// scores and 16 x block_v accumulators) keep the tensor cores fed while other blocks stage.
constexpr int kOutputBlocksPerSm = kThreads < 384 ? 384 / kThreads : 1;

// grid (V/block_v, chunks or items, B*H or H; see resolve_chunk): the chunk's rows, columns
// [v0, v0 + block_v) of o.
extern "C" __global__ void __launch_bounds__(kThreads, kOutputBlocksPerSm)
    lla_mamba2_output(const lla_sequence* __restrict__ sequences,
                      const lla_item* __restrict__ items, const Element* __restrict__ q,
                      const Element* __restrict__ k, const Element* __restrict__ v,
                      const float* __restrict__ g, const Element* __restrict__ lambda,
                      Element* __restrict__ o, const float* __restrict__ decays,
                      const float* __restrict__ states, const float* __restrict__ prefix_slots,
                      int seq_len, int heads, int groups, int tree_nodes, float scale) {
  extern __shared__ float smem[];
  float* gc = smem;
  float* row_factor = gc + kChunk;
  float* intra_lambda = row_factor + kChunk;  // [chunk][levels 0..log2 C]
  Bits* q_s = reinterpret_cast<Bits*>(intra_lambda + kChunk * kIntraLevels);  // [chunk][K]
  Bits* k_s = q_s + kChunk * kKeyPitch;                                       // [chunk][K]
  Bits* v_t = k_s + kChunk * kKeyPitch;     // [block_v][chunk]
  Bits* node_s = v_t + kBlockV * kChunkPitch;  // [block_v][K]

  const ChunkTask task = resolve_chunk(sequences, items, seq_len, heads, tree_nodes);
  const int group = task.head / (heads / groups);
  const int v0 = blockIdx.x * kBlockV;
  __shared__ NodeRead reads[kMaxReads];
  __shared__ int read_count;
  if (threadIdx.x == 0) read_count = list_reads(task, decays, reads);

  load_chunk_cumsum(g, task, heads, gc);
  for (int idx = threadIdx.x; idx < kChunk * (kKeyDim / 8); idx += kThreads) {
    const int i = idx / (kKeyDim / 8), d0 = 8 * (idx % (kKeyDim / 8));
    const bool token = task.is_token(i);
    const size_t at = token ? ((task.row_base + i) * groups + group) * kKeyDim + d0 : 0;
    const uint4 zero = make_uint4(0, 0, 0, 0);
    *reinterpret_cast<uint4*>(q_s + i * kKeyPitch + d0) =
        token ? *reinterpret_cast<const uint4*>(q + at) : zero;
    *reinterpret_cast<uint4*>(k_s + i * kKeyPitch + d0) =
        token ? *reinterpret_cast<const uint4*>(k + at) : zero;
  }
  load_transposed<kValueDim, kBlockV>(v, task, task.head, heads, v0, v_t);
  for (int idx = threadIdx.x; idx < kChunk * kIntraLevels; idx += kThreads) {
    const int i = idx / kIntraLevels, level = idx % kIntraLevels;
    intra_lambda[idx] = task.is_token(i) ? slot_lambda(lambda, task, heads, i, level) : 0.0f;
  }
  __syncthreads();

  const int r0 = (threadIdx.x >> 5) * 16;
  const int row_top = r0 + lane_group(), row_bottom = row_top + 8;
  // Score tiles at or left of the diagonal: the rest of the warp's 16 rows is causal zero.
  const int live_tiles = (r0 + 16) / 8;

  // Intra-chunk scores S = Q K^T for the warp's rows, then decay and per-pair lambda.
  float scores[kChunk / 8][4] = {};
#pragma unroll
  for (int k0 = 0; k0 < kKeyDim; k0 += 16) {
    unsigned a[4], bf[2];
    load_a(a, q_s, kKeyPitch, r0, k0);
#pragma unroll
    for (int t = 0; t < kChunk / 8; ++t) {
      if (t >= live_tiles) break;
      load_b(bf, k_s, kKeyPitch, 8 * t, k0);
      mma(scores[t], a, bf);
    }
  }
#pragma unroll
  for (int t = 0; t < kChunk / 8; ++t) {
#pragma unroll
    for (int x = 0; x < 4; ++x) {
      const int i = x < 2 ? row_top : row_bottom;
      const int j = 8 * t + 2 * lane_in_group() + (x & 1);
      scores[t][x] = j <= i && task.is_token(i) ? scores[t][x] * scale *
                                           intra_lambda[i * kIntraLevels + lla_level(i, j)] *
                                           expf(gc[i] - gc[j])
                                     : 0.0f;
    }
  }

  // O = P V: the score accumulators of tiles 2s and 2s+1 are operand A of step s.
  float acc[kBlockV / 8][4] = {};
#pragma unroll
  for (int s = 0; s < kChunk / 16; ++s) {
    if (2 * s >= live_tiles) break;
    const unsigned a[4] = {pack(scores[2 * s][0], scores[2 * s][1]),
                           pack(scores[2 * s][2], scores[2 * s][3]),
                           pack(scores[2 * s + 1][0], scores[2 * s + 1][1]),
                           pack(scores[2 * s + 1][2], scores[2 * s + 1][3])};
#pragma unroll
    for (int t = 0; t < kBlockV / 8; ++t) {
      unsigned bf[2];
      load_b(bf, v_t, kChunkPitch, 8 * t, 16 * s);
      mma(acc[t], a, bf);
    }
  }

  // Inter-chunk levels and an initial state's in-chunk levels: O += diag(row factors) Q N
  // for each node N the chunk reads.
  for (int r = 0; r < read_count; ++r) {
    const NodeRead read = reads[r];
    __syncthreads();  // the previous read's users of node_s and row_factor are done
    stage_node((read.level >= 0 ? states : prefix_slots) + read.node * kStateElements, v0, node_s);
    read_row_factors(lambda, task, heads, read, scale, gc, row_factor);
    __syncthreads();
    add_staged_node(q_s, node_s, row_factor, r0, acc);
  }

  unsigned* o_pairs = reinterpret_cast<unsigned*>(o);
#pragma unroll
  for (int t = 0; t < kBlockV / 8; ++t) {
    const int col = v0 + 8 * t + 2 * lane_in_group();
    if (task.is_token(row_top))
      o_pairs[(((task.row_base + row_top) * heads + task.head) * kValueDim + col) / 2] =
          pack(acc[t][0], acc[t][1]);
    if (task.is_token(row_bottom))
      o_pairs[(((task.row_base + row_bottom) * heads + task.head) * kValueDim + col) / 2] =
          pack(acc[t][2], acc[t][3]);
  }
}

}  // namespace lla_mamba2
