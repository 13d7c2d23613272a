#include "cpu/cpu_kernel_spec.h"

#include <stdexcept>

namespace lla::compiler::cpu {

namespace {

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

bool is_power_of_two(int x) { return x > 0 && (x & (x - 1)) == 0; }

bool tile_fits(int rows, int vectors, int vector_floats) {
  // The accumulators, one row of b's panel and one broadcast element of a.
  return rows * vectors + vectors + 1 <= vector_registers(vector_floats);
}

constexpr int kRowTiles[] = {2, 3, 4, 5, 6, 8, 10, 12, 14};
constexpr int kColVectors[] = {1, 2, 3, 4};
constexpr int kValueTileVectors[] = {1, 2, 4, 8};

}  // namespace

const char* family_name(Family f) { return f == Family::mamba2_forward ? "mamba2_forward" : "mamba2_decode"; }

int vector_registers(int vector_floats) { return vector_floats == 16 ? 32 : 16; }

std::string describe(const CpuKernelSpec& s) {
  std::string d = std::string("cpu ") + family_name(s.family) + " dtype=" + dtype_name(s.dtype) +
                  " K=" + std::to_string(s.key_dim) + " V=" + std::to_string(s.value_dim);
  if (s.family == Family::mamba2_forward)
    d += " C=" + std::to_string(s.chunk) + " L=" + std::to_string(s.levels) +
         " row_tile=" + std::to_string(s.tile.row_tile) +
         " col_vectors=" + std::to_string(s.tile.col_vectors);
  else
    d += " L=" + std::to_string(s.levels) + " value_tile=" + std::to_string(s.tile.value_tile);
  return d + " vector=" + std::to_string(s.vector_floats);
}

void validate(const CpuKernelSpec& s) {
  const int w = s.vector_floats;
  require(w == 4 || w == 8 || w == 16,
          "vector_floats=" + std::to_string(w) + " must be 4, 8 or 16");
  require(s.key_dim >= 16 && s.key_dim <= 256 && s.key_dim % 16 == 0,
          "key_dim=" + std::to_string(s.key_dim) + " must be a multiple of 16 in [16, 256]");
  require(s.value_dim >= 16 && s.value_dim <= 512 && s.value_dim % 16 == 0,
          "value_dim=" + std::to_string(s.value_dim) + " must be a multiple of 16 in [16, 512]");
  require(s.levels >= 1 && s.levels <= 32,
          "levels=" + std::to_string(s.levels) + " must be in [1, 32]");
  if (s.family == Family::mamba2_forward) {
    require(is_power_of_two(s.chunk) && s.chunk >= 16 && s.chunk <= 128,
            "chunk=" + std::to_string(s.chunk) + " must be a power of two in [16, 128]");
    require(s.tile.row_tile >= 1 && s.tile.col_vectors >= 1 &&
                tile_fits(s.tile.row_tile, s.tile.col_vectors, w),
            "tile.row_tile=" + std::to_string(s.tile.row_tile) + " by tile.col_vectors=" +
                std::to_string(s.tile.col_vectors) + " does not fit the " +
                std::to_string(vector_registers(w)) + " vector registers");
    require(s.tile.split >= 0, "tile.split=" + std::to_string(s.tile.split) + " is negative");
  } else {
    require(s.tile.value_tile >= w && s.tile.value_tile % w == 0 &&
                s.value_dim % s.tile.value_tile == 0 && s.tile.value_tile / w <= 8,
            "tile.value_tile=" + std::to_string(s.tile.value_tile) +
                " must be 1 to 8 vectors of " + std::to_string(w) + " floats dividing value_dim=" +
                std::to_string(s.value_dim));
  }
}

std::vector<CpuTileConfig> config_space(const CpuKernelSpec& base) {
  std::vector<CpuTileConfig> space;
  if (base.family == Family::mamba2_forward) {
    for (int rows : kRowTiles)
      for (int vectors : kColVectors)
        if (tile_fits(rows, vectors, base.vector_floats)) {
          CpuTileConfig t;
          t.row_tile = rows;
          t.col_vectors = vectors;
          space.push_back(t);
        }
  } else {
    for (int vectors : kValueTileVectors) {
      CpuTileConfig t;
      t.value_tile = vectors * base.vector_floats;
      if (base.value_dim % t.value_tile == 0) space.push_back(t);
    }
  }
  return space;
}

CpuTileConfig heuristic_config(const CpuKernelSpec& base) {
  CpuTileConfig t;
  if (base.family == Family::mamba2_forward) {
    // AVX2 (16 registers), lla_cpu_bench's forward on a Zen 3 by CPU time: 5 x 2 vectors 40.1 ms,
    // 4 x 3 41.6, 6 x 2 42.9, 2 x 4 43.6, 3 x 3 44.1, 4 x 2 48.7. AVX-512's 32 registers hold
    // 6 x 4 (not measured: no AVX-512 machine yet).
    t.row_tile = base.vector_floats == 16 ? 6 : 5;
    t.col_vectors = base.vector_floats == 16 ? 4 : 2;
  } else {
    // The widest tile (V tile 64 on AVX2 moved the decode's state at 55 GB/s by CPU time, 32 at
    // 44, 16 at 29): fewer passes over each row of the state.
    t.value_tile = base.vector_floats;
    for (int vectors : {8, 4, 2})
      if (base.value_dim % (vectors * base.vector_floats) == 0) {
        t.value_tile = vectors * base.vector_floats;
        break;
      }
  }
  return t;
}

CpuKernelSpec make_spec(Family family, Dtype dtype, int key_dim, int value_dim, int levels,
                        int chunk, int vector_floats) {
  CpuKernelSpec s;
  s.family = family;
  s.dtype = dtype;
  s.key_dim = key_dim;
  s.value_dim = value_dim;
  s.levels = levels;
  s.chunk = chunk;
  s.vector_floats = vector_floats;
  s.tile = heuristic_config(s);
  return s;
}

}  // namespace lla::compiler::cpu
