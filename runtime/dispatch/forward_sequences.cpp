#include "dispatch/forward_sequences.h"

namespace lla::runtime::dispatch {

bool has_sequences(const lla_forward_args& a) {
  return a.num_seqs != 0 || a.seq_offsets || a.start_positions || a.initial_state ||
         a.final_state || a.final_positions;
}

int64_t sequence_count(const lla_problem& p, const lla_forward_args& a) {
  return a.seq_offsets ? a.num_seqs : p.batch;
}

SequenceExtent sequence_extent(const lla_problem& p, const lla_forward_args& a, int64_t s) {
  SequenceExtent e;
  if (a.seq_offsets) {
    e.row0 = a.seq_offsets[s];
    e.length = a.seq_offsets[s + 1] - a.seq_offsets[s];
  } else {
    e.row0 = s * p.seq_len;
    e.length = p.seq_len;
  }
  e.start = a.start_positions ? a.start_positions[s] : 0;
  return e;
}

}  // namespace lla::runtime::dispatch
