#pragma once
// The few dense-vector operations the reference loops are written with. Internal.

namespace lla::reference {

// Four running sums, added at the end: a single one makes every multiply-add wait for the
// previous (the reduction cannot be reordered without -ffast-math), four keep the pipeline busy.
inline double dot(const double* a, const double* b, int n) {
  double sum[4] = {0.0, 0.0, 0.0, 0.0};
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    for (int lane = 0; lane < 4; ++lane) sum[lane] += a[i + lane] * b[i + lane];
  }
  for (; i < n; ++i) sum[0] += a[i] * b[i];
  return (sum[0] + sum[1]) + (sum[2] + sum[3]);
}

// y += w * x
inline void add_scaled(double w, const double* x, double* y, int n) {
  for (int i = 0; i < n; ++i) y[i] += w * x[i];
}

// x *= w
inline void scale_in_place(double w, double* x, int n) {
  for (int i = 0; i < n; ++i) x[i] *= w;
}

// S += w * k v^T, with S a row-major [K,V] matrix.
inline void add_outer(double w, const double* k, const double* v, double* S, int K, int V) {
  for (int a = 0; a < K; ++a) add_scaled(w * k[a], v, S + a * V, V);
}

// o += w * S^T q, with S a row-major [K,V] matrix; row by row so the inner loop is contiguous.
inline void add_transposed_product(double w, const double* S, const double* q, double* o, int K,
                                   int V) {
  for (int a = 0; a < K; ++a) add_scaled(w * q[a], S + a * V, o, V);
}

// y += w * S x, with S a row-major [K,V] matrix and x a V-vector.
inline void add_product(double w, const double* S, const double* x, double* y, int K, int V) {
  for (int a = 0; a < K; ++a) y[a] += w * dot(S + a * V, x, V);
}

}  // namespace lla::reference
