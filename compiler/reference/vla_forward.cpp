// The public forward functions of the VLA reference: validation, sizes, and the per-head
// recurrent and chunkwise passes.

#include <cmath>
#include <string>

#include "reference/checks.h"
#include "reference/vla.h"
#include "reference/vla_chunk.h"
#include "reference/vla_head.h"
#include "reference/vla_ops.h"
#include "reference/vla_recurrence.h"

namespace lla::reference::vla {
namespace {

// Every head's A symmetric to 1e-12 relative and positive definite (its Cholesky factor exists).
void require_precision_matrices(const Problem& p, const std::vector<double>& A) {
  const int d = p.head_dim;
  for_each_head(p, [&](int b, int h) {
    const std::string head = "(b=" + std::to_string(b) + ", h=" + std::to_string(h) + ")";
    const double* a = &A[(static_cast<size_t>(b) * p.heads + h) * d * d];
    double largest = 0.0;
    for (int i = 0; i < d * d; ++i) largest = std::max(largest, std::abs(a[i]));
    for (int i = 0; i < d; ++i) {
      for (int j = 0; j < i; ++j) {
        const double asymmetry = std::abs(a[i * d + j] - a[j * d + i]);
        require(asymmetry <= 1e-12 * largest, "A",
                "head " + head + " is not symmetric: entries (" + std::to_string(i) + "," +
                    std::to_string(j) + ") and (" + std::to_string(j) + "," + std::to_string(i) +
                    ") differ by " + std::to_string(asymmetry));
      }
    }
    try {
      cholesky_lower(std::vector<double>(a, a + d * d), d);
    } catch (const std::domain_error&) {
      require(false, "A", "head " + head + " is not positive definite");
    }
  });
}

void require_finite(double x, const char* field) {
  require(std::isfinite(x), field, "must be finite");
}

}  // namespace

void validate(const Problem& p) {
  require(p.batch > 0, "batch", "must be positive");
  require(p.seq_len > 0, "seq_len", "must be positive");
  require(p.heads > 0, "heads", "must be positive");
  require(p.head_dim > 0, "head_dim", "must be positive");
  const Hyper& hp = p.hyper;
  require_finite(hp.lambda0, "hyper.lambda0");
  require(hp.lambda0 > 0.0, "hyper.lambda0", "must be positive");
  require(hp.period >= 1, "hyper.period", "must be at least 1");
  require_finite(hp.eps_per, "hyper.eps_per");
  require(hp.eps_per >= 0.0, "hyper.eps_per", "must not be negative");
  require_finite(hp.eps_stab, "hyper.eps_stab");
  require(hp.eps_stab > 0.0, "hyper.eps_stab", "must be positive");
  require_finite(hp.eps_den, "hyper.eps_den");
  require(hp.eps_den > 0.0, "hyper.eps_den", "must be positive");
  // Every tensor's size must be representable (each throws naming its tensor otherwise).
  token_size(p);
  matrix_size(p);
  vector_size(p);
}

void validate(const Problem& p, const Inputs& in) {
  validate(p);
  require_size(in.q, token_size(p), "q");
  require_size(in.k, token_size(p), "k");
  require_size(in.u, token_size(p), "u");
  require_size(in.v, token_size(p), "v");
}

void validate_initial_state(const Problem& p, const State& s) {
  validate(p);
  require(s.position >= 0, "position", "must not be negative");
  require_size(s.A, matrix_size(p), "A");
  require_size(s.S, matrix_size(p), "S");
  require_size(s.z, vector_size(p), "z");
  require_precision_matrices(p, s.A);
}

void validate_chunk(int chunk) { require(chunk >= 1, "chunk", "must be positive"); }

size_t token_size(const Problem& p) {
  return checked_product("q", "B*T*H*d", {p.batch, p.seq_len, p.heads, p.head_dim});
}
size_t matrix_size(const Problem& p) {
  return checked_product("A", "B*H*d*d", {p.batch, p.heads, p.head_dim, p.head_dim});
}
size_t vector_size(const Problem& p) {
  return checked_product("z", "B*H*d", {p.batch, p.heads, p.head_dim});
}

State initial_state(const Problem& p) {
  validate(p);
  State s;
  s.A.resize(matrix_size(p));
  s.S.resize(matrix_size(p));
  s.z.resize(vector_size(p));
  const HeadState fresh = fresh_head_state(p);
  for_each_head(p, [&](int b, int h) { scatter_state(p, fresh, b, h, s.A, s.S, s.z); });
  return s;
}

bool nudge_after(const Hyper& hyper, int64_t position) {
  return (position + 1) % hyper.period == 0;
}

namespace {

// Head h of batch b runs its tokens from its state, writing o's rows [T,d] and updating the
// state in place.
using HeadPass = void (*)(const Problem& p, const HeadInputs& head, int64_t start, HeadState& state,
                          double* o, int chunk);

Result forward_each_head(const Problem& p, const Inputs& in, const State* initial, int chunk,
                         HeadPass pass) {
  const State start = initial ? *initial : initial_state(p);
  Result r;
  r.o.assign(token_size(p), 0.0);
  r.final_state = start;
  r.final_state.position = start.position + p.seq_len;
  for_each_head(p, [&](int b, int h) {
    const HeadInputs head = gather_head(p, in, b, h);
    HeadState state = gather_state(p, start.A, start.S, start.z, b, h);
    std::vector<double> o(static_cast<size_t>(p.seq_len) * p.head_dim);
    pass(p, head, start.position, state, o.data(), chunk);
    scatter_rows(p, o, b, h, r.o);
    scatter_state(p, state, b, h, r.final_state.A, r.final_state.S, r.final_state.z);
  });
  return r;
}

void recurrent_pass(const Problem& p, const HeadInputs& head, int64_t start, HeadState& state,
                    double* o, int) {
  const int d = p.head_dim;
  for (int t = 0; t < p.seq_len; ++t) {
    token_forward(p.hyper, d, start + t,
                  {head.q_row(t), head.k_row(t), head.u_row(t), head.v_row(t)}, state,
                  o + static_cast<size_t>(t) * d);
  }
}

void chunkwise_pass(const Problem& p, const HeadInputs& head, int64_t start, HeadState& state,
                    double* o, int chunk) {
  for (const auto& [begin, end] : chunk_bounds(start, p.seq_len, chunk)) {
    chunk_forward(p.hyper, head, start, begin, end, state, o);
  }
}

}  // namespace

Result forward_recurrent(const Problem& p, const Inputs& in, const State* initial) {
  validate(p, in);
  if (initial) validate_initial_state(p, *initial);
  return forward_each_head(p, in, initial, 0, recurrent_pass);
}

Result forward_chunkwise(const Problem& p, const Inputs& in, int chunk, const State* initial) {
  validate(p, in);
  validate_chunk(chunk);
  if (initial) validate_initial_state(p, *initial);
  return forward_each_head(p, in, initial, chunk, chunkwise_pass);
}

std::vector<double> decode_step(const Problem& p, const Inputs& in,
                                const std::vector<int64_t>& positions, State& state) {
  validate(p, in);
  require(p.seq_len == 1, "seq_len", "is " + std::to_string(p.seq_len) + ", a decode step takes 1");
  require(positions.size() == static_cast<size_t>(p.batch), "positions",
          "has " + std::to_string(positions.size()) +
              " entries, expected batch = " + std::to_string(p.batch));
  for (size_t b = 0; b < positions.size(); ++b) {
    require(positions[b] >= 0, "positions",
            "entry " + std::to_string(b) + " is " + std::to_string(positions[b]) + ", negative");
  }
  require_size(state.A, matrix_size(p), "A");
  require_size(state.S, matrix_size(p), "S");
  require_size(state.z, vector_size(p), "z");
  std::vector<double> o(token_size(p));
  const int d = p.head_dim;
  for_each_head(p, [&](int b, int h) {
    HeadState head =
        positions[b] == 0 ? fresh_head_state(p) : gather_state(p, state.A, state.S, state.z, b, h);
    const size_t row = (static_cast<size_t>(b) * p.heads + h) * d;
    token_forward(p.hyper, d, positions[b], {&in.q[row], &in.k[row], &in.u[row], &in.v[row]}, head,
                  &o[row]);
    scatter_state(p, head, b, h, state.A, state.S, state.z);
  });
  return o;
}

}  // namespace lla::reference::vla
