// Log-linear Mamba-2 forward, scan algorithm: one thread block per (sequence, head, block_v
// columns of V) walks the chunks in order and keeps the Fenwick states of the chunk levels on
// chip, so no chunk state ever goes to memory. Tensor cores as in mamba2_forward_mma.cuh
// (whose tree kernels the same module keeps for calls with a sequence table).
//
// Before chunk c the state slots hold the Fenwick decomposition of chunks [0, c): slot e, live
// when bit e of c is set, is the block of 2^e chunks chunk c reads at chunk level e (spec 3.2),
// kept decayed to its own last token (so a read applies the decay across the gap as a row
// factor) with its total log decay beside it. After chunk c the block of slot j =
// ctz(c + 1) is formed from slots 0 .. j - 1 and chunk c's own state, as c + 1 carries into
// bit j; the slots below j fall out. A slot is rounded to 16 bits once, when it is formed,
// straight from fp32 accumulators.
//
// Per chunk, two warps share 16 rows (below): scores QK^T and PV stay in registers (as in the
// mma output pass), then one QN^T per live slot. Loads: mamba2_forward_scan_common.cuh.

namespace lla_mamba2 {

constexpr int kValuePitch = kBlockV + 8;  // rows of a v tile

// Rows padded by 8 elements (kKeyPitch, kValuePitch), which spreads a fragment load's rows
// over all banks.
struct PaddedRows {
  template <int kColumns>
  __device__ static int at(int row, int column) { return row * (kColumns + 8) + column; }
};
static_assert(kKeyPitch == kKeyDim + 8, "PaddedRows pads key rows as kKeyPitch does");
// The slots: [block_v][K] in rows of kKeyPitch.
struct SlotLayout {
  static constexpr int kElements = kBlockV * kKeyPitch;
  __device__ static int at(int kk, int vv) { return vv * kKeyPitch + kk; }
};

// This module's scan policy (the contract in mamba2_forward_scan_common.cuh): chunk tiles in
// padded rows, stages on 16 bytes (ldmatrix and cp.async), slots in SlotLayout.
struct MmaScanPolicy : ScanStages<kChunk * kKeyPitch, kChunk * kValuePitch, 16> {
  using ChunkTiles = PaddedRows;
  using Slots = SlotLayout;
  __device__ static __forceinline__ unsigned char* aligned_stages(unsigned char* shared) { return shared; }
  // mma.sync reads the chunk tiles through the generic proxy, as cp.async wrote them: nothing
  // to fence before the barrier that publishes them.
  __device__ static __forceinline__ void fence_chunk_tiles() {}
  struct PieceState;
  __device__ static __forceinline__ void add_piece_chunk(PieceState& state, const ScanStage& s);
  __device__ static __forceinline__ void store_piece(const PieceState& state, float* out);
};
using ScanPolicy = MmaScanPolicy;

constexpr int kSlotBytes = 2 * kBlockV * kKeyPitch;
// Both stages, each warp's partial sums for its partner (16 x block_v / 2 floats), the slots'
// decays.
static_assert(2 * ScanPolicy::kStageStride + kScanWarps * 4 * 16 * kBlockV / 2 + kSlotDecayBytes ==
                      lla_config::kScanFixedBytes &&
                  kSlotBytes == lla_config::kScanSlotBytes,
              "the host plan's scan shared memory sizes disagree with the kernel's layout");

// A piece's state for the split (mamba2_forward_scan_split.cuh): 16 x 16 tiles of K x block_v,
// each warp a run of consecutive ones (a row of tiles shares its operand A, so a warp weighs
// each A it loads once for its whole run).
constexpr int kPieceTiles = (kKeyDim / 16) * (kBlockV / 16);
constexpr int kPieceTilesPerWarp = (kPieceTiles + kScanWarps - 1) / kScanWarps;
struct MmaScanPolicy::PieceState {
  float tiles[kPieceTilesPerWarp][2][4];
};
// This warp's u-th tile: rows m0 of K, columns n0 of the V tile; false past the last tile.
__device__ __forceinline__ bool piece_tile(int u, int& m0, int& n0) {
  const int tile = (threadIdx.x >> 5) * kPieceTilesPerWarp + u;
  m0 = 16 * (tile / (kBlockV / 16));
  n0 = 16 * (tile % (kBlockV / 16));
  return kPieceTiles % kScanWarps == 0 || tile < kPieceTiles;
}
// state = state exp(chunk decay) + k^T diag(w) v for the chunk in stage s, w_t = exp(G_last - G_t).
__device__ __forceinline__ void MmaScanPolicy::add_piece_chunk(PieceState& state, const ScanStage& s) {
  const float across = lla_exp2(s.gc[kChunk - 1]);
  unsigned w[kChunk / 16][2];
#pragma unroll
  for (int step = 0; step < kChunk / 16; ++step) chunk_end_weights(w[step], s.gc, step);
#pragma unroll
  for (int u = 0; u < kPieceTilesPerWarp; ++u)
#pragma unroll
    for (int nt = 0; nt < 2; ++nt)
#pragma unroll
      for (int x = 0; x < 4; ++x) state.tiles[u][nt][x] *= across;
#pragma unroll
  for (int step = 0; step < kChunk / 16; ++step) {
    unsigned a[4];
#pragma unroll
    for (int u = 0; u < kPieceTilesPerWarp; ++u) {
      int m0, n0;
      if (!piece_tile(u, m0, n0)) break;
      if (u == 0 || n0 == 0) {  // a new row of tiles
        load_a_transposed<ChunkTiles, kKeyDim>(a, s.k, m0, 16 * step);
        weigh_columns(a, w[step]);
      }
      unsigned b[4];
      load_b_transposed<ChunkTiles, kBlockV>(b, s.v, n0, 16 * step);
      mma(state.tiles[u][0], a, b);
      mma(state.tiles[u][1], a, b + 2);
    }
  }
}
// The state into `out`, a [K][V] fp32 state at the block's column v0.
__device__ __forceinline__ void MmaScanPolicy::store_piece(const PieceState& state, float* out) {
#pragma unroll
  for (int u = 0; u < kPieceTilesPerWarp; ++u) {
    int m0, n0;
    if (!piece_tile(u, m0, n0)) break;
#pragma unroll
    for (int nt = 0; nt < 2; ++nt) {
      float* top = out + (m0 + lane_group()) * kValueDim + n0 + 8 * nt + 2 * lane_in_group();
      *reinterpret_cast<float2*>(top) = make_float2(state.tiles[u][nt][0], state.tiles[u][nt][1]);
      *reinterpret_cast<float2*>(top + 8 * kValueDim) = make_float2(state.tiles[u][nt][2], state.tiles[u][nt][3]);
    }
  }
}

static_assert(ScanPolicyContract<ScanPolicy>::kHolds, "the scan policy");

// Chunk c's state, S^T = (w v)^T k with w_i = exp(G_last - G_i), plus the slots below j each
// decayed to the chunk's end (`across[e]`), rounded once into slot j. Its 16 x 16 blocks are
// dealt to the warps in turn.
__device__ __forceinline__ void form_slot(const ScanStage& s, Bits* slots, int j, const float across[kSlots]) {
  constexpr int kNBlocks = kKeyDim / 16, kBlocks = (kBlockV / 16) * kNBlocks;
  // w at this lane's operand columns, once for all of the warp's blocks.
  unsigned w[kChunk / 16][2];
#pragma unroll
  for (int step = 0; step < kChunk / 16; ++step) chunk_end_weights(w[step], s.gc, step);
  Bits* target = slots + j * SlotLayout::kElements;
  for (int block = threadIdx.x >> 5; block < kBlocks; block += kScanWarps) {
    const int m0 = 16 * (block / kNBlocks), n0 = 16 * (block % kNBlocks);
    float acc[2][4] = {};
#pragma unroll
    for (int k0 = 0; k0 < kChunk; k0 += 16) {
      unsigned a[4], b[4];
      load_a_transposed<PaddedRows, kBlockV>(a, s.v, m0, k0);
      weigh_columns(a, w[k0 / 16]);
      load_b_transposed<PaddedRows, kKeyDim>(b, s.k, n0, k0);
      mma(acc[0], a, b);
      mma(acc[1], a, b + 2);
    }
#pragma unroll
    for (int nt = 0; nt < 2; ++nt)
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int at = (m0 + lane_group() + 8 * half) * kKeyPitch + n0 + 8 * nt + 2 * lane_in_group();
        float x = acc[nt][2 * half], y = acc[nt][2 * half + 1];
        absorb_slots<SlotLayout::kElements>(x, y, slots, at, j, across);
        *reinterpret_cast<unsigned*>(target + at) = pack(x, y);
      }
  }
}

// The two warps of a row block wait for each other alone when they exchange partial sums: the
// others go on (to form the next slot, which no warp reads in this chunk).
__device__ __forceinline__ void pair_barrier(int row_block) { named_barrier<64>(1 + row_block); }

// Two warps share 16 rows of the chunk: for the intra-chunk levels they take alternate
// 16-column blocks of the scores (and so of P V), for the chunk levels alternate 32-wide steps
// of K; each then hands the other its partial sums of the other's half of the block_v columns
// of o through shared memory.
constexpr int kScoreBlocks = (kRowBlocks + 1) / 2;  // 16-column score blocks a warp owns at most
constexpr int kHalfTiles = kBlockV / 16;            // 8-column tiles of a half of block_v
constexpr int kHalfSteps = (kKeyDim / 32 + 1) / 2;  // 32-wide steps of K a warp owns at most
constexpr int kExchangeFloats = 16 * kBlockV / 2;   // a warp's partial sums for its partner

// kScanFixedBytes + slots * kScanSlotBytes of dynamic shared memory, slots = bit_length of
// the last chunk. grid (V/block_v, B*H, segments), kScanThreads threads; segments after the
// first start from seeds (scan_segment, load_seeds).
extern "C" __global__ void __launch_bounds__(kScanThreads, 1)
    lla_mamba2_scan(const Element* __restrict__ q, const Element* __restrict__ k,
                    const Element* __restrict__ v, const float* __restrict__ g,
                    const Element* __restrict__ lambda, Element* __restrict__ o,
                    const float* __restrict__ seeds, const float* __restrict__ seed_decays, int seq_len,
                    int heads, int groups, float scale, int segment_chunks, int seeds_per_head) {
  extern __shared__ __align__(16) unsigned char scan_smem[];
  float* exchange = reinterpret_cast<float*>(scan_smem + 2 * ScanPolicy::kStageStride);  // [warp][16 x block_v/2]
  float* decay = exchange + kScanThreads / 32 * kExchangeFloats;  // total log2 decay of each slot's block
  Bits* slots = reinterpret_cast<Bits*>(reinterpret_cast<unsigned char*>(decay) + kSlotDecayBytes);

  const ScanBlock block = scan_block(q, k, v, g, lambda, seq_len, heads, groups);
  const ScanSegment segment = scan_segment((seq_len + kChunk - 1) / kChunk, segment_chunks);

  const int warp = threadIdx.x >> 5;
  // Side 1 takes the row blocks in reverse, so the warps a scheduler holds (warp w runs on
  // scheduler w % 4) pair low row blocks, with few score blocks, with high ones, with many.
  const int side = warp / kRowBlocks;
  const int row_block = side == 0 ? warp : kScanWarps - 1 - warp;
  const int r0 = 16 * row_block;
  const int row_top = r0 + lane_group(), row_bottom = row_top + 8;
  float* to_partner = exchange + warp * kExchangeFloats;
  const float* from_partner = exchange + (kScanWarps - 1 - warp) * kExchangeFloats;
  // The exchanged element of tile t (of the half) and register x: row lane_group() + 8 (x / 2).
  const auto exchange_at = [](int t, int x) {
    return ((x >> 1) * 8 + lane_group()) * (kBlockV / 2) + 8 * t + 2 * lane_in_group() + (x & 1);
  };

  begin_segment<ScanPolicy>(block, segment, slots, decay, seeds, seed_decays, seq_len, heads, groups,
                            segment_chunks, seeds_per_head, ScanPolicy::chunk_stage(scan_smem, 0));

  for (int c = segment.first; c < segment.end; ++c) {
    const auto [s, next, tokens, more] = begin_chunk<ScanPolicy>(scan_smem, segment, c, seq_len);
    ChunkRows next_rows;
    if (more) next_rows = load_chunk<PaddedRows>(block, c + 1, seq_len, heads, groups, next);

    unsigned qa[kKeyDim / 16][4];
#pragma unroll
    for (int ks = 0; ks < kKeyDim / 16; ++ks) load_a_rows(qa[ks], s.q, kKeyPitch, r0, 16 * ks);

    // Intra-chunk levels on this warp's score blocks (16 columns each, at or left of the
    // diagonal): S = Q K^T, then decay and per-pair lambda, then O = P V.
    float scores[kScoreBlocks][2][4] = {};
#pragma unroll
    for (int ks = 0; ks < kKeyDim / 16; ks += 2)
#pragma unroll
      for (int u = 0; u < kScoreBlocks; ++u) {
        const int block = side + 2 * u;
        if (block > row_block) break;
#pragma unroll
        for (int tt = 0; tt < 2; ++tt) {
          unsigned bk[4];
          load_b_rows(bk, s.k, kKeyPitch, 16 * block + 8 * tt, 16 * ks);
          mma(scores[u][tt], qa[ks], bk);
          mma(scores[u][tt], qa[ks + 1], bk + 2);
        }
      }
    // Below the diagonal a 16 x 16 block's pairs all lie at the level of the highest bit in
    // which its row and column blocks differ, so lambda is one value a row; on it each pair
    // has its own level and the causal mask (selected, not branched).
    const float g_top = s.gc[row_top], g_bottom = s.gc[row_bottom];
#pragma unroll
    for (int u = 0; u < kScoreBlocks; ++u) {
      const int block = side + 2 * u;
      if (block > row_block) break;
      if (block < row_block) {
        const int level = min(4 + bit_length(row_block ^ block), kLevels - 1);
        const float w_top = scale * stage_lambda(s, row_top, level);
        const float w_bottom = scale * stage_lambda(s, row_bottom, level);
#pragma unroll
        for (int tt = 0; tt < 2; ++tt) {
          const float2 gj = *reinterpret_cast<const float2*>(s.gc + 16 * block + 8 * tt + 2 * lane_in_group());
          scores[u][tt][0] *= w_top * lla_exp2(g_top - gj.x);
          scores[u][tt][1] *= w_top * lla_exp2(g_top - gj.y);
          scores[u][tt][2] *= w_bottom * lla_exp2(g_bottom - gj.x);
          scores[u][tt][3] *= w_bottom * lla_exp2(g_bottom - gj.y);
        }
      } else {
#pragma unroll
        for (int tt = 0; tt < 2; ++tt)
#pragma unroll
          for (int x = 0; x < 4; ++x) {
            const int i = x < 2 ? row_top : row_bottom;
            const int j = 16 * block + 8 * tt + 2 * lane_in_group() + (x & 1);
            const float w = scale * stage_lambda(s, i, min(lla_level(i, j), kLevels - 1)) *
                            lla_exp2((x < 2 ? g_top : g_bottom) - s.gc[j]);
            scores[u][tt][x] = j <= i ? scores[u][tt][x] * w : 0.0f;
          }
      }
    }
    float acc[kBlockV / 8][4] = {};
#pragma unroll
    for (int u = 0; u < kScoreBlocks; ++u) {
      const int block = side + 2 * u;
      if (block > row_block) break;
      const unsigned a[4] = {pack(scores[u][0][0], scores[u][0][1]), pack(scores[u][0][2], scores[u][0][3]),
                             pack(scores[u][1][0], scores[u][1][1]), pack(scores[u][1][2], scores[u][1][3])};
#pragma unroll
      for (int t = 0; t < kBlockV / 8; t += 2) {
        unsigned bv[4];
        load_b_transposed<PaddedRows, kBlockV>(bv, s.v, 8 * t, 16 * block);
        mma(acc[t], a, bv);
        mma(acc[t + 1], a, bv + 2);
      }
    }

    // Chunk levels on this warp's half of K (alternate 32-wide steps; every column): O +=
    // diag(scale lambda^(log2 C + 1 + e) exp(G_i + gap)) Q N_e^T per live slot e, gap the log
    // decay from the block's end to the chunk's start. Splitting K rather than the columns
    // gives each warp twice the independent accumulators, half as deep.
    // (q's fragments of the half reloaded, so those of all of K need not live this long.)
    unsigned qh[kHalfSteps][2][4];
#pragma unroll
    for (int m = 0; m < kHalfSteps; ++m) {
      const int k0 = 32 * (2 * m + side);
      if (k0 >= kKeyDim) break;
      load_a_rows(qh[m][0], s.q, kKeyPitch, r0, k0);
      load_a_rows(qh[m][1], s.q, kKeyPitch, r0, k0 + 16);
    }
    float gap = 0.0f;
#pragma unroll
    for (int e = 0; e < kSlots; ++e) {
      if (!((c >> e) & 1)) continue;
      const Bits* slot = slots + e * SlotLayout::kElements;
      float part[kBlockV / 8][4] = {};
#pragma unroll
      for (int m = 0; m < kHalfSteps; ++m) {
        const int k0 = 32 * (2 * m + side);
        if (k0 >= kKeyDim) break;
#pragma unroll
        for (int t = 0; t < kBlockV / 8; ++t) {
          unsigned bn[4];
          load_b_rows(bn, slot, kKeyPitch, 8 * t, k0);
          mma(part[t], qh[m][0], bn);
          mma(part[t], qh[m][1], bn + 2);
        }
      }
      const float top = chunk_level_factor(s, row_top, e, g_top, gap, scale);
      const float bottom = chunk_level_factor(s, row_bottom, e, g_bottom, gap, scale);
#pragma unroll
      for (int t = 0; t < kBlockV / 8; ++t)
#pragma unroll
        for (int x = 0; x < 4; ++x) acc[t][x] = fmaf(x < 2 ? top : bottom, part[t][x], acc[t][x]);
      gap += decay[e];
    }

    // Hand the partner its half, take this warp's half, and write it.
#pragma unroll
    for (int t = 0; t < kBlockV / 8; ++t)
#pragma unroll
      for (int x = 0; x < 4; ++x)
        if (t / kHalfTiles != side) to_partner[exchange_at(t % kHalfTiles, x)] = acc[t][x];
    pair_barrier(row_block);
    unsigned* chunk_o = chunk_output(o, block, c, seq_len, heads);
#pragma unroll
    for (int t = 0; t < kBlockV / 8; ++t) {
      if (t / kHalfTiles != side) continue;
      float* mine = acc[t];
#pragma unroll
      for (int x = 0; x < 4; ++x) mine[x] += from_partner[exchange_at(t % kHalfTiles, x)];
      const int col = block.v0 + 8 * t + 2 * lane_in_group();
      store_output(chunk_o, row_top, col, tokens, heads, mine[0], mine[1]);
      store_output(chunk_o, row_bottom, col, tokens, heads, mine[2], mine[3]);
    }

    if (more) {
      // Slot j (carry_decays) is not live in chunk c, so no warp still reads it.
      const int j = __ffs(c + 1) - 1;
      float across[kSlots];
      const float after = carry_decays(across, decay, j, s.gc[kChunk - 1]);
      form_slot(s, slots, j, across);
      if (threadIdx.x == 0) decay[j] = after;
      store_chunk_rows(next_rows, next.gc, next.lambda);
    }
  }
}

}  // namespace lla_mamba2
