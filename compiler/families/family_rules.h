#pragma once
// Validation rules families share: the head sizes and level counts lla generates for, and the
// error form "<field>=<value>: <rule>".

#include <stdexcept>
#include <string>

#include "generator/kernel_spec.h"

namespace lla::compiler {

inline bool is_power_of_two(int x) { return x > 0 && (x & (x - 1)) == 0; }

[[noreturn]] inline void reject(const std::string& field, int value, const std::string& rule) {
  throw std::invalid_argument(field + "=" + std::to_string(value) + ": " + rule);
}

// K a multiple of 16 up to 256, V a multiple of 16 up to 512, levels in [1, 64].
inline void validate_head_sizes(const KernelSpec& s) {
  if (s.key_dim < 16 || s.key_dim > 256 || s.key_dim % 16 != 0)
    reject("key_dim", s.key_dim, "must be a multiple of 16 in [16, 256]");
  if (s.value_dim < 16 || s.value_dim > 512 || s.value_dim % 16 != 0)
    reject("value_dim", s.value_dim, "must be a multiple of 16 in [16, 512]");
  if (s.levels < 1 || s.levels > 64) reject("levels", s.levels, "must be in [1, 64]");
}

}  // namespace lla::compiler
