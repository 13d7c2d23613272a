#pragma once
// Checks of an lla_decode_step call, all before anything is queued, under the status and memory
// rules of forward_validation.h. Each failure names the offending field
// ("lla_decode_problem.max_position: ...", "lla_decode_args.state is NULL").
//
// Positions are device memory and cannot be read at the call: the host checks the bound the
// caller declares (max_position against levels), the kernel checks every position against it.

#include <cstdint>

#include "api/pointer_inspection.h"
#include "api/validation_checks.h"
#include "lla/lla.h"

namespace lla::runtime {

// Bytes of each tensor of a problem that passed check_decode_problem.
struct DecodeTensorBytes {
  int64_t qk = 0;         // q and k each: B*G*K elements
  int64_t vo = 0;         // v and o each: B*H*V elements
  int64_t g = 0;          // B*H float32
  int64_t beta = 0;       // B*H elements
  int64_t lambda = 0;     // B*H*L elements
  int64_t state = 0;      // B*H*L*K*V float32
  int64_t positions = 0;  // B int64
};

// Field checks of the problem: enums, sizes, grouping, max_position against levels, scale,
// 64-bit overflow of every tensor size. INVALID_ARGUMENT only; p may be NULL.
ValidationResult check_decode_problem(const lla_decode_problem* p);

DecodeTensorBytes decode_tensor_bytes(const lla_decode_problem& p);

// Pointer checks that need no device: NULL, alignment, beta only for Gated DeltaNet, the
// written tensors (o, state, and positions when advanced) overlapping no other. a may be NULL.
ValidationResult check_decode_args(const lla_decode_problem& p, const lla_decode_args* a);

// Every tensor is device memory of device_ordinal or managed memory.
ValidationResult check_decode_memory(const lla_decode_problem& p, const lla_decode_args& a,
                                     const PointerInspector& inspector, int device_ordinal);

// What lla can run today: NOT_SUPPORTED with the field and the reason, or success.
ValidationResult check_decode_support(const lla_decode_problem& p);

// All of the above, in the order above.
ValidationResult validate_decode(const lla_decode_problem* p, const lla_decode_args* a,
                                 const PointerInspector& inspector, int device_ordinal);

}  // namespace lla::runtime
