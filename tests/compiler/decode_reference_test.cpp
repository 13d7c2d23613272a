// The reference decode step against whole-sequence runs: a prefill (chunkwise, final state)
// followed by decode steps must equal the recurrent pass over all tokens, for both variants,
// with prefill lengths on and off the chunk grid and sequences at different positions.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "levels/fenwick_levels.h"
#include "reference/decode_reference.h"
#include "reference/reference.h"

namespace lla::reference {
namespace {

using ::testing::HasSubstr;

constexpr int kChunk = 8;
constexpr double kTolerance = 1e-11;

Problem problem_of(Variant variant, int batch, int seq_len, int levels) {
  Problem p;
  p.variant = variant;
  p.batch = batch;
  p.seq_len = seq_len;
  p.heads = 2;
  p.groups = variant == Variant::mamba2 ? 1 : 2;
  p.key_dim = 5;
  p.value_dim = 3;
  p.levels = levels;
  p.scale = 0.75;
  p.qk_l2norm = variant == Variant::gated_deltanet;
  return p;
}

// Sequence b's slice of a [B, ...] tensor with `per_sequence` elements per sequence.
std::vector<double> slice(const std::vector<double>& x, int b, size_t per_sequence) {
  return std::vector<double>(x.begin() + b * per_sequence, x.begin() + (b + 1) * per_sequence);
}

// Sequences b = 0..B-1 of `inputs` (all of length T) are prefilled with prefill[b] tokens,
// then decoded `steps` tokens at positions prefill[b] + i; every decode output and the final
// state must equal the recurrent pass of each whole sequence.
void expect_decode_continues_prefill(Variant variant, const std::vector<int>& prefill, int steps) {
  const int batch = static_cast<int>(prefill.size());
  int longest = 0;
  for (int n : prefill) longest = std::max(longest, n + steps);
  const int levels = levels::num_levels(longest);
  const Problem all = problem_of(variant, batch, longest, levels);
  const Inputs inputs = random_inputs(all, 7 + batch);
  SCOPED_TRACE(std::string(variant_name(variant)) + " prefill[0]=" + std::to_string(prefill[0]));

  Problem one = problem_of(variant, 1, 1, levels);
  const size_t sequence_state = state_size(one);
  std::vector<double> state(sequence_state * batch, 0.0);
  std::vector<int64_t> positions(batch);
  std::vector<Result> whole(batch);
  for (int b = 0; b < batch; ++b) {
    one.seq_len = prefill[b] + steps;
    whole[b] = forward_recurrent(one, sequence_prefix(all, inputs, b, one.seq_len));
    positions[b] = prefill[b];
    if (prefill[b] == 0) continue;
    one.seq_len = prefill[b];
    const Result prefilled = forward_chunkwise(one, sequence_prefix(all, inputs, b, prefill[b]), kChunk);
    std::copy(prefilled.final_state.levels.begin(), prefilled.final_state.levels.end(),
              state.begin() + b * sequence_state);
  }

  Problem step = problem_of(variant, batch, 1, levels);
  const size_t sequence_o = static_cast<size_t>(step.heads) * step.value_dim;
  for (int i = 0; i < steps; ++i) {
    std::vector<int> tokens(prefill.begin(), prefill.end());
    for (int& t : tokens) t += i;
    const std::vector<double> o = decode_step(step, select_tokens(all, inputs, tokens), positions, state);
    for (int b = 0; b < batch; ++b) {
      const std::vector<double> want = slice(whole[b].o, tokens[b], sequence_o);
      EXPECT_LT(max_relative_error(slice(o, b, sequence_o), want), kTolerance)
          << "sequence " << b << " step " << i;
      ++positions[b];
    }
  }
  for (int b = 0; b < batch; ++b)
    EXPECT_LT(max_relative_error(slice(state, b, sequence_state), whole[b].final_state.levels),
              kTolerance)
        << "final state of sequence " << b;
}

TEST(DecodeReference, ContinuesAPrefillOnTheChunkGrid) {
  for (Variant v : {Variant::mamba2, Variant::gated_deltanet})
    expect_decode_continues_prefill(v, {16, 16}, 20);
}

TEST(DecodeReference, ContinuesAPrefillOffTheChunkGrid) {
  for (Variant v : {Variant::mamba2, Variant::gated_deltanet})
    expect_decode_continues_prefill(v, {13, 13}, 20);
}

TEST(DecodeReference, SequencesAtDifferentPositions) {
  // Fresh, one token, powers of two, 2^k - 1, on and off the chunk grid.
  for (Variant v : {Variant::mamba2, Variant::gated_deltanet})
    expect_decode_continues_prefill(v, {0, 1, 2, 7, 8, 31, 32, 45}, 9);
}

TEST(DecodeReference, PositionZeroIgnoresWhatTheStateHolds) {
  const Problem p = problem_of(Variant::mamba2, 1, 1, 3);
  const Inputs in = random_inputs(p, 3);
  std::vector<double> fresh(state_size(p), 0.0), stale(state_size(p), 5.0);
  const std::vector<double> want = decode_step(p, in, {0}, fresh);
  EXPECT_EQ(decode_step(p, in, {0}, stale), want);
  EXPECT_EQ(stale, fresh);
}

TEST(DecodeReference, RandomStateFillsOccupiedLevelsOnly) {
  const Problem p = problem_of(Variant::mamba2, 2, 1, 5);
  const std::vector<double> state = random_state(p, {0, 6}, 1.0, 1);
  const size_t level = static_cast<size_t>(p.key_dim) * p.value_dim;
  const auto level_is_zero = [&](int b, int h, int ell) {
    const size_t begin = ((static_cast<size_t>(b) * p.heads + h) * p.levels + ell) * level;
    for (size_t i = begin; i < begin + level; ++i)
      if (state[i] != 0.0) return false;
    return true;
  };
  for (int h = 0; h < p.heads; ++h) {
    for (int ell = 0; ell < p.levels; ++ell) EXPECT_TRUE(level_is_zero(0, h, ell));
    // After 6 tokens, token 5 = 0b101 is the last: levels 0, 1 and 3 are occupied.
    for (int ell = 0; ell < p.levels; ++ell)
      EXPECT_EQ(level_is_zero(1, h, ell), !(ell == 0 || ell == 1 || ell == 3)) << ell;
  }
}

void expect_rejected(const std::function<void()>& call, const std::string& field) {
  try {
    call();
    ADD_FAILURE() << "accepted; expected a rejection naming " << field;
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr(field));
  }
}

TEST(DecodeReference, RejectsInconsistentCalls) {
  const Problem p = problem_of(Variant::mamba2, 2, 1, 4);
  const Inputs in = random_inputs(p, 1);
  std::vector<double> state(state_size(p), 0.0);
  expect_rejected([&] { decode_step(p, in, {0}, state); }, "positions");
  expect_rejected([&] { decode_step(p, in, {0, -1}, state); }, "sequence 1: position");
  // Four levels hold positions up to 7; position 8 needs five.
  expect_rejected([&] { decode_step(p, in, {0, 8}, state); }, "sequence 1: levels");
  std::vector<double> short_state(state.size() - 1);
  expect_rejected([&] { decode_step(p, in, {0, 0}, short_state); }, "state");
  std::vector<double> nonzero_empty = random_state(p, {1, 1}, 1.0, 2);
  nonzero_empty[nonzero_empty.size() - 1] = 1.0;  // level 3 of sequence 1, empty at position 1
  expect_rejected([&] { decode_step(p, in, {1, 1}, nonzero_empty); }, "sequence 1: state");
  Problem two_tokens = p;
  two_tokens.seq_len = 2;
  expect_rejected([&] { decode_step(two_tokens, random_inputs(two_tokens, 1), {0, 0}, state); },
                  "seq_len");
  expect_rejected([&] { select_tokens(p, in, {0, 1}); }, "token_of_sequence[1]");
  expect_rejected([&] { random_state(p, {0, -2}, 1.0, 1); }, "positions[1]");
}

}  // namespace
}  // namespace lla::reference
