#include "levels/fenwick_levels.h"

#include <stdexcept>

namespace lla::levels {

int bit_length(uint64_t x) { return x == 0 ? 0 : 64 - __builtin_clzll(x); }

int level(int64_t t, int64_t s) { return bit_length(static_cast<uint64_t>(t ^ s)); }

int num_levels(int64_t T) {
  if (T < 1) throw std::invalid_argument("num_levels: T must be at least 1");
  return T == 1 ? 1 : bit_length(static_cast<uint64_t>(T - 1)) + 1;
}

bool level_occupied(int64_t t, int ell) {
  if (ell == 0) return true;
  if (ell > 62) return false;
  return ((t >> (ell - 1)) & 1) != 0;
}

Bucket bucket(int64_t t, int ell) {
  if (ell == 0) return {t, t + 1};
  const int64_t begin = (t >> ell) << ell;
  return {begin, begin + (int64_t{1} << (ell - 1))};
}

int chunk_level(int64_t target_chunk, int64_t source_chunk) {
  return bit_length(static_cast<uint64_t>(target_chunk ^ source_chunk)) - 1;
}

int merge_target_level(int64_t t) {
  if (t < 1) throw std::invalid_argument("merge_target_level: t must be at least 1");
  return __builtin_ctzll(static_cast<uint64_t>(t)) + 1;
}

}  // namespace lla::levels
