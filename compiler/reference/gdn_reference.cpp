// Log-linear Gated DeltaNet (spec/loglinear.md sections 4, 5, 7), one (batch, head) at a time:
//   o_t = sum_{s<=t} lambda_t^{level(t,s)} beta_s q_t^T (A_t ... A_{s+1}) k_s v_s,
//   A_r = exp(g_r) (I - beta_r k_r k_r^T).
// The state S is K x V: S <- A S + beta k v^T, o = S^T q.
// Positions are absolute: a call continuing from a state after P tokens holds tokens P..P+T-1,
// and every level and chunk index below is taken on those absolute positions.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "levels/fenwick_levels.h"
#include "reference/chunk_grid.h"
#include "reference/gdn_chunk.h"
#include "reference/per_head.h"
#include "reference/recurrence.h"
#include "reference/variant_forwards.h"
#include "reference/vector_ops.h"

namespace lla::reference {
namespace {

using levels::bit_length;

// Spec 4.1: each source's key beta_s k_s is carried forward through A_{s+1}, A_{s+2}, ...;
// c_ts is q_t against the carried key.
void materialized_head(const HeadSlice& head, double* o) {
  const int T = head.seq_len, K = head.key_dim, V = head.value_dim;
  std::vector<double> carried(K);
  for (int s = 0; s < T; ++s) {
    std::fill(carried.begin(), carried.end(), 0.0);
    add_scaled(head.beta[s], head.k_row(s), carried.data(), K);
    for (int t = s; t < T; ++t) {
      if (t > s) apply_transition(head.g[t], head.beta[t], head.k_row(t), carried.data(), K, 1);
      const double weight =
          head.lambda_at(t, levels::level(t, s)) * dot(head.q_row(t), carried.data(), K);
      add_scaled(weight, head.v_row(s), o + static_cast<size_t>(t) * V, V);
    }
  }
}

// o_i += weight(i) h^T q_new_i for the chunk's tokens; weight takes the call's token index.
template <typename Weight>
void read_state(const DeltaChunk& chunk, const double* h, int K, int V, Weight weight, double* o) {
  for (int i = 0; i < chunk.size(); ++i) {
    const int t = chunk.begin + i;
    add_transposed_product(weight(t), h, &chunk.q_new[i * K], o + static_cast<size_t>(t) * V, K, V);
  }
}

// Step 4 for one chunk level: a read chunk reads the state entering it, the first half of its
// aligned group of 2^(ell+1) chunks carried through every chunk since. The last chunk's reset
// is skipped: when it reads, the state carried through it is bucket m of the last token (spec 7,
// prefill step 1), the final state's level m.
void inter_chunk_level(const HeadSlice& head, const ChunkGrid& grid,
                       const std::vector<DeltaChunk>& chunks, int chunk_level, double* o,
                       double* final_levels) {
  const int K = head.key_dim, V = head.value_dim;
  const int token_level = grid.log2_chunk + 1 + chunk_level;
  const int64_t group_mask = (int64_t{2} << chunk_level) - 1;
  std::vector<double> state(static_cast<size_t>(K) * V, 0.0);
  for (int64_t c = grid.first(); c <= grid.last(); ++c) {
    const DeltaChunk& chunk = chunks[c - grid.first()];
    const bool read = ((c >> chunk_level) & 1) != 0;
    const bool reset = (c & group_mask) == group_mask && c != grid.last();
    if (read) {
      read_state(
          chunk, state.data(), K, V, [&](int t) { return head.lambda_at(t, token_level); }, o);
    }
    if (reset) {
      std::fill(state.begin(), state.end(), 0.0);
      continue;
    }
    carry_through(chunk, state.data(), K, V);
    if (!read) {
      for (int i = 0; i < chunk.size(); ++i) {
        add_outer(1.0, &chunk.k_new[i * K], &chunk.u[i * V], state.data(), K, V);
      }
    }
  }
  const bool last_reads = ((grid.last() >> chunk_level) & 1) != 0;
  if (final_levels && last_reads) {
    add_scaled(1.0, state.data(), final_levels + token_level * state.size(),
               static_cast<int>(state.size()));
  }
}

// Spec 7: a source in level ell of the state after P tokens has level max(ell, j_t) relative to
// a later target t, with j_t = bit_length(t XOR (P-1)); its state level is carried through
// every transition of the call, and a target reads it through q_new (the within-chunk part).
void prefix_contribution(const HeadSlice& head, const ChunkGrid& grid,
                         const std::vector<DeltaChunk>& chunks, const HeadPrefix& prefix, double* o,
                         double* final_levels) {
  const int T = head.seq_len, K = head.key_dim, V = head.value_dim, L = head.levels;
  const size_t level_size = static_cast<size_t>(K) * V;
  const int64_t last_prefix_token = prefix.position - 1;
  const auto joint_level = [&](int t) {
    return bit_length(static_cast<uint64_t>((grid.start + t) ^ last_prefix_token));
  };
  std::vector<double> carried(level_size);
  for (int ell = 0; ell < L; ++ell) {
    if (!levels::level_occupied(last_prefix_token, ell)) continue;
    std::copy(prefix.levels + ell * level_size, prefix.levels + (ell + 1) * level_size,
              carried.begin());
    for (const DeltaChunk& chunk : chunks) {
      read_state(
          chunk, carried.data(), K, V,
          [&](int t) { return head.lambda_at(t, std::max(ell, joint_level(t))); }, o);
      carry_through(chunk, carried.data(), K, V);
    }
    if (final_levels) {
      add_scaled(1.0, carried.data(), final_levels + std::max(ell, joint_level(T - 1)) * level_size,
                 static_cast<int>(level_size));
    }
  }
}

// The final state's levels 0..log2 C hold the last chunk's own tokens (spec 7, prefill step 2),
// each at its level relative to the last token.
void last_chunk_levels(const HeadSlice& head, const ChunkGrid& grid, const DeltaChunk& chunk,
                       double* final_levels) {
  const int K = head.key_dim, V = head.value_dim;
  const int64_t last = grid.start + chunk.end - 1;
  for (int j = 0; j < chunk.size(); ++j) {
    const int t = chunk.begin + j;
    const int ell = levels::level(last, grid.start + t);
    add_outer(head.beta[t], &chunk.end_keys[j * K], head.v_row(t),
              final_levels + static_cast<size_t>(ell) * K * V, K, V);
  }
}

// Spec 4.2 step 2's output: o_i += sum_j score_ij v_j within the chunk.
void add_intra_chunk_output(const HeadSlice& head, const DeltaChunk& chunk, double* o) {
  const int n = chunk.size(), V = head.value_dim;
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j <= i; ++j) {
      add_scaled(chunk.score[i * n + j], head.v_row(chunk.begin + j),
                 o + static_cast<size_t>(chunk.begin + i) * V, V);
    }
  }
}

// The final state is assembled as a prefill leaves it (spec 7): levels above log2 C from the
// scans, the initial state's levels carried through the call, levels 0..log2 C from the last
// chunk's own tokens.
void chunkwise_head(const HeadSlice& head, int chunk_size, const HeadPrefix* prefix, double* o,
                    double* final_levels) {
  const ChunkGrid grid{prefix ? prefix->position : 0,
                       __builtin_ctz(static_cast<unsigned>(chunk_size)), head.seq_len};
  std::vector<DeltaChunk> chunks;
  for (int64_t c = grid.first(); c <= grid.last(); ++c) {
    chunks.push_back(prepare_chunk(head, grid, c));
    add_intra_chunk_output(head, chunks.back(), o);
  }
  const int chunk_levels = bit_length(static_cast<uint64_t>(grid.first() ^ grid.last()));
  for (int ell = 0; ell < chunk_levels; ++ell) {
    inter_chunk_level(head, grid, chunks, ell, o, final_levels);
  }
  if (prefix) prefix_contribution(head, grid, chunks, *prefix, o, final_levels);
  if (final_levels) last_chunk_levels(head, grid, chunks.back(), final_levels);
}

}  // namespace

Result gdn_forward_materialized(const Problem& p, const Inputs& in) {
  return forward_each_head(p, in, nullptr, false,
                           [](const HeadSlice& head, const HeadPrefix*, double* o, double*) {
                             materialized_head(head, o);
                           });
}

Result gdn_forward_chunkwise(const Problem& p, const Inputs& in, int chunk,
                             const FenwickState* initial) {
  return forward_each_head(
      p, in, initial, true,
      [chunk](const HeadSlice& head, const HeadPrefix* prefix, double* o, double* final_levels) {
        chunkwise_head(head, chunk, prefix, o, final_levels);
      });
}

Result gdn_forward_recurrent(const Problem& p, const Inputs& in, const FenwickState* initial) {
  return forward_each_head(
      p, in, initial, true,
      [](const HeadSlice& head, const HeadPrefix* prefix, double* o, double* final_levels) {
        recurrent_forward(head, prefix, /*delta_rule=*/true, o, final_levels);
      });
}

}  // namespace lla::reference
