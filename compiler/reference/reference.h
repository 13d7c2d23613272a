#pragma once
// The float64 CPU reference of log-linear attention: the oracle of every test and check.
// Plain, readable code; never a fast path. Math: spec/loglinear.md.
//
// Layouts are time-first (spec section 1): q, k [B,T,G,K]; v, o [B,T,H,V]; g, beta [B,T,H];
// lambda [B,T,H,L]; a Fenwick state [B,H,L,K,V]. Head h reads q/k group h / (H / G).
// With qk_l2norm, q and k are divided by sqrt(sum of squares + 1e-6); then q is multiplied by
// scale.

#include <cstdint>
#include <string>
#include <vector>

namespace lla::reference {

enum class Variant { mamba2, gated_deltanet };

const char* variant_name(Variant v);  // "mamba2", "gdn"

struct Problem {
  Variant variant = Variant::mamba2;
  int batch = 1;
  int seq_len = 1;  // T: tokens in this call
  int heads = 1;
  int groups = 1;  // q/k groups; heads % groups == 0
  int key_dim = 1;
  int value_dim = 1;
  int levels = 1;  // L: lambda levels and state levels
  double scale = 1.0;
  bool qk_l2norm = false;
};

struct Inputs {
  std::vector<double> q, k, v, g, lambda;
  std::vector<double> beta;  // gated DeltaNet only; empty for mamba2
};

// A Fenwick state after `position` tokens of every sequence (spec section 5 invariant:
// level 0 holds token position-1, level l >= 1 the bucket l of position-1 when bit l-1 of
// position-1 is set, all decayed to position-1; empty levels zero).
struct FenwickState {
  int64_t position = 0;
  std::vector<double> levels;  // [B,H,L,K,V]
};

struct Result {
  std::vector<double> o;  // [B,T,H,V]
  FenwickState final_state;  // after the last token; empty levels when not computed
};

// A log-linear Mamba-2 problem of these sizes with levels = num_levels(seq_len), scale 1.
Problem mamba2_problem(int batch, int seq_len, int heads, int groups, int key_dim, int value_dim);

// Throws std::invalid_argument naming the field when shapes or sizes are inconsistent.
void validate(const Problem& p, const Inputs& in);
void validate(const Problem& p, const FenwickState& s);
// A state for a call of p to continue from: validate(p, s), and levels >= num_levels(s.position
// + seq_len) so the call's positions fit.
void validate_initial_state(const Problem& p, const FenwickState& s);
// A chunk size of the chunkwise forms: a power of two.
void validate_chunk(int chunk);

// Element counts of every tensor for a problem; each throws std::invalid_argument naming its
// tensor when the count does not fit in size_t.
size_t qk_size(const Problem& p);
size_t v_size(const Problem& p);
size_t gate_size(const Problem& p);  // g and beta
size_t lambda_size(const Problem& p);
size_t state_size(const Problem& p);

// The materialised O(T^2) form (spec 3.1 / 4.1): outputs only, from position 0.
Result forward_materialized(const Problem& p, const Inputs& in);

// The chunkwise algorithm (spec 3.2 / 4.2) for a chunk size that is a power of two; any T.
// With `initial`, the tokens continue a sequence after initial->position tokens (spec 7).
// Fills o and the final state.
Result forward_chunkwise(const Problem& p, const Inputs& in, int chunk,
                         const FenwickState* initial = nullptr);

// The Fenwick decode recurrence (spec 5), token by token; with `initial`, continues from it.
// Fills o and the final state.
Result forward_recurrent(const Problem& p, const Inputs& in,
                         const FenwickState* initial = nullptr);

// Inputs of the benchmark distribution (perf.md): q, k, v ~ N(0, 1) (scaled by 1/sqrt(K) for
// q), g ~ -U(0, 0.1), lambda ~ U(0.5, 1.5), beta ~ U(0, 1) for gdn. Deterministic in seed.
Inputs random_inputs(const Problem& p, uint64_t seed);

// sqrt(sum (a-b)^2) / sqrt(sum b^2); 0 when both are empty. Sizes must match.
double relative_frobenius_error(const std::vector<double>& got, const std::vector<double>& want);

// max |a-b| / max(max |b|, tiny); NaN when any difference is NaN. Sizes must match.
double max_relative_error(const std::vector<double>& got, const std::vector<double>& want);

}  // namespace lla::reference
