#pragma once
// Checks of an lla_forward call, all before anything is queued. Each failure carries the status
// and a message that names the offending field ("lla_problem.key_dim: ...").
//
// Status rules: a value no caller could mean (a negative size, heads not divisible by groups,
// too few levels, a NULL or misaligned tensor) is LLA_ERR_INVALID_ARGUMENT; a valid problem
// that lla cannot run yet (K not a multiple of 16, a chunk outside 16..128, the Gated DeltaNet
// kernel) is LLA_ERR_NOT_SUPPORTED. Invalid fields are reported before unsupported ones.
//
// Memory rule: every tensor must be device memory of the context's device, or managed memory.
// Page-locked host memory is refused although kernels could read it: attention over PCIe is
// orders of magnitude slower, so such a pointer is almost always a bug worth reporting.

#include <cstdint>
#include <string>

#include "api/pointer_inspection.h"
#include "api/validation_checks.h"
#include "dispatch/forward_sequences.h"
#include "lla/lla.h"

namespace lla::runtime {

// Bytes of each tensor of a problem that passed check_forward_problem.
struct ForwardTensorBytes {
  int64_t qk = 0;      // q and k each: B*T*G*K elements
  int64_t vo = 0;      // v and o each: B*T*H*V elements
  int64_t g = 0;       // B*T*H float32
  int64_t beta = 0;    // B*T*H elements
  int64_t lambda = 0;  // B*T*H*L elements
};

// Field checks of the problem: enums, sizes, grouping, levels, chunk, scale, 64-bit overflow
// of every tensor size. INVALID_ARGUMENT only; p may be NULL. With `packed`, seq_len counts
// the tokens of many sequences, and check_forward_args checks levels per sequence instead.
ValidationResult check_forward_problem(const lla_problem* p, bool packed = false);

// Tensor sizes of a problem that passed check_forward_problem.
ForwardTensorBytes forward_tensor_bytes(const lla_problem& p);

// Pointer checks that need no device: NULL, alignment, beta only for Gated DeltaNet, o not
// overlapping an input; and the sequences of the call (offsets, start positions against
// levels, a state for every continued sequence). a may be NULL.
ValidationResult check_forward_args(const lla_problem& p, const lla_forward_args* a);

// Every tensor is device memory of device_ordinal or managed memory.
ValidationResult check_forward_memory(const lla_problem& p, const lla_forward_args& a,
                                      const PointerInspector& inspector, int device_ordinal);

// What lla can run today: NOT_SUPPORTED with the field and the supported range, or success.
ValidationResult check_forward_support(const lla_problem& p);

// All of the above, in the order above.
ValidationResult validate_forward(const lla_problem* p, const lla_forward_args* a,
                                  const PointerInspector& inspector, int device_ordinal);

}  // namespace lla::runtime
