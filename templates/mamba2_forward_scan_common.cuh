// Log-linear Mamba-2 forward, what both scan kernels share (mamba2_forward_scan.cuh on
// mma.sync, mamba2_forward_scan_wgmma.cuh on Hopper warpgroups): the block shape, the
// asynchronous copy of a chunk's q, k and v tiles into shared memory in a layout of the
// kernel's choosing, the chunk's g and lambda rows, and o's stores.
//
// One thread block per (sequence, head, block_v columns of V) walks the chunks in order; the
// next chunk's tiles arrive by cp.async while this one computes, and its g and lambda rows
// wait in registers. Decays are kept in log2 units, so each is one lla_exp2.

namespace lla_mamba2 {

// Two warps per 16 rows of the chunk (the module's kWarps is the mma kernels' one per 16 rows).
constexpr int kRowBlocks = kChunk / 16;
constexpr int kScanWarps = 2 * kRowBlocks;
constexpr int kScanThreads = 32 * kScanWarps;
static_assert(lla_config::kWarps == kRowBlocks, "scan: the module's warps are one per 16 rows");

// Chunk levels a state slot can hold: every level of kLevels above the in-chunk ones.
constexpr int kSlots = kLevels > kIntraLevels ? kLevels - kIntraLevels : 1;

// The library's 16-bit values at the module's Element.
__device__ __forceinline__ float bits_float(Bits b) { return lla_ptx::bits_float<Element>(b); }
__device__ __forceinline__ float2 unpack(unsigned pair) { return lla_ptx::unpack<Element>(pair); }

// The weights w_i = exp(G_last - G_i) that decay rows of a chunk to its end (gc: prefix log2
// decays), at this lane's operand columns of 16-row step `step`, as pairs rounded to 16 bits:
// w[0] at columns 2t, 2t + 1, w[1] at 2t + 8, 2t + 9.
__device__ __forceinline__ void chunk_end_weights(unsigned (&w)[2], const float* gc, int step) {
  const float g_last = gc[kChunk - 1];
  const float* at = gc + 16 * step + 2 * lane_in_group();
#pragma unroll
  for (int h = 0; h < 2; ++h) w[h] = pack(lla_exp2(g_last - at[8 * h]), lla_exp2(g_last - at[8 * h + 1]));
}
// An operand A of one 16-row step with the chunk's rows as its columns, each column times its
// weight (chunk_end_weights), two at a time.
__device__ __forceinline__ void weigh_columns(unsigned (&a)[4], const unsigned (&w)[2]) {
#pragma unroll
  for (int x = 0; x < 4; ++x) a[x] = multiply_pairs(Element{}, a[x], w[x >> 1]);
}

// Where a chunk's rows start in the inputs, for this block's (sequence, head, V tile): the
// per-chunk copies add only in-chunk offsets to these.
struct ChunkInputs {
  const Element* q;       // row 0, this head's group
  const Element* k;
  const Element* v;       // row 0, this head, column v0
  const float* g;         // row 0, this head
  const Element* lambda;  // row 0, this head, level 0
};
__device__ __forceinline__ ChunkInputs advance(ChunkInputs in, long long rows, int heads, int groups) {
  const long long key = rows * groups * kKeyDim;
  const long long head_rows = rows * heads;
  in.q += key;
  in.k += key;
  in.v += head_rows * kValueDim;
  in.g += head_rows;
  in.lambda += head_rows * kLevels;
  return in;
}

// The next chunk's g and lambda, loaded into registers while this chunk computes.
constexpr int kLambdaPerThread = (kChunk * kLevels + kScanThreads - 1) / kScanThreads;
constexpr int kDecayPerLane = (kChunk + 31) / 32;
struct ChunkDecays {
  float g[kDecayPerLane];  // warp 0's lanes, kDecayPerLane consecutive rows each
};
struct ChunkRows {
  Bits lambda[kLambdaPerThread];
  ChunkDecays decays;
};

// g of the chunk's rows from `g` (its row 0, this head), rows past `tokens` zero.
__device__ ChunkDecays load_chunk_decays(const float* g, int tokens, int heads) {
  ChunkDecays r;
#pragma unroll
  for (int u = 0; u < kDecayPerLane; ++u) {
    const int i = lane() * kDecayPerLane + u;
    r.g[u] = threadIdx.x < 32 && i < min(tokens, kChunk) ? g[i * heads] : 0.0f;
  }
  return r;
}

__device__ ChunkRows load_chunk_rows(const ChunkInputs& in, int tokens, int heads) {
  ChunkRows r;
#pragma unroll
  for (int u = 0; u < kLambdaPerThread; ++u) {
    const int idx = threadIdx.x + u * kScanThreads, i = idx / kLevels;
    r.lambda[u] = idx < kChunk * kLevels && i < tokens
                      ? in.lambda[i * heads * kLevels + idx % kLevels].bits
                      : Bits{0};
  }
  r.decays = load_chunk_decays(in.g, tokens, heads);
  return r;
}

// g as its inclusive prefix sum over the chunk in log2 units (`gc`, by warp 0), so every decay
// is one lla_exp2.
__device__ void store_decay_prefix(const ChunkDecays& r, float* gc) {
  if (threadIdx.x >= 32) return;
  float local[kDecayPerLane], total = 0.0f;
#pragma unroll
  for (int u = 0; u < kDecayPerLane; ++u) local[u] = total += 1.44269504088896341f * r.g[u];
  float before = total;
#pragma unroll
  for (int d = 1; d < 32; d *= 2) {
    const float x = __shfl_up_sync(0xffffffffu, before, d);
    if (lane() >= d) before += x;
  }
  before -= total;
#pragma unroll
  for (int u = 0; u < kDecayPerLane; ++u) {
    const int i = lane() * kDecayPerLane + u;
    if (i < kChunk) gc[i] = before + local[u];
  }
}

// Into shared memory: lambda ([chunk][levels]) as it is, g's prefix sums (store_decay_prefix).
__device__ void store_chunk_rows(const ChunkRows& r, float* gc, Bits* lambda) {
#pragma unroll
  for (int u = 0; u < kLambdaPerThread; ++u) {
    const int idx = threadIdx.x + u * kScanThreads;
    if (idx < kChunk * kLevels) lambda[idx] = r.lambda[u];
  }
  store_decay_prefix(r.decays, gc);
}

// One chunk's inputs in shared memory, at `base`: q and k tiles of kKeyTile elements, a v tile
// of kValueTile (each in the kernel's layout), then g's prefix sums and lambda.
struct ScanStage {
  Bits* q;       // [chunk][K]
  Bits* k;       // [chunk][K]
  Bits* v;       // [chunk][block_v]
  float* gc;     // [chunk] cumulative log decay within the chunk, in log2 units (lla_exp2)
  Bits* lambda;  // [chunk][levels]
};
template <int kKeyTile, int kValueTile>
constexpr int kScanStageBytes = 2 * (2 * kKeyTile + kValueTile) + 4 * kChunk + 2 * kChunk * kLevels;
template <int kKeyTile, int kValueTile>
__device__ ScanStage scan_stage(unsigned char* base) {
  ScanStage s;
  s.q = reinterpret_cast<Bits*>(base);
  s.k = s.q + kKeyTile;
  s.v = s.k + kKeyTile;
  s.gc = reinterpret_cast<float*>(s.v + kValueTile);
  s.lambda = reinterpret_cast<Bits*>(s.gc + kChunk);
  return s;
}
__device__ __forceinline__ float stage_lambda(const ScanStage& s, int i, int level) {
  return bits_float(s.lambda[i * kLevels + level]);
}

// The row factor of chunk level e's read on row `row` (g_row its prefix decay): scale
// lambda^(log2 C + 1 + e) exp(G_row + gap), gap the log2 decay from the slot's end to the
// chunk's start.
__device__ __forceinline__ float chunk_level_factor(const ScanStage& s, int row, int e, float g_row, float gap,
                                                    float scale) {
  return scale * stage_lambda(s, row, kIntraLevels + e) * lla_exp2(g_row + gap);
}

// One input tile of the chunk, [chunk][kColumns] (rows past the sequence zero), asynchronously
// in 16-byte parts, consecutive lanes along a row; Layout::at<kColumns>(row, column) is where
// an element goes in the tile. A copied global line is written to shared memory as it
// arrives, so the layout must keep a row's 128 bytes in distinct banks (or each 16-byte part
// is a write of its own, and the copies back up the load unit). Each thread copies the same
// parts of every chunk, so their places reduce to shifts of its index.
template <class Layout, int kColumns>
__device__ __forceinline__ void copy_tile(Bits* tile, const Element* rows, int row_stride, int tokens) {
  constexpr int kParts = kColumns / 8;  // a row's
#pragma unroll
  for (int u = 0; u < (kChunk * kParts + kScanThreads - 1) / kScanThreads; ++u) {
    const int idx = threadIdx.x + u * kScanThreads;
    if (kChunk * kParts % kScanThreads != 0 && idx >= kChunk * kParts) break;
    const int i = idx / kParts, d0 = 8 * (idx % kParts);
    const bool token = i < tokens;
    copy_async_16(tile + Layout::template at<kColumns>(i, d0), rows + (token ? i * row_stride + d0 : 0),
                  token);
  }
}

// What a block walks: sequence b, head, the V tile from column v0, and where the sequence's
// inputs start.
struct ScanBlock {
  int b, head, v0;
  ChunkInputs inputs;
};
__device__ ScanBlock scan_block(const Element* q, const Element* k, const Element* v, const float* g,
                                const Element* lambda, int seq_len, int heads, int groups) {
  ScanBlock block;
  block.b = blockIdx.y / heads;
  block.head = blockIdx.y % heads;
  block.v0 = blockIdx.x * kBlockV;
  const int group = block.head / (heads / groups);
  const ChunkInputs head_inputs = {q + group * kKeyDim, k + group * kKeyDim, v + block.head * kValueDim + block.v0,
                                   g + block.head, lambda + block.head * kLevels};
  block.inputs = advance(head_inputs, static_cast<long long>(block.b) * seq_len, heads, groups);
  return block;
}

// The chunks a block walks: [first, end) of its segment, blockIdx.z (one segment, the whole
// sequence, unless the plan splits it: mamba2_forward_scan_split.cuh).
struct ScanSegment {
  int first, end;
};
__device__ __forceinline__ ScanSegment scan_segment(int chunks, int segment_chunks) {
  const int first = blockIdx.z * segment_chunks;
  return {first, min(first + segment_chunks, chunks)};
}

// A policy's chunk stages (a policy derives from this): tiles of kKeyTileElements (q, k) and
// kValueTileElements (v), stages on kAlignment bytes, one after another.
template <int kKeyTileElements, int kValueTileElements, int kAlignment>
struct ScanStages {
  static constexpr int kKeyTile = kKeyTileElements, kValueTile = kValueTileElements;
  static constexpr int kStageAlignment = kAlignment;
  static constexpr int kStageStride =
      (kScanStageBytes<kKeyTile, kValueTile> + kStageAlignment - 1) / kStageAlignment * kStageAlignment;
  __device__ static __forceinline__ ScanStage chunk_stage(unsigned char* stages, int i) {
    return scan_stage<kKeyTile, kValueTile>(stages + i * kStageStride);
  }
};

// The contract between the walk here (and the split kernels of mamba2_forward_scan_split.cuh)
// and a scan module (mamba2_forward_scan.cuh on mma.sync, mamba2_forward_scan_wgmma.cuh on
// warpgroups). The module defines a policy struct and names it ScanPolicy:
//   ChunkTiles              the Layout its chunk tiles arrive in (copy_tile; ptx/sm80.cuh)
//   Slots                   its slots' layout: kElements a slot, at(kk, vv) an element's place
//   kKeyTile, kValueTile    elements of a chunk's key (q, k) and value tiles
//   kStageAlignment         bytes a chunk stage starts on
//   kStageStride            bytes from one chunk stage to the next
//   aligned_stages(shared)  where the stages start in the block's dynamic shared memory
//   chunk_stage(stages, i)  stage i
//   fence_chunk_tiles()     publishes cp.async's writes to a stage to the module's products
//   PieceState, add_piece_chunk(state, stage), store_piece(state, out)
//                           a split piece's state, a chunk added to it, and its store as fp32
//                           [K][V] at the block's V tile
// ScanPolicyContract<P>::kHolds checks it; each module and the split assert it.
template <class P>
struct ScanPolicyContract {
  static_assert(P::kStageAlignment % 16 == 0, "scan policy: stages start on 16 bytes (cp.async, ldmatrix)");
  static_assert(P::kStageStride % P::kStageAlignment == 0 &&
                    P::kStageStride >= kScanStageBytes<P::kKeyTile, P::kValueTile>,
                "scan policy: a stage holds a chunk's tiles, g's prefix sums and lambda");
  static_assert(P::kKeyTile >= kChunk * kKeyDim && P::kValueTile >= kChunk * kBlockV,
                "scan policy: the tiles hold a chunk's rows");
  static_assert(P::Slots::kElements >= kKeyDim * kBlockV, "scan policy: a slot holds K x block_v");
  static_assert(lla_same_type<decltype(&P::aligned_stages), unsigned char* (*)(unsigned char*)>::value,
                "scan policy: unsigned char* aligned_stages(unsigned char* shared)");
  static_assert(lla_same_type<decltype(&P::chunk_stage), ScanStage (*)(unsigned char*, int)>::value,
                "scan policy: ScanStage chunk_stage(unsigned char* stages, int i)");
  static_assert(lla_same_type<decltype(&P::fence_chunk_tiles), void (*)()>::value,
                "scan policy: void fence_chunk_tiles()");
  static_assert(lla_same_type<decltype(&P::add_piece_chunk),
                              void (*)(typename P::PieceState&, const ScanStage&)>::value,
                "scan policy: void add_piece_chunk(PieceState&, const ScanStage&)");
  static_assert(lla_same_type<decltype(&P::store_piece), void (*)(const typename P::PieceState&, float*)>::value,
                "scan policy: void store_piece(const PieceState&, float* out)");
  static constexpr bool kHolds = true;
};

// Chunk c of the walk: its stage `s` (stages alternate from the segment's first chunk, which
// begin_segment loads; from a chunk's own parity, 64-wide V tiles spill), the other stage for
// chunk c + 1, its tokens and whether a chunk follows in the segment. Returns once chunk c's
// tiles and the slots formed after chunk c - 1 are in place.
struct ChunkStep {
  ScanStage s, next;
  int tokens;
  bool more;
};
template <class Policy>
__device__ __forceinline__ ChunkStep begin_chunk(unsigned char* stages, const ScanSegment& segment, int c,
                                                 int seq_len) {
  const int stage = (c - segment.first) & 1;
  const ChunkStep step = {Policy::chunk_stage(stages, stage), Policy::chunk_stage(stages, stage ^ 1),
                          seq_len - c * kChunk, c + 1 < segment.end};
  copy_async_wait_all();
  Policy::fence_chunk_tiles();
  __syncthreads();
  return step;
}

// A segment from chunk `first` > 0 starts from seeds: the Fenwick slots of chunks [0, first),
// one per set bit of `first`, lowest first, after those of the segments before it in the
// (sequence, head)'s list of seeds_per_head. Slot e at SlotLayout::at(kk, vv) of slot e's
// SlotLayout::kElements; decay[e] (shared) its log2 decay.
template <class SlotLayout>
__device__ void load_seeds(Bits* slots, float* decay, const float* __restrict__ seeds,
                           const float* __restrict__ seed_decays, const ScanBlock& block, int heads,
                           int first, int segment_chunks, int seeds_per_head) {
  if (first == 0) return;
  int seed = (block.b * heads + block.head) * seeds_per_head;
  for (int s = 1; s < static_cast<int>(blockIdx.z); ++s) seed += __popc(s * segment_chunks);
  for (int e = 0; e < kSlots; ++e) {
    if (!((first >> e) & 1)) continue;
    const float* values = seeds + static_cast<size_t>(seed) * kStateElements + block.v0;
    // Four columns a load (the workspace and every row of V tiles are 16-byte aligned), several
    // loads in flight.
#pragma unroll 4
    for (int idx = threadIdx.x; idx < kKeyDim * kBlockV / 4; idx += kScanThreads) {
      const int kk = idx / (kBlockV / 4), vv = 4 * (idx % (kBlockV / 4));
      const float4 x = *reinterpret_cast<const float4*>(values + kk * kValueDim + vv);
      Bits* slot = slots + e * SlotLayout::kElements;
      slot[SlotLayout::at(kk, vv)] = to_bits(x.x);
      slot[SlotLayout::at(kk, vv + 1)] = to_bits(x.y);
      slot[SlotLayout::at(kk, vv + 2)] = to_bits(x.z);
      slot[SlotLayout::at(kk, vv + 3)] = to_bits(x.w);
    }
    if (threadIdx.x == 0) decay[e] = seed_decays[seed];
    ++seed;
  }
}

// The chunk's q, k and v tiles, one cp.async group.
template <class Layout>
__device__ void copy_chunk_tiles(const ChunkInputs& in, int tokens, int heads, int groups, Bits* q,
                                 Bits* k, Bits* v) {
  copy_tile<Layout, kKeyDim>(q, in.q, groups * kKeyDim, tokens);
  copy_tile<Layout, kKeyDim>(k, in.k, groups * kKeyDim, tokens);
  copy_tile<Layout, kBlockV>(v, in.v, heads * kValueDim, tokens);
  copy_async_commit();
}

// Chunk c into `stage`, rows past the sequence as zeros: its tiles asynchronously, its g and
// lambda rows returned (for store_chunk_rows once the stage is free). The chunk's pointers
// come from the block's fixed ones each time: pointers carried across chunks hold registers
// that 64-wide V tiles need, which then spill.
template <class Layout>
__device__ ChunkRows load_chunk(const ScanBlock& block, int c, int seq_len, int heads, int groups,
                                const ScanStage& stage) {
  const ChunkInputs in = advance(block.inputs, static_cast<long long>(c) * kChunk, heads, groups);
  const int tokens = seq_len - c * kChunk;
  copy_chunk_tiles<Layout>(in, tokens, heads, groups, stage.q, stage.k, stage.v);
  return load_chunk_rows(in, tokens, heads);
}

// The slots' log2 decays, in shared memory before the slots (in registers, 64-wide V tiles
// spill).
constexpr int kSlotDecayBytes = (4 * kSlots + 15) / 16 * 16;

// A block's start: its segment's seeds into the slots and decays (load_seeds), then the
// segment's first chunk into `first`, the stage the walk starts from (begin_chunk's stage 0).
template <class Policy>
__device__ void begin_segment(const ScanBlock& block, const ScanSegment& segment, Bits* slots, float* decay,
                              const float* __restrict__ seeds, const float* __restrict__ seed_decays,
                              int seq_len, int heads, int groups, int segment_chunks, int seeds_per_head,
                              const ScanStage& first) {
  load_seeds<typename Policy::Slots>(slots, decay, seeds, seed_decays, block, heads, segment.first,
                                     segment_chunks, seeds_per_head);
  store_chunk_rows(load_chunk<typename Policy::ChunkTiles>(block, segment.first, seq_len, heads, groups, first),
                   first.gc, first.lambda);
}

// After chunk c, c + 1 carries into bit j = ctz(c + 1): slot j becomes slots 0 .. j - 1 and
// chunk c, each decayed to chunk c's end. across[e] is the factor from slot e's end to chunk
// c's (0 from j on); the result is slot j's total log2 decay. chunk_decay: chunk c's.
__device__ __forceinline__ float carry_decays(float (&across)[kSlots], const float* decay, int j,
                                              float chunk_decay) {
  float after = chunk_decay;
#pragma unroll
  for (int e = 0; e < kSlots; ++e) {
    across[e] = 0.0f;
    if (e < j) {
      across[e] = lla_exp2(after);
      after += decay[e];
    }
  }
  return after;
}

// A pair of the slot being formed (x, y at element `at` of a slot; slots kSlotElements apart)
// plus the slots below j, each times across[e] (carry_decays).
template <int kSlotElements>
__device__ __forceinline__ void absorb_slots(float& x, float& y, const Bits* slots, int at, int j,
                                             const float* across) {
#pragma unroll
  for (int e = 0; e < kSlots; ++e) {
    if (e >= j) break;
    const float2 f = unpack(pair_at(slots + e * kSlotElements + at));
    x = fmaf(across[e], f.x, x);
    y = fmaf(across[e], f.y, y);
  }
}

// o as pairs of 16-bit elements, at row 0 of chunk c, column 0 of the block's head.
__device__ unsigned* chunk_output(Element* o, const ScanBlock& block, int c, int seq_len, int heads) {
  return reinterpret_cast<unsigned*>(
      o + ((static_cast<long long>(block.b) * seq_len + c * kChunk) * heads + block.head) * kValueDim);
}
// Columns col, col + 1 (even, in the block's head) of the chunk's row, rounded once; rows past
// the sequence are not written.
__device__ __forceinline__ void store_output(unsigned* chunk_o, int row, int col, int tokens, int heads,
                                             float x, float y) {
  if (row < tokens) chunk_o[(row * heads * kValueDim + col) / 2] = pack(x, y);
}

}  // namespace lla_mamba2
