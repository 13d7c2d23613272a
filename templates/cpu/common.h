// The CPU kernels' shared library: float vectors of the target's width (clang's vector
// extensions), loads that convert every input dtype to fp32, stores that round back, a
// vector exp, and the register-tiled matrix product every kernel is written with. Header
// free: any standard header would cost more compile time than the kernel itself.
//
// Compile-time constants (lla_config, written by the generator): kVector (floats per
// vector), kRowTile and kColVectors (the product's register tile), Element (the dtype's
// storage type).

// Loops written in vectors already: kept rolled, so the optimiser neither unrolls nor
// re-vectorises them (that multiplied the code, and the compile time, by ten).
#define LLA_ROLLED _Pragma("clang loop unroll(disable) vectorize(disable)")
// Helpers called from many places with large trip counts are compiled once, not inlined.
#define LLA_OUTLINED __attribute__((noinline))

namespace lla_cpu {

using lla_config::Element;
constexpr int kVector = lla_config::kVector;

typedef float vfloat __attribute__((ext_vector_type(kVector)));
typedef int vint __attribute__((ext_vector_type(kVector)));
typedef unsigned int vuint __attribute__((ext_vector_type(kVector)));
typedef unsigned short vushort __attribute__((ext_vector_type(kVector)));
typedef _Float16 vhalf __attribute__((ext_vector_type(kVector)));

inline vfloat splat(float x) { return vfloat(x); }

inline vfloat load(const float* p) {
  vfloat v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, vfloat v) { __builtin_memcpy(p, &v, sizeof v); }

// kVector elements of any dtype, widened to fp32.
inline vfloat load_elements(const float* p) { return load(p); }
inline vfloat load_elements(const _Float16* p) {
  vhalf h;
  __builtin_memcpy(&h, p, sizeof h);
  return __builtin_convertvector(h, vfloat);
}
inline vfloat load_elements(const bf16* p) {
  vushort bits;
  __builtin_memcpy(&bits, p, sizeof bits);
  return __builtin_bit_cast(vfloat, __builtin_convertvector(bits, vuint) << 16);
}

inline float to_float(float x) { return x; }
inline float to_float(_Float16 x) { return static_cast<float>(x); }
inline float to_float(bf16 x) { return __builtin_bit_cast(float, static_cast<unsigned>(x.bits) << 16); }

// fp32 -> dtype with round-to-nearest-even (NaN stays NaN), as the host's dtype codec rounds.
inline void store_elements(float* p, vfloat v) { store(p, v); }
inline void store_elements(_Float16* p, vfloat v) {
  const vhalf h = __builtin_convertvector(v, vhalf);
  __builtin_memcpy(p, &h, sizeof h);
}
inline void store_elements(bf16* p, vfloat v) {
  const vuint bits = __builtin_bit_cast(vuint, v);
  const vuint rounded = (bits + (0x7fffu + ((bits >> 16) & 1u))) >> 16;
  const vuint nan = __builtin_convertvector(v != v, vuint);  // all ones in a NaN's lane
  const vuint out = (rounded & ~nan) | (((bits >> 16) | 0x40u) & nan);
  const vushort narrow = __builtin_convertvector(out, vushort);
  __builtin_memcpy(p, &narrow, sizeof narrow);
}
inline void store_element(float* p, float x) { *p = x; }
inline void store_element(_Float16* p, float x) { *p = static_cast<_Float16>(x); }
inline void store_element(bf16* p, float x) {
  float lanes[kVector] = {x};
  bf16 out[kVector];
  store_elements(out, load(lanes));
  *p = out[0];
}

// exp(x) to about 2 ulp over the floats whose exp is a normal float; below that it returns
// the smallest of those (about 1.2e-38), where every product of the kernels is as good as 0.
inline vfloat exp(vfloat x) {
  x = __builtin_elementwise_max(x, splat(-87.3f));
  x = __builtin_elementwise_min(x, splat(88.7f));
  const vfloat t = x * 1.44269504088896341f;
  const vfloat n = __builtin_elementwise_floor(t + 0.5f);
  // x - n ln2 in two steps, then 2^f with f in [-0.5, 0.5] as e^(f ln2)'s polynomial.
  const vfloat r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  vfloat p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const vint exponent = (__builtin_convertvector(n, vint) + 127) << 23;
  return p * __builtin_bit_cast(vfloat, exponent);
}

inline float exp(float x) {
  float lanes[kVector] = {x};
  float out[kVector];
  store(out, exp(load(lanes)));
  return out[0];
}

inline int bit_length(unsigned x) { return x == 0 ? 0 : 32 - __builtin_clz(x); }
inline int bit_length(unsigned long long x) { return x == 0 ? 0 : 64 - __builtin_clzll(x); }

// ---- The register-tiled product ----------------------------------------------------------
//
// c[M][N] = (or +=) a[M][k] b[k][N] over a range of k, every matrix fp32 and row-major. A tile
// of kRowTile rows by kColVectors vectors stays in registers through the whole k range: each
// step loads one row of b's panel and broadcasts one element of a per row. Leading dimensions
// are run-time values and the tiles are compiled once each: compile-time strides would save
// an address register and cost a copy of every tile per call site (and the compile time).

enum class Accumulate { no, yes };

// Compile-time index packs (clang's builtin makes them): the tile below is written as fold
// expressions over them, straight-line code from the front end, where loops to be unrolled
// would cost the optimiser ten times the compile time.
template <typename T, T... I>
struct index_pack {};
template <int N>
using indices = __make_integer_seq<index_pack, int, N>;

template <int Rows, int Vectors, int... I, int... V>
LLA_OUTLINED void product_tile(index_pack<int, I...>, index_pack<int, V...>, float* __restrict__ c,
                               long long ldc, const float* __restrict__ a, long long lda,
                               const float* __restrict__ b, long long ldb, long long k_begin,
                               long long k_end, Accumulate add) {
  // 64-bit indices: address arithmetic needs no sign extension in the loop.
  // acc[I]: row I / Vectors, vector I % Vectors of the tile.
  vfloat acc[Rows * Vectors];
  if (add == Accumulate::yes)
    ((acc[I] = load(c + (I / Vectors) * ldc + (I % Vectors) * kVector)), ...);
  else
    ((acc[I] = splat(0.0f)), ...);
  // Not unrolled: the tile's products already keep both FMA pipes busy.
  LLA_ROLLED for (long long k = k_begin; k < k_end; ++k) {
    vfloat row[Vectors];
    ((row[V] = load(b + k * ldb + V * kVector)), ...);
    ((acc[I] += splat(a[(I / Vectors) * lda + k]) * row[I % Vectors]), ...);
  }
  (store(c + (I / Vectors) * ldc + (I % Vectors) * kVector, acc[I]), ...);
}

// Which part of the product a caller needs: all of it; only c's lower triangle (columns up to
// the tile's last row: scores, whose upper part is masked later); or a lower-triangular a
// (row i reads k <= i: the masked scores times v).
enum class Shape { full, lower_c, lower_a };

struct Operands {
  float* c;
  int ldc;
  const float* a;
  int lda;
  const float* b;
  int ldb;
};

template <int Rows, int N>
inline void product_rows(const Operands& m, int row0, int k_begin, int k_end, Accumulate add,
                         Shape shape) {
  constexpr int kPanel = lla_config::kColVectors * kVector;
  constexpr int kFullPanels = N / kPanel;
  constexpr int kTailVectors = (N % kPanel) / kVector;
  static_assert(N % kVector == 0, "rows of whole vectors");
  const int end = shape == Shape::lower_a && row0 + Rows < k_end ? row0 + Rows : k_end;
  float* c = m.c + row0 * m.ldc;
  const float* a = m.a + row0 * m.lda;
  LLA_ROLLED for (int p = 0; p < kFullPanels; ++p) {
    if (shape == Shape::lower_c && p * kPanel >= row0 + Rows) return;
    product_tile<Rows, lla_config::kColVectors>(indices<Rows * lla_config::kColVectors>{},
                                                indices<lla_config::kColVectors>{}, c + p * kPanel,
                                                m.ldc, a, m.lda, m.b + p * kPanel, m.ldb, k_begin,
                                                end, add);
  }
  if constexpr (kTailVectors > 0)
    if (shape != Shape::lower_c || kFullPanels * kPanel < row0 + Rows)
      product_tile<Rows, kTailVectors>(indices<Rows * kTailVectors>{}, indices<kTailVectors>{},
                                       c + kFullPanels * kPanel, m.ldc, a, m.lda,
                                       m.b + kFullPanels * kPanel, m.ldb, k_begin, end, add);
}

template <int M, int N>
LLA_OUTLINED void product(const Operands& m, int k_begin, int k_end, Accumulate add,
                          Shape shape = Shape::full) {
  constexpr int kRows = lla_config::kRowTile;
  constexpr int kTailRows = M % kRows;
  LLA_ROLLED for (int row0 = 0; row0 + kRows <= M; row0 += kRows)
    product_rows<kRows, N>(m, row0, k_begin, k_end, add, shape);
  if constexpr (kTailRows > 0) product_rows<kTailRows, N>(m, M - kTailRows, k_begin, k_end, add, shape);
}

// Whole-vector element loops over n (a multiple of kVector) floats.
LLA_OUTLINED void fill(float* p, int n, float x) {
  LLA_ROLLED for (int i = 0; i < n; i += kVector) store(p + i, splat(x));
}
LLA_OUTLINED void copy(float* __restrict__ to, const float* __restrict__ from, int n) {
  LLA_ROLLED for (int i = 0; i < n; i += kVector) store(to + i, load(from + i));
}
LLA_OUTLINED void scale(float* p, float w, int n) {
  LLA_ROLLED for (int i = 0; i < n; i += kVector) store(p + i, w * load(p + i));
}
// to = w * from, or to += w * from.
LLA_OUTLINED void scale_copy(float* __restrict__ to, const float* __restrict__ from, float w, int n) {
  LLA_ROLLED for (int i = 0; i < n; i += kVector) store(to + i, w * load(from + i));
}
LLA_OUTLINED void scale_add(float* __restrict__ to, const float* __restrict__ from, float w, int n) {
  LLA_ROLLED for (int i = 0; i < n; i += kVector) store(to + i, load(to + i) + w * load(from + i));
}

}  // namespace lla_cpu
