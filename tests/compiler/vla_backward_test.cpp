// The float64 VLA reference backward (spec/vla.md 3.7): its two forms against each other and
// against central differences of the forward along random directions of every input (q, k, u,
// v and the initial state's A, S, z), with and without a loss on the final state, with the
// read-out clamp active; split runs against one run; exact identities; the feature maps' chain
// rule; spec test 7 (the projections' weights by finite differences); validation.

#include "reference/vla_backward.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "gradient_checks.h"
#include "reference/decode_reference.h"
#include "reference/reference.h"
#include "reference/vla.h"
#include "reference/vla_features.h"
#include "vla_test_support.h"

namespace lla::reference::vla {
namespace {

using lla::test::directional_derivative;
using lla::test::dot;
using lla::test::normal_values;
using test::make_problem;
using test::state_after;

struct Shape {
  int B, T, H, d;
  int period;
  int64_t start;  // 0: no initial state given
  bool d_final;   // the loss reads the final state
};

std::string shape_name(const Shape& s) {
  return "B" + std::to_string(s.B) + "_T" + std::to_string(s.T) + "_H" + std::to_string(s.H) +
         "_d" + std::to_string(s.d) + "_period" + std::to_string(s.period) + "_P" +
         std::to_string(s.start) + (s.d_final ? "_dfinal" : "");
}

void PrintTo(const Shape& s, std::ostream* os) { *os << shape_name(s); }

// A backward problem: the forward's arguments and what the loss sends back.
struct BackwardCase {
  Problem p;
  Inputs in;
  State initial;
  bool has_initial = false;
  OutputGradients out;

  const State* state() const { return has_initial ? &initial : nullptr; }
};

BackwardCase make_case(const Shape& s, uint64_t seed) {
  BackwardCase c;
  Hyper hyper;
  hyper.period = s.period;
  hyper.eps_per = 0.01;
  c.p = make_problem(s.B, s.T, s.H, s.d, hyper);
  c.in = random_inputs(c.p, seed);
  c.has_initial = s.start > 0;
  c.initial = state_after(c.p, s.start, seed + 1);
  c.out.d_o = normal_values(token_size(c.p), seed + 2);
  if (s.d_final) {
    c.out.d_final_state = {normal_values(matrix_size(c.p), seed + 3),
                           normal_values(matrix_size(c.p), seed + 4),
                           normal_values(vector_size(c.p), seed + 5)};
  }
  return c;
}

// sum(o * d_o) + sum(final_state * d_final_state) through the recurrent forward.
double loss(const BackwardCase& c, const Inputs& in, const State* initial) {
  const Result r = forward_recurrent(c.p, in, initial);
  double sum = dot(r.o, c.out.d_o);
  const StateGradient& d_final = c.out.d_final_state;
  if (!d_final.A.empty()) sum += dot(r.final_state.A, d_final.A);
  if (!d_final.S.empty()) sum += dot(r.final_state.S, d_final.S);
  if (!d_final.z.empty()) sum += dot(r.final_state.z, d_final.z);
  return sum;
}

struct GradientTensor {
  const char* name;
  const std::vector<double>& got;
  const std::vector<double>& want;
};

void expect_gradients_agree(const Gradients& got, const Gradients& want, double tolerance,
                            const std::string& label) {
  const GradientTensor tensors[] = {
      {"dq", got.dq, want.dq},
      {"dk", got.dk, want.dk},
      {"du", got.du, want.du},
      {"dv", got.dv, want.dv},
      {"d_initial_state.A", got.d_initial_state.A, want.d_initial_state.A},
      {"d_initial_state.S", got.d_initial_state.S, want.d_initial_state.S},
      {"d_initial_state.z", got.d_initial_state.z, want.d_initial_state.z}};
  for (const GradientTensor& t : tensors) {
    ASSERT_EQ(t.got.size(), t.want.size()) << label << " " << t.name;
    if (t.want.empty()) continue;
    EXPECT_LT(max_relative_error(t.got, t.want), tolerance) << label << " " << t.name;
  }
}

// A random symmetric direction of a state's A ([B,H,d,d]).
std::vector<double> symmetric_direction(const Problem& p, uint64_t seed) {
  std::vector<double> e = normal_values(matrix_size(p), seed);
  const int d = p.head_dim;
  for (size_t head = 0; head < e.size(); head += static_cast<size_t>(d) * d) {
    for (int i = 0; i < d; ++i)
      for (int j = 0; j < i; ++j) e[head + j * d + i] = e[head + i * d + j];
  }
  return e;
}

// A named tensor of an input struct, for the differences to move.
template <typename Struct>
struct Member {
  const char* name;
  std::vector<double> Struct::*field;
};

// <gradient, direction> against the derivative of loss(x moved along `direction` in x.*field)
// (Richardson central differences).
template <typename Struct>
void expect_gradient_along(const std::string& name, const Struct& x,
                           std::vector<double> Struct::*field, const std::vector<double>& direction,
                           const std::vector<double>& gradient,
                           const std::function<double(const Struct&)>& loss, double tolerance) {
  const double numeric = directional_derivative([&](double h) {
    Struct moved = x;
    for (size_t i = 0; i < direction.size(); ++i) (moved.*field)[i] += h * direction[i];
    return loss(moved);
  });
  EXPECT_NEAR(dot(gradient, direction), numeric, tolerance * (1.0 + std::abs(numeric))) << name;
}

// Along a random direction of every input, <gradient, direction> against the directional
// derivative of the loss (Richardson central differences).
void expect_central_differences(const BackwardCase& c, const Gradients& g, double tolerance,
                                uint64_t seed) {
  struct Input {
    const char* name;
    std::vector<double> Inputs::*field;
    const std::vector<double>* gradient;
  };
  const Input inputs[] = {{"q", &Inputs::q, &g.dq},
                          {"k", &Inputs::k, &g.dk},
                          {"u", &Inputs::u, &g.du},
                          {"v", &Inputs::v, &g.dv}};
  for (const Input& input : inputs) {
    expect_gradient_along<Inputs>(
        input.name, c.in, input.field, normal_values((c.in.*input.field).size(), ++seed),
        *input.gradient, [&](const Inputs& moved) { return loss(c, moved, c.state()); }, tolerance);
  }
  if (!c.state()) return;
  // The gradient with respect to a symmetric A is symmetric.
  const int d = c.p.head_dim;
  for (size_t head = 0; head < g.d_initial_state.A.size(); head += static_cast<size_t>(d) * d) {
    for (int i = 0; i < d; ++i)
      for (int j = 0; j < i; ++j)
        EXPECT_EQ(g.d_initial_state.A[head + i * d + j], g.d_initial_state.A[head + j * d + i]);
  }
  struct StatePart {
    const char* name;
    std::vector<double> State::*field;
    const std::vector<double>* gradient;
    std::vector<double> direction;
  };
  const StatePart parts[] = {
      {"A", &State::A, &g.d_initial_state.A, symmetric_direction(c.p, ++seed)},
      {"S", &State::S, &g.d_initial_state.S, normal_values(matrix_size(c.p), ++seed)},
      {"z", &State::z, &g.d_initial_state.z, normal_values(vector_size(c.p), ++seed)}};
  for (const StatePart& part : parts) {
    // A small step keeps A positive definite: its smallest eigenvalue is about lambda0 / T.
    expect_gradient_along<State>(
        std::string("initial_state.") + part.name, c.initial, part.field, part.direction,
        *part.gradient, [&](const State& moved) { return loss(c, c.in, &moved); }, tolerance);
  }
}

class BackwardForms : public testing::TestWithParam<Shape> {};

TEST_P(BackwardForms, ChunkwiseAgreesWithRecurrent) {
  const BackwardCase c = make_case(GetParam(), 100 + GetParam().T);
  const Gradients recurrent = backward(c.p, c.in, c.state(), c.out, {BackwardForm::recurrent});
  for (const int chunk : {1, 3, 4, 5, 8, 64}) {
    expect_gradients_agree(backward(c.p, c.in, c.state(), c.out, {BackwardForm::chunkwise, chunk}),
                           recurrent, 1e-12, "chunkwise C=" + std::to_string(chunk));
  }
}

TEST_P(BackwardForms, MatchCentralDifferences) {
  const BackwardCase c = make_case(GetParam(), 200 + GetParam().T);
  for (const BackwardForm form : {BackwardForm::recurrent, BackwardForm::chunkwise}) {
    SCOPED_TRACE(backward_form_name(form));
    expect_central_differences(c, backward(c.p, c.in, c.state(), c.out, {form, 4}), 1e-8, 300);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, BackwardForms,
    testing::Values(Shape{1, 1, 1, 3, 20, 0, false}, Shape{1, 12, 1, 4, 5, 0, false},
                    Shape{2, 9, 2, 3, 4, 0, true}, Shape{1, 13, 2, 4, 3, 6, true},
                    Shape{2, 11, 1, 5, 20, 19, true}, Shape{1, 17, 1, 4, 1, 2, false},
                    Shape{1, 1, 2, 3, 4, 7, true}),
    [](const testing::TestParamInfo<Shape>& info) { return shape_name(info.param); });

// Where z.q < eps_den the denominator is the constant eps_den: no gradient flows through z.q.
TEST(VlaBackward, ReadOutClampCutsTheDenominatorsGradient) {
  BackwardCase c = make_case({1, 6, 1, 3, 4, 0, true}, 7);
  // eps_den = 1 and small first query features: the first token's z.q is clamped, far enough
  // below 1 that the differences' steps stay clamped; every later one is well above it.
  c.p.hyper.eps_den = 1.0;
  for (int i = 0; i < 3; ++i) c.in.q[i] = 0.05;
  const std::vector<double> z = forward_recurrent(c.p, c.in).final_state.z;  // after 6 tokens
  std::vector<double> running(3, 0.0);
  for (int t = 0; t < 6; ++t) {
    double zq = 0.0;
    for (int i = 0; i < 3; ++i) {
      running[i] += c.in.k[t * 3 + i];
      zq += running[i] * c.in.q[t * 3 + i];
    }
    if (t == 0) {
      ASSERT_LT(zq, 0.5);
    } else {
      ASSERT_GT(zq, 2.0) << t;
    }
  }
  EXPECT_LT(max_relative_error(running, z), 1e-15);
  for (const BackwardForm form : {BackwardForm::recurrent, BackwardForm::chunkwise}) {
    SCOPED_TRACE(backward_form_name(form));
    expect_central_differences(c, backward(c.p, c.in, nullptr, c.out, {form, 4}), 1e-8, 400);
  }
}

// Where delta < eps_stab (only possible with eps_stab > 1) the recurrence uses eps_stab: no
// gradient through delta. The chunkwise forms have no clamp and say so.
TEST(VlaBackward, DeltaClampCutsItsGradient) {
  BackwardCase c = make_case({1, 7, 1, 3, 4, 0, true}, 13);
  // delta = 1 + u~.A u~ <= 1 + |A| <= 11 < eps_stab at every token: A = 10 I shrinks, nudged by
  // 0.01.
  c.p.hyper.eps_stab = 20.0;
  test::TextbookHead<double> textbook(c.p.head_dim, c.p.hyper);
  const Result r = forward_recurrent(c.p, c.in);
  for (int t = 0; t < c.p.seq_len; ++t) {
    const std::vector<double> o =
        textbook.step(&c.in.q[t * 3], &c.in.k[t * 3], &c.in.u[t * 3], &c.in.v[t * 3]);
    for (int i = 0; i < 3; ++i) EXPECT_NEAR(r.o[t * 3 + i], o[i], 1e-13 * std::abs(o[i])) << t;
  }
  expect_central_differences(c, backward(c.p, c.in, nullptr, c.out, {BackwardForm::recurrent}),
                             1e-8, 500);
  EXPECT_THROW(forward_chunkwise(c.p, c.in, 4), std::domain_error);
  EXPECT_THROW(backward(c.p, c.in, nullptr, c.out, {BackwardForm::chunkwise, 4}),
               std::domain_error);
}

// A zero key (not a feature ELU + 1 gives, but an input all the same) takes both normalisations'
// floors: k^ = 0, alpha = 0, a^ = 0, no write. The forms agree on it, forward and backward.
TEST(VlaBackward, ZeroKeyTakesTheNormalisationFloors) {
  BackwardCase c = make_case({1, 9, 2, 3, 4, 3, true}, 19);
  for (int i = 0; i < 3; ++i) c.in.k[(4 * 2 + 1) * 3 + i] = 0.0;  // token 4, head 1
  const Result recurrent = forward_recurrent(c.p, c.in, c.state());
  const Result chunkwise = forward_chunkwise(c.p, c.in, 4, c.state());
  EXPECT_LT(max_relative_error(chunkwise.o, recurrent.o), 1e-13);
  EXPECT_LT(max_relative_error(chunkwise.final_state.S, recurrent.final_state.S), 1e-13);
  const Gradients g = backward(c.p, c.in, c.state(), c.out, {BackwardForm::recurrent});
  expect_gradients_agree(backward(c.p, c.in, c.state(), c.out, {BackwardForm::chunkwise, 4}), g,
                         1e-12, "chunkwise");
  // Within |k| < 1e-25 both floors hold (k^ = k / 1e-12, |alpha| < 1e-12, a^ = alpha / 1e-12)
  // and the loss is smooth in k: F.normalize's gradient there, dx^ / 1e-12, is its derivative.
  std::vector<double> direction(c.in.k.size(), 0.0);
  for (int i = 0; i < 3; ++i) direction[(4 * 2 + 1) * 3 + i] = 1.0 - 0.7 * i;
  const double h = 1e-30;
  const auto moved = [&](double step) {
    Inputs in = c.in;
    for (size_t i = 0; i < direction.size(); ++i) in.k[i] += step * direction[i];
    return loss(c, in, c.state());
  };
  const double numeric = (moved(h) - moved(-h)) / (2 * h);
  EXPECT_NEAR(dot(g.dk, direction), numeric, 1e-6 * std::abs(numeric));
}

// o is linear in (v, S0) and so is S_T, while A and z do not depend on them:
// <v, dv> + <S0, dS0> = sum(o * d_o) + <S_T, dS_T>. o is unchanged when q is scaled:
// <q, dq> = 0.
TEST(VlaBackward, EulerIdentities) {
  const BackwardCase c = make_case({2, 14, 2, 4, 5, 9, true}, 17);
  const Result r = forward_recurrent(c.p, c.in, c.state());
  const double read_out = dot(r.o, c.out.d_o) + dot(r.final_state.S, c.out.d_final_state.S);
  for (const BackwardForm form : {BackwardForm::recurrent, BackwardForm::chunkwise}) {
    const Gradients g = backward(c.p, c.in, c.state(), c.out, {form, 4});
    EXPECT_NEAR(dot(c.in.v, g.dv) + dot(c.initial.S, g.d_initial_state.S), read_out,
                1e-12 * std::abs(read_out));
    EXPECT_NEAR(dot(c.in.q, g.dq), 0.0, 1e-12 * std::sqrt(dot(g.dq, g.dq)));
  }
}

// Prefill `split` tokens, continue from the state, push the continuation's d(initial_state)
// back as the prefill's d(final_state): each token's gradients are those of one run.
TEST(VlaBackward, SplitRunEqualsOneRun) {
  const BackwardCase whole = make_case({2, 30, 1, 4, 6, 0, true}, 23);
  for (const BackwardForm form : {BackwardForm::recurrent, BackwardForm::chunkwise}) {
    const Gradients one = backward(whole.p, whole.in, nullptr, whole.out, {form, 4});
    for (const int split : {1, 12, 17, 29}) {
      SCOPED_TRACE(std::string(backward_form_name(form)) + " split " + std::to_string(split));
      const auto part = [&](int begin, int end) {
        BackwardCase c = whole;
        c.p.seq_len = end - begin;
        for (std::vector<double> Inputs::*field : {&Inputs::q, &Inputs::k, &Inputs::u, &Inputs::v})
          (c.in.*field) = token_range(whole.in.*field, whole.p.batch, whole.p.seq_len, begin, end);
        c.out.d_o = token_range(whole.out.d_o, whole.p.batch, whole.p.seq_len, begin, end);
        return c;
      };
      BackwardCase first = part(0, split);
      BackwardCase second = part(split, whole.p.seq_len);
      second.initial = forward_recurrent(first.p, first.in).final_state;
      second.has_initial = true;
      const Gradients g2 = backward(second.p, second.in, second.state(), second.out, {form, 4});
      first.out.d_final_state = g2.d_initial_state;
      const Gradients g1 = backward(first.p, first.in, nullptr, first.out, {form, 4});
      EXPECT_LT(max_relative_error(join_tokens(g1.dq, g2.dq, whole.p.batch), one.dq), 1e-12);
      EXPECT_LT(max_relative_error(join_tokens(g1.dk, g2.dk, whole.p.batch), one.dk), 1e-12);
      EXPECT_LT(max_relative_error(join_tokens(g1.du, g2.du, whole.p.batch), one.du), 1e-12);
      EXPECT_LT(max_relative_error(join_tokens(g1.dv, g2.dv, whole.p.batch), one.dv), 1e-12);
    }
  }
}

TEST(VlaBackward, ChunkwiseAgreesWithRecurrentOnLongerSequences) {
  const BackwardCase c = make_case({1, 300, 1, 16, 20, 45, true}, 31);
  const Gradients recurrent = backward(c.p, c.in, c.state(), c.out, {BackwardForm::recurrent});
  for (const int chunk : {16, 64}) {
    expect_gradients_agree(backward(c.p, c.in, c.state(), c.out, {BackwardForm::chunkwise, chunk}),
                           recurrent, 1e-11, "chunkwise C=" + std::to_string(chunk));
  }
}

// The feature maps' chain rule: gradients with respect to the projections against central
// differences of features() followed by the forward.
TEST(VlaFeatures, BackwardMatchesCentralDifferences) {
  BackwardCase c = make_case({1, 10, 2, 3, 4, 0, false}, 41);
  Projections raw = random_projections(c.p, 42);
  for (int i = 0; i < 3; ++i) raw.u_raw[i] = 0.0;  // a zero direction: the clamp's branch
  const Inputs in = features(c.p, raw);
  const Projections d = feature_backward(c.p, raw, backward(c.p, in, nullptr, c.out));
  using Raw = Member<Projections>;
  uint64_t seed = 50;
  for (const Raw& r : {Raw{"q_raw", &Projections::q_raw}, Raw{"k_raw", &Projections::k_raw},
                       Raw{"u_raw", &Projections::u_raw}, Raw{"v", &Projections::v}}) {
    std::vector<double> direction = normal_values((raw.*r.field).size(), ++seed);
    // Along the zero direction's 1e-12 clamp the loss is linear: keep to the smooth part.
    if (r.field == &Projections::u_raw)
      for (int i = 0; i < 3; ++i) direction[i] = 0.0;
    expect_gradient_along<Projections>(
        r.name, raw, r.field, direction, d.*r.field,
        [&](const Projections& moved) {
          return dot(forward_recurrent(c.p, features(c.p, moved)).o, c.out.d_o);
        },
        1e-8);
  }
  // Below the clamp u = u_raw / 1e-12: the gradient is du / 1e-12.
  const Gradients g = backward(c.p, in, nullptr, c.out);
  for (int i = 0; i < 3; ++i) EXPECT_DOUBLE_EQ(d.u_raw[i], g.du[i] / 1e-12);
}

// Spec test 7: T = 12, d = 4, the nudge on (period 5), clamps inactive; the loss's gradients
// with respect to W_q, W_k, W_v and W_u of a layer (x_t in R^D, D = H d; u_raw = W_u k_raw mixes
// the heads) by the chain rule through feature_backward, against central differences.
TEST(VlaBackward, LayerWeightsMatchCentralDifferences) {
  Hyper hyper;
  hyper.period = 5;
  const Problem p = make_problem(1, 12, 2, 4, hyper);
  const int D = p.heads * p.head_dim, T = p.seq_len;
  const std::vector<double> x = normal_values(static_cast<size_t>(T) * D, 60);
  struct Weights {
    std::vector<double> q, k, v, u;
  };
  const Weights w{normal_values(D * D, 61, 0.3), normal_values(D * D, 62, 0.3),
                  normal_values(D * D, 63, 0.3), normal_values(D * D, 64, 0.3)};
  const std::vector<double> d_o = normal_values(token_size(p), 65);
  const auto project = [&](const std::vector<double>& W, const std::vector<double>& in) {
    std::vector<double> out(in.size(), 0.0);
    for (int t = 0; t < T; ++t)
      for (int o = 0; o < D; ++o)
        for (int i = 0; i < D; ++i) out[t * D + o] += W[o * D + i] * in[t * D + i];
    return out;
  };
  const auto projections = [&](const Weights& v) {
    Projections raw{project(v.q, x), project(v.k, x), {}, project(v.v, x)};
    raw.u_raw = project(v.u, raw.k_raw);
    return raw;
  };
  const auto layer_loss = [&](const Weights& v) {
    return dot(forward_recurrent(p, features(p, projections(v))).o, d_o);
  };
  // dW = sum_t d(out)_t in_t^T for out = W in; u_raw = W_u k_raw also sends W_u^T du_raw to k_raw.
  const auto weight_gradient = [&](const std::vector<double>& d_out,
                                   const std::vector<double>& in) {
    std::vector<double> dW(D * D, 0.0);
    for (int t = 0; t < T; ++t)
      for (int o = 0; o < D; ++o)
        for (int i = 0; i < D; ++i) dW[o * D + i] += d_out[t * D + o] * in[t * D + i];
    return dW;
  };
  const Projections raw = projections(w);
  const Inputs in = features(p, raw);
  for (size_t i = 0; i < in.q.size(); i += p.head_dim) {
    ASSERT_GT(dot(std::vector<double>(in.q.begin() + i, in.q.begin() + i + p.head_dim),
                  std::vector<double>(in.k.begin() + i, in.k.begin() + i + p.head_dim)),
              p.hyper.eps_den);
  }
  Projections d = feature_backward(p, raw, backward(p, in, nullptr, {d_o, {}}));
  std::vector<double> dk_raw = d.k_raw;
  for (int t = 0; t < T; ++t)
    for (int o = 0; o < D; ++o)
      for (int i = 0; i < D; ++i) dk_raw[t * D + i] += w.u[o * D + i] * d.u_raw[t * D + o];
  const Weights grads{weight_gradient(d.q_raw, x), weight_gradient(dk_raw, x),
                      weight_gradient(d.v, x), weight_gradient(d.u_raw, raw.k_raw)};
  using Weight = Member<Weights>;
  uint64_t seed = 70;
  for (const Weight& weight : {Weight{"W_q", &Weights::q}, Weight{"W_k", &Weights::k},
                               Weight{"W_v", &Weights::v}, Weight{"W_u", &Weights::u}}) {
    expect_gradient_along<Weights>(weight.name, w, weight.field, normal_values(D * D, ++seed),
                                   grads.*weight.field, layer_loss, 1e-8);
  }
}

TEST(VlaBackward, ValidationNamesTheField) {
  using lla::test::expect_invalid_argument;
  const BackwardCase c = make_case({1, 5, 1, 3, 20, 2, true}, 80);
  OutputGradients short_do = c.out;
  short_do.d_o.pop_back();
  expect_invalid_argument([&] { backward(c.p, c.in, c.state(), short_do); }, "d_o");
  OutputGradients short_dA = c.out;
  short_dA.d_final_state.A.pop_back();
  expect_invalid_argument([&] { backward(c.p, c.in, c.state(), short_dA); }, "d_final_state.A");
  OutputGradients short_dz = c.out;
  short_dz.d_final_state.z.push_back(0.0);
  expect_invalid_argument([&] { backward(c.p, c.in, c.state(), short_dz); }, "d_final_state.z");
  expect_invalid_argument(
      [&] {
        backward(c.p, c.in, c.state(), c.out, {BackwardForm::chunkwise, 0});
      },
      "chunk");
  Inputs short_k = c.in;
  short_k.k.pop_back();
  expect_invalid_argument([&] { backward(c.p, short_k, c.state(), c.out); }, "k");
  EXPECT_STREQ(backward_form_name(BackwardForm::recurrent), "recurrent");
  EXPECT_STREQ(backward_form_name(BackwardForm::chunkwise), "chunkwise");
}

// The chunkwise backward at a training length (T = 16384, d = 64, one head, chunk 64): its time,
// and dv, du against central differences of the chunkwise forward along random directions.
TEST(VlaBackwardAtScale, DISABLED_ChunkwiseAt16K) {
  const Problem p = make_problem(1, 16384, 1, 64);
  const Inputs in = random_inputs(p, 90);
  const OutputGradients out{normal_values(token_size(p), 91), {}};
  const auto start = std::chrono::steady_clock::now();
  const Gradients g = backward(p, in, nullptr, out, {BackwardForm::chunkwise, 64});
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("VLA chunkwise backward, T = 16384, d = 64, chunk 64: %.2f s\n", seconds);
  uint64_t seed = 92;
  for (std::vector<double> Inputs::*field : {&Inputs::v, &Inputs::u}) {
    expect_gradient_along<Inputs>(
        field == &Inputs::v ? "v" : "u", in, field, normal_values(token_size(p), ++seed),
        field == &Inputs::v ? g.dv : g.du,
        [&](const Inputs& moved) { return dot(forward_chunkwise(p, moved, 64).o, out.d_o); }, 1e-6);
  }
}

}  // namespace
}  // namespace lla::reference::vla
