#pragma once
// The few dense-vector operations the reference loops are written with. Internal.

namespace lla::reference {

inline double dot(const double* a, const double* b, int n) {
  double sum = 0.0;
  for (int i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
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
