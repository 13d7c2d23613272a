#pragma once
// The checks every pass of the C API shares: results, enum and size checks, and the checks of a
// call's tensors against the tensor table of its (variant, pass) (compiler/families): NULL,
// sizes, alignment, overlap and memory. Messages name the field as "<struct>.<field>"
// (lla_problem.key_dim, lla_decode_args.state, ...).
//
// Status rules: a value no caller could mean (a negative size, heads not divisible by groups,
// too few levels, a NULL or misaligned tensor) is LLA_ERR_INVALID_ARGUMENT; a valid problem
// that lla cannot run yet (K not a multiple of 16, a variant with no kernels yet) is
// LLA_ERR_NOT_SUPPORTED. Invalid fields are reported before unsupported ones.

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "backend/backend.h"
#include "families/kernel_family.h"
#include "lla/lla.h"

namespace lla::runtime {

struct ValidationResult {
  lla_status status = LLA_SUCCESS;
  std::string message;
  bool ok() const { return status == LLA_SUCCESS; }
};

ValidationResult invalid(std::string message);      // LLA_ERR_INVALID_ARGUMENT
ValidationResult unsupported(std::string message);  // LLA_ERR_NOT_SUPPORTED

std::string pointer_text(const void* p);  // "0x7f..."

compiler::Dtype to_compiler_dtype(lla_dtype dtype);  // of a validated dtype
lla_dtype to_lla_dtype(compiler::Dtype dtype);
compiler::Variant to_compiler_variant(lla_variant variant);  // of a validated variant

// The product of positive factors, or -1 when it does not fit in int64.
int64_t checked_product(std::initializer_list<int64_t> factors);

// variant and dtype are values of their enums.
ValidationResult check_enums(const char* owner, lla_variant variant, lla_dtype dtype);

// Every named size is at least 1.
ValidationResult check_positive(const char* owner, const std::vector<std::pair<const char*, int>>& sizes);

// heads is a multiple of groups (both positive).
ValidationResult check_grouping(const char* owner, int heads, int groups);

// The fields every pass's problem struct shares (lla_problem, lla_decode_problem, ...).
struct SharedFields {
  lla_variant variant;
  lla_dtype dtype;
  int batch, heads, groups, key_dim, value_dim, levels;
};
template <class Problem>
SharedFields shared_fields(const Problem& p) {
  return {p.variant, p.dtype, p.batch, p.heads, p.groups, p.key_dim, p.value_dim, p.levels};
}

// The checks of the shared fields, in the order lla.h lists them: variant and dtype are values
// of their enums; batch, then the pass's own sizes (`own`: seq_len, ...), then heads, groups,
// key_dim, value_dim and levels are at least 1; heads is a multiple of groups.
ValidationResult check_shared_fields(const char* owner, const SharedFields& fields,
                                     const std::vector<std::pair<const char*, int>>& own = {});

// NOT_SUPPORTED for head sizes and level counts lla has no kernel for.
ValidationResult check_supported_sizes(const char* owner, int key_dim, int value_dim, int levels);

// NOT_SUPPORTED when lla has no kernel family for the call's (variant, pass) ("<owner>.variant:
// the Gated DeltaNet forward kernel is not available yet"), its family lacks a feature it asks
// for ("<owner>.qk_l2norm: ..."), or it has head sizes or levels lla has no kernel for.
ValidationResult check_problem_support(const char* owner, compiler::FamilyKey key, bool qk_l2norm, int key_dim,
                                       int value_dim, int levels);

// Bytes of tensor `t` in a call of `sizes` and `dtype`; -1 when they do not fit in int64.
int64_t tensor_bytes(const compiler::TensorDecl& t, const compiler::ProblemSizes& sizes, compiler::Dtype dtype);
// The address alignment `t` needs, in bytes.
int alignment_of(const compiler::TensorDecl& t, compiler::Dtype dtype);

// Every tensor of `tensors` fits in an int64 byte count: "<owner>: the tensor of
// batch*seq_len*groups*key_dim elements has more bytes than a 64-bit size holds".
ValidationResult check_tensor_sizes(const char* owner, const std::vector<compiler::TensorDecl>& tensors,
                                    const compiler::ProblemSizes& sizes, compiler::Dtype dtype);

// A tensor field of a call's arguments, as the caller gave it.
struct ArgTensor {
  const char* field;  // its name in the arguments struct
  compiler::Buffer role;
  const void* pointer;
  bool written = true;  // false: this call only reads a tensor its table says it writes
                        // (decode positions without advance_positions)
};

// The tensor fields every pass's arguments have (lla_forward_args, lla_decode_args, ...).
template <class Args>
std::vector<ArgTensor> shared_arg_tensors(const Args& a) {
  using compiler::Buffer;
  return {{"q", Buffer::q, a.q},       {"k", Buffer::k, a.k},           {"v", Buffer::v, a.v},
          {"g", Buffer::g, a.g},       {"beta", Buffer::beta, a.beta}, {"lambda", Buffer::lambda, a.lambda},
          {"o", Buffer::o, a.o}};
}

// The sizes every pass's problem struct shares (lla_problem, lla_decode_problem, ...): batch,
// heads, groups, key_dim, value_dim, levels; the pass sets its own (seq_len, sequences).
template <class Problem>
compiler::ProblemSizes shared_sizes(const Problem& p) {
  // batch, seq_len, sequences, heads, groups, key_dim, value_dim, levels
  return {p.batch, 1, p.batch, p.heads, p.groups, p.key_dim, p.value_dim, p.levels};
}

// The request every pass's validated problem shares: its (variant, pass), dtype, head sizes,
// levels, qk_l2norm, batch, heads, groups, scale (lla.h: 0 means 1) and the device's
// multiprocessors; the pass sets its own fields.
template <class Problem>
compiler::Request shared_request(const Problem& p, compiler::Pass pass, const compiler::DeviceInfo& device) {
  compiler::Request request;
  request.family = {to_compiler_variant(p.variant), pass};
  request.dtype = to_compiler_dtype(p.dtype);
  request.key_dim = p.key_dim;
  request.value_dim = p.value_dim;
  request.levels = p.levels;
  request.qk_l2norm = p.qk_l2norm != 0;
  request.shape.multiprocessors = device.sm_count;
  request.shape.batch = p.batch;
  request.shape.heads = p.heads;
  request.shape.groups = p.groups;
  request.shape.scale = p.scale == 0.0f ? 1.0f : p.scale;
  return request;
}

// The first of `checks`, run in order, that fails; success when none does.
ValidationResult first_failure(std::initializer_list<std::function<ValidationResult()>> checks);

// A tensor of a call as the pointer and memory checks see it.
struct TensorField {
  std::string name;  // "lla_forward_args.q"
  const void* pointer;
  int64_t bytes;
  uintptr_t alignment;
  bool is_output;  // written by the call: may overlap no other tensor
};

// A tensor field the table `tensors` of the call's (variant, pass) lacks must be NULL
// ("lla_forward_args.beta: must be NULL for LLA_VARIANT_MAMBA2, which takes no beta").
ValidationResult check_foreign_tensors(const char* args_owner, lla_variant variant,
                                       const std::vector<compiler::TensorDecl>& tensors,
                                       const std::vector<ArgTensor>& args);

// The call's tensors of `tensors`, in table order, as the pointer and memory checks see them:
// an optional NULL one left out, a tensor that is the memory of the one it may alias counted
// once. The sizes must have passed check_tensor_sizes.
std::vector<TensorField> call_tensor_fields(const char* args_owner, const std::vector<compiler::TensorDecl>& tensors,
                                            const std::vector<ArgTensor>& args, const compiler::ProblemSizes& sizes,
                                            compiler::Dtype dtype);

// NULL, misalignment, a tensor running past the end of the address space, and an output
// overlapping any other tensor.
ValidationResult check_tensor_pointers(const std::vector<TensorField>& tensors);

// Every tensor is memory the backend's kernels can use (Backend::memory_problem).
ValidationResult check_tensor_memory(const std::vector<TensorField>& tensors, const backend::MemoryInspector& memory);

}  // namespace lla::runtime
