// Log-linear Mamba-2 forward, the scan split along the sequence: where one block per
// (sequence, head, V tile) leaves SMs idle or a last wave half empty, the plan cuts each
// sequence into segments of segment_chunks chunks, and a scan block walks one segment
// (mamba2_forward_scan.cuh, mamba2_forward_scan_wgmma.cuh) after loading its seeds: the Fenwick
// slots of every chunk before it (scan_common.cuh's load_seeds). Chunk c's slot e covers an
// aligned block of 2^e chunks, so the seeds of a segment from chunk `first` are sums over the
// aligned blocks of its set bits. Two kernels build them before the scan:
//
// lla_mamba2_scan_pieces: the states of pieces of piece_chunks chunks (a power of two that
//   divides segment_chunks, so every seed block is a run of whole pieces), each piece's
//   sum over its tokens t of exp(G_end - G_t) k_t^T v_t, in parallel over every piece before
//   the last segment;
// lla_mamba2_scan_seeds: per four state elements, the Fenwick walk over the pieces (the scan's
//   slot rule one level of pieces up), handing out the live slots at each segment's start.
//
// Pieces and seeds are fp32 [K][V] in the workspace; a seed is rounded to 16 bits when it enters
// the scan's slots, as the scan rounds its own slots.

namespace lla_mamba2 {

// The scan module before this file names its policy (mamba2_forward_scan_common.cuh's contract).
static_assert(ScanPolicyContract<ScanPolicy>::kHolds, "the split needs the scan module's policy");
using ChunkTiles = ScanPolicy::ChunkTiles;

// A piece's chunks go through kPieceStages stages of k and v tiles and g's prefix sums (in the
// scan's layout), kPieceStages - 1 chunks in flight while one computes: a chunk is little work
// against its loads. They fit in the scan's chunk stages (which hold q besides).
constexpr int kPieceStages = 3;
constexpr int kPieceStageBytes =
    (2 * (ScanPolicy::kKeyTile + ScanPolicy::kValueTile) + 4 * kChunk + ScanPolicy::kStageAlignment - 1) /
    ScanPolicy::kStageAlignment * ScanPolicy::kStageAlignment;
static_assert(1024 + kPieceStages * kPieceStageBytes <= lla_config::kScanFixedBytes,
              "the pieces' stages fit in the scan's fixed shared memory");
__device__ __forceinline__ ScanStage piece_stage(unsigned char* stages, int i) {
  ScanStage s = {};
  s.k = reinterpret_cast<Bits*>(stages + i * kPieceStageBytes);
  s.v = s.k + ScanPolicy::kKeyTile;
  s.gc = reinterpret_cast<float*>(s.v + ScanPolicy::kValueTile);
  return s;
}

// grid (V/block_v, B*H, pieces), kScanThreads threads, kScanFixedBytes of dynamic shared memory:
// columns [v0, v0 + block_v) of piece p's state, chunks [p piece_chunks, (p + 1) piece_chunks)
// (whole chunks: pieces lie before the last segment), into pieces[(b H + h) pieces + p] ([K][V]
// fp32), and from the first V tile its log2 decay.
extern "C" __global__ void __launch_bounds__(kScanThreads)
    lla_mamba2_scan_pieces(const Element* __restrict__ k, const Element* __restrict__ v,
                           const float* __restrict__ g, float* __restrict__ pieces,
                           float* __restrict__ piece_decays, int seq_len, int heads, int groups,
                           int piece_chunks) {
  extern __shared__ __align__(128) unsigned char split_shared[];
  unsigned char* stages = ScanPolicy::aligned_stages(split_shared);
  const int head = blockIdx.y % heads, group = head / (heads / groups), v0 = blockIdx.x * kBlockV;
  const long long row0 = static_cast<long long>(blockIdx.y / heads) * seq_len +
                         static_cast<long long>(blockIdx.z) * piece_chunks * kChunk;
  const Element* k_rows = k + (row0 * groups + group) * kKeyDim;
  const Element* v_rows = v + (row0 * heads + head) * kValueDim + v0;
  const float* g_rows = g + row0 * heads + head;
  // Chunk i of the piece into its stage: k and v tiles asynchronously (one group, empty past the
  // piece, so that every iteration commits one), g returned.
  const auto load = [&](int i) {
    ChunkDecays decays = {};
    if (i < piece_chunks) {
      const ScanStage stage = piece_stage(stages, i % kPieceStages);
      const long long rows = static_cast<long long>(i) * kChunk;
      copy_tile<ChunkTiles, kKeyDim>(stage.k, k_rows + rows * groups * kKeyDim, groups * kKeyDim, kChunk);
      copy_tile<ChunkTiles, kBlockV>(stage.v, v_rows + rows * heads * kValueDim, heads * kValueDim, kChunk);
      decays = load_chunk_decays(g_rows + rows * heads, kChunk, heads);
    }
    copy_async_commit();
    return decays;
  };

  ScanPolicy::PieceState state = {};  // decayed to the end of the chunks so far
  float total = 0.0f;     // their log2 decay
#pragma unroll
  for (int i = 0; i < kPieceStages - 1; ++i) store_decay_prefix(load(i), piece_stage(stages, i).gc);
  for (int i = 0; i < piece_chunks; ++i) {
    const ScanStage s = piece_stage(stages, i % kPieceStages);
    copy_async_wait<kPieceStages - 2>();
    ScanPolicy::fence_chunk_tiles();
    __syncthreads();  // chunk i is in place, and every warp is done with chunk i - 1's stage
    const ChunkDecays ahead = load(i + kPieceStages - 1);
    total += s.gc[kChunk - 1];
    ScanPolicy::add_piece_chunk(state, s);
    if (i + kPieceStages - 1 < piece_chunks)
      store_decay_prefix(ahead, piece_stage(stages, (i + kPieceStages - 1) % kPieceStages).gc);
  }

  const size_t piece = static_cast<size_t>(blockIdx.y) * gridDim.z + blockIdx.z;
  ScanPolicy::store_piece(state, pieces + piece * kStateElements + v0);
  if (blockIdx.x == 0 && threadIdx.x == 0) piece_decays[piece] = total;
}

// grid (ceil(K*V / (4 kScanThreads)), B*H), kScanThreads threads, after
// lla_mamba2_scan_pieces: each thread walks four consecutive state elements through the
// (sequence, head)'s pieces in order, keeping their Fenwick slots (slot l: 2^l pieces) as the
// scan keeps its chunks', and at each segment's first piece writes the live slots, lowest
// first, as the segment's seeds ([K][V] fp32 each, seeds_per_head a (sequence, head)) with
// their log2 decays.
// (Bounds of one block an SM: with none, ptxas holds this kernel to 64 registers and spills.)
extern "C" __global__ void __launch_bounds__(kScanThreads, 1)
    lla_mamba2_scan_seeds(const float* __restrict__ pieces, const float* __restrict__ piece_decays,
                          float* __restrict__ seeds, float* __restrict__ seed_decays, int piece_count,
                          int piece_chunks, int segment_chunks, int seeds_per_head) {
  static_assert(kStateElements % 4 == 0, "a thread's four elements lie in one state");
  const int element = 4 * (blockIdx.x * kScanThreads + threadIdx.x);
  if (element >= kStateElements) return;
  const size_t first_piece = static_cast<size_t>(blockIdx.y) * piece_count;
  size_t seed = static_cast<size_t>(blockIdx.y) * seeds_per_head;
  float4 slot[kSlots];
  float decay[kSlots] = {};
#pragma unroll
  for (int l = 0; l < kSlots; ++l) slot[l] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  // Before piece p: at a segment's first piece, its seeds.
  const auto hand_out = [&](int p) {
    if (p == 0 || p * piece_chunks % segment_chunks != 0) return;
#pragma unroll
    for (int l = 0; l < kSlots; ++l) {
      if (!((p >> l) & 1)) continue;
      *reinterpret_cast<float4*>(seeds + seed * kStateElements + element) = slot[l];
      if (element == 0) seed_decays[seed] = decay[l];
      ++seed;
    }
  };
  // The walk is a chain of dependent steps; the loads of kAhead pieces go out before it.
  constexpr int kAhead = 4;
  for (int p0 = 0; p0 < piece_count; p0 += kAhead) {
    float4 values[kAhead];
#pragma unroll
    for (int u = 0; u < kAhead; ++u)
      values[u] = p0 + u < piece_count
                      ? *reinterpret_cast<const float4*>(pieces + (first_piece + p0 + u) * kStateElements + element)
                      : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
#pragma unroll
    for (int u = 0; u < kAhead; ++u) {
      const int p = p0 + u;
      if (p >= piece_count) break;
      hand_out(p);
      // Piece p carries into slot j = ctz(p + 1), absorbing the slots below it.
      const int j = __ffs(p + 1) - 1;
      float across[kSlots];
      const float after = carry_decays(across, decay, j, piece_decays[first_piece + p]);
      float4 sum = values[u];
#pragma unroll
      for (int l = 0; l < kSlots; ++l) {  // across is 0 from j on
        sum.x = fmaf(across[l], slot[l].x, sum.x);
        sum.y = fmaf(across[l], slot[l].y, sum.y);
        sum.z = fmaf(across[l], slot[l].z, sum.z);
        sum.w = fmaf(across[l], slot[l].w, sum.w);
      }
#pragma unroll
      for (int l = 0; l < kSlots; ++l)
        if (l == j) {
          slot[l] = sum;
          decay[l] = after;
        }
    }
  }
  hand_out(piece_count);
}

}  // namespace lla_mamba2
