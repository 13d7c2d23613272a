// backward(): validation, the choice of form, and the call that starts off the chunk grid.

#include "reference/backward.h"

#include <stdexcept>
#include <string>

#include "reference/checks.h"
#include "reference/per_head_backward.h"
#include "reference/recurrence.h"
#include "reference/variant_backwards.h"

namespace lla::reference {
namespace {

using ChunkwiseHeadBackward = void (*)(const HeadSlice&, int, const HeadPrefix*,
                                       const HeadOutputGradients&, HeadGradients&);

// The chunk scans need a call that starts on the chunk grid. One that starts inside a chunk
// runs that chunk's remaining tokens in the recurrent form and the rest on the grid from the
// state after them; the rest's gradient with respect to that state is the first part's
// d(final state). With no grid point inside the call, all of it runs in the recurrent form.
void chunkwise_from_any_start(const HeadSlice& head, int chunk, const HeadPrefix* prefix,
                              const HeadOutputGradients& out, HeadGradients& grad,
                              bool delta_rule, ChunkwiseHeadBackward on_grid) {
  const int64_t start = prefix ? prefix->position : 0;
  const int into_chunk = static_cast<int>(start % chunk);
  if (into_chunk == 0) return on_grid(head, chunk, prefix, out, grad);
  const int first_len = chunk - into_chunk;
  if (first_len >= head.seq_len) return recurrent_backward(head, prefix, delta_rule, out, grad);

  const HeadSlice first = slice_tokens(head, 0, first_len);
  const HeadSlice rest = slice_tokens(head, first_len, head.seq_len);
  const size_t state_size = static_cast<size_t>(head.levels) * head.key_dim * head.value_dim;
  std::vector<double> first_o(static_cast<size_t>(first_len) * head.value_dim, 0.0);
  std::vector<double> middle(state_size, 0.0);
  recurrent_forward(first, prefix, delta_rule, first_o.data(), middle.data());

  const HeadPrefix middle_prefix{start + first_len, middle.data()};
  HeadGradients rest_grad(rest, true);
  on_grid(rest, chunk, &middle_prefix,
          {out.d_o + static_cast<size_t>(first_len) * head.value_dim, out.d_final}, rest_grad);
  HeadGradients first_grad(first, prefix != nullptr);
  recurrent_backward(first, prefix, delta_rule, {out.d_o, rest_grad.d_initial.data()},
                     first_grad);
  place_tokens(first_grad, 0, grad);
  place_tokens(rest_grad, first_len, grad);
  grad.d_initial = first_grad.d_initial;
}

HeadBackward head_backward(Variant variant, const BackwardOptions& options) {
  const bool delta_rule = variant == Variant::gated_deltanet;
  switch (options.form) {
    case BackwardForm::materialized:
      return delta_rule ? gdn_materialized_backward : mamba2_materialized_backward;
    case BackwardForm::recurrent:
      return [delta_rule](const HeadSlice& head, const HeadPrefix* prefix,
                          const HeadOutputGradients& out, HeadGradients& grad) {
        recurrent_backward(head, prefix, delta_rule, out, grad);
      };
    case BackwardForm::chunkwise:
      return [delta_rule, chunk = options.chunk](const HeadSlice& head, const HeadPrefix* prefix,
                                                 const HeadOutputGradients& out,
                                                 HeadGradients& grad) {
        chunkwise_from_any_start(head, chunk, prefix, out, grad, delta_rule,
                                 delta_rule ? gdn_chunkwise_backward : mamba2_chunkwise_backward);
      };
  }
  throw std::invalid_argument("form: unknown value");
}

}  // namespace

const char* backward_form_name(BackwardForm form) {
  switch (form) {
    case BackwardForm::materialized:
      return "materialized";
    case BackwardForm::recurrent:
      return "recurrent";
    case BackwardForm::chunkwise:
      return "chunkwise";
  }
  throw std::invalid_argument("form: unknown value");
}

Gradients backward(const Problem& p, const Inputs& in, const FenwickState* initial,
                   const OutputGradients& out, const BackwardOptions& options) {
  validate(p, in);
  if (initial) validate_initial_state(p, *initial);
  require(out.d_o.size() == v_size(p), "d_o",
          "has " + std::to_string(out.d_o.size()) + " elements, expected " +
              std::to_string(v_size(p)) + " = B*T*H*V");
  require(out.d_final_state.empty() || out.d_final_state.size() == state_size(p),
          "d_final_state",
          "has " + std::to_string(out.d_final_state.size()) + " elements, expected 0 or " +
              std::to_string(state_size(p)) + " = B*H*L*K*V");
  if (options.form == BackwardForm::chunkwise) validate_chunk(options.chunk);
  return backward_each_head(p, in, initial, out, head_backward(p.variant, options));
}

}  // namespace lla::reference
