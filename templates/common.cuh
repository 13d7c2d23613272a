// Shared device helpers of every lla kernel: storage types, conversions, level arithmetic.
// Header-free on purpose: NVRTC compile time is dominated by headers.

// 16-bit storage types. Arithmetic is always fp32; these only load and store.
struct lla_bf16 {
  unsigned short bits;
};
struct lla_f16 {
  unsigned short bits;
};

__device__ __forceinline__ float lla_to_float(float x) { return x; }
__device__ __forceinline__ float lla_to_float(lla_bf16 x) {
  return __uint_as_float(static_cast<unsigned>(x.bits) << 16);
}
__device__ __forceinline__ float lla_to_float(lla_f16 x) {
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(x.bits));
  return f;
}

// Round-to-nearest-even stores, once, from the fp32 accumulators.
__device__ __forceinline__ void lla_store(float* p, float x) { *p = x; }
__device__ __forceinline__ void lla_store(lla_bf16* p, float x) {
  unsigned short b;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(b) : "f"(x));
  p->bits = b;
}
__device__ __forceinline__ void lla_store(lla_f16* p, float x) {
  unsigned short h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(x));
  p->bits = h;
}

// Whether T and U are one type (for the static_asserts of the templates' contracts; no
// standard headers here).
template <class T, class U>
struct lla_same_type {
  static constexpr bool value = false;
};
template <class T>
struct lla_same_type<T, T> {
  static constexpr bool value = true;
};

// 2^x as one MUFU.EX2. Results under 2^-126 flush to zero, which a decay weight can afford;
// exp2f keeps them by rescaling around the instruction, five more instructions per call.
__device__ __forceinline__ float lla_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// level(t, s) = bit_length(t XOR s): 0 on the diagonal (spec/loglinear.md 2.1).
__device__ __forceinline__ int lla_level(int t, int s) { return 32 - __clz(t ^ s); }

// The Fenwick state tree over the chunks of one (sequence, head). Chunks are numbered by
// absolute position (chunk a holds positions [a*C, (a+1)*C)), so a sequence continuing from
// position P starts at chunk a0 = P / C and ends at a1. Level e holds nodes (blocks of 2^e
// chunks) lla_tree_first(e, a0) .. a1 >> e, levels 0 .. bit_length(a1) - 1 one after another;
// node (a0 >> e) - 1, when there is one, is the prefix block an initial state fills.
// compiler/kernels/mamba2_forward_plan.cpp mirrors this layout on the host.
// Level l of position t holds tokens: level 0 always, level l >= 1 when bit l - 1 of t is
// set (spec 5).
__device__ __forceinline__ bool lla_fenwick_level_live(long long t, int level) {
  return level == 0 || ((t >> (level - 1)) & 1);
}

__device__ __forceinline__ int lla_tree_first(int level, int first_chunk) {
  const int block = first_chunk >> level;
  return block > 0 ? block - 1 : 0;
}
__device__ __forceinline__ int lla_tree_level_offset(int level, int first_chunk, int last_chunk) {
  int offset = 0;
  for (int e = 0; e < level; ++e) offset += (last_chunk >> e) - lla_tree_first(e, first_chunk) + 1;
  return offset;
}
