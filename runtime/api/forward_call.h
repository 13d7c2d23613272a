#pragma once
// lla_forward as a call of the forward pass: its checks, all before anything is queued (each
// failure carries the status and a message naming the field: "lla_problem.key_dim: ..."), and
// the dispatcher's Call of a validated one. The tensors and their rules are the forward's table
// (compiler/families: tensors_of); the status rules are validation_checks.h's; the memory rule
// is the backend's.

#include <cstdint>
#include <vector>

#include "api/validation_checks.h"
#include "dispatch/dispatcher.h"
#include "lla/lla.h"

namespace lla::runtime {

// Field checks of the problem: enums, sizes, grouping, levels, chunk, scale, 64-bit overflow
// of every tensor size. INVALID_ARGUMENT only; p may be NULL. With `packed`, seq_len counts
// the tokens of many sequences, and check_forward_args checks levels per sequence instead.
ValidationResult check_forward_problem(const lla_problem* p, bool packed = false);

// Pointer checks that need no device: tensors the variant does not take are NULL, the
// sequences of the call (offsets, start positions against levels, a state for every continued
// sequence), then NULL, alignment and overlap of the tensors it takes. a may be NULL.
ValidationResult check_forward_args(const lla_problem& p, const lla_forward_args* a);

// What lla can run today: NOT_SUPPORTED with the field and the reason, or success.
ValidationResult check_forward_support(const lla_problem& p);

// All of the above, in the order above, with the memory of every tensor (the backend's
// memory_problem) checked before the support.
ValidationResult validate_forward(const lla_problem* p, const lla_forward_args* a,
                                  const backend::MemoryInspector& memory);

// The sizes a call's tensors are shaped by, with `sequences` sequences.
compiler::ProblemSizes forward_sizes(const lla_problem& p, int64_t sequences);

// The sequences of a call, read off its optional fields (lla.h: "Sequences and states of a
// forward"): whether it uses any, how many (num_seqs when packed, else batch; needs valid
// offsets), and sequence s's first packed row, start position and length.
bool has_sequences(const lla_forward_args& a);
int64_t sequence_count(const lla_problem& p, const lla_forward_args& a);
struct SequenceExtent {
  int64_t row0 = 0;
  int64_t start = 0;
  int64_t length = 0;
};
SequenceExtent sequence_extent(const lla_problem& p, const lla_forward_args& a, int64_t s);

// The tuning request of a validated problem on `device` (lla_tune, and a call's bucket).
compiler::Request forward_request(const lla_problem& p, const compiler::DeviceInfo& device);

// The dispatcher's call of a validated lla_forward.
dispatch::Call forward_call(const lla_problem& p, const lla_forward_args& a, const compiler::DeviceInfo& device,
                            void* stream);

// Fills a.final_positions (host memory), when given: each sequence's start plus length.
void write_final_positions(const lla_problem& p, const lla_forward_args& a);

}  // namespace lla::runtime
