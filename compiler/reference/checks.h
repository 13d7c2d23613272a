#pragma once
// The argument checks every public function of the reference starts with: each failure is a
// std::invalid_argument whose message starts with the field it names ("q: has 15 elements,
// expected 16"). Internal to the reference.

#include <cstddef>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

namespace lla::reference {

inline void require(bool ok, const std::string& field, const std::string& why) {
  if (!ok) throw std::invalid_argument(field + ": " + why);
}

inline void require_size(const std::vector<double>& x, size_t expected, const std::string& field) {
  require(x.size() == expected, field,
          "has " + std::to_string(x.size()) + " elements, expected " + std::to_string(expected));
}

// The product of a tensor's dimensions; throws naming the tensor when it does not fit in size_t
// (dimensions of 2^30 each would wrap to 0 and pass any size check).
inline size_t checked_product(const char* tensor, const char* axes,
                              std::initializer_list<int> dims) {
  size_t product = 1;
  for (const int d : dims) {
    require(d >= 0, tensor, std::string(axes) + " has a negative dimension");
    if (__builtin_mul_overflow(product, static_cast<size_t>(d), &product)) {
      std::string values;
      for (const int x : dims) values += (values.empty() ? "" : "*") + std::to_string(x);
      throw std::invalid_argument(std::string(tensor) + ": " + axes + " = " + values +
                                  " overflows the size type");
    }
  }
  return product;
}

}  // namespace lla::reference
