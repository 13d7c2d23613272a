#pragma once
// The chunks of one reference call. Internal to the reference.

#include <algorithm>
#include <cstdint>

namespace lla::reference {

// Chunks aligned to absolute positions, so a continuation may begin and a call may end inside
// a chunk. Chunk indices are absolute; token indices are the call's (0-based).
struct ChunkGrid {
  int64_t start;  // absolute position of token 0
  int log2_chunk;
  int T;

  int64_t first() const { return start >> log2_chunk; }
  int64_t last() const { return (start + T - 1) >> log2_chunk; }
  int begin(int64_t c) const { return static_cast<int>(std::max(c << log2_chunk, start) - start); }
  int end(int64_t c) const {
    return static_cast<int>(std::min((c + 1) << log2_chunk, start + T) - start);
  }

  // The masks of the level scans (spec 3.2 step 2) at chunk level e: chunk c reads the state
  // entering it when bit e of c is set, and writes its tokens into it otherwise.
  static bool reads(int64_t c, int e) { return ((c >> e) & 1) != 0; }
  // The state is zeroed after chunk c, the end of an aligned group of 2^(e+1) chunks, except
  // after the call's last chunk: there it is the final state's level (spec 7.1 B).
  bool resets_after(int64_t c, int e) const {
    const int64_t group_mask = (int64_t{2} << e) - 1;
    return (c & group_mask) == group_mask && c != last();
  }
};

// Levels [first, last] of a state; empty when first > last.
struct LevelRange {
  int first = 0, last = -1;
};

// Spec 7.1 B: the level-e scan of a call that starts on the chunk grid (start a multiple of the
// chunk) starts at chunk c0 = first() from the sum of these levels of the state after `start`
// tokens: none at start 0 or when c0 begins a group of 2^(e+1) chunks; levels 0..c+e when bit e
// of c0-1 is clear (the group's chunks before c0: chunk c0-1 and its buckets); level c+1+e, the
// bucket e of chunk c0-1, when it is set. c = log2 of the chunk; `levels` bounds the range.
inline LevelRange scan_start_levels(const ChunkGrid& grid, int e, int levels) {
  const int64_t group_mask = (int64_t{2} << e) - 1;
  if (grid.start == 0 || (grid.first() & group_mask) == 0) return {};
  const int c = grid.log2_chunk;
  if (!ChunkGrid::reads(grid.first() - 1, e)) return {0, std::min(c + e, levels - 1)};
  return {c + 1 + e, c + 1 + e};
}

}  // namespace lla::reference
