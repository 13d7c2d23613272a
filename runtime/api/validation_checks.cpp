#include "api/validation_checks.h"

#include <algorithm>
#include <cstdio>

#include "api/status_error.h"

namespace lla::runtime {
namespace {

constexpr int kMaxKeyDim = 256;
constexpr int kMaxValueDim = 512;
constexpr int kMaxLevels = 64;

const char* variant_enum_name(lla_variant v) {
  return v == LLA_VARIANT_MAMBA2 ? "LLA_VARIANT_MAMBA2" : "LLA_VARIANT_GATED_DELTANET";
}

// "Gated DeltaNet forward kernel", "Mamba-2 decode step".
std::string kernel_text(compiler::FamilyKey key) {
  const std::string variant = key.variant == compiler::Variant::mamba2 ? "Mamba-2" : "Gated DeltaNet";
  return variant + (key.pass == compiler::Pass::decode ? " decode step" : " " + std::string(compiler::pass_name(key.pass)) + " kernel");
}

}  // namespace

ValidationResult invalid(std::string message) { return {LLA_ERR_INVALID_ARGUMENT, std::move(message)}; }

ValidationResult unsupported(std::string message) { return {LLA_ERR_NOT_SUPPORTED, std::move(message)}; }

std::string pointer_text(const void* p) {
  char text[32];
  std::snprintf(text, sizeof text, "%p", p);
  return text;
}

compiler::Dtype to_compiler_dtype(lla_dtype dtype) {
  switch (dtype) {
    case LLA_DTYPE_F32: return compiler::Dtype::f32;
    case LLA_DTYPE_F16: return compiler::Dtype::f16;
    case LLA_DTYPE_BF16: return compiler::Dtype::bf16;
  }
  throw StatusError(LLA_ERR_INTERNAL, "an unvalidated lla_dtype reached dispatch");
}

lla_dtype to_lla_dtype(compiler::Dtype dtype) {
  switch (dtype) {
    case compiler::Dtype::f32: return LLA_DTYPE_F32;
    case compiler::Dtype::f16: return LLA_DTYPE_F16;
    case compiler::Dtype::bf16: return LLA_DTYPE_BF16;
  }
  throw StatusError(LLA_ERR_INTERNAL, "an unknown compiler::Dtype");
}

compiler::Variant to_compiler_variant(lla_variant variant) {
  switch (variant) {
    case LLA_VARIANT_MAMBA2: return compiler::Variant::mamba2;
    case LLA_VARIANT_GATED_DELTANET: return compiler::Variant::gated_deltanet;
  }
  throw StatusError(LLA_ERR_INTERNAL, "an unvalidated lla_variant reached dispatch");
}

int64_t checked_product(std::initializer_list<int64_t> factors) {
  int64_t product = 1;
  for (int64_t f : factors)
    if (__builtin_mul_overflow(product, f, &product)) return -1;
  return product;
}

ValidationResult check_enums(const char* owner, lla_variant variant, lla_dtype dtype) {
  if (variant != LLA_VARIANT_MAMBA2 && variant != LLA_VARIANT_GATED_DELTANET)
    return invalid(std::string(owner) + ".variant: " + std::to_string(variant) + " is not an lla_variant");
  if (dtype != LLA_DTYPE_F32 && dtype != LLA_DTYPE_F16 && dtype != LLA_DTYPE_BF16)
    return invalid(std::string(owner) + ".dtype: " + std::to_string(dtype) + " is not an lla_dtype");
  return {};
}

ValidationResult check_positive(const char* owner, const std::vector<std::pair<const char*, int>>& sizes) {
  for (const auto& [name, value] : sizes)
    if (value < 1)
      return invalid(std::string(owner) + "." + name + ": " + std::to_string(value) + " must be at least 1");
  return {};
}

ValidationResult check_grouping(const char* owner, int heads, int groups) {
  if (heads % groups != 0)
    return invalid(std::string(owner) + ".heads: " + std::to_string(heads) + " is not a multiple of " + owner +
                   ".groups (" + std::to_string(groups) + ")");
  return {};
}

ValidationResult check_shared_fields(const char* owner, const SharedFields& f,
                                     const std::vector<std::pair<const char*, int>>& own) {
  if (ValidationResult r = check_enums(owner, f.variant, f.dtype); !r.ok()) return r;
  std::vector<std::pair<const char*, int>> sizes = {{"batch", f.batch}};
  sizes.insert(sizes.end(), own.begin(), own.end());
  sizes.insert(sizes.end(), {{"heads", f.heads},
                             {"groups", f.groups},
                             {"key_dim", f.key_dim},
                             {"value_dim", f.value_dim},
                             {"levels", f.levels}});
  if (ValidationResult r = check_positive(owner, sizes); !r.ok()) return r;
  return check_grouping(owner, f.heads, f.groups);
}

ValidationResult check_supported_sizes(const char* owner, int key_dim, int value_dim, int levels) {
  const struct {
    const char* name;
    int value;
    int max;
  } dims[] = {{"key_dim", key_dim, kMaxKeyDim}, {"value_dim", value_dim, kMaxValueDim}};
  for (const auto& d : dims)
    if (d.value % 16 != 0 || d.value > d.max)
      return unsupported(std::string(owner) + "." + d.name + ": " + std::to_string(d.value) +
                         " is a valid head size, but lla supports multiples of 16 up to " + std::to_string(d.max) +
                         " only");
  if (levels > kMaxLevels)
    return unsupported(std::string(owner) + ".levels: " + std::to_string(levels) + " is more than the " +
                       std::to_string(kMaxLevels) + " lla supports");
  return {};
}

ValidationResult check_problem_support(const char* owner, compiler::FamilyKey key, bool qk_l2norm, int key_dim,
                                       int value_dim, int levels) {
  const compiler::KernelFamily* family = compiler::find_family(key);
  if (!family) return unsupported(std::string(owner) + ".variant: the " + kernel_text(key) + " is not available yet");
  compiler::Request request;
  request.family = key;
  request.qk_l2norm = qk_l2norm;
  if (const auto why = family->unsupported(request)) return unsupported(std::string(owner) + "." + *why);
  return check_supported_sizes(owner, key_dim, value_dim, levels);
}

ValidationResult first_failure(std::initializer_list<std::function<ValidationResult()>> checks) {
  for (const std::function<ValidationResult()>& check : checks)
    if (ValidationResult r = check(); !r.ok()) return r;
  return {};
}

int64_t tensor_bytes(const compiler::TensorDecl& t, const compiler::ProblemSizes& sizes, compiler::Dtype dtype) {
  const int64_t elements = compiler::element_count(t, sizes);
  return elements < 0 ? -1 : checked_product({elements, compiler::element_bytes(t, dtype)});
}

int alignment_of(const compiler::TensorDecl& t, compiler::Dtype dtype) {
  return t.alignment > 0 ? t.alignment : compiler::element_bytes(t, dtype);
}

ValidationResult check_tensor_sizes(const char* owner, const std::vector<compiler::TensorDecl>& tensors,
                                    const compiler::ProblemSizes& sizes, compiler::Dtype dtype) {
  for (const compiler::TensorDecl& t : tensors)
    if (tensor_bytes(t, sizes, dtype) < 0)
      return invalid(std::string(owner) + ": the tensor of " + compiler::shape_text(t) +
                     " elements has more bytes than a 64-bit size holds");
  return {};
}

ValidationResult check_foreign_tensors(const char* args_owner, lla_variant variant,
                                       const std::vector<compiler::TensorDecl>& tensors,
                                       const std::vector<ArgTensor>& args) {
  for (const ArgTensor& a : args) {
    if (!a.pointer) continue;
    const bool declared = std::any_of(tensors.begin(), tensors.end(),
                                      [&](const compiler::TensorDecl& t) { return t.role == a.role; });
    if (!declared)
      return invalid(std::string(args_owner) + "." + a.field + ": must be NULL for " + variant_enum_name(variant) +
                     ", which takes no " + a.field);
  }
  return {};
}

std::vector<TensorField> call_tensor_fields(const char* args_owner, const std::vector<compiler::TensorDecl>& tensors,
                                            const std::vector<ArgTensor>& args, const compiler::ProblemSizes& sizes,
                                            compiler::Dtype dtype) {
  const auto pointer_of = [&](compiler::Buffer role) -> const ArgTensor* {
    for (const ArgTensor& a : args)
      if (a.role == role) return &a;
    return nullptr;
  };
  std::vector<TensorField> fields;
  std::vector<TensorField>* const out = &fields;
  for (const compiler::TensorDecl& t : tensors) {
    const ArgTensor* arg = pointer_of(t.role);
    const void* pointer = arg ? arg->pointer : nullptr;
    if (t.optional && !pointer) continue;
    if (t.may_alias != compiler::Buffer::workspace && pointer) {
      // The aliased tensor's memory, updated in place: counted once, as this (written) one.
      const ArgTensor* alias = pointer_of(t.may_alias);
      if (alias && alias->pointer == pointer)
        out->erase(std::remove_if(out->begin(), out->end(), [&](const TensorField& f) { return f.pointer == pointer; }),
                   out->end());
    }
    out->push_back({std::string(args_owner) + "." + t.field, pointer, tensor_bytes(t, sizes, dtype),
                    static_cast<uintptr_t>(alignment_of(t, dtype)),
                    t.access != compiler::Access::read && (!arg || arg->written)});
  }
  return fields;
}

ValidationResult check_tensor_pointers(const std::vector<TensorField>& tensors) {
  for (const TensorField& t : tensors) {
    const auto address = reinterpret_cast<uintptr_t>(t.pointer);
    if (!t.pointer) return invalid(t.name + " is NULL");
    if (address % t.alignment != 0)
      return invalid(t.name + ": " + pointer_text(t.pointer) + " is not " + std::to_string(t.alignment) +
                     "-byte aligned");
    if (address > UINTPTR_MAX - static_cast<uint64_t>(t.bytes))
      return invalid(t.name + ": " + pointer_text(t.pointer) + " + " + std::to_string(t.bytes) +
                     " bytes runs past the end of the address space");
  }
  for (const TensorField& out : tensors) {
    if (!out.is_output) continue;
    const auto out_begin = reinterpret_cast<uintptr_t>(out.pointer);
    for (const TensorField& t : tensors) {
      if (&t == &out) continue;
      const auto begin = reinterpret_cast<uintptr_t>(t.pointer);
      if (begin < out_begin + out.bytes && out_begin < begin + t.bytes)
        return invalid(out.name + ": its " + std::to_string(out.bytes) + " bytes at " + pointer_text(out.pointer) +
                       " overlap " + t.name + " (" + std::to_string(t.bytes) + " bytes at " +
                       pointer_text(t.pointer) + ")");
    }
  }
  return {};
}

ValidationResult check_tensor_memory(const std::vector<TensorField>& tensors, const backend::MemoryInspector& memory) {
  for (const TensorField& t : tensors)
    if (const auto problem = memory.memory_problem(t.pointer))
      return invalid(t.name + ": " + pointer_text(t.pointer) + " " + *problem);
  return {};
}

}  // namespace lla::runtime
