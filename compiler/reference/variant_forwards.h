#pragma once
// The per-variant forward passes behind forward_materialized / forward_chunkwise /
// forward_recurrent of reference.h. Internal to the reference.
//
// The public functions validate everything before dispatching here (shapes, sizes, chunk a
// power of two, the initial state's size and position, L >= num_levels(position + T)), so
// these may assume consistent arguments. `initial` is nullptr for a fresh sequence.

#include "reference/reference.h"

namespace lla::reference {

Result mamba2_forward_materialized(const Problem& p, const Inputs& in);
Result mamba2_forward_chunkwise(const Problem& p, const Inputs& in, int chunk,
                                const FenwickState* initial);
Result mamba2_forward_recurrent(const Problem& p, const Inputs& in, const FenwickState* initial);

Result gdn_forward_materialized(const Problem& p, const Inputs& in);
Result gdn_forward_chunkwise(const Problem& p, const Inputs& in, int chunk,
                             const FenwickState* initial);
Result gdn_forward_recurrent(const Problem& p, const Inputs& in, const FenwickState* initial);

}  // namespace lla::reference
