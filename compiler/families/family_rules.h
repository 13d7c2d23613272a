#pragma once
// Validation rules families share: the head sizes and level counts lla generates for, and the
// error form "<field>=<value>: <rule>".

#include <optional>
#include <stdexcept>
#include <string>

#include "families/kernel_family.h"

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

// A tile of 16, 32 or 64 that divides its dimension: "<field>=<tile>: must be 16, 32 or 64 and
// divide <dimension>=<size>".
inline void validate_tile_width(const char* field, int tile, const char* dimension, int size) {
  if ((tile != 16 && tile != 32 && tile != 64) || size % tile != 0)
    reject(field, tile, "must be 16, 32 or 64 and divide " + std::string(dimension) + "=" + std::to_string(size));
}

// 1, 2, 4 or 8 warps a block.
inline void validate_warps(int warps) {
  if (!is_power_of_two(warps) || warps > 8) reject("tile.warps", warps, "must be 1, 2, 4 or 8");
}

// The Mamba-2 kernels normalise no q or k: a request for in-kernel l2norm is not supported.
inline std::optional<std::string> mamba2_unsupported(const Request& request) {
  if (request.qk_l2norm)
    return std::string("qk_l2norm: in-kernel q/k l2norm is not available for LLA_VARIANT_MAMBA2 yet; "
                       "normalise q and k before the call");
  return std::nullopt;
}

}  // namespace lla::compiler
