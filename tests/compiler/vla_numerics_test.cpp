// VLA's numerics (spec/vla.md 3.6, 3.9 and small tests 2 and 8): the memory's norm against
// plain linear attention, the fp32 recurrence (vla_test_support.h's textbook one, in float)
// against the float64 reference, and what moving the periodic nudge costs. The quick checks run
// in the suite; the DISABLED_Report* tests print the figures of issue 25's numerical report:
//   tests/vla_numerics_test --gtest_also_run_disabled_tests --gtest_filter='*Report*'

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "reference/reference.h"
#include "reference/vla.h"
#include "reference/vla_features.h"
#include "vla_test_support.h"

namespace lla::reference::vla {
namespace {

using test::make_problem;
using test::TextbookHead;

template <typename Real>
double frobenius(const std::vector<Real>& x) {
  double sum = 0.0;
  for (const Real e : x) sum += static_cast<double>(e) * static_cast<double>(e);
  return std::sqrt(sum);
}

template <typename Real>
std::vector<double> as_double(const std::vector<Real>& x) {
  return std::vector<double>(x.begin(), x.end());
}

// The smallest eigenvalue of a symmetric n x n matrix (cyclic Jacobi rotations).
double smallest_eigenvalue(std::vector<double> a, int n) {
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off_diagonal = 0.0;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) off_diagonal += i == j ? 0.0 : a[i * n + j] * a[i * n + j];
    if (off_diagonal < 1e-30) break;
    for (int p = 0; p < n; ++p) {
      for (int q = p + 1; q < n; ++q) {
        const double apq = a[p * n + q];
        if (apq == 0.0) continue;
        const double theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
        const double t =
            (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1.0 / std::sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < n; ++k) {
          const double akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (int k = 0; k < n; ++k) {
          const double apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
      }
    }
  }
  double smallest = a[0];
  for (int i = 1; i < n; ++i) smallest = std::min(smallest, a[i * n + i]);
  return smallest;
}

TEST(VlaNumerics, SmallestEigenvalue) {
  EXPECT_NEAR(smallest_eigenvalue({2.0, 1.0, 1.0, 2.0}, 2), 1.0, 1e-14);
  EXPECT_NEAR(smallest_eigenvalue({4.0, 0.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0, -1.0}, 3), -1.0, 1e-15);
}

// The inputs of a randomly initialised layer reading embeddings of random tokens: x_t = E[w_t]
// with E ~ N(0, 1) ([vocabulary, D]) and w_t uniform over the vocabulary, so tokens repeat
// and v has a common direction across them (as in text), unlike x_t ~ N(0, I).
Inputs token_embedding_inputs(const Problem& p, int vocabulary, uint64_t seed) {
  const int D = p.heads * p.head_dim;
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::vector<double> embeddings(static_cast<size_t>(vocabulary) * D);
  for (double& e : embeddings) e = normal(rng);
  std::uniform_int_distribution<int> token(0, vocabulary - 1);
  std::vector<double> x;
  x.reserve(token_size(p));
  for (int bt = 0; bt < p.batch * p.seq_len; ++bt) {
    const int w = token(rng);
    x.insert(x.end(), embeddings.begin() + w * D, embeddings.begin() + (w + 1) * D);
  }
  return features(p, initialised_layer_projections(p, x, seed + 1));
}

// ||S_T||_F averaged over the heads of batch 0, of VLA (the float64 reference) and of plain
// linear attention on the same features (S_t = S_{t-1} + v_t k_t^T, no decay, no normaliser).
struct StateNorms {
  double vla = 0.0, linear = 0.0;
};

StateNorms state_norms(const Problem& p, const Inputs& in) {
  const int d = p.head_dim;
  const Result r = forward_recurrent(p, in);
  StateNorms norms;
  for (int h = 0; h < p.heads; ++h) {
    const auto head = r.final_state.S.begin() + static_cast<size_t>(h) * d * d;
    norms.vla += frobenius(std::vector<double>(head, head + d * d)) / p.heads;
    std::vector<double> S(d * d, 0.0);
    for (int t = 0; t < p.seq_len; ++t) {
      const double* k = test::token_row(p, in.k, 0, t, h);
      const double* v = test::token_row(p, in.v, 0, t, h);
      for (int i = 0; i < d; ++i)
        for (int j = 0; j < d; ++j) S[i * d + j] += v[i] * k[j];
    }
    norms.linear += frobenius(S) / p.heads;
  }
  return norms;
}

// One head through the fp32 and the float64 textbook recurrences side by side.
struct PrecisionRun {
  TextbookHead<float> fp32;
  TextbookHead<double> fp64;
  bool finite = true;

  PrecisionRun(int d, const Hyper& hyper) : fp32(d, hyper), fp64(d, hyper) {}

  void step(const Problem& p, const Inputs& in, int t) {
    const double* q = test::token_row(p, in.q, 0, t, 0);
    const double* k = test::token_row(p, in.k, 0, t, 0);
    const double* u = test::token_row(p, in.u, 0, t, 0);
    const double* v = test::token_row(p, in.v, 0, t, 0);
    for (const float o : fp32.step(q, k, u, v)) finite = finite && std::isfinite(o);
    fp64.step(q, k, u, v);
  }
  double a_drift() const { return relative_frobenius_error(as_double(fp32.A()), fp64.A()); }
  double s_drift() const { return relative_frobenius_error(as_double(fp32.S()), fp64.S()); }
};

// Spec test 2's fp32 part and test 8's: over 10^4 tokens (d = 32, the nudge on) the fp32 A stays
// within 1e-4 of the float64 one (measured 2e-6), positive definite with the same smallest
// eigenvalue, and nothing becomes NaN.
TEST(VlaNumerics, Fp32PrecisionPathStaysCloseAndPositiveDefinite) {
  const Problem p = make_problem(1, 10000, 1, 32);
  const Inputs in = random_inputs(p, 3);
  PrecisionRun run(p.head_dim, p.hyper);
  for (int t = 0; t < p.seq_len; ++t) run.step(p, in, t);
  EXPECT_TRUE(run.finite);
  EXPECT_LT(run.a_drift(), 1e-4);
  EXPECT_LT(run.s_drift(), 1e-4);
  const double smallest32 = smallest_eigenvalue(as_double(run.fp32.A()), p.head_dim);
  const double smallest64 = smallest_eigenvalue(run.fp64.A(), p.head_dim);
  EXPECT_GT(smallest32, 0.0);
  EXPECT_NEAR(smallest32, smallest64, 1e-3 * smallest64);
}

// Spec test 8 on its distribution (a layer at initialisation, d = 32, H = 4, T = 1000): VLA's
// ||S_T||_F stays O(10) (the repository's run: 14.5; measured 12.4) while plain linear
// attention's is more than ten times larger (measured 23x). Both in float64; the fp32 recurrence's
// S agrees to 1e-5.
TEST(VlaNumerics, StateNormStaysBoundedWhereLinearAttentionGrows) {
  const Problem p = make_problem(1, 1000, 4, 32);
  const Inputs in = random_inputs(p, 1, InputDistribution::initialised_layer);
  const StateNorms norms = state_norms(p, in);
  EXPECT_GT(norms.vla, 5.0);
  EXPECT_LT(norms.vla, 30.0);
  EXPECT_GT(norms.linear, 10.0 * norms.vla);
  PrecisionRun run(p.head_dim, p.hyper);  // head 0
  for (int t = 0; t < p.seq_len; ++t) run.step(p, in, t);
  EXPECT_LT(run.s_drift(), 1e-5);
}

// ||S_T||_F of VLA and of plain linear attention as T grows, on three input distributions,
// averaged over the 4 heads (d = 32, D = 128: notebook 07's TinyLM layer) and 3 seeds.
TEST(VlaNumerics, DISABLED_ReportStateNormGrowth) {
  struct Distribution {
    const char* name;
    std::function<Inputs(const Problem&, uint64_t)> inputs;
  };
  const Distribution distributions[] = {
      {"initialised layer, x ~ N(0, I)",
       [](const Problem& p, uint64_t seed) {
         return random_inputs(p, seed, InputDistribution::initialised_layer);
       }},
      {"initialised layer, embeddings of 64 tokens",
       [](const Problem& p, uint64_t seed) { return token_embedding_inputs(p, 64, seed); }},
      {"standard (N(0,1) projections)",
       [](const Problem& p, uint64_t seed) { return random_inputs(p, seed); }},
  };
  std::printf("%-45s %6s %10s %10s %8s\n", "inputs", "T", "VLA", "linear", "ratio");
  for (const Distribution& distribution : distributions) {
    for (const int T : {100, 1000, 2000, 10000}) {
      const Problem p = make_problem(1, T, 4, 32);
      StateNorms mean;
      for (const uint64_t seed : {1, 2, 3}) {
        const StateNorms norms = state_norms(p, distribution.inputs(p, seed));
        mean.vla += norms.vla / 3;
        mean.linear += norms.linear / 3;
      }
      std::printf("%-45s %6d %10.3f %10.1f %7.1fx\n", distribution.name, T, mean.vla, mean.linear,
                  mean.linear / mean.vla);
    }
  }
}

// fp32 against float64 over T = 16384 (the textbook recurrence in both, one head): A's and S's
// relative Frobenius drift and A's smallest eigenvalue at T = 1K, 4K and 16K, with the nudge
// (notebook 07's 1e-3 every 20 tokens) and without.
TEST(VlaNumerics, DISABLED_ReportPrecisionDriftFp32) {
  std::printf("%-20s %3s %8s %6s %10s %10s %12s %12s\n", "inputs", "d", "eps_per", "T", "A drift",
              "S drift", "min eig fp32", "min eig fp64");
  for (const InputDistribution distribution :
       {InputDistribution::initialised_layer, InputDistribution::standard}) {
    for (const int d : {32, 64}) {
      for (const double eps_per : {1e-3, 0.0}) {
        Hyper hyper;
        hyper.eps_per = eps_per;
        const Problem p = make_problem(1, 16384, 1, d, hyper);
        const Inputs in = random_inputs(p, 7, distribution);
        PrecisionRun run(d, hyper);
        for (int t = 0; t < p.seq_len; ++t) {
          run.step(p, in, t);
          if (t + 1 != 1024 && t + 1 != 4096 && t + 1 != 16384) continue;
          std::printf(
              "%-20s %3d %8.0e %6d %10.2e %10.2e %12.4e %12.4e%s\n",
              distribution == InputDistribution::standard ? "standard" : "initialised layer", d,
              eps_per, t + 1, run.a_drift(), run.s_drift(),
              smallest_eigenvalue(as_double(run.fp32.A()), d), smallest_eigenvalue(run.fp64.A(), d),
              run.finite ? "" : " (non-finite o)");
        }
      }
    }
  }
}

// What changing where the nudge lands costs, against the recurrence as specified (one nudge
// after every 20th token), at T = 4096, one head: spec 3.5's documented deviation period = C
// (64), each nudge deferred to the end of its chunk of 64, and no nudge at all. Errors of o as
// max over tokens of |o_t - o'_t| / |o_t|, and of the final A as relative Frobenius.
TEST(VlaNumerics, DISABLED_ReportNudgePlacement) {
  constexpr int kChunk = 64;
  std::printf("%-20s %3s %-30s %14s %12s\n", "inputs", "d", "nudges", "max_t rel o_t", "final A");
  for (const InputDistribution distribution :
       {InputDistribution::initialised_layer, InputDistribution::standard}) {
    for (const int d : {32, 64}) {
      const Problem p = make_problem(1, 4096, 1, d);
      const Inputs in = random_inputs(p, 9, distribution);
      const int period = p.hyper.period;
      struct Schedule {
        const char* name;
        test::NudgeSchedule nudges;
      };
      const Schedule schedules[] = {
          {"after every 64th token", [](int64_t n) { return (n + 1) % kChunk == 0 ? 1 : 0; }},
          {"deferred to the chunk's end",
           [period](int64_t n) {
             if ((n + 1) % kChunk != 0) return 0;
             const int64_t first = n + 1 - kChunk;  // nudges after tokens first..n
             return static_cast<int>((n + 1) / period - first / period);
           }},
          {"none", [](int64_t) { return 0; }},
      };
      const auto run = [&](test::NudgeSchedule nudges, std::vector<std::vector<double>>& o) {
        TextbookHead<double> head(d, p.hyper, 0, std::move(nudges));
        for (int t = 0; t < p.seq_len; ++t) {
          o.push_back(
              head.step(test::token_row(p, in.q, 0, t, 0), test::token_row(p, in.k, 0, t, 0),
                        test::token_row(p, in.u, 0, t, 0), test::token_row(p, in.v, 0, t, 0)));
        }
        return head.A();
      };
      std::vector<std::vector<double>> want_o;
      const std::vector<double> want_A = run({}, want_o);
      for (const Schedule& schedule : schedules) {
        std::vector<std::vector<double>> got_o;
        const std::vector<double> got_A = run(schedule.nudges, got_o);
        double worst = 0.0;
        for (int t = 0; t < p.seq_len; ++t) {
          worst = std::max(worst, relative_frobenius_error(got_o[t], want_o[t]));
        }
        std::printf("%-20s %3d %-30s %14.2e %12.2e\n",
                    distribution == InputDistribution::standard ? "standard" : "initialised layer",
                    d, schedule.name, worst, relative_frobenius_error(got_A, want_A));
      }
    }
  }
}

}  // namespace
}  // namespace lla::reference::vla
