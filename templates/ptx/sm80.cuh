// lla's device library for sm_80 and later: the PTX every family's tensor-core kernels are
// written with (16-bit packing, mma.sync m16n8k16 and its fragments, ldmatrix, cp.async,
// named barriers), in namespace lla_ptx. It depends on no module constant: the generator puts
// it after common.cuh and before lla_config, and a family names what it uses (or takes the
// namespace). Header-free like every template.

namespace lla_ptx {

using Bits = unsigned short;  // raw bits of a 16-bit element (lla_bf16, lla_f16)

// ---- 16-bit values, one at a time and in pairs (the low half first) --------------------------

// x rounded to nearest even in the 16-bit type E.
template <class E>
__device__ __forceinline__ Bits to_bits(float x) {
  E e;
  lla_store(&e, x);
  return e.bits;
}
// Two floats as the two 16-bit halves of an mma operand register (the first in the low half).
template <class E>
__device__ __forceinline__ unsigned pack(float lo, float hi) {
  return static_cast<unsigned>(to_bits<E>(lo)) | (static_cast<unsigned>(to_bits<E>(hi)) << 16);
}
template <class E>
__device__ __forceinline__ float bits_float(Bits b) {
  E e;
  e.bits = b;
  return lla_to_float(e);
}
template <class E>
__device__ __forceinline__ float2 unpack(unsigned pair) {
  return make_float2(bits_float<E>(static_cast<Bits>(pair & 0xffff)), bits_float<E>(static_cast<Bits>(pair >> 16)));
}
__device__ __forceinline__ unsigned pair_at(const Bits* p) {
  return *reinterpret_cast<const unsigned*>(p);
}

// Pairs of 16-bit elements times pairs of factors (both as pack() packs them), rounded once:
// one fma.rn of pairs with the addend -0, which leaves every product as it is.
__device__ __forceinline__ unsigned multiply_pairs(lla_bf16, unsigned x, unsigned factors) {
  unsigned y;
  asm("fma.rn.bf16x2 %0, %1, %2, %3;" : "=r"(y) : "r"(x), "r"(factors), "r"(0x80008000u));
  return y;
}
__device__ __forceinline__ unsigned multiply_pairs(lla_f16, unsigned x, unsigned factors) {
  unsigned y;
  asm("fma.rn.f16x2 %0, %1, %2, %3;" : "=r"(y) : "r"(x), "r"(factors), "r"(0x80008000u));
  return y;
}

// ---- Lanes ----------------------------------------------------------------------------------

__device__ __forceinline__ int lane() { return threadIdx.x & 31; }
// The mma fragments' lane roles: a group of four lanes shares a row, lane_in_group() picks the
// column pair.
__device__ __forceinline__ int lane_group() { return (threadIdx.x & 31) >> 2; }
__device__ __forceinline__ int lane_in_group() { return threadIdx.x & 3; }

// ---- mma.sync m16n8k16, fp32 accumulators ---------------------------------------------------

// c += a b, a 16 x 16 (row), b 16 x 8 (col), inputs of the type of the last argument.
__device__ __forceinline__ void mma_sync(float c[4], const unsigned a[4], const unsigned b[2], lla_bf16) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
__device__ __forceinline__ void mma_sync(float c[4], const unsigned a[4], const unsigned b[2], lla_f16) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// Operand A (16 x 16) of rows r0.. and columns k0.. of a row-major tile of `pitch` elements a
// row, by 32-bit loads.
__device__ __forceinline__ void load_a(unsigned a[4], const Bits* tile, int pitch, int r0, int k0) {
  const Bits* top = tile + (r0 + lane_group()) * pitch + k0 + 2 * lane_in_group();
  const Bits* bottom = top + 8 * pitch;
  a[0] = pair_at(top);
  a[1] = pair_at(bottom);
  a[2] = pair_at(top + 8);
  a[3] = pair_at(bottom + 8);
}
// Operand B (16 x 8: k x n) of columns n0.. and rows k0.., from a tile stored [n][k].
__device__ __forceinline__ void load_b(unsigned b[2], const Bits* tile, int pitch, int n0, int k0) {
  const Bits* p = tile + (n0 + lane_group()) * pitch + k0 + 2 * lane_in_group();
  b[0] = pair_at(p);
  b[1] = pair_at(p + 8);
}

// ---- Shared memory: addresses, cp.async, ldmatrix --------------------------------------------

__device__ __forceinline__ unsigned shared_address(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

// 16 bytes global -> shared, asynchronously; zeros when `valid` is false.
__device__ __forceinline__ void copy_async_16(void* dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(dst)),
               "l"(src), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void copy_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
// Until at most kPending of this thread's committed groups are in flight.
template <int kPending>
__device__ __forceinline__ void copy_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending)); }
__device__ __forceinline__ void copy_async_wait_all() { copy_async_wait<0>(); }

// Four 8 x 8 matrices of 16-bit elements; lane l names row l % 8 of matrix l / 8.
__device__ __forceinline__ void load_matrices(unsigned r[4], const Bits* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(row)));
}
__device__ __forceinline__ void load_matrices_transposed(unsigned r[4], const Bits* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(row)));
}

// mma fragments by ldmatrix. A tile Layout places element (row, column) of a tile of kColumns
// columns at Layout::template at<kColumns>(row, column); 8 consecutive columns from a multiple
// of 8 must lie together.
// Operand A (16 x 16) at rows m0, columns k0 of A = T^T, T a [k][m] tile.
template <class Layout, int kColumns>
__device__ __forceinline__ void load_a_transposed(unsigned a[4], const Bits* tile, int m0, int k0) {
  load_matrices_transposed(a, tile + Layout::template at<kColumns>(k0 + (lane() & 7) + 8 * (lane() >> 4),
                                                                   m0 + 8 * ((lane() >> 3) & 1)));
}
// Operand B (k x n = 16 x 16: two n tiles) at rows k0, columns n0 of a [k][n] tile: b[0..1]
// the tile at n0, b[2..3] the tile at n0 + 8.
template <class Layout, int kColumns>
__device__ __forceinline__ void load_b_transposed(unsigned b[4], const Bits* tile, int n0, int k0) {
  load_matrices_transposed(b, tile + Layout::template at<kColumns>(k0 + (lane() & 7) + 8 * ((lane() >> 3) & 1),
                                                                   n0 + 8 * (lane() >> 4)));
}
// Operand A (16 x 16) at rows r0, columns k0 of a row-major [m][k] tile of `pitch` elements a row.
__device__ __forceinline__ void load_a_rows(unsigned a[4], const Bits* tile, int pitch, int r0, int k0) {
  load_matrices(a, tile + (r0 + (lane() & 7) + 8 * ((lane() >> 3) & 1)) * pitch + k0 + 8 * (lane() >> 4));
}
// Operand B (k x n = 32 x 8: two k steps) at columns n0, rows k0 of a tile stored [n][k]:
// b[0..1] the step at k0, b[2..3] the step at k0 + 16.
__device__ __forceinline__ void load_b_rows(unsigned b[4], const Bits* tile, int pitch, int n0, int k0) {
  load_matrices(b, tile + (n0 + (lane() & 7)) * pitch + k0 + 8 * (lane() >> 3));
}

// ---- Barriers -------------------------------------------------------------------------------

// Named barrier `id` (1..15; 0 is __syncthreads') over kThreads threads, a multiple of 32: a
// barrier computed at run time, and one known at compile time.
template <int kThreads>
__device__ __forceinline__ void named_barrier(int id) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "n"(kThreads) : "memory");
}
template <int kId, int kThreads>
__device__ __forceinline__ void named_barrier() {
  asm volatile("bar.sync %0, %1;\n" ::"n"(kId), "n"(kThreads) : "memory");
}

}  // namespace lla_ptx
