#include "reference/level_scan.h"

#include <algorithm>

#include "reference/vector_ops.h"

namespace lla::reference {

LevelScan::LevelScan(const ChunkGrid& grid, int e, const HeadPrefix* prefix, int levels,
                     int level_size)
    : grid_(grid),
      e_(e),
      prefix_(prefix),
      level_size_(level_size),
      start_levels_(prefix ? scan_start_levels(grid, e, levels) : LevelRange{}),
      entering_((grid.last() - grid.first() + 1) * level_size) {}

void LevelScan::run_forward(const std::function<void(int64_t c, double* h)>& carry) {
  std::vector<double> h(level_size_, 0.0);
  for (int ell = start_levels_.first; ell <= start_levels_.last; ++ell) {
    add_scaled(1.0, prefix_->levels + ell * level_size_, h.data(), level_size_);
  }
  for (int64_t c = grid_.first(); c <= grid_.last(); ++c) {
    std::copy(h.begin(), h.end(), entering_.begin() + (c - grid_.first()) * level_size_);
    if (grid_.resets_after(c, e_)) {
      std::fill(h.begin(), h.end(), 0.0);
    } else {
      carry(c, h.data());
    }
  }
}

std::vector<double> LevelScan::final_seed(const double* d_final) const {
  std::vector<double> seed(level_size_, 0.0);
  if (d_final && ChunkGrid::reads(grid_.last(), e_)) {
    const double* level = d_final + static_cast<size_t>(token_level()) * level_size_;
    std::copy(level, level + level_size_, seed.begin());
  }
  return seed;
}

void LevelScan::add_start_gradient(const std::vector<double>& start_gradient,
                                   double* d_initial) const {
  for (int ell = start_levels_.first; ell <= start_levels_.last; ++ell) {
    add_scaled(1.0, start_gradient.data(), d_initial + static_cast<size_t>(ell) * level_size_,
               level_size_);
  }
}

}  // namespace lla::reference
