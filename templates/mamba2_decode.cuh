// Log-linear Mamba-2 decode step (spec/loglinear.md section 5): one token per sequence, every
// sequence at its own position, the Fenwick state [B, H, L, K, V] fp32 updated in place.
//
// For the token at position t (t tokens consumed before it), with p = ctz(t) when t >= 1:
//   S[p+1] <- a (S[0] + ... + S[p]),  S[1..p] <- 0,  S[l] <- a S[l] for the other live l,
//   S[0] <- k v^T,  o = sum_l lambda_l S[l]^T (scale q),  a = exp(g).
// Only live levels are read or written: levels 0..p and the levels l >= p + 2 with bit l-1
// of t set; empty levels are never read and stay zero. Position 0 starts a sequence: levels
// 1..L-1 of its slot are cleared, so the slot of a finished sequence is reused as it is.
//
// One block per (V tile, head, sequence). Thread i owns 4 consecutive columns (one 16-byte
// access) of rows i / kColGroups + m * kRowStride of every level, so a warp covers whole row
// segments and the state streams through once in coalesced 16-byte accesses; o is reduced
// over the rows with shuffles and one shared-memory step.

namespace lla_mamba2_decode {

using lla_config::Element;
using lla_config::kBlockV;
using lla_config::kKeyDim;
using lla_config::kLevels;
using lla_config::kThreads;
using lla_config::kValueDim;

constexpr int kVector = 4;  // floats per 16-byte state access
constexpr int kColGroups = kBlockV / kVector;
constexpr int kRowStride = kThreads / kColGroups;
constexpr int kRowsPerThread = kKeyDim / kRowStride;
constexpr int kWarpsPerBlock = kThreads / 32;
constexpr size_t kLevelElements = static_cast<size_t>(kKeyDim) * kValueDim;

static_assert(kThreads == 32 * lla_config::kWarps, "a block is kWarps whole warps");
static_assert(kValueDim % kBlockV == 0, "block_v must divide V");
static_assert(32 % kColGroups == 0, "a warp holds whole rows of the tile");
static_assert(kRowStride == lla_config::kRowsPerPass, "the plan's rows per pass");
static_assert(kThreads % kColGroups == 0 && kKeyDim % kRowStride == 0,
              "the rows of a pass (32 * warps * 4 / block_v) must divide K");

__device__ __forceinline__ float4 load4(const float* p) {
  return *reinterpret_cast<const float4*>(p);
}
__device__ __forceinline__ void store4(float* p, float4 x) { *reinterpret_cast<float4*>(p) = x; }
__device__ __forceinline__ float4 add4(float4 a, float4 b) {
  return make_float4(a.x + b.x, a.y + b.y, a.z + b.z, a.w + b.w);
}
__device__ __forceinline__ float4 scale4(float w, float4 a) {
  return make_float4(w * a.x, w * a.y, w * a.z, w * a.w);
}
// acc + w * a
__device__ __forceinline__ float4 fma4(float w, float4 a, float4 acc) {
  return make_float4(fmaf(w, a.x, acc.x), fmaf(w, a.y, acc.y), fmaf(w, a.z, acc.z),
                     fmaf(w, a.w, acc.w));
}
__device__ __forceinline__ float4 shfl_xor4(float4 a, int offset) {
  return make_float4(__shfl_xor_sync(0xffffffffu, a.x, offset),
                     __shfl_xor_sync(0xffffffffu, a.y, offset),
                     __shfl_xor_sync(0xffffffffu, a.z, offset),
                     __shfl_xor_sync(0xffffffffu, a.w, offset));
}

// positions[b]: tokens sequence b consumed before this one; read only (a second launch,
// lla_decode_advance_positions, increments them after every block has read them). A position
// outside [0, max_position], the range the host checked against kLevels, leaves that
// sequence's state untouched and its o NaN, so a broken caller contract shows in the output
// and never writes past the state.
extern "C" __global__ void __launch_bounds__(kThreads)
    lla_mamba2_decode_step(const Element* __restrict__ q, const Element* __restrict__ k,
                           const Element* __restrict__ v, const float* __restrict__ g,
                           const Element* __restrict__ lambda, Element* __restrict__ o,
                           float* __restrict__ state, const long long* __restrict__ positions,
                           int heads, int groups, long long max_position, float scale) {
  const int h = blockIdx.y, b = blockIdx.z;
  const size_t head = static_cast<size_t>(b) * heads + h;
  const int col = blockIdx.x * kBlockV + (threadIdx.x % kColGroups) * kVector;
  const int row0 = threadIdx.x / kColGroups;
  Element* o_tile = o + head * kValueDim + blockIdx.x * kBlockV;

  const long long t = positions[b];
  if (t < 0 || t > max_position) {
    for (int c = threadIdx.x; c < kBlockV; c += kThreads)
      lla_store(o_tile + c, __int_as_float(0x7fc00000));
    return;
  }

  const size_t qk_row = (static_cast<size_t>(b) * groups + h / (heads / groups)) * kKeyDim;
  float q_scaled[kRowsPerThread], k_row[kRowsPerThread];
#pragma unroll
  for (int m = 0; m < kRowsPerThread; ++m) {
    q_scaled[m] = scale * lla_to_float(q[qk_row + row0 + m * kRowStride]);
    k_row[m] = lla_to_float(k[qk_row + row0 + m * kRowStride]);
  }
  const Element* v_cols = v + head * kValueDim + col;
  const float4 v4 = make_float4(lla_to_float(v_cols[0]), lla_to_float(v_cols[1]),
                                lla_to_float(v_cols[2]), lla_to_float(v_cols[3]));
  const float decay = expf(g[head]);
  const Element* lambda_head = lambda + head * kLevels;
  float* const head_state = state + head * kLevels * kLevelElements;
  const auto at = [&](int level, int m) {
    return head_state + level * kLevelElements +
           static_cast<size_t>(row0 + m * kRowStride) * kValueDim + col;
  };
  const float4 zero = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  float4 out = zero;

  if (t == 0) {
    for (int level = 1; level < kLevels; ++level)
#pragma unroll
      for (int m = 0; m < kRowsPerThread; ++m) store4(at(level, m), zero);
  } else {
    const int merge_level = __ffsll(t);  // p + 1 with p = ctz(t)
    float4 merged[kRowsPerThread];
#pragma unroll
    for (int m = 0; m < kRowsPerThread; ++m) merged[m] = load4(at(0, m));
    for (int level = 1; level < merge_level; ++level) {
#pragma unroll
      for (int m = 0; m < kRowsPerThread; ++m) {
        merged[m] = add4(merged[m], load4(at(level, m)));
        store4(at(level, m), zero);
      }
    }
    const float lambda_merged = lla_to_float(lambda_head[merge_level]);
#pragma unroll
    for (int m = 0; m < kRowsPerThread; ++m) {
      merged[m] = scale4(decay, merged[m]);
      store4(at(merge_level, m), merged[m]);
      out = fma4(lambda_merged * q_scaled[m], merged[m], out);
    }
    for (int level = merge_level + 1; level < kLevels; ++level) {
      if (((t >> (level - 1)) & 1) == 0) continue;
      const float lambda_level = lla_to_float(lambda_head[level]);
#pragma unroll
      for (int m = 0; m < kRowsPerThread; ++m) {
        const float4 decayed = scale4(decay, load4(at(level, m)));
        store4(at(level, m), decayed);
        out = fma4(lambda_level * q_scaled[m], decayed, out);
      }
    }
  }

  const float lambda_token = lla_to_float(lambda_head[0]);
#pragma unroll
  for (int m = 0; m < kRowsPerThread; ++m) {
    const float4 written = scale4(k_row[m], v4);
    store4(at(0, m), written);
    out = fma4(lambda_token * q_scaled[m], written, out);
  }

  // Lanes lane, lane ^ kColGroups, ... hold the same columns for different rows.
#pragma unroll
  for (int offset = 16; offset >= kColGroups; offset /= 2) out = add4(out, shfl_xor4(out, offset));
  __shared__ float4 warp_sums[kWarpsPerBlock][kColGroups];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane < kColGroups) warp_sums[warp][lane] = out;
  __syncthreads();
  if (threadIdx.x < kColGroups) {
    float4 sum = warp_sums[0][threadIdx.x];
#pragma unroll
    for (int w = 1; w < kWarpsPerBlock; ++w) sum = add4(sum, warp_sums[w][threadIdx.x]);
    Element* o_cols = o_tile + threadIdx.x * kVector;
    lla_store(o_cols + 0, sum.x);
    lla_store(o_cols + 1, sum.y);
    lla_store(o_cols + 2, sum.z);
    lla_store(o_cols + 3, sum.w);
  }
}

// After a decode step on the same stream: every position the step accepted moves on by one,
// so a replayed CUDA graph of step + advance needs no host work between tokens.
extern "C" __global__ void lla_decode_advance_positions(long long* __restrict__ positions,
                                                        int batch, long long max_position) {
  const int b = blockIdx.x * blockDim.x + threadIdx.x;
  if (b < batch && positions[b] >= 0 && positions[b] <= max_position) ++positions[b];
}

}  // namespace lla_mamba2_decode
