#pragma once
// The decode step of the float64 reference (spec/loglinear.md section 5) for a batch whose
// sequences sit at different positions (continuous batching), and the input slicing that
// decode checks need: the oracle of the decode kernels.

#include <cstdint>
#include <utility>
#include <vector>

#include "reference/reference.h"

namespace lla::reference {

// Advances every sequence b by the one token of `in` (p.seq_len == 1) from positions[b]
// consumed tokens: `state` ([B,H,L,K,V], the Fenwick state after positions[b] tokens) is
// updated in place and o ([B,H,V]) returned. Position 0 starts a fresh sequence: what `state`
// holds for that sequence is ignored, as a reused slot of a finished sequence may hold
// anything. Both variants. Throws std::invalid_argument naming the field (and the sequence)
// when sizes disagree, a position is negative, levels < num_levels(positions[b] + 1), or an
// empty level of a state holds nonzero values.
std::vector<double> decode_step(const Problem& p, const Inputs& in,
                                const std::vector<int64_t>& positions, std::vector<double>& state);

// Tokens [0, length) of sequence b, as the inputs of a batch-1 problem of seq_len `length`.
Inputs sequence_prefix(const Problem& p, const Inputs& in, int b, int length);

// Tokens [begin, end) of every sequence of a time-first tensor [B,T,...] of `batch` sequences
// of `seq_len` tokens (inputs, outputs and their gradients alike).
std::vector<double> token_range(const std::vector<double>& x, int batch, int seq_len, int begin,
                                int end);

// Tokens [begin, end) of every sequence, as the problem and inputs of a call of their own: the
// pieces of a sequence run in segments.
std::pair<Problem, Inputs> token_range(const Problem& p, const Inputs& in, int begin, int end);

// The tokens of `first` followed by those of `second`, sequence by sequence: two time-first
// tensors of `batch` sequences joined along time (the inverse of token_range).
std::vector<double> join_tokens(const std::vector<double>& first, const std::vector<double>& second,
                                int batch);

// Token token_of_sequence[b] of every sequence b, as the inputs of a seq_len-1 problem.
Inputs select_tokens(const Problem& p, const Inputs& in, const std::vector<int>& token_of_sequence);

// A Fenwick state [B,H,L,K,V] after positions[b] tokens of sequence b: N(0, 1) values scaled
// by `magnitude` in every occupied level, zeros in the empty ones (the invariant of
// reference.h); all zeros at position 0. Deterministic in seed. A decode step is linear in
// the state and reads occupied levels only, so such a state exercises it as a real one does,
// without a long prefill.
std::vector<double> random_state(const Problem& p, const std::vector<int64_t>& positions,
                                 double magnitude, uint64_t seed);

}  // namespace lla::reference
