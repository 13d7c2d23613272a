// The float64 VLA reference forward (spec/vla.md): the spec's small numerical tests (the hand
// example, Sherman-Morrison against the explicit inverse, the chunked alpha and S against the
// recurrence, the delta-rule limit, the transition norm), the recurrence against a textbook one
// written apart, the chunkwise form against the recurrence for chunks that do and do not divide
// the nudge period, split runs, the decode step, the feature maps and validation.

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "gradient_checks.h"
#include "reference/decode_reference.h"
#include "reference/reference.h"
#include "reference/vla.h"
#include "reference/vla_chunk.h"
#include "reference/vla_features.h"
#include "reference/vla_head.h"
#include "vla_test_support.h"

namespace lla::reference::vla {
namespace {

using test::make_problem;
using test::state_after;

// Spec test 1: d = 2, lambda0 = 1, u = (1, 0), k = (1, 1), v = (1, -1), q = (1, 0).
struct HandExample {
  Problem p;
  Inputs in;
  HandExample() {
    Hyper hyper;
    hyper.lambda0 = 1.0;
    p = make_problem(1, 1, 1, 2, hyper);
    in.q = {1.0, 0.0};
    in.k = {1.0, 1.0};
    in.u = {1.0, 0.0};
    in.v = {1.0, -1.0};
  }
};

TEST(VlaReference, HandExampleOfTheSpec) {
  const HandExample hand;
  for (const bool chunkwise : {false, true}) {
    SCOPED_TRACE(chunkwise ? "chunkwise" : "recurrent");
    const Result r =
        chunkwise ? forward_chunkwise(hand.p, hand.in, 4) : forward_recurrent(hand.p, hand.in);
    // delta = 1.5, A_1 = diag(2/3, 1).
    const std::vector<double> A = r.final_state.A;
    EXPECT_NEAR(A[0], 2.0 / 3.0, 1e-15);
    EXPECT_NEAR(A[1], 0.0, 1e-15);
    EXPECT_NEAR(A[2], 0.0, 1e-15);
    EXPECT_NEAR(A[3], 1.0, 1e-15);
    // a^ = (2, 3) / sqrt(13); S_1 = v a^^T; z.q = 1, so o_1 = (0.554700, -0.554700).
    const double a0 = 2.0 / std::sqrt(13.0), a1 = 3.0 / std::sqrt(13.0);
    EXPECT_NEAR(a0, 0.554700, 1e-6);
    EXPECT_NEAR(a1, 0.832050, 1e-6);
    const std::vector<double> S = r.final_state.S;
    EXPECT_NEAR(S[0], a0, 1e-15);
    EXPECT_NEAR(S[1], a1, 1e-15);
    EXPECT_NEAR(S[2], -a0, 1e-15);
    EXPECT_NEAR(S[3], -a1, 1e-15);
    EXPECT_NEAR(r.o[0], 0.554700, 1e-6);
    EXPECT_NEAR(r.o[1], -0.554700, 1e-6);
    EXPECT_EQ(r.final_state.z, (std::vector<double>{1.0, 1.0}));
    EXPECT_EQ(r.final_state.position, 1);
    // S_1 k^ = (0.980581, -0.980581) = v - (1 - c) e with c = k^.a^ = 0.980581 (e = v here).
    const double c = (a0 + a1) / std::sqrt(2.0);
    EXPECT_NEAR(c, 0.980581, 1e-6);
    EXPECT_NEAR((S[0] + S[1]) / std::sqrt(2.0), 1.0 - (1.0 - c), 1e-15);
    EXPECT_NEAR((S[2] + S[3]) / std::sqrt(2.0), -0.980581, 1e-6);
  }
}

// Spec 3.6: sigma_max(I - k^ a^^T)^2 = [(3 - 2c) + sqrt((3 - 2c)^2 - 4 (1 - c)^2)] / 2.
double transition_norm_closed_form(double c) {
  const double b = 3.0 - 2.0 * c;
  return std::sqrt((b + std::sqrt(b * b - 4.0 * (1.0 - c) * (1.0 - c))) / 2.0);
}

// sigma_max(I - k a^T) for unit k, a of dim d by power iteration on M^T M.
double transition_norm(const std::vector<double>& k, const std::vector<double>& a) {
  const int d = static_cast<int>(k.size());
  const auto apply = [&](const std::vector<double>& x, bool transposed) {
    double along = 0.0;
    for (int i = 0; i < d; ++i) along += (transposed ? k[i] : a[i]) * x[i];
    std::vector<double> y(d);
    for (int i = 0; i < d; ++i) y[i] = x[i] - (transposed ? a[i] : k[i]) * along;
    return y;
  };
  std::vector<double> x(d, 1.0);
  x[0] = 0.3;
  double norm = 0.0;
  for (int iteration = 0; iteration < 2000; ++iteration) {
    x = apply(apply(x, false), true);
    norm = std::sqrt(lla::test::dot(x, x));
    for (double& e : x) e /= norm;
  }
  return std::sqrt(norm);
}

// Spec test 6, and the hand example's c = 0.980581 -> 1.019056.
TEST(VlaReference, TransitionNormMatchesTheClosedForm) {
  EXPECT_NEAR(transition_norm_closed_form(1.0), 1.0, 1e-15);
  EXPECT_NEAR(transition_norm_closed_form(0.9), 1.09161, 1e-5);
  EXPECT_NEAR(transition_norm_closed_form(0.5), 1.36603, 1e-5);
  EXPECT_NEAR(transition_norm_closed_form(0.0), (1.0 + std::sqrt(5.0)) / 2.0, 1e-12);
  const double s = 1.0 / std::sqrt(2.0);
  EXPECT_NEAR(transition_norm({s, s}, {2.0 / std::sqrt(13.0), 3.0 / std::sqrt(13.0)}), 1.019056,
              1e-6);
  // Random unit vectors of dim 6 at c = 0.9 and 0.5.
  for (const double c : {0.9, 0.5}) {
    std::vector<double> k = lla::test::normal_values(6, 17), r = lla::test::normal_values(6, 18);
    const double k_norm = std::sqrt(lla::test::dot(k, k));
    for (double& e : k) e /= k_norm;
    const double along = lla::test::dot(r, k);
    for (int i = 0; i < 6; ++i) r[i] -= along * k[i];
    const double r_norm = std::sqrt(lla::test::dot(r, r));
    std::vector<double> a(6);
    for (int i = 0; i < 6; ++i) a[i] = c * k[i] + std::sqrt(1.0 - c * c) * r[i] / r_norm;
    EXPECT_NEAR(transition_norm(k, a), transition_norm_closed_form(c), 1e-10) << c;
  }
}

TEST(VlaReference, RecurrenceMatchesTheTextbookRecurrence) {
  Hyper clamping;  // lambda0 = 10, eps_den 1e-6: notebook 05's constants
  clamping.lambda0 = 10.0;
  clamping.eps_den = 1e-6;
  Hyper often;
  often.period = 3;
  often.eps_per = 0.05;
  for (const Hyper& hyper : {Hyper{}, clamping, often}) {
    const Problem p = make_problem(2, 41, 3, 5, hyper);
    const Inputs in = random_inputs(p, 7);
    const Result r = forward_recurrent(p, in);
    for (int b = 0; b < p.batch; ++b) {
      for (int h = 0; h < p.heads; ++h) {
        test::TextbookHead<double> head(p.head_dim, hyper);
        for (int t = 0; t < p.seq_len; ++t) {
          const std::vector<double> o =
              head.step(test::token_row(p, in.q, b, t, h), test::token_row(p, in.k, b, t, h),
                        test::token_row(p, in.u, b, t, h), test::token_row(p, in.v, b, t, h));
          const double* got = test::token_row(p, r.o, b, t, h);
          for (int i = 0; i < p.head_dim; ++i)
            EXPECT_NEAR(got[i], o[i], 1e-12 * (1 + std::abs(o[i])));
        }
        const HeadState final_state =
            gather_state(p, r.final_state.A, r.final_state.S, r.final_state.z, b, h);
        EXPECT_LT(max_relative_error(final_state.A, head.A()), 1e-13);
        EXPECT_LT(max_relative_error(final_state.S, head.S()), 1e-13);
        EXPECT_LT(max_relative_error(final_state.z, head.z()), 1e-15);
      }
    }
  }
}

// The inverse of a symmetric positive definite matrix by Gauss-Jordan elimination.
std::vector<double> inverse(std::vector<double> a, int n) {
  std::vector<double> inv(n * n, 0.0);
  for (int i = 0; i < n; ++i) inv[i * n + i] = 1.0;
  for (int col = 0; col < n; ++col) {
    const double pivot = a[col * n + col];
    for (int j = 0; j < n; ++j) {
      a[col * n + j] /= pivot;
      inv[col * n + j] /= pivot;
    }
    for (int r = 0; r < n; ++r) {
      if (r == col) continue;
      const double f = a[r * n + col];
      for (int j = 0; j < n; ++j) {
        a[r * n + j] -= f * a[col * n + j];
        inv[r * n + j] -= f * inv[col * n + j];
      }
    }
  }
  return inv;
}

// Spec test 2: with the nudge off, A_T = inv(lambda0 I + sum u~ u~^T) to about 1e-10.
TEST(VlaReference, ShermanMorrisonEqualsTheExplicitInverse) {
  Hyper no_nudge;
  no_nudge.eps_per = 0.0;
  for (const double lambda0 : {0.1, 10.0}) {
    no_nudge.lambda0 = lambda0;
    const Problem p = make_problem(1, 200, 1, 16, no_nudge);
    const Inputs in = random_inputs(p, 3);
    const int d = p.head_dim;
    std::vector<double> penalty(d * d, 0.0);
    for (int i = 0; i < d; ++i) penalty[i * d + i] = lambda0;
    for (int t = 0; t < p.seq_len; ++t) {
      const double* u = &in.u[static_cast<size_t>(t) * d];
      double norm = 0.0;
      for (int i = 0; i < d; ++i) norm += u[i] * u[i];
      EXPECT_NEAR(norm, 1.0, 1e-14);  // random_inputs gives unit directions
      for (int i = 0; i < d; ++i)
        for (int j = 0; j < d; ++j) penalty[i * d + j] += u[i] * u[j] / d;
    }
    const std::vector<double> expected = inverse(penalty, d);
    for (const bool chunkwise : {false, true}) {
      const Result r = chunkwise ? forward_chunkwise(p, in, 64) : forward_recurrent(p, in);
      EXPECT_LT(max_relative_error(r.final_state.A, expected), 1e-10)
          << "lambda0 " << lambda0 << (chunkwise ? " chunkwise" : " recurrent");
    }
  }
}

struct ChunkShape {
  int B, T, H, d;
  int chunk;
  int period;
  int64_t start;  // absolute position of the first token
};

std::string chunk_shape_name(const ChunkShape& s) {
  return "B" + std::to_string(s.B) + "_T" + std::to_string(s.T) + "_H" + std::to_string(s.H) +
         "_d" + std::to_string(s.d) + "_C" + std::to_string(s.chunk) + "_period" +
         std::to_string(s.period) + "_P" + std::to_string(s.start);
}

void PrintTo(const ChunkShape& s, std::ostream* os) { *os << chunk_shape_name(s); }

class ChunkwiseForm : public testing::TestWithParam<ChunkShape> {};

// Spec tests 3 and 4: the chunked precision path (Cholesky) and memory path (UT form) against
// the recurrence, from a state with nonzero S, for chunks that divide the period (every nudge on
// a chunk end), that do not (the blocks split at the nudges), with T not a multiple of the chunk
// and starts off the chunk grid.
TEST_P(ChunkwiseForm, EqualsTheRecurrence) {
  const ChunkShape& s = GetParam();
  Hyper hyper;
  hyper.period = s.period;
  hyper.eps_per = 0.01;  // large enough that a misplaced nudge would show
  const Problem p = make_problem(s.B, s.T, s.H, s.d, hyper);
  const Inputs in = random_inputs(p, 11);
  const State initial = state_after(p, s.start, 12);
  const Result want = forward_recurrent(p, in, &initial);
  const Result got = forward_chunkwise(p, in, s.chunk, &initial);
  EXPECT_LT(max_relative_error(got.o, want.o), 1e-12);
  EXPECT_LT(max_relative_error(got.final_state.A, want.final_state.A), 1e-12);
  EXPECT_LT(max_relative_error(got.final_state.S, want.final_state.S), 1e-12);
  EXPECT_LT(max_relative_error(got.final_state.z, want.final_state.z), 1e-14);
  EXPECT_EQ(got.final_state.position, s.start + s.T);
  // Both forms keep A symmetric bit for bit.
  EXPECT_TRUE(test::exactly_symmetric(p, want.final_state.A));
  EXPECT_TRUE(test::exactly_symmetric(p, got.final_state.A));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ChunkwiseForm,
    testing::Values(ChunkShape{1, 1, 1, 4, 64, 20, 0}, ChunkShape{1, 47, 1, 8, 1, 20, 0},
                    ChunkShape{2, 47, 2, 6, 4, 20, 0}, ChunkShape{1, 47, 1, 6, 5, 20, 0},
                    ChunkShape{1, 83, 1, 6, 10, 20, 0}, ChunkShape{1, 83, 2, 6, 20, 20, 0},
                    ChunkShape{1, 83, 1, 6, 7, 20, 0}, ChunkShape{1, 130, 1, 8, 64, 20, 0},
                    ChunkShape{1, 130, 1, 8, 64, 64, 0}, ChunkShape{2, 61, 1, 5, 16, 3, 0},
                    ChunkShape{1, 50, 1, 6, 20, 20, 13}, ChunkShape{1, 50, 1, 6, 8, 5, 37},
                    ChunkShape{2, 9, 3, 4, 64, 20, 19}, ChunkShape{1, 70, 1, 16, 32, 1, 5}),
    [](const testing::TestParamInfo<ChunkShape>& info) { return chunk_shape_name(info.param); });

// Spec test 3 directly: the Cholesky form's alpha of every token equals the recurrence's,
// with C not dividing T and nudges landing on chunk ends (C = 5 divides the period 20).
TEST(VlaReference, ChunkedAlphaEqualsTheRecurrence) {
  const Problem p = make_problem(1, 53, 1, 16);
  const Inputs in = random_inputs(p, 5);
  const HeadInputs head = gather_head(p, in, 0, 0);
  HeadState state = fresh_head_state(p);
  test::TextbookHead<double> textbook(p.head_dim, p.hyper);
  std::vector<double> o(static_cast<size_t>(p.seq_len) * p.head_dim);
  double worst = 0.0;
  for (const auto& [begin, end] : chunk_bounds(0, p.seq_len, 5)) {
    const ChunkTrace trace = chunk_forward(p.hyper, head, 0, begin, end, state, o.data());
    for (int t = begin; t < end; ++t) {
      textbook.step(head.q_row(t), head.k_row(t), head.u_row(t), head.v_row(t));
      const std::vector<double> chunked(trace.alpha.begin() + (t - begin) * p.head_dim,
                                        trace.alpha.begin() + (t - begin + 1) * p.head_dim);
      worst = std::max(worst, max_relative_error(chunked, textbook.alpha()));
    }
  }
  EXPECT_LT(worst, 1e-13);
}

// Spec test 5: with u = 0 (W_u's output forced to zero) A stays a multiple of I, a^ = k^, and
// the layer is the beta = 1 delta rule with normalised keys; after each write S_t k^_t = v_t.
TEST(VlaReference, DeltaRuleLimit) {
  const Problem p = make_problem(2, 30, 2, 6);
  Inputs in = random_inputs(p, 9);
  std::fill(in.u.begin(), in.u.end(), 0.0);
  const Result r = forward_chunkwise(p, in, 8);
  EXPECT_LT(max_relative_error(r.o, test::delta_rule_outputs(p, in)), 1e-13);
  const int d = p.head_dim;
  // S_t k^_t = v_t: the state after each token, by decode steps.
  Problem token = p;
  token.seq_len = 1;
  State state = initial_state(token);
  for (int t = 0; t < p.seq_len; ++t) {
    Inputs x;
    for (std::vector<double> Inputs::*field : {&Inputs::q, &Inputs::k, &Inputs::u, &Inputs::v})
      x.*field = token_range(in.*field, p.batch, p.seq_len, t, t + 1);
    decode_step(token, x, std::vector<int64_t>(p.batch, t), state);
    for (size_t head = 0; head < static_cast<size_t>(p.batch) * p.heads; ++head) {
      const double* k = &x.k[head * d];
      const double k_norm =
          std::sqrt(lla::test::dot(std::vector<double>(k, k + d), std::vector<double>(k, k + d)));
      for (int i = 0; i < d; ++i) {
        double Sk = 0.0;
        for (int j = 0; j < d; ++j) Sk += state.S[head * d * d + i * d + j] * k[j] / k_norm;
        EXPECT_NEAR(Sk, x.v[head * d + i], 1e-12) << t;
      }
    }
  }
  // A = I / lambda0 plus one eps_per I per nudge (30 tokens, period 20: one).
  for (int i = 0; i < d; ++i) {
    for (int j = 0; j < d; ++j) {
      EXPECT_NEAR(r.final_state.A[i * d + j],
                  i == j ? 1.0 / p.hyper.lambda0 + p.hyper.eps_per : 0.0, 1e-14);
    }
  }
}

// A call split in two (the second continuing from the first's final state) equals one call, on
// the chunk grid and off it.
TEST(VlaReference, SplitRunEqualsOneRun) {
  const Problem p = make_problem(2, 45, 2, 5);
  const Inputs in = random_inputs(p, 21);
  for (const int split : {1, 16, 20, 23, 44}) {
    for (const int chunk : {0, 4, 16}) {  // 0: the recurrent form
      SCOPED_TRACE("split " + std::to_string(split) + " chunk " + std::to_string(chunk));
      const auto run = [&](const Problem& q, const Inputs& x, const State* s) {
        return chunk == 0 ? forward_recurrent(q, x, s) : forward_chunkwise(q, x, chunk, s);
      };
      const Result whole = run(p, in, nullptr);
      // Reuse the log-linear reference's token slicing on [B,T,H,d] tensors.
      const auto part = [&](int begin, int end) {
        Problem q = p;
        q.seq_len = end - begin;
        Inputs x;
        x.q = token_range(in.q, p.batch, p.seq_len, begin, end);
        x.k = token_range(in.k, p.batch, p.seq_len, begin, end);
        x.u = token_range(in.u, p.batch, p.seq_len, begin, end);
        x.v = token_range(in.v, p.batch, p.seq_len, begin, end);
        return std::make_pair(q, x);
      };
      const auto [p1, in1] = part(0, split);
      const auto [p2, in2] = part(split, p.seq_len);
      const Result first = run(p1, in1, nullptr);
      const Result second = run(p2, in2, &first.final_state);
      EXPECT_LT(max_relative_error(join_tokens(first.o, second.o, p.batch), whole.o), 1e-13);
      EXPECT_LT(max_relative_error(second.final_state.A, whole.final_state.A), 1e-13);
      EXPECT_LT(max_relative_error(second.final_state.S, whole.final_state.S), 1e-13);
      EXPECT_EQ(second.final_state.position, p.seq_len);
    }
  }
}

// The decode step on a batch whose sequences sit at different positions (one a fresh sequence in
// a slot holding garbage) equals each sequence's recurrence.
TEST(VlaReference, DecodeStepEqualsTheRecurrence) {
  const Problem one = make_problem(1, 1, 2, 4);
  const std::vector<int64_t> positions = {0, 19, 7};
  Problem p = one;
  p.batch = 3;
  State state = initial_state(p);
  const Inputs token = random_inputs(p, 31);
  std::vector<double> want_o;
  for (int b = 0; b < p.batch; ++b) {
    const Problem& single = one;
    const State before = state_after(single, positions[b], 40 + b);
    const size_t matrix = 2 * 16, vector = 2 * 4;
    if (positions[b] == 0) {
      std::fill(state.A.begin() + b * matrix, state.A.begin() + (b + 1) * matrix, -3.0);
    } else {
      std::copy(before.A.begin(), before.A.end(), state.A.begin() + b * matrix);
      std::copy(before.S.begin(), before.S.end(), state.S.begin() + b * matrix);
      std::copy(before.z.begin(), before.z.end(), state.z.begin() + b * vector);
    }
    const auto slice = [&](const std::vector<double>& t) {
      return std::vector<double>(t.begin() + b * vector, t.begin() + (b + 1) * vector);
    };
    const Inputs x{slice(token.q), slice(token.k), slice(token.u), slice(token.v)};
    const Result r = forward_recurrent(single, x, &before);
    want_o.insert(want_o.end(), r.o.begin(), r.o.end());
  }
  const std::vector<double> o = decode_step(p, token, positions, state);
  EXPECT_LT(max_relative_error(o, want_o), 1e-15);
}

TEST(VlaReference, ChunkBoundsAreAlignedToAbsolutePositions) {
  using Bounds = std::vector<std::pair<int, int>>;
  EXPECT_EQ(chunk_bounds(0, 10, 4), (Bounds{{0, 4}, {4, 8}, {8, 10}}));
  EXPECT_EQ(chunk_bounds(6, 10, 4), (Bounds{{0, 2}, {2, 6}, {6, 10}}));
  EXPECT_EQ(chunk_bounds(5, 2, 64), (Bounds{{0, 2}}));
  EXPECT_EQ(chunk_bounds(3, 3, 1), (Bounds{{0, 1}, {1, 2}, {2, 3}}));
}

TEST(VlaReference, NudgeFollowsEveryPeriodthToken) {
  Hyper hyper;
  EXPECT_FALSE(nudge_after(hyper, 0));
  EXPECT_TRUE(nudge_after(hyper, 19));
  EXPECT_FALSE(nudge_after(hyper, 20));
  EXPECT_TRUE(nudge_after(hyper, 39));
  hyper.period = 1;
  EXPECT_TRUE(nudge_after(hyper, 0));
}

TEST(VlaFeatures, EluPlusOneAndUnitDirections) {
  EXPECT_EQ(elu_plus_one(2.0), 3.0);
  EXPECT_EQ(elu_plus_one(0.0), 1.0);
  EXPECT_DOUBLE_EQ(elu_plus_one(-1.0), std::exp(-1.0));
  const Problem p = make_problem(1, 2, 2, 3);
  Projections raw = random_projections(p, 1);
  std::fill(raw.u_raw.begin() + 3, raw.u_raw.begin() + 6, 0.0);  // (t=0, h=1): a zero direction
  const Inputs in = features(p, raw);
  for (size_t row = 0; row < in.u.size(); row += 3) {
    const double norm = std::sqrt(in.u[row] * in.u[row] + in.u[row + 1] * in.u[row + 1] +
                                  in.u[row + 2] * in.u[row + 2]);
    EXPECT_NEAR(norm, row == 3 ? 0.0 : 1.0, 1e-15) << row;
  }
  for (size_t i = 0; i < in.q.size(); ++i) {
    EXPECT_GT(in.q[i], 0.0);
    EXPECT_EQ(in.k[i], elu_plus_one(raw.k_raw[i]));
  }
  EXPECT_EQ(in.v, raw.v);
}

// The initialised layer's inputs: features near 1 (raw projections of std 0.02 * sqrt(D)),
// u unit and mixing every head's raw keys; deterministic in the seed.
TEST(VlaFeatures, InitialisedLayerDistribution) {
  const Problem p = make_problem(1, 400, 4, 32);
  const Projections raw = random_projections(p, 2, InputDistribution::initialised_layer);
  double sum_squares = 0.0;
  for (const double x : raw.q_raw) sum_squares += x * x;
  const double expected_std = 0.02 * std::sqrt(128.0);
  EXPECT_NEAR(std::sqrt(sum_squares / raw.q_raw.size()), expected_std, 0.1 * expected_std);
  const Inputs in = random_inputs(p, 2, InputDistribution::initialised_layer);
  EXPECT_EQ(in.k, features(p, raw).k);
  EXPECT_NE(in.k, random_inputs(p, 3, InputDistribution::initialised_layer).k);
}

TEST(VlaReference, ValidationNamesTheField) {
  using lla::test::expect_invalid_argument;
  const Problem p = make_problem(1, 4, 1, 3);
  const Inputs in = random_inputs(p, 1);
  const auto with_hyper = [&](const std::function<void(Hyper&)>& edit) {
    Problem q = p;
    edit(q.hyper);
    return q;
  };
  expect_invalid_argument(
      [&] { forward_recurrent(with_hyper([](Hyper& h) { h.period = 0; }), in); }, "hyper.period");
  expect_invalid_argument(
      [&] { forward_recurrent(with_hyper([](Hyper& h) { h.lambda0 = 0.0; }), in); },
      "hyper.lambda0");
  expect_invalid_argument(
      [&] { forward_recurrent(with_hyper([](Hyper& h) { h.lambda0 = NAN; }), in); },
      "hyper.lambda0");
  expect_invalid_argument(
      [&] { forward_recurrent(with_hyper([](Hyper& h) { h.eps_per = -1e-3; }), in); },
      "hyper.eps_per");
  expect_invalid_argument(
      [&] { forward_recurrent(with_hyper([](Hyper& h) { h.eps_stab = 0.0; }), in); },
      "hyper.eps_stab");
  expect_invalid_argument(
      [&] { forward_recurrent(with_hyper([](Hyper& h) { h.eps_den = 0.0; }), in); },
      "hyper.eps_den");
  Inputs short_u = in;
  short_u.u.pop_back();
  expect_invalid_argument([&] { forward_recurrent(p, short_u); }, "u");
  expect_invalid_argument([&] { forward_chunkwise(p, in, 0); }, "chunk");
  Problem huge = p;
  huge.batch = huge.seq_len = huge.heads = huge.head_dim = 1 << 30;
  expect_invalid_argument([&] { forward_recurrent(huge, in); }, "q");
  State state = state_after(p, 3, 4);
  State asymmetric = state;
  asymmetric.A[1] += 1e-6;
  expect_invalid_argument([&] { forward_recurrent(p, in, &asymmetric); }, "A");
  State indefinite = state;
  for (int i = 0; i < 3; ++i) indefinite.A[i * 3 + i] = -indefinite.A[i * 3 + i];
  expect_invalid_argument([&] { forward_chunkwise(p, in, 2, &indefinite); }, "A");
  State short_z = state;
  short_z.z.pop_back();
  expect_invalid_argument([&] { forward_recurrent(p, in, &short_z); }, "z");
  State negative = state;
  negative.position = -1;
  expect_invalid_argument([&] { forward_recurrent(p, in, &negative); }, "position");
  const Problem token = make_problem(1, 1, 1, 3);
  const Inputs one = random_inputs(token, 1);
  State decode = initial_state(token);
  expect_invalid_argument([&] { decode_step(p, in, {0}, decode); }, "seq_len");
  expect_invalid_argument([&] { decode_step(token, one, {0, 1}, decode); }, "positions");
  expect_invalid_argument([&] { decode_step(token, one, {-2}, decode); }, "positions");
}

}  // namespace
}  // namespace lla::reference::vla
