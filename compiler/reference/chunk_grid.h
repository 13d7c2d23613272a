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
};

}  // namespace lla::reference
