#pragma once
// One chunk level's state scan in the chunkwise backward of a call that starts on the chunk grid
// (spec/loglinear.md 3.2 step 2 and 7.1 B), the part both variants share: the scan's start from
// the initial state, the forward pass that keeps the state entering each chunk, the seed of the
// reverse pass from d(final state), and the start's gradient into d(initial state). Each
// variant supplies how a chunk carries the state and runs its own reverse pass. Internal to the
// reference.

#include <cstdint>
#include <functional>
#include <vector>

#include "reference/chunk_grid.h"
#include "reference/per_head.h"

namespace lla::reference {

class LevelScan {
 public:
  // Chunk level e of the grid; prefix: the state the call continues from (nullptr: none).
  LevelScan(const ChunkGrid& grid, int e, const HeadPrefix* prefix, int levels, int level_size);

  int chunk_level() const { return e_; }
  int token_level() const { return grid_.log2_chunk + 1 + e_; }

  // The forward scan from the start state: keeps the state entering every chunk, zeroes it after
  // a reset chunk and otherwise lets carry(c, h) take it through chunk c (with chunk c's writes
  // when c does not read).
  void run_forward(const std::function<void(int64_t c, double* h)>& carry);
  const double* entering(int64_t c) const { return &entering_[(c - grid_.first()) * level_size_]; }

  // The gradient with respect to the state after the last chunk: d_final's level token_level()
  // when the last chunk reads (that state is then the final state's level), zero otherwise or
  // without d_final.
  std::vector<double> final_seed(const double* d_final) const;

  // start_gradient: the gradient with respect to the start state, which d_initial's levels
  // that were summed into it receive.
  void add_start_gradient(const std::vector<double>& start_gradient, double* d_initial) const;

 private:
  const ChunkGrid& grid_;
  int e_;
  const HeadPrefix* prefix_;
  int level_size_;
  LevelRange start_levels_;
  std::vector<double> entering_;
};

}  // namespace lla::reference
