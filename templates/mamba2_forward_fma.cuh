// Log-linear Mamba-2 forward, fma algorithm: CUDA cores in fp32 for every dtype (the one for
// fp32 inputs). Tree nodes are laid out [K][V]. See mamba2_forward_common.cuh.

namespace lla_mamba2 {

static_assert(kKeyDim % kBlockK == 0, "block_k must divide K");
static_assert(lla_config::kStateSharedBytes == 0, "fma: the state kernel's shared memory is static");

constexpr int kTilesV = kValueDim / kBlockV;
// Rows of a chunk that the state kernel stages in shared memory at once.
constexpr int kStateRows = kChunk < 32 ? kChunk : 32;

// A thread's share of a kRows x kCols tile held in registers: kTileRows rows, kRowStride
// apart, each with kTileCols consecutive columns. Threads of a warp take consecutive rows, so
// row-indexed shared-memory reads hit distinct banks and column reads are broadcasts.
template <int kRows, int kCols>
struct ThreadTile {
  static constexpr int kPerThread = kRows * kCols / kThreads;
  static constexpr int kTileCols = kPerThread < kCols ? kPerThread : kCols;
  static constexpr int kTileRows = kPerThread / kTileCols;
  static constexpr int kColGroups = kCols / kTileCols;
  static constexpr int kRowStride = kThreads / kColGroups;
  static_assert(kRows * kCols % kThreads == 0 && kTileRows * kRowStride == kRows,
                "the threads must split the tile evenly");
  __device__ static int row(int m) { return threadIdx.x / kColGroups + m * kRowStride; }
  __device__ static int col0() { return (threadIdx.x % kColGroups) * kTileCols; }
};

// A node's element (kk, vv) at node[node_element(kk, vv)]: [K][V].
__device__ __forceinline__ int node_element(int kk, int vv) { return kk * kValueDim + vv; }

// Chunk slots [slot0, slot0 + kRows) x columns [col0, col0 + kCols) of a [rows, X, D] tensor
// at x, as fp32 into dst with row stride kCols + 1 (the pad keeps column walks off one bank).
// Slots that are not tokens of the task read as zero.
template <int kRows, int kCols, int kDim>
__device__ void load_rows(const Element* __restrict__ src, const ChunkTask& task, int x,
                          int x_count, int slot0, int col0, float* dst) {
  const size_t pitch = static_cast<size_t>(x_count) * kDim;
  for (int idx = threadIdx.x; idx < kRows * kCols; idx += kThreads) {
    const int r = idx / kCols, c = idx % kCols, slot = slot0 + r;
    dst[r * (kCols + 1) + c] =
        task.is_token(slot)
            ? lla_to_float(src[(task.row_base + slot) * pitch + static_cast<size_t>(x) * kDim + col0 + c])
            : 0.0f;
  }
}

// grid ((K/block_k)*(V/block_v), chunks or items, B*H or H; see resolve_chunk): the
// (block_k x block_v) tile of the chunk's state S_c = sum_j exp(Glast - G_j) k_j v_j^T and,
// from tile 0, its log decay.
extern "C" __global__ void __launch_bounds__(kThreads)
    lla_mamba2_chunk_states(const lla_sequence* __restrict__ sequences,
                            const lla_item* __restrict__ items, const Element* __restrict__ k,
                            const Element* __restrict__ v, const float* __restrict__ g,
                            float* __restrict__ decays, float* __restrict__ states, int seq_len,
                            int heads, int groups, int tree_nodes) {
  __shared__ float gc[kChunk];
  __shared__ float k_tile[kStateRows * (kBlockK + 1)];
  __shared__ float v_tile[kStateRows * (kBlockV + 1)];

  const ChunkTask task = resolve_chunk(sequences, items, seq_len, heads, tree_nodes);
  if (task.last_chunk == 0) return;  // a sequence of one chunk has no tree
  const int group = task.head / (heads / groups);
  const int k0 = (blockIdx.x / kTilesV) * kBlockK, v0 = (blockIdx.x % kTilesV) * kBlockV;

  load_chunk_cumsum(g, task, heads, gc);
  const float g_last = gc[kChunk - 1];

  using Tile = ThreadTile<kBlockK, kBlockV>;
  float acc[Tile::kTileRows][Tile::kTileCols] = {};

  for (int row0 = task.first / kStateRows * kStateRows; row0 < task.end; row0 += kStateRows) {
    const int rows = min(kStateRows, task.end - row0);
    load_rows<kStateRows, kBlockK, kKeyDim>(k, task, group, groups, row0, k0, k_tile);
    load_rows<kStateRows, kBlockV, kValueDim>(v, task, task.head, heads, row0, v0, v_tile);
    __syncthreads();
    // Fold the decay to the chunk end into v once per row.
    for (int idx = threadIdx.x; idx < rows * kBlockV; idx += kThreads) {
      const int r = idx / kBlockV;
      v_tile[r * (kBlockV + 1) + idx % kBlockV] *= expf(g_last - gc[row0 + r]);
    }
    __syncthreads();
    for (int j = 0; j < rows; ++j) {
#pragma unroll
      for (int m = 0; m < Tile::kTileRows; ++m) {
        const float key = k_tile[j * (kBlockK + 1) + Tile::row(m)];
#pragma unroll
        for (int r = 0; r < Tile::kTileCols; ++r)
          acc[m][r] += key * v_tile[j * (kBlockV + 1) + Tile::col0() + r];
      }
    }
    __syncthreads();
  }

  const size_t node_index = task.node(0, task.chunk);
  float* state = states + node_index * kStateElements;
#pragma unroll
  for (int m = 0; m < Tile::kTileRows; ++m)
#pragma unroll
    for (int r = 0; r < Tile::kTileCols; ++r)
      state[(k0 + Tile::row(m)) * kValueDim + v0 + Tile::col0() + r] = acc[m][r];
  if (blockIdx.x == 0 && threadIdx.x == 0) decays[node_index] = g_last;
}

// Shared memory of the output kernel, in floats (the host plan passes the same size).
constexpr int kOutputSharedFloats = 2 * kChunk                      // gc, row factors
                                    + kChunk * (kChunk + 1)         // scores
                                    + 2 * kChunk * (kBlockK + 1)    // q and k tiles
                                    + kChunk * (kBlockV + 1)        // v tile
                                    + kBlockK * (kBlockV + 1);      // state tile
static_assert(kOutputSharedFloats * 4 == lla_config::kOutputSharedBytes,
              "the host plan's shared memory size disagrees with the kernel's layout");

// acc += diag(row_factor) Q N over the thread's tile, N a node ([K][V] fp32).
template <typename Tile>
__device__ void add_node_product(const Element* __restrict__ q, const ChunkTask& task, int group,
                                 int groups, const float* __restrict__ node, int v0,
                                 const float* row_factor, float* q_tile, float* s_tile,
                                 float (&acc)[Tile::kTileRows][Tile::kTileCols]) {
  float part[Tile::kTileRows][Tile::kTileCols] = {};
  for (int k0 = 0; k0 < kKeyDim; k0 += kBlockK) {
    __syncthreads();
    load_rows<kChunk, kBlockK, kKeyDim>(q, task, group, groups, 0, k0, q_tile);
    for (int idx = threadIdx.x; idx < kBlockK * kBlockV; idx += kThreads) {
      const int kk = idx / kBlockV, vv = idx % kBlockV;
      s_tile[kk * (kBlockV + 1) + vv] = node[node_element(k0 + kk, v0 + vv)];
    }
    __syncthreads();
    for (int kk = 0; kk < kBlockK; ++kk) {
#pragma unroll
      for (int m = 0; m < Tile::kTileRows; ++m) {
        const float query = q_tile[Tile::row(m) * (kBlockK + 1) + kk];
#pragma unroll
        for (int r = 0; r < Tile::kTileCols; ++r)
          part[m][r] += query * s_tile[kk * (kBlockV + 1) + Tile::col0() + r];
      }
    }
  }
#pragma unroll
  for (int m = 0; m < Tile::kTileRows; ++m)
#pragma unroll
    for (int r = 0; r < Tile::kTileCols; ++r) acc[m][r] += row_factor[Tile::row(m)] * part[m][r];
  __syncthreads();
}

// grid (V/block_v, chunks or items, B*H or H; see resolve_chunk): the chunk's rows, columns
// [v0, v0 + block_v) of o.
extern "C" __global__ void __launch_bounds__(kThreads)
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
  float* scores = row_factor + kChunk;
  float* q_tile = scores + kChunk * (kChunk + 1);
  float* k_tile = q_tile + kChunk * (kBlockK + 1);
  float* v_tile = k_tile + kChunk * (kBlockK + 1);
  float* s_tile = v_tile + kChunk * (kBlockV + 1);

  const ChunkTask task = resolve_chunk(sequences, items, seq_len, heads, tree_nodes);
  const int group = task.head / (heads / groups);
  const int v0 = blockIdx.x * kBlockV;
  __shared__ NodeRead reads[kMaxReads];
  __shared__ int read_count;
  if (threadIdx.x == 0) read_count = list_reads(task, decays, reads);

  load_chunk_cumsum(g, task, heads, gc);

  // Intra-chunk scores: (q_i . k_j) for j <= i, accumulated over K in block_k slices.
  for (int idx = threadIdx.x; idx < kChunk * (kChunk + 1); idx += kThreads) scores[idx] = 0.0f;
  for (int k0 = 0; k0 < kKeyDim; k0 += kBlockK) {
    load_rows<kChunk, kBlockK, kKeyDim>(q, task, group, groups, 0, k0, q_tile);
    load_rows<kChunk, kBlockK, kKeyDim>(k, task, group, groups, 0, k0, k_tile);
    __syncthreads();
    for (int idx = threadIdx.x; idx < kChunk * kChunk; idx += kThreads) {
      const int i = idx / kChunk, j = idx % kChunk;
      if (j > i || !task.is_token(i)) continue;
      float dot = 0.0f;
#pragma unroll 8
      for (int kk = 0; kk < kBlockK; ++kk)
        dot += q_tile[i * (kBlockK + 1) + kk] * k_tile[j * (kBlockK + 1) + kk];
      scores[i * (kChunk + 1) + j] += dot;
    }
    __syncthreads();
  }
  // Decay and per-pair lambda: levels 0..log2(C) all live inside the chunk.
  for (int idx = threadIdx.x; idx < kChunk * kChunk; idx += kThreads) {
    const int i = idx / kChunk, j = idx % kChunk;
    if (j > i || !task.is_token(i)) continue;
    const float weight = slot_lambda(lambda, task, heads, i, lla_level(i, j));
    scores[i * (kChunk + 1) + j] *= scale * weight * expf(gc[i] - gc[j]);
  }
  load_rows<kChunk, kBlockV, kValueDim>(v, task, task.head, heads, 0, v0, v_tile);
  __syncthreads();

  using Tile = ThreadTile<kChunk, kBlockV>;
  float acc[Tile::kTileRows][Tile::kTileCols] = {};
#pragma unroll
  for (int m = 0; m < Tile::kTileRows; ++m) {
    const int i = Tile::row(m);
    for (int j = 0; j <= i; ++j) {
      const float score = scores[i * (kChunk + 1) + j];
#pragma unroll
      for (int r = 0; r < Tile::kTileCols; ++r)
        acc[m][r] += score * v_tile[j * (kBlockV + 1) + Tile::col0() + r];
    }
  }

  // Inter-chunk levels (chunk level e is live when bit e of the chunk is set; its sources are
  // tree node (e, (chunk >> e) - 1), decayed across the blocks of the lower set bits) and an
  // initial state's in-chunk levels: acc += diag(row factors) Q N for each node N read.
  for (int r = 0; r < read_count; ++r) {
    const NodeRead read = reads[r];
    read_row_factors(lambda, task, heads, read, scale, gc, row_factor);
    add_node_product<Tile>(q, task, group, groups,
                           (read.level >= 0 ? states : prefix_slots) + read.node * kStateElements,
                           v0, row_factor, q_tile, s_tile, acc);
  }

#pragma unroll
  for (int m = 0; m < Tile::kTileRows; ++m) {
    const int i = Tile::row(m);
    if (!task.is_token(i)) continue;
    Element* row = o + ((task.row_base + i) * heads + task.head) * kValueDim + v0 + Tile::col0();
#pragma unroll
    for (int r = 0; r < Tile::kTileCols; ++r) lla_store(row + r, acc[m][r]);
  }
}

}  // namespace lla_mamba2
