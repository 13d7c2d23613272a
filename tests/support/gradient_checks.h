#pragma once
// What the tests of the reference backward and of the lambda MLP share: random tensors, inner
// products, the directional derivative of a loss by central differences, and the check that a
// call throws std::invalid_argument naming a field.

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace lla::test {

// n values of N(0, sigma^2), deterministic in seed.
inline std::vector<double> normal_values(size_t n, uint64_t seed, double sigma = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, sigma);
  std::vector<double> x(n);
  for (double& e : x) e = normal(rng);
  return x;
}

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double sum = 0.0;
  for (size_t i = 0; i < a.size(); ++i) sum += a[i] * b[i];
  return sum;
}

// d/dh loss_along(h) at h = 0, by central differences at steps h and h/2 combined
// (Richardson): exact up to O(h^4) and rounding.
inline double directional_derivative(const std::function<double(double)>& loss_along) {
  const double h = 1e-4;
  const auto central = [&](double step) {
    return (loss_along(step) - loss_along(-step)) / (2 * step);
  };
  return (4 * central(h / 2) - central(h)) / 3;
}

// call throws std::invalid_argument whose message starts with "<field>:".
inline void expect_invalid_argument(const std::function<void()>& call, const std::string& field) {
  try {
    call();
    ADD_FAILURE() << "no std::invalid_argument; expected one naming " << field;
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()).rfind(field + ":", 0), 0u) << e.what();
  }
}

}  // namespace lla::test
