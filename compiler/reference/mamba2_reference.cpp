// Log-linear Mamba-2 (spec/loglinear.md sections 3, 5, 7), one (batch, head) at a time:
//   o_t = sum_{s<=t} lambda_t^{level(t,s)} exp(G_t - G_s) (q_t . k_s) v_s.
// Positions are absolute: a call continuing from a state after P tokens holds tokens P..P+T-1,
// and every level and chunk index below is taken on those absolute positions.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "levels/fenwick_levels.h"
#include "reference/chunk_grid.h"
#include "reference/per_head.h"
#include "reference/recurrence.h"
#include "reference/variant_forwards.h"
#include "reference/vector_ops.h"

namespace lla::reference {
namespace {

using levels::bit_length;

// Inclusive cumulative sum of g over this call's tokens: G_t - G_{-1}, with -1 the token just
// before the call.
std::vector<double> cumulative_decay(const HeadSlice& head) {
  std::vector<double> cumsum(head.seq_len);
  double running = 0.0;
  for (int t = 0; t < head.seq_len; ++t) cumsum[t] = running += head.g[t];
  return cumsum;
}

// Spec 3.1: every (t, s) pair directly.
void materialized_head(const HeadSlice& head, double* o) {
  const int T = head.seq_len, K = head.key_dim, V = head.value_dim;
  const std::vector<double> G = cumulative_decay(head);
  for (int t = 0; t < T; ++t) {
    for (int s = 0; s <= t; ++s) {
      const double weight = head.lambda_at(t, levels::level(t, s)) * std::exp(G[t] - G[s]) *
                            dot(head.q_row(t), head.k_row(s), K);
      add_scaled(weight, head.v_row(s), o + static_cast<size_t>(t) * V, V);
    }
  }
}

// Spec 3.2 step 0: inclusive cumulative sum of g restarting at each chunk's first token.
std::vector<double> chunk_local_decay(const HeadSlice& head, const ChunkGrid& grid) {
  std::vector<double> cumsum(head.seq_len);
  for (int64_t c = grid.first(); c <= grid.last(); ++c) {
    double running = 0.0;
    for (int i = grid.begin(c); i < grid.end(c); ++i) cumsum[i] = running += head.g[i];
  }
  return cumsum;
}

// Spec 3.2 step 1: pairs within a chunk, all levels 0..log2 C, with per-pair lambda.
void intra_chunk_pass(const HeadSlice& head, const ChunkGrid& grid, const std::vector<double>& Gc,
                      double* o) {
  const int K = head.key_dim, V = head.value_dim;
  for (int64_t c = grid.first(); c <= grid.last(); ++c) {
    for (int i = grid.begin(c); i < grid.end(c); ++i) {
      for (int j = grid.begin(c); j <= i; ++j) {
        const int ell = levels::level(grid.start + i, grid.start + j);
        const double weight =
            head.lambda_at(i, ell) * std::exp(Gc[i] - Gc[j]) * dot(head.q_row(i), head.k_row(j), K);
        add_scaled(weight, head.v_row(j), o + static_cast<size_t>(i) * V, V);
      }
    }
  }
}

// Spec 3.2 step 2 for one chunk level: a state scan over the chunks with the write / read /
// reset masks; a read chunk reads the state entering it, i.e. the decayed sum of the first
// half of its aligned group of 2^(ell+1) chunks (as far as this call holds them).
void inter_chunk_level(const HeadSlice& head, const ChunkGrid& grid, const std::vector<double>& Gc,
                       int chunk_level, double* o) {
  const int K = head.key_dim, V = head.value_dim;
  const int token_level = grid.log2_chunk + 1 + chunk_level;
  const int64_t group_mask = (int64_t{2} << chunk_level) - 1;
  std::vector<double> state(static_cast<size_t>(K) * V, 0.0);
  for (int64_t c = grid.first(); c <= grid.last(); ++c) {
    const int begin = grid.begin(c), end = grid.end(c);
    const bool read = ((c >> chunk_level) & 1) != 0;
    const bool reset = (c & group_mask) == group_mask;
    if (read) {
      for (int i = begin; i < end; ++i) {
        add_transposed_product(head.lambda_at(i, token_level) * std::exp(Gc[i]), state.data(),
                               head.q_row(i), o + static_cast<size_t>(i) * V, K, V);
      }
    }
    const double chunk_decay = Gc[end - 1];
    if (reset) {
      std::fill(state.begin(), state.end(), 0.0);
    } else {
      scale_in_place(std::exp(chunk_decay), state.data(), K * V);
    }
    if (!read) {
      for (int j = begin; j < end; ++j) {
        add_outer(std::exp(chunk_decay - Gc[j]), head.k_row(j), head.v_row(j), state.data(), K, V);
      }
    }
  }
}

// Spec 7: a source in level ell of the state after P tokens has level max(ell, j_t) relative to
// a later target t, with j_t = bit_length(t XOR (P-1)); it decays by exp(G_t - G_{P-1}).
void prefix_contribution(const HeadSlice& head, const HeadPrefix& prefix, double* o) {
  const int T = head.seq_len, K = head.key_dim, V = head.value_dim, L = head.levels;
  const size_t level_size = static_cast<size_t>(K) * V;
  const int64_t last_prefix_token = prefix.position - 1;
  const std::vector<double> G = cumulative_decay(head);
  for (int t = 0; t < T; ++t) {
    const int j = bit_length(static_cast<uint64_t>((prefix.position + t) ^ last_prefix_token));
    for (int ell = 0; ell < L; ++ell) {
      if (!levels::level_occupied(last_prefix_token, ell)) continue;
      add_transposed_product(head.lambda_at(t, std::max(ell, j)) * std::exp(G[t]),
                             prefix.levels + ell * level_size, head.q_row(t),
                             o + static_cast<size_t>(t) * V, K, V);
    }
  }
}

// The Fenwick state after the call's last token f, bucket by bucket (spec 5 invariant):
// level ell >= 1 holds bucket(f, ell) when occupied, level 0 token f, all decayed to f. Prefix
// sources move up to level max(ell, j_f) as in prefix_contribution.
void final_state_from_buckets(const HeadSlice& head, const HeadPrefix* prefix,
                              double* final_levels) {
  const int T = head.seq_len, K = head.key_dim, V = head.value_dim, L = head.levels;
  const size_t level_size = static_cast<size_t>(K) * V;
  const int64_t start = prefix ? prefix->position : 0;
  const int64_t last = start + T - 1;
  const std::vector<double> G = cumulative_decay(head);
  for (int ell = 0; ell < L; ++ell) {
    if (!levels::level_occupied(last, ell)) continue;
    const levels::Bucket sources = levels::bucket(last, ell);
    for (int64_t s = std::max(sources.begin, start); s < sources.end; ++s) {
      const int local = static_cast<int>(s - start);
      add_outer(std::exp(G[T - 1] - G[local]), head.k_row(local), head.v_row(local),
                final_levels + ell * level_size, K, V);
    }
  }
  if (!prefix) return;
  const int64_t last_prefix_token = prefix->position - 1;
  const int j = bit_length(static_cast<uint64_t>(last ^ last_prefix_token));
  for (int ell = 0; ell < L; ++ell) {
    add_scaled(std::exp(G[T - 1]), prefix->levels + ell * level_size,
               final_levels + std::max(ell, j) * level_size, static_cast<int>(level_size));
  }
}

void chunkwise_head(const HeadSlice& head, int chunk, const HeadPrefix* prefix, double* o,
                    double* final_levels) {
  const ChunkGrid grid{prefix ? prefix->position : 0, __builtin_ctz(static_cast<unsigned>(chunk)),
                       head.seq_len};
  const std::vector<double> Gc = chunk_local_decay(head, grid);
  intra_chunk_pass(head, grid, Gc, o);
  const int chunk_levels = bit_length(static_cast<uint64_t>(grid.first() ^ grid.last()));
  for (int ell = 0; ell < chunk_levels; ++ell) inter_chunk_level(head, grid, Gc, ell, o);
  if (prefix) prefix_contribution(head, *prefix, o);
  if (final_levels) final_state_from_buckets(head, prefix, final_levels);
}

}  // namespace

Result mamba2_forward_materialized(const Problem& p, const Inputs& in) {
  return forward_each_head(p, in, nullptr, false,
                           [](const HeadSlice& head, const HeadPrefix*, double* o, double*) {
                             materialized_head(head, o);
                           });
}

Result mamba2_forward_chunkwise(const Problem& p, const Inputs& in, int chunk,
                                const FenwickState* initial) {
  return forward_each_head(
      p, in, initial, true,
      [chunk](const HeadSlice& head, const HeadPrefix* prefix, double* o, double* final_levels) {
        chunkwise_head(head, chunk, prefix, o, final_levels);
      });
}

Result mamba2_forward_recurrent(const Problem& p, const Inputs& in, const FenwickState* initial) {
  return forward_each_head(
      p, in, initial, true,
      [](const HeadSlice& head, const HeadPrefix* prefix, double* o, double* final_levels) {
        recurrent_forward(head, prefix, /*delta_rule=*/false, o, final_levels);
      });
}

}  // namespace lla::reference
