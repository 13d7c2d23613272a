#pragma once
// lla_decode_step as a call of the decode pass: its checks, all before anything is queued,
// under the rules of validation_checks.h (each failure names the offending field:
// "lla_decode_problem.max_position: ...", "lla_decode_args.state is NULL"), and the
// dispatcher's Call of a validated one.
//
// Positions are device memory and cannot be read at the call: the host checks the bound the
// caller declares (max_position against levels), the kernel checks every position against it.

#include "api/validation_checks.h"
#include "dispatch/dispatcher.h"
#include "lla/lla.h"

namespace lla::runtime {

// Field checks of the problem: enums, sizes, grouping, max_position against levels, scale,
// 64-bit overflow of every tensor size. INVALID_ARGUMENT only; p may be NULL.
ValidationResult check_decode_problem(const lla_decode_problem* p);

// Pointer checks that need no device: tensors the variant does not take are NULL, then NULL,
// alignment and overlap of the tensors it takes (positions are written, and may overlap no
// other tensor, only with advance_positions). a may be NULL.
ValidationResult check_decode_args(const lla_decode_problem& p, const lla_decode_args* a);

// What lla can run today: NOT_SUPPORTED with the field and the reason, or success.
ValidationResult check_decode_support(const lla_decode_problem& p);

// All of the above, in the order above, with the memory of every tensor (the backend's
// memory_problem) checked before the support.
ValidationResult validate_decode(const lla_decode_problem* p, const lla_decode_args* a,
                                 const backend::MemoryInspector& memory);

// The sizes a step's tensors are shaped by.
compiler::ProblemSizes decode_sizes(const lla_decode_problem& p);

// The dispatcher's call of a validated lla_decode_step.
dispatch::Call decode_call(const lla_decode_problem& p, const lla_decode_args& a, const compiler::DeviceInfo& device,
                           void* stream);

}  // namespace lla::runtime
