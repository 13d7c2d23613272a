#pragma once
// The sequences of an lla_forward call, read off its optional fields (lla.h: "Sequences and
// states of a forward"): packed offsets or batch x seq_len, and start positions.

#include <cstdint>

#include "lla/lla.h"

namespace lla::runtime::dispatch {

// Whether a call uses any optional field of lla_forward_args (sequences or states).
bool has_sequences(const lla_forward_args& a);

// The sequences of a call: num_seqs when packed, else batch. Needs valid offsets.
int64_t sequence_count(const lla_problem& p, const lla_forward_args& a);

// Sequence s of a call: its first packed row, start position and length.
struct SequenceExtent {
  int64_t row0 = 0;
  int64_t start = 0;
  int64_t length = 0;
};
SequenceExtent sequence_extent(const lla_problem& p, const lla_forward_args& a, int64_t s);

}  // namespace lla::runtime::dispatch
