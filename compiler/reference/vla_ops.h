#pragma once
// The few pieces of dense algebra the VLA reference is written with, besides vector_ops.h:
// F.normalize's unit direction and its gradient, and the lower Cholesky factor with its
// triangular solves. Internal to the reference.

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "reference/vector_ops.h"

namespace lla::reference::vla {

// The divisor floor of F.normalize, used for k^, a^ and u alike.
constexpr double kNormFloor = 1e-12;

// x^ = x / max(|x|, 1e-12) into xhat; returns |x|.
inline double unit_direction(const double* x, int n, double* xhat) {
  const double norm = std::sqrt(dot(x, x, n));
  const double divisor = std::max(norm, kNormFloor);
  for (int i = 0; i < n; ++i) xhat[i] = x[i] / divisor;
  return norm;
}

// dx += the gradient through x^ = x / max(|x|, 1e-12) from dxhat (spec 3.6): (I - x^ x^^T)
// dxhat / |x| above the floor, dxhat / 1e-12 below it (the divisor is then a constant).
inline void unit_direction_backward(const double* xhat, double norm, const double* dxhat, int n,
                                    double* dx) {
  if (norm < kNormFloor) {
    add_scaled(1.0 / kNormFloor, dxhat, dx, n);
    return;
  }
  const double along = dot(xhat, dxhat, n);
  for (int i = 0; i < n; ++i) dx[i] += (dxhat[i] - xhat[i] * along) / norm;
}

// The lower Cholesky factor L (n x n, row-major, zero above the diagonal) of the symmetric
// matrix whose lower triangle g holds. Throws std::domain_error when it is not positive
// definite.
inline std::vector<double> cholesky_lower(const std::vector<double>& g, int n) {
  std::vector<double> L(static_cast<size_t>(n) * n, 0.0);
  for (int i = 0; i < n; ++i) {
    double* Li = &L[static_cast<size_t>(i) * n];
    for (int j = 0; j <= i; ++j) {
      const double* Lj = &L[static_cast<size_t>(j) * n];
      const double rest = g[static_cast<size_t>(i) * n + j] - dot(Li, Lj, j);
      if (j < i) {
        Li[j] = rest / Lj[j];
      } else {
        if (!(rest > 0.0)) throw std::domain_error("the precision path lost positive definiteness");
        Li[i] = std::sqrt(rest);
      }
    }
  }
  return L;
}

// Solves L X = B for X, with L lower triangular (n x n) and B, X [n, width] row-major.
inline std::vector<double> solve_lower(const std::vector<double>& L, const std::vector<double>& B,
                                       int n, int width) {
  std::vector<double> X = B;
  for (int i = 0; i < n; ++i) {
    double* Xi = &X[static_cast<size_t>(i) * width];
    for (int j = 0; j < i; ++j)
      add_scaled(-L[static_cast<size_t>(i) * n + j], &X[static_cast<size_t>(j) * width], Xi, width);
    scale_in_place(1.0 / L[static_cast<size_t>(i) * n + i], Xi, width);
  }
  return X;
}

// Solves L^T X = B for X, with L lower triangular (n x n) and B, X [n, width] row-major.
inline std::vector<double> solve_lower_transposed(const std::vector<double>& L,
                                                  const std::vector<double>& B, int n, int width) {
  std::vector<double> X = B;
  for (int i = n - 1; i >= 0; --i) {
    double* Xi = &X[static_cast<size_t>(i) * width];
    for (int j = i + 1; j < n; ++j)
      add_scaled(-L[static_cast<size_t>(j) * n + i], &X[static_cast<size_t>(j) * width], Xi, width);
    scale_in_place(1.0 / L[static_cast<size_t>(i) * n + i], Xi, width);
  }
  return X;
}

}  // namespace lla::reference::vla
