#pragma once
// The checks lla_forward and lla_decode_step share: results, enum and size checks, and the
// pointer, overlap and memory checks of a call's tensors. Messages name the field as
// "<struct>.<field>" (lla_problem.key_dim, lla_decode_args.state, ...).

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "api/pointer_inspection.h"
#include "lla/lla.h"

namespace lla::runtime {

struct ValidationResult {
  lla_status status = LLA_SUCCESS;
  std::string message;
  bool ok() const { return status == LLA_SUCCESS; }
};

ValidationResult invalid(std::string message);  // LLA_ERR_INVALID_ARGUMENT
ValidationResult unsupported(std::string message);  // LLA_ERR_NOT_SUPPORTED

std::string pointer_text(const void* p);  // "0x7f..."

int element_bytes(lla_dtype dtype);  // of a validated dtype

// The product of positive factors, or -1 when it does not fit in int64.
int64_t checked_product(std::initializer_list<int64_t> factors);

// Each tensor's byte count (checked_product of its elements and element size) fits in int64:
// pairs of (elements, as "batch*heads*...", byte count or -1).
ValidationResult check_tensor_sizes(
    const char* owner, std::initializer_list<std::pair<const char*, int64_t>> byte_counts);

// variant and dtype are values of their enums.
ValidationResult check_enums(const char* owner, lla_variant variant, lla_dtype dtype);

// Every named size is at least 1.
ValidationResult check_positive(const char* owner,
                                std::initializer_list<std::pair<const char*, int>> sizes);

// heads is a multiple of groups (both positive).
ValidationResult check_grouping(const char* owner, int heads, int groups);

// NOT_SUPPORTED for head sizes and level counts lla has no kernel for.
ValidationResult check_supported_sizes(const char* owner, int key_dim, int value_dim, int levels);

struct TensorField {
  const char* name;  // "lla_forward_args.q"
  const void* pointer;
  int64_t bytes;
  uintptr_t alignment;
  bool is_output;  // written by the call: may overlap no other tensor
};

// NULL, misalignment, a tensor running past the end of the address space, and an output
// overlapping any other tensor.
ValidationResult check_tensor_pointers(const std::vector<TensorField>& tensors);

// Every tensor is device memory of device_ordinal or managed memory.
ValidationResult check_tensor_memory(const std::vector<TensorField>& tensors,
                                     const PointerInspector& inspector, int device_ordinal);

}  // namespace lla::runtime
