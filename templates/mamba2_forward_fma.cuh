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

// Rows [row0, row0 + kRows) x columns [col0, col0 + kCols) of a [B, T, X, D] tensor at (b, x),
// as fp32 into dst with row stride kCols + 1 (the pad keeps column walks off one bank).
// Rows at or past `valid_rows` read as zero.
template <int kRows, int kCols, int kDim>
__device__ void load_rows(const Element* __restrict__ src, int b, int x, int x_count, int seq_len,
                          int row0, int valid_rows, int col0, float* dst) {
  const size_t pitch = static_cast<size_t>(x_count) * kDim;
  const size_t base = (static_cast<size_t>(b) * seq_len + row0) * pitch +
                      static_cast<size_t>(x) * kDim + col0;
  for (int idx = threadIdx.x; idx < kRows * kCols; idx += kThreads) {
    const int r = idx / kCols, c = idx % kCols;
    dst[r * (kCols + 1) + c] = r < valid_rows ? lla_to_float(src[base + r * pitch + c]) : 0.0f;
  }
}

// grid (chunks, B*H, (K/block_k)*(V/block_v)): the (block_k x block_v) tile of
// chunk c's state S_c = sum_j exp(Glast - G_j) k_j v_j^T and, from tile 0, its log decay.
extern "C" __global__ void __launch_bounds__(kThreads)
    lla_mamba2_chunk_states(const Element* __restrict__ k, const Element* __restrict__ v,
                            const float* __restrict__ g, float* __restrict__ decays,
                            float* __restrict__ states, int seq_len, int heads, int groups,
                            int num_chunks, int tree_nodes) {
  __shared__ float gc[kChunk];
  __shared__ float k_tile[kStateRows * (kBlockK + 1)];
  __shared__ float v_tile[kStateRows * (kBlockV + 1)];

  const int c = blockIdx.x, bh = blockIdx.y, b = bh / heads, h = bh % heads;
  const int group = h / (heads / groups);
  const int k0 = (blockIdx.z / kTilesV) * kBlockK, v0 = (blockIdx.z % kTilesV) * kBlockV;
  const int start = c * kChunk, n = min(kChunk, seq_len - start);

  load_chunk_cumsum(g, b, h, heads, seq_len, start, n, gc);
  const float g_last = gc[n - 1];

  using Tile = ThreadTile<kBlockK, kBlockV>;
  float acc[Tile::kTileRows][Tile::kTileCols] = {};

  for (int row0 = 0; row0 < n; row0 += kStateRows) {
    const int rows = min(kStateRows, n - row0);
    load_rows<kStateRows, kBlockK, kKeyDim>(k, b, group, groups, seq_len, start + row0, rows, k0,
                                            k_tile);
    load_rows<kStateRows, kBlockV, kValueDim>(v, b, h, heads, seq_len, start + row0, rows, v0,
                                              v_tile);
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

  float* state = states + (static_cast<size_t>(bh) * tree_nodes + c) * kStateElements;
#pragma unroll
  for (int m = 0; m < Tile::kTileRows; ++m)
#pragma unroll
    for (int r = 0; r < Tile::kTileCols; ++r)
      state[(k0 + Tile::row(m)) * kValueDim + v0 + Tile::col0() + r] = acc[m][r];
  if (blockIdx.z == 0 && threadIdx.x == 0)
    decays[static_cast<size_t>(bh) * tree_nodes + c] = g_last;
}

// Shared memory of the output kernel, in floats (the host plan passes the same size).
constexpr int kOutputSharedFloats = 2 * kChunk                      // gc, row factors
                                    + kChunk * (kChunk + 1)         // scores
                                    + 2 * kChunk * (kBlockK + 1)    // q and k tiles
                                    + kChunk * (kBlockV + 1)        // v tile
                                    + kBlockK * (kBlockV + 1);      // state tile
static_assert(kOutputSharedFloats * 4 == lla_config::kOutputSharedBytes,
              "the host plan's shared memory size disagrees with the kernel's layout");

// grid (V/block_v, chunks, B*H): rows of chunk c, columns [v0, v0 + block_v) of o.
extern "C" __global__ void __launch_bounds__(kThreads)
    lla_mamba2_output(const Element* __restrict__ q, const Element* __restrict__ k,
                      const Element* __restrict__ v, const float* __restrict__ g,
                      const Element* __restrict__ lambda, Element* __restrict__ o,
                      const float* __restrict__ decays, const float* __restrict__ states,
                      int seq_len, int heads, int groups, int num_chunks, int tree_nodes,
                      float scale) {
  extern __shared__ float smem[];
  float* gc = smem;
  float* row_factor = gc + kChunk;
  float* scores = row_factor + kChunk;
  float* q_tile = scores + kChunk * (kChunk + 1);
  float* k_tile = q_tile + kChunk * (kBlockK + 1);
  float* v_tile = k_tile + kChunk * (kBlockK + 1);
  float* s_tile = v_tile + kChunk * (kBlockV + 1);

  const int c = blockIdx.y, bh = blockIdx.z, b = bh / heads, h = bh % heads;
  const int group = h / (heads / groups);
  const int v0 = blockIdx.x * kBlockV;
  const int start = c * kChunk, n = min(kChunk, seq_len - start);
  const size_t lambda_row0 = (static_cast<size_t>(b) * seq_len + start) * heads + h;

  load_chunk_cumsum(g, b, h, heads, seq_len, start, n, gc);

  // Intra-chunk scores: (q_i . k_j) for j <= i, accumulated over K in block_k slices.
  for (int idx = threadIdx.x; idx < kChunk * (kChunk + 1); idx += kThreads) scores[idx] = 0.0f;
  for (int k0 = 0; k0 < kKeyDim; k0 += kBlockK) {
    load_rows<kChunk, kBlockK, kKeyDim>(q, b, group, groups, seq_len, start, n, k0, q_tile);
    load_rows<kChunk, kBlockK, kKeyDim>(k, b, group, groups, seq_len, start, n, k0, k_tile);
    __syncthreads();
    for (int idx = threadIdx.x; idx < kChunk * kChunk; idx += kThreads) {
      const int i = idx / kChunk, j = idx % kChunk;
      if (j > i || i >= n) continue;
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
    if (j > i || i >= n) continue;
    const float weight =
        lla_to_float(lambda[(lambda_row0 + static_cast<size_t>(i) * heads) * kLevels +
                            lla_level(i, j)]);
    scores[i * (kChunk + 1) + j] *= scale * weight * expf(gc[i] - gc[j]);
  }
  load_rows<kChunk, kBlockV, kValueDim>(v, b, h, heads, seq_len, start, n, v0, v_tile);
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

  // Inter-chunk levels: chunk level e is live when bit e of c is set; its sources are tree
  // node (e, (c >> e) - 1), decayed from that block's end to the start of chunk c across the
  // blocks given by the lower set bits of c.
  const size_t node0 = static_cast<size_t>(bh) * tree_nodes;
  for (int e = 0; (c >> e) != 0; ++e) {
    if (((c >> e) & 1) == 0) continue;
    const float gap = level_gap(decays, node0, c, e, num_chunks);
    const size_t node = level_node(node0, c, e, num_chunks);
    level_row_factors(lambda, lambda_row0, heads, n, e, gap, scale, gc, row_factor);
    float part[Tile::kTileRows][Tile::kTileCols] = {};
    for (int k0 = 0; k0 < kKeyDim; k0 += kBlockK) {
      __syncthreads();
      load_rows<kChunk, kBlockK, kKeyDim>(q, b, group, groups, seq_len, start, n, k0, q_tile);
      for (int idx = threadIdx.x; idx < kBlockK * kBlockV; idx += kThreads) {
        const int kk = idx / kBlockV, vv = idx % kBlockV;
        s_tile[kk * (kBlockV + 1) + vv] =
            states[node * kStateElements + (k0 + kk) * kValueDim + v0 + vv];
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

#pragma unroll
  for (int m = 0; m < Tile::kTileRows; ++m) {
    const int i = Tile::row(m);
    if (i >= n) continue;
    Element* row = o + ((static_cast<size_t>(b) * seq_len + start + i) * heads + h) * kValueDim +
                   v0 + Tile::col0();
#pragma unroll
    for (int r = 0; r < Tile::kTileCols; ++r) lla_store(row + r, acc[m][r]);
  }
}

}  // namespace lla_mamba2
