// The float64 log-linear Mamba-2 reference: its three forms against each other, against the
// spec's hand-worked examples and special cases (spec/loglinear.md sections 3, 5, 7, 10), and
// its validation.

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "levels/fenwick_levels.h"
#include "reference/decode_reference.h"
#include "reference/reference.h"

namespace lla::reference {
namespace {

constexpr double kTolerance = 1e-10;

Problem mamba2_problem(int T, int K, int V, int heads = 1, int groups = 1, int batch = 1) {
  Problem p;
  p.variant = Variant::mamba2;
  p.batch = batch;
  p.seq_len = T;
  p.heads = heads;
  p.groups = groups;
  p.key_dim = K;
  p.value_dim = V;
  p.levels = levels::num_levels(T);
  return p;
}

void expect_close(const std::vector<double>& got, const std::vector<double>& want,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  EXPECT_LT(relative_frobenius_error(got, want), kTolerance) << what;
  EXPECT_LT(max_relative_error(got, want), kTolerance) << what;
}

void expect_values(const std::vector<double>& got, const std::vector<double>& want, double tol,
                   const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], tol) << what << " [" << i << "]";
}

void expect_invalid(const std::function<void()>& call, const std::string& field) {
  try {
    call();
    ADD_FAILURE() << "no std::invalid_argument; expected one naming " << field;
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(field), std::string::npos)
        << "message \"" << e.what() << "\" does not name " << field;
  }
}

// ---- The three forms agree -------------------------------------------------------------------

struct FormsCase {
  int T;
  int chunk;
};

class FormsAgree : public ::testing::TestWithParam<FormsCase> {};

TEST_P(FormsAgree, GroupedScaledNormalised) {
  const auto [T, chunk] = GetParam();
  for (const int groups : {1, 2}) {
    Problem p = mamba2_problem(T, 8, 6, /*heads=*/4, groups, /*batch=*/2);
    p.scale = 0.7;
    p.qk_l2norm = true;
    const Inputs in = random_inputs(p, 1000 + T * 7 + chunk + groups);
    const std::string label =
        "T=" + std::to_string(T) + " C=" + std::to_string(chunk) + " G=" + std::to_string(groups);
    const Result materialized = forward_materialized(p, in);
    const Result chunkwise = forward_chunkwise(p, in, chunk);
    const Result recurrent = forward_recurrent(p, in);
    expect_close(chunkwise.o, materialized.o, "chunkwise o, " + label);
    expect_close(recurrent.o, materialized.o, "recurrent o, " + label);
    expect_close(chunkwise.final_state.levels, recurrent.final_state.levels,
                 "final state, " + label);
    EXPECT_EQ(chunkwise.final_state.position, T);
    EXPECT_EQ(recurrent.final_state.position, T);
  }
}

std::vector<FormsCase> forms_cases() {
  std::vector<FormsCase> cases;
  for (const int chunk : {1, 2, 4, 16, 64}) {
    const std::set<int> lengths = {1, 2, 7, chunk, 2 * chunk, 3 * chunk, 6 * chunk, 100, 257};
    for (const int T : lengths) cases.push_back({T, chunk});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Mamba2Reference, FormsAgree, ::testing::ValuesIn(forms_cases()),
                         [](const ::testing::TestParamInfo<FormsCase>& info) {
                           return "T" + std::to_string(info.param.T) + "_C" +
                                  std::to_string(info.param.chunk);
                         });

TEST(Mamba2Reference, SpareLevelsStayZeroAndUnused) {
  Problem p = mamba2_problem(45, 4, 3, 2, 1);
  p.levels = levels::num_levels(45) + 3;
  Inputs in = random_inputs(p, 7);
  const Result materialized = forward_materialized(p, in);
  for (const Result& r : {forward_chunkwise(p, in, 4), forward_recurrent(p, in)}) {
    expect_close(r.o, materialized.o, "o with spare levels");
    const size_t level_size = static_cast<size_t>(p.key_dim) * p.value_dim;
    for (int h = 0; h < p.heads; ++h) {
      for (int ell = levels::num_levels(45); ell < p.levels; ++ell) {
        for (size_t i = 0; i < level_size; ++i) {
          EXPECT_EQ(r.final_state.levels[(h * p.levels + ell) * level_size + i], 0.0);
        }
      }
    }
  }
}

// ---- Hand-worked examples (spec 10 D and F) ------------------------------------------------

// Spec 10 D: T=4, K=V=1, q=k=1, v=[1,2,3,4], alpha=1/2, lambda^ell = ell+1.
TEST(Mamba2Reference, SpecExampleD) {
  Problem p = mamba2_problem(4, 1, 1);
  Inputs in;
  in.q = {1, 1, 1, 1};
  in.k = {1, 1, 1, 1};
  in.v = {1, 2, 3, 4};
  in.g.assign(4, -std::log(2.0));
  for (int t = 0; t < 4; ++t) in.lambda.insert(in.lambda.end(), {1, 2, 3});
  const std::vector<double> o = {1, 3, 6.75, 8.875};
  // After t=3: level 0 = token 3; level 1 = bucket {2}; level 2 = bucket {0,1}, decayed to 3.
  const std::vector<double> state = {4, 0.5 * 3, 0.25 * 2 + 0.125 * 1};
  expect_values(forward_materialized(p, in).o, o, 1e-14, "materialised");
  for (const int chunk : {1, 2, 4}) {
    const Result r = forward_chunkwise(p, in, chunk);
    expect_values(r.o, o, 1e-14, "chunkwise C=" + std::to_string(chunk));
    expect_values(r.final_state.levels, state, 1e-14, "chunkwise state");
  }
  const Result r = forward_recurrent(p, in);
  expect_values(r.o, o, 1e-14, "recurrent");
  expect_values(r.final_state.levels, state, 1e-14, "recurrent state");
}

Inputs spec_example_f_inputs(const std::vector<double>& lambda_per_level) {
  Inputs in;
  in.q = {1, 0, 0, 1, 1, 1, 1, -1};
  in.k = {1, 0, 0, 1, 0.6, 0.8, 0.8, -0.6};
  in.v = {1, 2, 3, 4};
  for (const double alpha : {0.9, 0.8, 0.7, 0.6}) in.g.push_back(std::log(alpha));
  for (int t = 0; t < 4; ++t) {
    in.lambda.insert(in.lambda.end(), lambda_per_level.begin(), lambda_per_level.end());
  }
  return in;
}

// Spec 10 F: K=2, V=1; the spec prints the outputs to 4 significant digits, which are exact.
TEST(Mamba2Reference, SpecExampleF) {
  Problem p = mamba2_problem(4, 2, 1);
  p.levels = 4;
  const Inputs weighted = spec_example_f_inputs({1, 0.5, 0.25, 0.125});
  const Inputs plain = spec_example_f_inputs({1, 1, 1, 1});
  const std::vector<double> weighted_o = {1, 2, 4.69, 5.294};
  const std::vector<double> plain_o = {1, 2, 6.16, 4.736};
  expect_values(forward_materialized(p, weighted).o, weighted_o, 1e-12, "materialised");
  expect_values(forward_chunkwise(p, weighted, 2).o, weighted_o, 1e-12, "chunkwise");
  expect_values(forward_recurrent(p, weighted).o, weighted_o, 1e-12, "recurrent");
  expect_values(forward_materialized(p, plain).o, plain_o, 1e-12, "materialised, lambda 1");
  expect_values(forward_chunkwise(p, plain, 2).o, plain_o, 1e-12, "chunkwise, lambda 1");
  expect_values(forward_recurrent(p, plain).o, plain_o, 1e-12, "recurrent, lambda 1");
}

// ---- Special cases (spec 3.1, 10 G.2 and G.3) ----------------------------------------------

// Element of a time-first [B,T,X,D] tensor.
double at(const std::vector<double>& x, const Problem& p, int b, int t, int x_count, int x_index,
          int d_count, int d) {
  return x[((static_cast<size_t>(b) * p.seq_len + t) * x_count + x_index) * d_count + d];
}

// Plain Mamba-2 (SSD), written from its definition: o_t = sum_s exp(G_t - G_s)(q_t.k_s) v_s.
std::vector<double> plain_mamba2(const Problem& p, const Inputs& in) {
  std::vector<double> o(v_size(p), 0.0);
  const int heads_per_group = p.heads / p.groups;
  for (int b = 0; b < p.batch; ++b) {
    for (int h = 0; h < p.heads; ++h) {
      const int group = h / heads_per_group;
      for (int t = 0; t < p.seq_len; ++t) {
        for (int s = 0; s <= t; ++s) {
          double log_decay = 0.0;
          for (int r = s + 1; r <= t; ++r) log_decay += at(in.g, p, b, r, p.heads, h, 1, 0);
          double qk = 0.0;
          for (int i = 0; i < p.key_dim; ++i) {
            qk += p.scale * at(in.q, p, b, t, p.groups, group, p.key_dim, i) *
                  at(in.k, p, b, s, p.groups, group, p.key_dim, i);
          }
          for (int j = 0; j < p.value_dim; ++j) {
            o[((static_cast<size_t>(b) * p.seq_len + t) * p.heads + h) * p.value_dim + j] +=
                std::exp(log_decay) * qk * at(in.v, p, b, s, p.heads, h, p.value_dim, j);
          }
        }
      }
    }
  }
  return o;
}

TEST(Mamba2Reference, LambdaOneIsPlainMamba2) {
  Problem p = mamba2_problem(70, 5, 4, 2, 1, 2);
  p.scale = 0.5;
  Inputs in = random_inputs(p, 11);
  in.lambda.assign(lambda_size(p), 1.0);
  const std::vector<double> want = plain_mamba2(p, in);
  expect_close(forward_materialized(p, in).o, want, "materialised");
  expect_close(forward_chunkwise(p, in, 8).o, want, "chunkwise");
  expect_close(forward_recurrent(p, in).o, want, "recurrent");
}

TEST(Mamba2Reference, OnlyLevelZeroLeavesTheDiagonal) {
  const Problem p = mamba2_problem(77, 6, 3, 2, 2);  // G = H: head h reads group h
  Inputs in = random_inputs(p, 12);
  for (size_t i = 0; i < in.lambda.size(); ++i) {
    if (i % p.levels != 0) in.lambda[i] = 0.0;
  }
  std::vector<double> want(v_size(p));
  for (int t = 0; t < p.seq_len; ++t) {
    for (int h = 0; h < p.heads; ++h) {
      double qk = 0.0;
      for (int i = 0; i < p.key_dim; ++i) {
        qk += at(in.q, p, 0, t, p.groups, h, p.key_dim, i) *
              at(in.k, p, 0, t, p.groups, h, p.key_dim, i);
      }
      const double lambda0 = at(in.lambda, p, 0, t, p.heads, h, p.levels, 0);
      for (int j = 0; j < p.value_dim; ++j) {
        want[(static_cast<size_t>(t) * p.heads + h) * p.value_dim + j] =
            lambda0 * qk * at(in.v, p, 0, t, p.heads, h, p.value_dim, j);
      }
    }
  }
  expect_close(forward_materialized(p, in).o, want, "materialised");
  expect_close(forward_chunkwise(p, in, 4).o, want, "chunkwise");
  expect_close(forward_recurrent(p, in).o, want, "recurrent");
}

// Spec 10 G.3: lambda_t^ell with bit (ell-1) of t clear weighs no source at all.
TEST(Mamba2Reference, LambdaOfEmptyBucketsChangesNothing) {
  const Problem p = mamba2_problem(90, 4, 4, 2, 1);
  const Inputs in = random_inputs(p, 13);
  Inputs changed = in;
  int changes = 0;
  for (int t = 0; t < p.seq_len; ++t) {
    for (int h = 0; h < p.heads; ++h) {
      for (int ell = 1; ell < p.levels; ++ell) {
        if (levels::level_occupied(t, ell)) continue;
        changed.lambda[(static_cast<size_t>(t) * p.heads + h) * p.levels + ell] = 1e6 + ell;
        ++changes;
      }
    }
  }
  ASSERT_GT(changes, p.seq_len);
  EXPECT_EQ(forward_materialized(p, changed).o, forward_materialized(p, in).o);
  EXPECT_EQ(forward_chunkwise(p, changed, 4).o, forward_chunkwise(p, in, 4).o);
  EXPECT_EQ(forward_recurrent(p, changed).o, forward_recurrent(p, in).o);
  // The check can fail: an occupied level does change the output.
  changed.lambda[(static_cast<size_t>(5) * p.heads) * p.levels + 1] += 1.0;
  EXPECT_NE(forward_chunkwise(p, changed, 4).o, forward_chunkwise(p, in, 4).o);
}

// ---- Continuation from a Fenwick state (spec 7) --------------------------------------------

using Forward = std::function<Result(const Problem&, const Inputs&, const FenwickState*)>;

void expect_continuation_matches(const Problem& p, const Inputs& in, int prefix_len,
                                 const Forward& prefill, const Forward& rest, const Result& full,
                                 const std::string& label) {
  const auto [first_problem, first_inputs] = token_range(p, in, 0, prefix_len);
  const auto [second_problem, second_inputs] = token_range(p, in, prefix_len, p.seq_len);
  const Result first = prefill(first_problem, first_inputs, nullptr);
  ASSERT_EQ(first.final_state.position, prefix_len);
  const Result second = rest(second_problem, second_inputs, &first.final_state);
  expect_close(join_tokens(first.o, second.o, p.batch), full.o, "o, " + label);
  expect_close(second.final_state.levels, full.final_state.levels, "final state, " + label);
  EXPECT_EQ(second.final_state.position, p.seq_len) << label;
}

TEST(Mamba2Reference, ContinuationEqualsTheFullRun) {
  const int chunk = 8;
  const Forward chunkwise = [chunk](const Problem& p, const Inputs& in, const FenwickState* s) {
    return forward_chunkwise(p, in, chunk, s);
  };
  const Forward recurrent = [](const Problem& p, const Inputs& in, const FenwickState* s) {
    return forward_recurrent(p, in, s);
  };
  for (const int T : {100, 129}) {
    Problem p = mamba2_problem(T, 5, 3, 2, 1, 2);
    p.qk_l2norm = true;
    p.scale = 1.3;
    const Inputs in = random_inputs(p, 14 + T);
    const Result full = forward_recurrent(p, in);
    for (const int prefix_len : {1, 2, 7, 8, 13, 32, 50, 64, T - 1}) {
      const std::string label = "T=" + std::to_string(T) + " P=" + std::to_string(prefix_len);
      expect_continuation_matches(p, in, prefix_len, chunkwise, chunkwise, full,
                                  "chunkwise, " + label);
      expect_continuation_matches(p, in, prefix_len, recurrent, recurrent, full,
                                  "recurrent, " + label);
      expect_continuation_matches(p, in, prefix_len, recurrent, chunkwise, full,
                                  "recurrent then chunkwise, " + label);
    }
  }
}

TEST(Mamba2Reference, ContinuationWithChunkOne) {
  const Problem p = mamba2_problem(37, 3, 2);
  const Inputs in = random_inputs(p, 15);
  const Result full = forward_chunkwise(p, in, 1);
  const Forward chunk_one = [](const Problem& q, const Inputs& x, const FenwickState* s) {
    return forward_chunkwise(q, x, 1, s);
  };
  for (const int prefix_len : {1, 5, 16, 36}) {
    expect_continuation_matches(p, in, prefix_len, chunk_one, chunk_one, full,
                                "P=" + std::to_string(prefix_len));
  }
}

TEST(Mamba2Reference, EmptyStateAtPositionZeroIsNoState) {
  const Problem p = mamba2_problem(20, 4, 4);
  const Inputs in = random_inputs(p, 16);
  const FenwickState empty{0, std::vector<double>(state_size(p), 0.0)};
  EXPECT_EQ(forward_chunkwise(p, in, 4, &empty).o, forward_chunkwise(p, in, 4).o);
  EXPECT_EQ(forward_recurrent(p, in, &empty).o, forward_recurrent(p, in).o);
}

// ---- Validation --------------------------------------------------------------------------

TEST(Mamba2Reference, ValidationNamesTheField) {
  const Problem p = mamba2_problem(16, 4, 3, 4, 2);
  const Inputs in = random_inputs(p, 17);
  const auto run_with = [&](const Problem& q, const Inputs& x) {
    return [q, x] { forward_recurrent(q, x); };
  };
  Inputs bad = in;
  bad.q.pop_back();
  expect_invalid(run_with(p, bad), "q");
  bad = in;
  bad.k.push_back(0);
  expect_invalid(run_with(p, bad), "k");
  bad = in;
  bad.v.pop_back();
  expect_invalid(run_with(p, bad), "v");
  bad = in;
  bad.g.pop_back();
  expect_invalid(run_with(p, bad), "g");
  bad = in;
  bad.lambda.pop_back();
  expect_invalid(run_with(p, bad), "lambda");
  bad = in;
  bad.beta.assign(gate_size(p), 0.5);
  expect_invalid(run_with(p, bad), "beta");

  Problem wrong = p;
  wrong.heads = 0;
  expect_invalid([&] { validate(wrong, in); }, "heads");
  wrong = p;
  wrong.groups = 3;
  expect_invalid([&] { validate(wrong, in); }, "groups");
  wrong = p;
  wrong.key_dim = -1;
  expect_invalid([&] { validate(wrong, in); }, "key_dim");
  wrong = p;
  wrong.seq_len = 0;
  expect_invalid([&] { validate(wrong, in); }, "seq_len");
  wrong = p;
  wrong.levels = levels::num_levels(p.seq_len) - 1;
  expect_invalid([&] { validate(wrong, random_inputs(wrong, 1)); }, "levels");

  expect_invalid([&] { forward_chunkwise(p, in, 3); }, "chunk");
  expect_invalid([&] { forward_chunkwise(p, in, 0); }, "chunk");
  EXPECT_NO_THROW(forward_chunkwise(p, in, 32));
}

TEST(Mamba2Reference, ValidationOfTheInitialState) {
  Problem p = mamba2_problem(16, 4, 3);
  p.levels = 6;  // positions up to 63
  const Inputs in = random_inputs(p, 18);
  const FenwickState after16 = forward_recurrent(p, in).final_state;
  EXPECT_NO_THROW(forward_recurrent(p, in, &after16));

  const FenwickState after33{33, std::vector<double>(state_size(p), 0.0)};  // reaches 48
  expect_invalid([&] { forward_chunkwise(p, in, 4, &after33); }, "levels");
  expect_invalid([&] { forward_recurrent(p, in, &after33); }, "levels");

  FenwickState wrong_size = after16;
  wrong_size.levels.pop_back();
  expect_invalid([&] { forward_recurrent(p, in, &wrong_size); }, "state");

  FenwickState negative = after16;
  negative.position = -1;
  expect_invalid([&] { validate(p, negative); }, "position");

  // After 16 tokens (last token 15 = 0b1111) levels 0..4 are occupied; after 8 (last token 7)
  // level 4 is empty and must be zero.
  FenwickState stale = after16;
  stale.position = 8;
  expect_invalid([&] { validate(p, stale); }, "state");
  FenwickState nonzero_at_start{0, std::vector<double>(state_size(p), 0.0)};
  nonzero_at_start.levels[0] = 1.0;
  expect_invalid([&] { validate(p, nonzero_at_start); }, "state");
}

TEST(RandomInputs, DeterministicInSeedAndShaped) {
  Problem p = mamba2_problem(30, 4, 3, 2, 1);
  const Inputs a = random_inputs(p, 5);
  const Inputs b = random_inputs(p, 5);
  const Inputs c = random_inputs(p, 6);
  EXPECT_EQ(a.q, b.q);
  EXPECT_EQ(a.lambda, b.lambda);
  EXPECT_NE(a.q, c.q);
  EXPECT_EQ(a.q.size(), qk_size(p));
  EXPECT_EQ(a.v.size(), v_size(p));
  EXPECT_TRUE(a.beta.empty());
  for (const double g : a.g) {
    EXPECT_LE(g, 0.0);
    EXPECT_GE(g, -0.1);
  }
  for (const double l : a.lambda) {
    EXPECT_GE(l, 0.5);
    EXPECT_LE(l, 1.5);
  }
  p.variant = Variant::gated_deltanet;
  EXPECT_EQ(random_inputs(p, 5).beta.size(), gate_size(p));
}

TEST(ErrorMeasures, Values) {
  EXPECT_EQ(relative_frobenius_error({}, {}), 0.0);
  EXPECT_DOUBLE_EQ(relative_frobenius_error({3, 4}, {0, 0.5}), std::sqrt(9 + 12.25) / 0.5);
  EXPECT_DOUBLE_EQ(max_relative_error({1, 2}, {1, 4}), 0.5);
  EXPECT_THROW(max_relative_error({1}, {1, 2}), std::invalid_argument);
  // A NaN anywhere is an error, not a difference of 0 (std::max drops a NaN).
  EXPECT_TRUE(std::isnan(max_relative_error({1, NAN, 3}, {1, 2, 3})));
  EXPECT_TRUE(std::isnan(max_relative_error({NAN}, {NAN})));
}

// ---- Scale -------------------------------------------------------------------------------

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST(Mamba2Reference, ChunkwiseAgreesWithRecurrentAt2048) {
  const Problem p = mamba2_problem(2048, 64, 64);
  const Inputs in = random_inputs(p, 19);
  const Result chunkwise = forward_chunkwise(p, in, 64);
  const Result recurrent = forward_recurrent(p, in);
  expect_close(chunkwise.o, recurrent.o, "o");
  expect_close(chunkwise.final_state.levels, recurrent.final_state.levels, "final state");
}

// The size of the large GPU checks: T = 16384, K = V = 128, C = 64. Its first 1024 tokens must
// match the recurrence on them (the output is causal).
TEST(Mamba2Reference, ChunkwiseAt16K) {
  const Problem p = mamba2_problem(16384, 128, 128);
  const Inputs in = random_inputs(p, 20);
  const auto start = std::chrono::steady_clock::now();
  const Result chunkwise = forward_chunkwise(p, in, 64);
  const double seconds = seconds_since(start);
  std::printf("chunkwise T=16384 K=V=128 C=64: %.2f s\n", seconds);
  RecordProperty("chunkwise_seconds", std::to_string(seconds));

  const int prefix = 1024;
  const auto [prefix_problem, prefix_inputs] = token_range(p, in, 0, prefix);
  const Result recurrent = forward_recurrent(prefix_problem, prefix_inputs);
  const std::vector<double> head_o(chunkwise.o.begin(), chunkwise.o.begin() + prefix * p.value_dim);
  expect_close(head_o, recurrent.o, "first 1024 tokens");
}

}  // namespace
}  // namespace lla::reference
