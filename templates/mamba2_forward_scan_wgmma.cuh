// Log-linear Mamba-2 forward, scan algorithm on Hopper warpgroups (sm_90a): the chunk walk and
// state slots of mamba2_forward_scan.cuh (which says what a slot holds and when it is formed),
// with every product an asynchronous wgmma. A warpgroup issues one instruction per 64-row
// product and k step, where mma.sync needs a fragment load and an mma per 16 x 8 tile, so the
// walk stops being bound by instruction issue.
//
// A chunk is 64 rows, one warpgroup's M, and the two warpgroups split its work in halves:
// warpgroup g computes the intra-chunk levels on keys [32 g, 32 g + 32) (S = Q K^T, then
// decay, lambda and causal mask on S in registers, then O = P V with P from registers), forms
// its tiles of K of the next slot (K^T (w V) plus the slots it absorbs, A from registers) and
// reads the live slots on its half of K (Q N_e, each scaled a row at a time by lambda and the
// decay across its gap); then each hands the other its partial sums of the other's half of the
// block_v columns and writes its own. (One warpgroup on the intra levels and the next slot and
// the other on the slot reads left the first the whole critical path.)
//
// Shared tiles, in the layouts wgmma reads: q and k [chunk][K], read K-major (A of both
// products, B of Q K^T), and v [chunk][block_v], read N-major as B, arrive by cp.async in
// swizzled rows (SwizzledRows); a slot [K][block_v], written by the threads and read N-major
// as B, is 8 x 8 core matrices (CoreMatrices).

namespace lla_mamba2 {

static_assert(kChunk == 64, "scan_wgmma: a chunk is one warpgroup's 64 rows");
static_assert(kKeyDim % 64 == 0, "scan_wgmma: a slot is formed in 64-row steps of K");
static_assert(kBlockV == 32 || kBlockV == 64, "scan_wgmma: block_v is a wgmma N of 32 or 64");

// Rows of the tile cut into atoms 64 columns (128 bytes) wide, or 32 (64 bytes) for a tile
// that narrow, the atoms one after another, each row's 16-byte groups XOR-swizzled by the
// row (wgmma's 128- and 64-byte swizzles): a global line copied into a row lands in distinct
// banks, and eight rows of one group, as ldmatrix reads them, too. Atoms start on 1024 bytes.
template <int kColumns>
constexpr int kAtomColumns = kColumns >= 64 ? 64 : 32;
struct SwizzledRows {
  template <int kColumns>
  __device__ static int at(int row, int column) {
    constexpr int kWidth = kAtomColumns<kColumns>;
    const int pattern = kWidth == 64 ? (row & 7) : ((row >> 1) & 3);
    return (column / kWidth) * (kChunk * kWidth) + row * kWidth +
           ((((column % kWidth) >> 3) ^ pattern) << 3) + (column & 7);
  }
};
static_assert(kKeyDim % 64 == 0 && (kBlockV == 32 || kBlockV % 64 == 0), "whole swizzle atoms");

constexpr int kSlotElements = kKeyDim * kBlockV;
// The slots: [K][block_v] in core matrices.
struct SlotLayout {
  static constexpr int kElements = kSlotElements;
  __device__ static int at(int kk, int vv) { return CoreMatrices::at<kBlockV>(kk, vv); }
};

// This module's scan policy (the contract in mamba2_forward_scan_common.cuh): chunk tiles in
// swizzled rows, stages on 1024 bytes (a swizzle atom's), slots in SlotLayout.
struct WgmmaScanPolicy : ScanStages<kChunk * kKeyDim, kChunk * kBlockV, 1024> {
  using ChunkTiles = SwizzledRows;
  using Slots = SlotLayout;
  __device__ static __forceinline__ unsigned char* aligned_stages(unsigned char* shared) {
    return shared + ((1024 - (shared_address(shared) & 1023)) & 1023);
  }
  // wgmma reads the chunk tiles through the async proxy: cp.async's writes are fenced for it
  // before the barrier that publishes them.
  __device__ static __forceinline__ void fence_chunk_tiles() { fence_proxy_async(); }
  struct PieceState;
  __device__ static __forceinline__ void add_piece_chunk(PieceState& state, const ScanStage& s);
  __device__ static __forceinline__ void store_piece(const PieceState& state, float* out);
};
using ScanPolicy = WgmmaScanPolicy;

// The warpgroups' partial sums of o, each for the other's half of the block_v columns: rows of
// kExchangePitch floats (a warp's float2 stores in two wavefronts). With V tile 64 they go in
// the chunk's q, k and v tiles once both warpgroups are done with them (which keeps 64 within
// shared memory at T = 16384); otherwise in room of their own, saving a barrier.
constexpr int kExchangePitch = kBlockV / 2 + 8;
constexpr bool kExchangeInStage = kBlockV == 64;
constexpr int kExchangeBytes = 4 * 2 * kChunk * kExchangePitch;
static_assert(kExchangeBytes <= 2 * (2 * kChunk * kKeyDim + kChunk * kBlockV), "the exchange fits in the tiles");
// Both stages, the exchange unless it is in them, the slots' decays, then the slots, after up
// to 1024 bytes that align the stages' swizzle atoms.
static_assert(1024 + 2 * ScanPolicy::kStageStride + (kExchangeInStage ? 0 : kExchangeBytes) + kSlotDecayBytes ==
                      lla_config::kScanFixedBytes &&
                  2 * kSlotElements == lla_config::kScanSlotBytes,
              "the host plan's scan shared memory sizes disagree with the kernel's layout");

// Descriptors (ptx/sm90.cuh) of the module's tiles.
// A SwizzledRows [chunk][K] tile as a K-major operand (its columns the product's K) ...
__device__ __forceinline__ WgmmaDescriptor k_major(const Bits* tile) { return matrix_descriptor(tile, 16, 1024, 1); }
// ... from column k0 (a multiple of 16: within an atom, the start moves by 32 bytes a step).
__device__ __forceinline__ WgmmaDescriptor k_major_at(WgmmaDescriptor tile, int k0) {
  return descriptor_plus(tile, (k0 / 64) * (kChunk * 64) + k0 % 64);
}
// The SwizzledRows v tile, one atom wide, as an N-major B (its rows the product's K) ...
static_assert(kBlockV == kAtomColumns<kBlockV>, "v: one atom across N");
__device__ __forceinline__ WgmmaDescriptor n_major_swizzled(const Bits* tile) {
  return matrix_descriptor(tile, 2 * kChunk * kBlockV, 16 * kBlockV, kBlockV == 64 ? 1 : 2);
}
// ... and the CoreMatrices slots [K][block_v] ...
__device__ __forceinline__ WgmmaDescriptor n_major(const Bits* slots) {
  return matrix_descriptor(slots, 16 * kBlockV, 128, 0);
}
// ... from row k0 (a multiple of 8: at it, both layouts have 8 whole rows before).
__device__ __forceinline__ WgmmaDescriptor n_major_at(WgmmaDescriptor tile, int k0) {
  return descriptor_plus(tile, k0 * kBlockV);
}

// Wgmma<N>: m64 nN k16, fp32 accumulators (lla_ptx::Wgmma, generated per N: see
// compiler/generator/wgmma_wrappers.h): a thread holds rows lane_group() (+ 8) of its warp's
// 16 and columns 8 j + 2 lane_in_group() (+ 1) in d[4 j .. 4 j + 3], the mma.sync accumulator
// layout.

// A warpgroup's share of a chunk: half of its keys (scores and P V), half of K (slot reads)
// and every other 64-row tile of K (slot formation); warpgroup g takes half g.
constexpr int kScoreColumns = kChunk / 2;
constexpr int kScoreRegs = kScoreColumns / 2;       // a thread's share of 64 x 32 scores
constexpr int kValueRegs = kBlockV / 2;             // ... of a 64 x block_v product
constexpr int kHalfKeySteps = kKeyDim / 32;         // 16-wide steps in half of K
constexpr int kKeyTiles = kKeyDim / 64;             // 64-row tiles of K in a slot
constexpr int kGroupTiles = (kKeyTiles + 1) / 2;    // ... a warpgroup forms (the last may be
                                                    // past K: formed from the last tile, dropped)

// This thread's rows of every 64-row product: the warp's 16 (row block rb).
__device__ __forceinline__ int row_block() { return (threadIdx.x >> 5) & 3; }
__device__ __forceinline__ int row_top() { return 16 * row_block() + lane_group(); }

// Decay, lambda and the causal mask on a thread's four scores of an 8-column group, in the mma
// accumulator order: rows top_row and top_row + 8 (g_top, g_bottom their prefix decays),
// columns column0 + 2 lane_in_group() (+ 1). Below the diagonal a 16 x 16 block's pairs all lie
// at the level of the highest bit in which its row and column blocks differ, so lambda is one
// value a row; on it each pair has its own level and the causal mask (selected, not branched);
// above it the scores are zero.
__device__ __forceinline__ void weigh_score_group(float* d, const ScanStage& s, int top_row, int column0,
                                                  float g_top, float g_bottom, float scale) {
  const int rb = top_row >> 4, block = column0 >> 4, bottom_row = top_row + 8;
  if (block < rb) {
    const int level = min(4 + bit_length(rb ^ block), kLevels - 1);
    const float w_top = scale * stage_lambda(s, top_row, level);
    const float w_bottom = scale * stage_lambda(s, bottom_row, level);
    const float2 gj = *reinterpret_cast<const float2*>(s.gc + column0 + 2 * lane_in_group());
    d[0] *= w_top * lla_exp2(g_top - gj.x);
    d[1] *= w_top * lla_exp2(g_top - gj.y);
    d[2] *= w_bottom * lla_exp2(g_bottom - gj.x);
    d[3] *= w_bottom * lla_exp2(g_bottom - gj.y);
  } else if (block == rb) {
#pragma unroll
    for (int x = 0; x < 4; ++x) {
      const int i = x < 2 ? top_row : bottom_row;
      const int col = column0 + 2 * lane_in_group() + (x & 1);
      const float w = scale * stage_lambda(s, i, min(lla_level(i, col), kLevels - 1)) *
                      lla_exp2((x < 2 ? g_top : g_bottom) - s.gc[col]);
      d[x] = col <= i ? d[x] * w : 0.0f;
    }
  } else {
#pragma unroll
    for (int x = 0; x < 4; ++x) d[x] = 0.0f;
  }
}

// Decay, lambda and the causal mask (weigh_score_group) on this warp's 16 rows of the
// warpgroup's scores.
__device__ __forceinline__ void weigh_scores(float (&sc)[kScoreRegs], const ScanStage& s, int half,
                                             float scale) {
  const int top_row = row_top();
  const float g_top = s.gc[top_row], g_bottom = s.gc[top_row + 8];
#pragma unroll
  for (int j = 0; j < kScoreColumns / 8; ++j)
    weigh_score_group(sc + 4 * j, s, top_row, kScoreColumns * half + 8 * j, g_top, g_bottom, scale);
}

// The K tile of the warpgroup's t-th slot tile (the last real one for a tile past K).
__device__ __forceinline__ int group_tile(int t, int half) { return min(2 * t + half, kKeyTiles - 1); }

// Operand A of slot formation, K^T diag(w) with w_i = exp(G_last - G_i), for this warp's rows
// of the warpgroup's tiles of K and each 16-token step: ldmatrix-transposed from the k tile.
__device__ __forceinline__ void slot_operands(unsigned (&a)[kGroupTiles][kChunk / 16][4], const ScanStage& s,
                                              int half) {
#pragma unroll
  for (int step = 0; step < kChunk / 16; ++step) {
    unsigned w[2];
    chunk_end_weights(w, s.gc, step);
#pragma unroll
    for (int t = 0; t < kGroupTiles; ++t) {
      load_a_transposed<SwizzledRows, kKeyDim>(a[t][step], s.k, 64 * group_tile(t, half) + 16 * row_block(),
                                               16 * step);
      weigh_columns(a[t][step], w);
    }
  }
}

// visit(t, i, row, column) for each pair a thread holds of a K x block_v state formed on the
// warpgroup's K tiles (half its warpgroup): state[t][i], state[t][i + 1] at (row, column) and
// (row, column + 1).
template <class Visit>
__device__ __forceinline__ void for_each_state_pair(int half, Visit visit) {
#pragma unroll
  for (int t = 0; t < kGroupTiles; ++t) {
    if (2 * t + half >= kKeyTiles) break;
#pragma unroll
    for (int n = 0; n < kBlockV / 8; ++n)
#pragma unroll
      for (int h = 0; h < 2; ++h)
        visit(t, 4 * n + 2 * h, 64 * (2 * t + half) + row_top() + 8 * h, 8 * n + 2 * lane_in_group());
  }
}

// state[t] (plus state[t] when `accumulate`) = the warpgroup's K tiles of K^T diag(w) V, A from
// slot_operands, B the chunk's v tile: issued and committed as one group.
__device__ __forceinline__ void issue_chunk_state(float (&state)[kGroupTiles][kValueRegs],
                                                  const unsigned (&a)[kGroupTiles][kChunk / 16][4],
                                                  WgmmaDescriptor v_tile, bool accumulate) {
  wgmma_fence();
#pragma unroll
  for (int t = 0; t < kGroupTiles; ++t)
#pragma unroll
    for (int step = 0; step < kChunk / 16; ++step)
      Wgmma<kBlockV>::template register_a<1>(state[t], a[t][step], n_major_at(v_tile, 16 * step),
                                             accumulate || step > 0);
  wgmma_commit();
}

// A piece's state for the split (mamba2_forward_scan_split.cuh), held as the next slot's state
// is: warpgroup g its K tiles g, g + 2, ...
struct WgmmaScanPolicy::PieceState {
  float tiles[kGroupTiles][kValueRegs];
};
// state = state exp(chunk decay) + K^T diag(w) V for the chunk in stage s, w_t = exp(G_last - G_t).
__device__ __forceinline__ void WgmmaScanPolicy::add_piece_chunk(PieceState& state, const ScanStage& s) {
  const int half = threadIdx.x >> 7;
  unsigned a[kGroupTiles][kChunk / 16][4];
  slot_operands(a, s, half);
  const float across = lla_exp2(s.gc[kChunk - 1]);
#pragma unroll
  for (int t = 0; t < kGroupTiles; ++t)
#pragma unroll
    for (int i = 0; i < kValueRegs; ++i) state.tiles[t][i] *= across;
  issue_chunk_state(state.tiles, a, n_major_swizzled(s.v), true);
  wgmma_wait<0>();
#pragma unroll
  for (int t = 0; t < kGroupTiles; ++t) settle(state.tiles[t]);
}
// The state into `out`, a [K][V] fp32 state at the block's column v0.
__device__ __forceinline__ void WgmmaScanPolicy::store_piece(const PieceState& state, float* out) {
  for_each_state_pair(threadIdx.x >> 7, [&](int t, int i, int row, int column) {
    *reinterpret_cast<float2*>(out + row * kValueDim + column) =
        make_float2(state.tiles[t][i], state.tiles[t][i + 1]);
  });
}

static_assert(ScanPolicyContract<ScanPolicy>::kHolds, "the scan policy");

// After chunk c, slot j = ctz(c + 1) on the warpgroup's tiles: the chunk's state (decayed to
// its end, chunk_decay its log2 decay) plus slots 0 .. j - 1, each decayed from its end to the
// chunk's, rounded once. Returns slot j's log2 decay. Slot by slot, each pass is independent
// loads and FMAs; pair by pair, every pair would branch on j.
__device__ __forceinline__ float store_slot(float (&state)[kGroupTiles][kValueRegs], Bits* slots, int j,
                                            const float* decay, float chunk_decay, int half) {
  float after = chunk_decay;
  for (int e = 0; e < j; ++e) {
    const float across = lla_exp2(after);
    after += decay[e];
    const Bits* slot = slots + e * kSlotElements;
    for_each_state_pair(half, [&](int t, int i, int row, int column) {
      const float2 f = unpack(pair_at(slot + CoreMatrices::at<kBlockV>(row, column)));
      state[t][i] = fmaf(across, f.x, state[t][i]);
      state[t][i + 1] = fmaf(across, f.y, state[t][i + 1]);
    });
  }
  Bits* target = slots + j * kSlotElements;
  for_each_state_pair(half, [&](int t, int i, int row, int column) {
    *reinterpret_cast<unsigned*>(target + CoreMatrices::at<kBlockV>(row, column)) =
        pack(state[t][i], state[t][i + 1]);
  });
  return after;
}

// Live slots whose products run at once in read_slots: two, but one where a warpgroup forms
// two tiles of the next slot at V tile 64 (K = 256), whose second buffer of accumulators would
// spill.
constexpr int kSlotsInFlight = kBlockV == 64 && kGroupTiles > 1 ? 1 : 2;

// sum over live slots e of diag(scale lambda^(log2 C + 1 + e) exp(G_i + gap)) Q N_e on the
// warpgroup's half of K, gap the log decay from the slot's end to the chunk's start, added to
// `acc`. Live slots go kSlotsInFlight at a time (with two, the second product
// runs while the first is scaled in); a short last group repeats its first slot and drops the
// copies.
// (Every wait is on the loop's one path: a wait under a branch the compiler cannot prove
// warpgroup-uniform serializes every wgmma, as does touching the accumulators of a group
// committed before the loop, which is complete only after the last wait.)
__device__ __forceinline__ void read_slots(float (&acc)[kValueRegs], const ScanStage& s,
                                           WgmmaDescriptor q_tile, WgmmaDescriptor slot_tiles, int c,
                                           const float* decay, int half, float scale) {
  const int top_row = row_top(), bottom_row = top_row + 8;
  const float g_top = s.gc[top_row], g_bottom = s.gc[bottom_row];
  float part[kSlotsInFlight][kValueRegs];
  float gap = 0.0f;
  const auto product = [&](float (&p)[kValueRegs], int e) {
    const WgmmaDescriptor slot = descriptor_plus(slot_tiles, e * kSlotElements);
#pragma unroll
    for (int i = 0; i < kHalfKeySteps; ++i) {
      const int k0 = 16 * (kHalfKeySteps * half + i);
      Wgmma<kBlockV>::template shared_a<1>(p, k_major_at(q_tile, k0), n_major_at(slot, k0), i > 0);
    }
    wgmma_commit();
  };
  // Slot e's factors of rows top_row and bottom_row; the gap then moves past the slot.
  const auto row_factors = [&](float (&f)[2], int e) {
    f[0] = chunk_level_factor(s, top_row, e, g_top, gap, scale);
    f[1] = chunk_level_factor(s, bottom_row, e, g_bottom, gap, scale);
    gap += decay[e];
  };
  for (unsigned live = c & ((1u << kSlots) - 1); live != 0;) {
    int e[kSlotsInFlight];
    bool real[kSlotsInFlight];
#pragma unroll
    for (int i = 0; i < kSlotsInFlight; ++i) {
      real[i] = live != 0;
      e[i] = real[i] ? __ffs(live) - 1 : e[0];
      live &= live - 1;
    }
    // The factors first: their shared loads, issued behind the products, would queue behind
    // the products' own reads of shared memory.
    float f[kSlotsInFlight][2];
#pragma unroll
    for (int i = 0; i < kSlotsInFlight; ++i) row_factors(f[i], e[i]);
    wgmma_fence();
#pragma unroll
    for (int i = 0; i < kSlotsInFlight; ++i) product(part[i], e[i]);
#pragma unroll
    for (int i = 0; i < kSlotsInFlight; ++i) {
      if (kSlotsInFlight - 1 - i == 1) wgmma_wait<1>();
      else wgmma_wait<0>();
      if (!real[i]) continue;
      settle(part[i]);
#pragma unroll
      for (int x = 0; x < kValueRegs; ++x) acc[x] = fmaf(f[i][(x >> 1) & 1], part[i][x], acc[x]);
    }
  }
  wgmma_wait<0>();
}

__device__ __forceinline__ int exchange_at(int half, int n, int h) {
  return (half * kChunk + row_top() + 8 * h) * kExchangePitch + 8 * n + 2 * lane_in_group();
}
__device__ __forceinline__ void exchange_barrier() { named_barrier<1, 256>(); }

// kScanFixedBytes + slots * kScanSlotBytes of dynamic shared memory, slots = bit_length of
// the last chunk. grid (V/block_v, B*H, segments), kScanThreads threads (two warpgroups);
// segments after the first start from seeds (scan_segment, load_seeds).
extern "C" __global__ void __launch_bounds__(kScanThreads, 1)
    lla_mamba2_scan(const Element* __restrict__ q, const Element* __restrict__ k,
                    const Element* __restrict__ v, const float* __restrict__ g,
                    const Element* __restrict__ lambda, Element* __restrict__ o,
                    const float* __restrict__ seeds, const float* __restrict__ seed_decays, int seq_len,
                    int heads, int groups, float scale, int segment_chunks, int seeds_per_head) {
  extern __shared__ __align__(128) unsigned char scan_shared[];
  unsigned char* scan_smem = ScanPolicy::aligned_stages(scan_shared);
  float* own_exchange = reinterpret_cast<float*>(scan_smem + 2 * ScanPolicy::kStageStride);
  float* decay = reinterpret_cast<float*>(scan_smem + 2 * ScanPolicy::kStageStride +
                                          (kExchangeInStage ? 0 : kExchangeBytes));
  Bits* slots = reinterpret_cast<Bits*>(reinterpret_cast<unsigned char*>(decay) + kSlotDecayBytes);

  const ScanBlock block = scan_block(q, k, v, g, lambda, seq_len, heads, groups);
  const ScanSegment segment = scan_segment((seq_len + kChunk - 1) / kChunk, segment_chunks);
  const int half = threadIdx.x >> 7;  // the warpgroup
  const WgmmaDescriptor slot_tiles = n_major(slots);

  begin_segment<ScanPolicy>(block, segment, slots, decay, seeds, seed_decays, seq_len, heads, groups,
                            segment_chunks, seeds_per_head, ScanPolicy::chunk_stage(scan_smem, 0));

  for (int c = segment.first; c < segment.end; ++c) {
    const auto [s, next, tokens, more] = begin_chunk<ScanPolicy>(scan_smem, segment, c, seq_len);

    // Intra-chunk levels on the warpgroup's half of the keys: S = Q K^T, weights, O = P V.
    const WgmmaDescriptor q_tile = k_major(s.q), keys = k_major(s.k + kScoreColumns * half * 64);
    const WgmmaDescriptor v_tile = n_major_swizzled(s.v);
    float sc[kScoreRegs];
    wgmma_fence();
#pragma unroll
    for (int ks = 0; ks < kKeyDim / 16; ++ks)
      Wgmma<kScoreColumns>::template shared_a<0>(sc, k_major_at(q_tile, 16 * ks), k_major_at(keys, 16 * ks),
                                                  ks > 0);
    wgmma_commit();
    // The next chunk's copies go out while Q K^T runs (after the last chunk too, as zeros into
    // the free stage: under a branch they would serialize the wgmma).
    const ChunkRows next_rows = load_chunk<SwizzledRows>(block, c + 1, seq_len, heads, groups, next);
    wgmma_wait<0>();
    settle(sc);
    weigh_scores(sc, s, half, scale);
    unsigned p[kScoreColumns / 16][4];
#pragma unroll
    for (int step = 0; step < kScoreColumns / 16; ++step) {
      const float* d = sc + 8 * step;
      p[step][0] = pack(d[0], d[1]);
      p[step][1] = pack(d[2], d[3]);
      p[step][2] = pack(d[4], d[5]);
      p[step][3] = pack(d[6], d[7]);
    }
    float acc[kValueRegs], state[kGroupTiles][kValueRegs];
    wgmma_fence();
#pragma unroll
    for (int step = 0; step < kScoreColumns / 16; ++step)
      Wgmma<kBlockV>::template register_a<1>(
          acc, p[step], n_major_at(v_tile, kScoreColumns * half + 16 * step), step > 0);
    wgmma_commit();
    // The next slot's state (after the last chunk too, then dropped: a wgmma under a branch
    // the compiler cannot prove warpgroup-uniform serializes every wgmma). Its operand A is
    // built while P V runs, which then frees P's registers for it.
    unsigned a[kGroupTiles][kChunk / 16][4];
    slot_operands(a, s, half);
    wgmma_wait<0>();
    settle(acc);
    issue_chunk_state(state, a, v_tile, false);

    // Chunk levels on the warpgroup's half of K.
    read_slots(acc, s, q_tile, slot_tiles, c, decay, half, scale);
#pragma unroll
    for (int t = 0; t < kGroupTiles; ++t) settle(state[t]);

    // Hand the other warpgroup its half of the columns, take this one's, and write it.
    float* exchange = kExchangeInStage ? reinterpret_cast<float*>(s.q) : own_exchange;
    if (kExchangeInStage) exchange_barrier();  // both are done with the tiles
#pragma unroll
    for (int n = 0; n < kBlockV / 8; ++n) {
      if (n / (kBlockV / 16) == half) continue;
      const int m = n % (kBlockV / 16);
      *reinterpret_cast<float2*>(exchange + exchange_at(1 - half, m, 0)) = make_float2(acc[4 * n], acc[4 * n + 1]);
      *reinterpret_cast<float2*>(exchange + exchange_at(1 - half, m, 1)) =
          make_float2(acc[4 * n + 2], acc[4 * n + 3]);
    }
    exchange_barrier();
    unsigned* chunk_o = chunk_output(o, block, c, seq_len, heads);
    const int top_row = row_top(), bottom_row = top_row + 8;
#pragma unroll
    for (int n = 0; n < kBlockV / 8; ++n) {
      if (n / (kBlockV / 16) != half) continue;
      const int m = n % (kBlockV / 16);
      const float2 top = *reinterpret_cast<const float2*>(exchange + exchange_at(half, m, 0));
      const float2 bottom = *reinterpret_cast<const float2*>(exchange + exchange_at(half, m, 1));
      const int col = block.v0 + 8 * n + 2 * lane_in_group();
      store_output(chunk_o, top_row, col, tokens, heads, acc[4 * n] + top.x, acc[4 * n + 1] + top.y);
      store_output(chunk_o, bottom_row, col, tokens, heads, acc[4 * n + 2] + bottom.x, acc[4 * n + 3] + bottom.y);
    }

    if (more) {
      // Slot j is not live in chunk c, so no warp read it.
      const int j = __ffs(c + 1) - 1;
      const float after = store_slot(state, slots, j, decay, s.gc[kChunk - 1], half);
      fence_proxy_async();
      if (threadIdx.x == 0) decay[j] = after;
      store_chunk_rows(next_rows, next.gc, next.lambda);
    }
  }
}

}  // namespace lla_mamba2
