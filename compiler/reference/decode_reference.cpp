// The reference decode step: each sequence continues from its own position through
// forward_recurrent with one token, so decoding and the forward share one definition of the
// recurrence (spec 5) for both variants.

#include "reference/decode_reference.h"

#include <algorithm>
#include <random>
#include <stdexcept>
#include <string>

#include "levels/fenwick_levels.h"

namespace lla::reference {
namespace {

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

// Elements [begin, begin + count) of x.
std::vector<double> span(const std::vector<double>& x, size_t begin, size_t count) {
  return std::vector<double>(x.begin() + begin, x.begin() + begin + count);
}

// Per (batch, token) element counts of each time-first tensor.
struct TokenSizes {
  size_t qk, v, gate, lambda;
  explicit TokenSizes(const Problem& p)
      : qk(static_cast<size_t>(p.groups) * p.key_dim),
        v(static_cast<size_t>(p.heads) * p.value_dim),
        gate(static_cast<size_t>(p.heads)),
        lambda(static_cast<size_t>(p.heads) * p.levels) {}
};

// Appends tokens [first, first + count) of sequence b of `in` to `out`.
void append_tokens(const Problem& p, const Inputs& in, int b, int first, int count, Inputs& out) {
  const TokenSizes per(p);
  const auto append = [&](const std::vector<double>& from, size_t per_token,
                          std::vector<double>& to) {
    const size_t begin = (static_cast<size_t>(b) * p.seq_len + first) * per_token;
    const std::vector<double> part = span(from, begin, per_token * count);
    to.insert(to.end(), part.begin(), part.end());
  };
  append(in.q, per.qk, out.q);
  append(in.k, per.qk, out.k);
  append(in.v, per.v, out.v);
  append(in.g, per.gate, out.g);
  append(in.lambda, per.lambda, out.lambda);
  if (!in.beta.empty()) append(in.beta, per.gate, out.beta);
}

}  // namespace

Inputs sequence_prefix(const Problem& p, const Inputs& in, int b, int length) {
  validate(p, in);
  require(b >= 0 && b < p.batch, "sequence: " + std::to_string(b) + " is not in [0, batch)");
  require(length >= 1 && length <= p.seq_len,
          "length: " + std::to_string(length) + " is not in [1, seq_len]");
  Inputs out;
  append_tokens(p, in, b, 0, length, out);
  return out;
}

std::vector<double> token_range(const std::vector<double>& x, int batch, int seq_len, int begin,
                                int end) {
  require(batch > 0 && seq_len > 0 && x.size() % (static_cast<size_t>(batch) * seq_len) == 0,
          "x: " + std::to_string(x.size()) + " elements are not whole tokens of " +
              std::to_string(batch) + " sequences of " + std::to_string(seq_len));
  require(0 <= begin && begin <= end && end <= seq_len,
          "range: [" + std::to_string(begin) + ", " + std::to_string(end) +
              ") is not within [0, seq_len]");
  const size_t per_token = x.size() / (static_cast<size_t>(batch) * seq_len);
  std::vector<double> part;
  for (int b = 0; b < batch; ++b) {
    const auto first = x.begin() + (static_cast<size_t>(b) * seq_len + begin) * per_token;
    part.insert(part.end(), first, first + (end - begin) * per_token);
  }
  return part;
}

std::pair<Problem, Inputs> token_range(const Problem& p, const Inputs& in, int begin, int end) {
  validate(p, in);
  require(0 <= begin && begin < end && end <= p.seq_len,
          "range: [" + std::to_string(begin) + ", " + std::to_string(end) +
              ") is not a non-empty part of [0, seq_len)");
  Problem part = p;
  part.seq_len = end - begin;
  const auto tokens = [&](const std::vector<double>& x) {
    return x.empty() ? x : token_range(x, p.batch, p.seq_len, begin, end);
  };
  return {part, {tokens(in.q), tokens(in.k), tokens(in.v), tokens(in.g), tokens(in.lambda),
                 tokens(in.beta)}};
}

std::vector<double> join_tokens(const std::vector<double>& first, const std::vector<double>& second,
                                int batch) {
  require(batch > 0 && first.size() % batch == 0 && second.size() % batch == 0,
          "batch: " + std::to_string(batch) + " does not divide the tensors' sizes");
  const size_t first_part = first.size() / batch, second_part = second.size() / batch;
  std::vector<double> joined;
  joined.reserve(first.size() + second.size());
  for (int b = 0; b < batch; ++b) {
    joined.insert(joined.end(), first.begin() + b * first_part, first.begin() + (b + 1) * first_part);
    joined.insert(joined.end(), second.begin() + b * second_part,
                  second.begin() + (b + 1) * second_part);
  }
  return joined;
}

Inputs select_tokens(const Problem& p, const Inputs& in, const std::vector<int>& token_of_sequence) {
  validate(p, in);
  require(token_of_sequence.size() == static_cast<size_t>(p.batch),
          "token_of_sequence: has " + std::to_string(token_of_sequence.size()) +
              " entries, expected batch = " + std::to_string(p.batch));
  Inputs out;
  for (int b = 0; b < p.batch; ++b) {
    const int t = token_of_sequence[b];
    require(t >= 0 && t < p.seq_len, "token_of_sequence[" + std::to_string(b) +
                                         "]: " + std::to_string(t) + " is not in [0, seq_len)");
    append_tokens(p, in, b, t, 1, out);
  }
  return out;
}

std::vector<double> decode_step(const Problem& p, const Inputs& in,
                                const std::vector<int64_t>& positions, std::vector<double>& state) {
  require(p.seq_len == 1, "seq_len: a decode step takes one token per sequence, got " +
                              std::to_string(p.seq_len));
  validate(p, in);
  require(positions.size() == static_cast<size_t>(p.batch),
          "positions: has " + std::to_string(positions.size()) + " entries, expected batch = " +
              std::to_string(p.batch));
  require(state.size() == state_size(p), "state: has " + std::to_string(state.size()) +
                                             " elements, expected " +
                                             std::to_string(state_size(p)));
  Problem one = p;
  one.batch = 1;
  const size_t sequence_state = state_size(one);
  const size_t sequence_o = v_size(one);
  std::vector<double> o(v_size(p));
  for (int b = 0; b < p.batch; ++b) {
    FenwickState initial{positions[b], span(state, b * sequence_state, sequence_state)};
    Result stepped;
    try {
      require(initial.position >= 0, "position: " + std::to_string(initial.position) +
                                         " is negative");
      stepped = forward_recurrent(one, sequence_prefix(p, in, b, 1),
                                  initial.position > 0 ? &initial : nullptr);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("sequence " + std::to_string(b) + ": " + e.what());
    }
    std::copy(stepped.o.begin(), stepped.o.end(), o.begin() + b * sequence_o);
    std::copy(stepped.final_state.levels.begin(), stepped.final_state.levels.end(),
              state.begin() + b * sequence_state);
  }
  return o;
}

std::vector<double> random_state(const Problem& p, const std::vector<int64_t>& positions,
                                 double magnitude, uint64_t seed) {
  require(positions.size() == static_cast<size_t>(p.batch),
          "positions: has " + std::to_string(positions.size()) + " entries, expected batch = " +
              std::to_string(p.batch));
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, magnitude);
  const size_t level_size = static_cast<size_t>(p.key_dim) * p.value_dim;
  std::vector<double> state(state_size(p), 0.0);
  for (int b = 0; b < p.batch; ++b) {
    require(positions[b] >= 0, "positions[" + std::to_string(b) + "]: " +
                                   std::to_string(positions[b]) + " is negative");
    if (positions[b] == 0) continue;
    for (int h = 0; h < p.heads; ++h) {
      for (int ell = 0; ell < p.levels; ++ell) {
        if (!levels::level_occupied(positions[b] - 1, ell)) continue;
        const size_t begin = ((static_cast<size_t>(b) * p.heads + h) * p.levels + ell) * level_size;
        for (size_t i = begin; i < begin + level_size; ++i) state[i] = normal(rng);
      }
    }
  }
  return state;
}

}  // namespace lla::reference
