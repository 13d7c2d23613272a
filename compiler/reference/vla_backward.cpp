// backward() of the VLA reference: validation, and the recurrent and chunkwise reverses per head.

#include "reference/vla_backward.h"

#include <stdexcept>
#include <string>

#include "reference/checks.h"
#include "reference/vla_chunk.h"
#include "reference/vla_head.h"
#include "reference/vla_recurrence.h"

namespace lla::reference::vla {
namespace {

// One head's gradients, [T,d] rows each.
struct HeadGradients {
  std::vector<double> dq, dk, du, dv;
  explicit HeadGradients(size_t rows)
      : dq(rows, 0.0), dk(rows, 0.0), du(rows, 0.0), dv(rows, 0.0) {}
};

// The recurrent reverse: every token's entering state kept, then token_backward from the last.
void recurrent_head_backward(const Problem& p, const HeadInputs& head, int64_t start,
                             const HeadState& initial, const double* d_o, HeadStateGradient& grad,
                             HeadGradients& g, int) {
  const int d = p.head_dim, T = p.seq_len;
  std::vector<HeadState> before(T);
  HeadState state = initial;
  std::vector<double> o(d);
  for (int t = 0; t < T; ++t) {
    before[t] = state;
    token_forward(p.hyper, d, start + t,
                  {head.q_row(t), head.k_row(t), head.u_row(t), head.v_row(t)}, state, o.data());
  }
  for (int t = T - 1; t >= 0; --t) {
    const size_t row = head.row(t);
    token_backward(p.hyper, d, start + t,
                   {head.q_row(t), head.k_row(t), head.u_row(t), head.v_row(t)}, before[t],
                   d_o + row, grad, &g.dq[row], &g.dk[row], &g.du[row], &g.dv[row]);
  }
}

// The chunkwise reverse: the state entering each chunk kept (the checkpoints); each chunk
// recomputed from its checkpoint and reversed, the last first.
void chunkwise_head_backward(const Problem& p, const HeadInputs& head, int64_t start,
                             const HeadState& initial, const double* d_o, HeadStateGradient& grad,
                             HeadGradients& g, int chunk) {
  const auto bounds = chunk_bounds(start, p.seq_len, chunk);
  std::vector<HeadState> checkpoints;
  checkpoints.reserve(bounds.size());
  HeadState state = initial;
  std::vector<double> o(static_cast<size_t>(p.seq_len) * p.head_dim);  // not read
  for (const auto& [begin, end] : bounds) {
    checkpoints.push_back(state);
    chunk_forward(p.hyper, head, start, begin, end, state, o.data());
  }
  for (size_t c = bounds.size(); c-- > 0;) {
    HeadState recomputed = checkpoints[c];
    const ChunkTrace trace = chunk_forward(p.hyper, head, start, bounds[c].first, bounds[c].second,
                                           recomputed, o.data());
    chunk_backward(p.hyper, head, trace, d_o, grad, g.dq.data(), g.dk.data(), g.du.data(),
                   g.dv.data());
  }
}

using HeadBackward = void (*)(const Problem&, const HeadInputs&, int64_t, const HeadState&,
                              const double*, HeadStateGradient&, HeadGradients&, int);

// `tensor`, or zeros of `size` when it is empty (a part of the final state the loss ignores).
std::vector<double> or_zeros(const std::vector<double>& tensor, size_t size) {
  return tensor.empty() ? std::vector<double>(size, 0.0) : tensor;
}

}  // namespace

const char* backward_form_name(BackwardForm form) {
  switch (form) {
    case BackwardForm::recurrent:
      return "recurrent";
    case BackwardForm::chunkwise:
      return "chunkwise";
  }
  throw std::invalid_argument("form: unknown value");
}

Gradients backward(const Problem& p, const Inputs& in, const State* initial,
                   const OutputGradients& out, const BackwardOptions& options) {
  validate(p, in);
  if (initial) validate_initial_state(p, *initial);
  require_size(out.d_o, token_size(p), "d_o");
  const StateGradient& d_final = out.d_final_state;
  if (!d_final.A.empty()) require_size(d_final.A, matrix_size(p), "d_final_state.A");
  if (!d_final.S.empty()) require_size(d_final.S, matrix_size(p), "d_final_state.S");
  if (!d_final.z.empty()) require_size(d_final.z, vector_size(p), "d_final_state.z");
  HeadBackward head_backward = nullptr;
  switch (options.form) {
    case BackwardForm::recurrent:
      head_backward = recurrent_head_backward;
      break;
    case BackwardForm::chunkwise:
      validate_chunk(options.chunk);
      head_backward = chunkwise_head_backward;
      break;
    default:
      throw std::invalid_argument("form: unknown value");
  }

  const State start = initial ? *initial : initial_state(p);
  const std::vector<double> dA_final = or_zeros(d_final.A, matrix_size(p));
  const std::vector<double> dS_final = or_zeros(d_final.S, matrix_size(p));
  const std::vector<double> dz_final = or_zeros(d_final.z, vector_size(p));
  Gradients g;
  g.dq.assign(token_size(p), 0.0);
  g.dk.assign(token_size(p), 0.0);
  g.du.assign(token_size(p), 0.0);
  g.dv.assign(token_size(p), 0.0);
  StateGradient d_start{std::vector<double>(matrix_size(p)), std::vector<double>(matrix_size(p)),
                        std::vector<double>(vector_size(p))};
  const size_t rows = static_cast<size_t>(p.seq_len) * p.head_dim;
  for_each_head(p, [&](int b, int h) {
    const HeadInputs head = gather_head(p, in, b, h);
    const HeadState state = gather_state(p, start.A, start.S, start.z, b, h);
    const HeadState final_gradient = gather_state(p, dA_final, dS_final, dz_final, b, h);
    HeadStateGradient grad{final_gradient.A, final_gradient.S, final_gradient.z};
    HeadGradients head_grads(rows);
    const std::vector<double> d_o = gather_rows(p, out.d_o, b, h);
    head_backward(p, head, start.position, state, d_o.data(), grad, head_grads, options.chunk);
    scatter_rows(p, head_grads.dq, b, h, g.dq);
    scatter_rows(p, head_grads.dk, b, h, g.dk);
    scatter_rows(p, head_grads.du, b, h, g.du);
    scatter_rows(p, head_grads.dv, b, h, g.dv);
    // A is symmetric: its gradient is the symmetric part of the entrywise one.
    const int d = p.head_dim;
    std::vector<double> symmetric(grad.A.size());
    for (int i = 0; i < d; ++i) {
      for (int j = 0; j < d; ++j) {
        symmetric[static_cast<size_t>(i) * d + j] =
            0.5 * (grad.A[static_cast<size_t>(i) * d + j] + grad.A[static_cast<size_t>(j) * d + i]);
      }
    }
    scatter_state(p, {symmetric, grad.S, grad.z}, b, h, d_start.A, d_start.S, d_start.z);
  });
  if (initial) g.d_initial_state = std::move(d_start);
  return g;
}

}  // namespace lla::reference::vla
