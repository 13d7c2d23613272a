// What both variants share: validation, sizes, random inputs, error measures, and the public
// forward functions, which validate and then dispatch to the per-variant passes.

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>

#include "levels/fenwick_levels.h"
#include "reference/checks.h"
#include "reference/reference.h"
#include "reference/variant_forwards.h"

namespace lla::reference {
namespace {

void validate_dims(const Problem& p) {
  require(p.batch > 0, "batch", "must be positive");
  require(p.seq_len > 0, "seq_len", "must be positive");
  require(p.heads > 0, "heads", "must be positive");
  require(p.groups > 0, "groups", "must be positive");
  require(p.key_dim > 0, "key_dim", "must be positive");
  require(p.value_dim > 0, "value_dim", "must be positive");
  require(p.levels > 0, "levels", "must be positive");
  require(p.heads % p.groups == 0, "groups", "must divide heads");
  require(std::isfinite(p.scale), "scale", "must be finite");
  // Every tensor's size must be representable (each throws naming its tensor otherwise).
  qk_size(p);
  v_size(p);
  lambda_size(p);
  state_size(p);
}

// Levels needed by a call whose tokens end at absolute position `end` (exclusive).
void require_levels_for(const Problem& p, int64_t end) {
  const int needed = levels::num_levels(end);
  require(p.levels >= needed, "levels",
          std::to_string(p.levels) + " given, positions up to " + std::to_string(end - 1) +
              " need " + std::to_string(needed));
}

}  // namespace

Problem mamba2_problem(int batch, int seq_len, int heads, int groups, int key_dim,
                       int value_dim) {
  Problem p;
  p.variant = Variant::mamba2;
  p.batch = batch;
  p.seq_len = seq_len;
  p.heads = heads;
  p.groups = groups;
  p.key_dim = key_dim;
  p.value_dim = value_dim;
  p.levels = levels::num_levels(seq_len);
  return p;
}

const char* variant_name(Variant v) {
  switch (v) {
    case Variant::mamba2:
      return "mamba2";
    case Variant::gated_deltanet:
      return "gdn";
  }
  throw std::invalid_argument("variant: unknown value");
}

size_t qk_size(const Problem& p) {
  return checked_product("q", "B*T*G*K", {p.batch, p.seq_len, p.groups, p.key_dim});
}
size_t v_size(const Problem& p) {
  return checked_product("v", "B*T*H*V", {p.batch, p.seq_len, p.heads, p.value_dim});
}
size_t gate_size(const Problem& p) {
  return checked_product("g", "B*T*H", {p.batch, p.seq_len, p.heads});
}
size_t lambda_size(const Problem& p) {
  return checked_product("lambda", "B*T*H*L", {p.batch, p.seq_len, p.heads, p.levels});
}
size_t state_size(const Problem& p) {
  return checked_product("state", "B*H*L*K*V",
                         {p.batch, p.heads, p.levels, p.key_dim, p.value_dim});
}

void validate(const Problem& p, const Inputs& in) {
  validate_dims(p);
  require_levels_for(p, p.seq_len);
  require_size(in.q, qk_size(p), "q");
  require_size(in.k, qk_size(p), "k");
  require_size(in.v, v_size(p), "v");
  require_size(in.g, gate_size(p), "g");
  require_size(in.lambda, lambda_size(p), "lambda");
  // Mamba-2 has no beta; one given anyway is a caller's mistake, not something to ignore.
  require_size(in.beta, p.variant == Variant::gated_deltanet ? gate_size(p) : 0, "beta");
}

void validate(const Problem& p, const FenwickState& s) {
  validate_dims(p);
  require(s.position >= 0, "position", "must not be negative");
  require_size(s.levels, state_size(p), "state");
  // Empty levels must be zero (the invariant of reference.h): the passes rely on it.
  const size_t level_size = static_cast<size_t>(p.key_dim) * p.value_dim;
  const size_t heads = static_cast<size_t>(p.batch) * p.heads;
  for (size_t bh = 0; bh < heads; ++bh) {
    for (int ell = 0; ell < p.levels; ++ell) {
      const bool occupied = s.position > 0 && levels::level_occupied(s.position - 1, ell);
      if (occupied) continue;
      const size_t begin = (bh * p.levels + ell) * level_size;
      for (size_t i = begin; i < begin + level_size; ++i) {
        require(s.levels[i] == 0.0, "state",
                "level " + std::to_string(ell) + " is empty at position " +
                    std::to_string(s.position) + " but holds nonzero values");
      }
    }
  }
}

void validate_initial_state(const Problem& p, const FenwickState& initial) {
  validate(p, initial);
  require_levels_for(p, initial.position + p.seq_len);
}

void validate_chunk(int chunk) {
  require(chunk >= 1 && (chunk & (chunk - 1)) == 0, "chunk",
          std::to_string(chunk) + " is not a power of two");
}

Result forward_materialized(const Problem& p, const Inputs& in) {
  validate(p, in);
  return p.variant == Variant::mamba2 ? mamba2_forward_materialized(p, in)
                                      : gdn_forward_materialized(p, in);
}

Result forward_chunkwise(const Problem& p, const Inputs& in, int chunk,
                         const FenwickState* initial) {
  validate(p, in);
  validate_chunk(chunk);
  if (initial) validate_initial_state(p, *initial);
  return p.variant == Variant::mamba2 ? mamba2_forward_chunkwise(p, in, chunk, initial)
                                      : gdn_forward_chunkwise(p, in, chunk, initial);
}

Result forward_recurrent(const Problem& p, const Inputs& in, const FenwickState* initial) {
  validate(p, in);
  if (initial) validate_initial_state(p, *initial);
  return p.variant == Variant::mamba2 ? mamba2_forward_recurrent(p, in, initial)
                                      : gdn_forward_recurrent(p, in, initial);
}

Inputs random_inputs(const Problem& p, uint64_t seed) {
  validate_dims(p);
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const auto fill = [&rng](size_t n, auto&& draw) {
    std::vector<double> x(n);
    for (double& e : x) e = draw(rng);
    return x;
  };
  const double q_scale = 1.0 / std::sqrt(static_cast<double>(p.key_dim));
  Inputs in;
  in.q = fill(qk_size(p), [&](std::mt19937_64& r) { return normal(r) * q_scale; });
  in.k = fill(qk_size(p), [&](std::mt19937_64& r) { return normal(r); });
  in.v = fill(v_size(p), [&](std::mt19937_64& r) { return normal(r); });
  in.g = fill(gate_size(p), [&](std::mt19937_64& r) { return -0.1 * unit(r); });
  in.lambda = fill(lambda_size(p), [&](std::mt19937_64& r) { return 0.5 + unit(r); });
  if (p.variant == Variant::gated_deltanet) {
    in.beta = fill(gate_size(p), [&](std::mt19937_64& r) { return unit(r); });
  }
  return in;
}

double relative_frobenius_error(const std::vector<double>& got, const std::vector<double>& want) {
  require(got.size() == want.size(), "got", "size differs from want");
  double diff_squares = 0.0, want_squares = 0.0;
  for (size_t i = 0; i < got.size(); ++i) {
    diff_squares += (got[i] - want[i]) * (got[i] - want[i]);
    want_squares += want[i] * want[i];
  }
  if (diff_squares == 0.0) return 0.0;
  return std::sqrt(diff_squares) / std::sqrt(want_squares);
}

double max_relative_error(const std::vector<double>& got, const std::vector<double>& want) {
  require(got.size() == want.size(), "got", "size differs from want");
  double max_diff = 0.0, max_want = 0.0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double diff = std::abs(got[i] - want[i]);
    if (std::isnan(diff)) return diff;  // std::max would drop it
    max_diff = std::max(max_diff, diff);
    max_want = std::max(max_want, std::abs(want[i]));
  }
  return max_diff / std::max(max_want, std::numeric_limits<double>::min());
}

}  // namespace lla::reference
