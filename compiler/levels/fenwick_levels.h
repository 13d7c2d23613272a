#pragma once
// The Fenwick level structure of log-linear attention (spec/loglinear.md sections 2 and 5),
// shared by every piece of host code: reference, kernel plans, validation.

#include <cstdint>

namespace lla::levels {

// Number of bits needed to write x (0 for x == 0).
int bit_length(uint64_t x);

// level(t, s) = bit_length(t XOR s) for s <= t; 0 on the diagonal.
int level(int64_t t, int64_t s);

// Levels a sequence of length T needs: bit_length(T-1) + 1, and 1 for T = 1 (T >= 1).
int num_levels(int64_t T);

// Whether target t has any source at level ell: ell == 0, or bit (ell-1) of t is set.
bool level_occupied(int64_t t, int ell);

// The sources of target t at level ell >= 1, when occupied: the aligned block
// [begin, begin + 2^(ell-1)) with begin = (t >> ell) << ell.
struct Bucket {
  int64_t begin;
  int64_t end;
};
Bucket bucket(int64_t t, int ell);

// Level of (t, s) in different chunks of size 2^log2_chunk, written through chunk indices:
// (log2_chunk + 1) + chunk_level(t >> log2_chunk, s >> log2_chunk).
int chunk_level(int64_t target_chunk, int64_t source_chunk);  // bit_length(tc ^ sc) - 1

// Decode merge rule: before writing token t >= 1, levels 0..p merge into level p + 1, where
// p = ctz(t). Returns p + 1 (the level that receives the merge).
int merge_target_level(int64_t t);

}  // namespace lla::levels
