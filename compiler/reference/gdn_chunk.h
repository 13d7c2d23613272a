#pragma once
// One chunk of the chunkwise Gated DeltaNet (spec/loglinear.md section 4.2, steps 1-3): the UT /
// WY pieces, the intra-chunk scores and the inputs of the level scans, with every intermediate
// the backward (section 6.2) reads. Shared by the chunkwise forward and backward. Internal to
// the reference.

#include <cstdint>
#include <vector>

#include "reference/chunk_grid.h"
#include "reference/per_head.h"

namespace lla::reference {

// The tokens [begin, end) of one chunk; local indices i, j run over its n tokens. Matrices are
// row-major [n,n]; Gc is the chunk-local inclusive cumsum of g and Gamma_ij = exp(Gc_i - Gc_j).
struct DeltaChunk {
  int begin = 0, end = 0;
  double decay = 0.0;          // Gc at the last token: the chunk's transitions scale by exp(decay)
  std::vector<double> Gc;      // [n]
  std::vector<double> gamma;   // [n,n] Gamma_ij for i >= j, else 0
  std::vector<double> qk;      // [n,n] q_i . k_j for i >= j, else 0
  std::vector<double> A_raw;   // [n,n] beta_i k_i . k_j for i > j, else 0
  std::vector<double> A_w;     // [n,n] (I + A_raw)^-1, ungated
  std::vector<double> A_u;     // [n,n] (I + A_raw o Gamma)^-1, gated
  std::vector<double> w;       // [n,K] A_w (beta k)
  std::vector<double> x;       // [n,n] X = qk A_w, lower
  std::vector<double> score;   // [n,n] X_ij Gamma_ij beta_j lambda_i^{level(i,j)}, lower
  std::vector<double> q_new;   // [n,K] q_i^T times the transitions from the chunk start to i
  std::vector<double> k_new;   // [n,K] exp(Glast - Gc_i) k_i
  std::vector<double> w_new;   // [n,K] exp(Gc_i) w_i
  std::vector<double> u;       // [n,V] A_u (beta v)
  std::vector<double> end_keys;  // [n,K] A_u^T k_new: k_j carried through the transitions after j

  int size() const { return end - begin; }
};

// Chunk c of the grid.
DeltaChunk prepare_chunk(const HeadSlice& head, const ChunkGrid& grid, int64_t c);

// h <- (A_last ... A_first) h over the chunk's tokens, in WY form:
// exp(decay) h - k_new^T (w_new h). h is [K,V].
void carry_through(const DeltaChunk& chunk, double* h, int K, int V);

}  // namespace lla::reference
