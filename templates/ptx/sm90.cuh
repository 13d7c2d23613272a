// lla's device library for sm_90a (Hopper warpgroups), after ptx/sm80.cuh: wgmma's shared
// memory descriptors and layouts, its fence, commit and wait, and the async proxy fence, in
// namespace lla_ptx. The wgmma instructions themselves are generated per N (their operand
// lists name every accumulator: compiler/generator/wgmma_wrappers.h) into the same namespace,
// after this file.

namespace lla_ptx {

// A wgmma shared-memory matrix descriptor as two 32-bit words, joined only inside the
// instruction: as one 64-bit value, moving a descriptor compiles to adds with carries and
// copies of register pairs.
struct WgmmaDescriptor {
  unsigned lo, hi;
};

// The descriptor of a matrix at `start`: `leading` and `stride` bytes between core matrices
// (without swizzling: along the product's K, and along M or N; N-major with swizzling: along N
// between atoms, and along K between groups of 8 rows; K-major with swizzling, only `stride`,
// between groups of 8 rows), `swizzle` 0 (none), 1 (128 bytes) or 2 (64 bytes).
__device__ __forceinline__ WgmmaDescriptor matrix_descriptor(const Bits* start, unsigned leading, unsigned stride,
                                                             unsigned swizzle) {
  return {shared_address(start) >> 4 | (leading >> 4) << 16, stride >> 4 | swizzle << 30};
}
// The descriptor of the same layout `elements` (a multiple of 8) further on: its start field
// counts 16 bytes, and shared addresses stay under 2^18 bytes, so the sum never carries out of
// the field. (Built once and moved, descriptors cost an add per product, not five.)
__device__ __forceinline__ WgmmaDescriptor descriptor_plus(WgmmaDescriptor d, int elements) {
  return {d.lo + static_cast<unsigned>(elements >> 3), d.hi};
}

// Core matrices of 128 contiguous bytes (8 rows of 16), column groups fastest: wgmma's layout
// without swizzling, and one conflict-free ldmatrix row or 32-bit access per lane (a tile
// Layout of ptx/sm80.cuh).
struct CoreMatrices {
  template <int kColumns>
  __device__ static int at(int row, int column) {
    return ((row >> 3) * (kColumns / 8) + (column >> 3)) * 64 + (row & 7) * 8 + (column & 7);
  }
};

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() {
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
template <int kPending>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(kPending) : "memory");
}
// After a wait: the accumulators are read only from here on (the compiler sees them written
// when the wgmma is issued).
template <int n>
__device__ __forceinline__ void settle(float (&d)[n]) {
#pragma unroll
  for (int i = 0; i < n; ++i) asm volatile("" : "+f"(d[i])::"memory");
}
// Shared memory written by ordinary stores or cp.async, read next by wgmma.
__device__ __forceinline__ void fence_proxy_async() {
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}

}  // namespace lla_ptx
