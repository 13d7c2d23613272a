#pragma once
// The per-variant passes behind backward() of backward.h, one head at a time (HeadBackward of
// per_head_backward.h, with the chunk bound). Internal to the reference.
//
// backward() validates everything before dispatching here, so these may assume consistent
// arguments. The chunkwise passes take a call that starts on the chunk grid (prefix position a
// multiple of the chunk; backward() runs a call that starts off it in two parts).

#include "reference/per_head_backward.h"

namespace lla::reference {

void mamba2_materialized_backward(const HeadSlice& head, const HeadPrefix* prefix,
                                  const HeadOutputGradients& out, HeadGradients& grad);
void mamba2_chunkwise_backward(const HeadSlice& head, int chunk, const HeadPrefix* prefix,
                               const HeadOutputGradients& out, HeadGradients& grad);

void gdn_materialized_backward(const HeadSlice& head, const HeadPrefix* prefix,
                               const HeadOutputGradients& out, HeadGradients& grad);
void gdn_chunkwise_backward(const HeadSlice& head, int chunk, const HeadPrefix* prefix,
                            const HeadOutputGradients& out, HeadGradients& grad);

}  // namespace lla::reference
