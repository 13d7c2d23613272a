#include "api/validation_checks.h"

#include <cstdio>

namespace lla::runtime {
namespace {

constexpr int kMaxKeyDim = 256;
constexpr int kMaxValueDim = 512;
constexpr int kMaxLevels = 64;

}  // namespace

ValidationResult invalid(std::string message) {
  return {LLA_ERR_INVALID_ARGUMENT, std::move(message)};
}

ValidationResult unsupported(std::string message) {
  return {LLA_ERR_NOT_SUPPORTED, std::move(message)};
}

std::string pointer_text(const void* p) {
  char text[32];
  std::snprintf(text, sizeof text, "%p", p);
  return text;
}

int element_bytes(lla_dtype dtype) { return dtype == LLA_DTYPE_F32 ? 4 : 2; }

int64_t checked_product(std::initializer_list<int64_t> factors) {
  int64_t product = 1;
  for (int64_t f : factors)
    if (__builtin_mul_overflow(product, f, &product)) return -1;
  return product;
}

ValidationResult check_tensor_sizes(
    const char* owner, std::initializer_list<std::pair<const char*, int64_t>> byte_counts) {
  for (const auto& [elements, bytes] : byte_counts)
    if (bytes < 0)
      return invalid(std::string(owner) + ": the tensor of " + elements +
                     " elements has more bytes than a 64-bit size holds");
  return {};
}

ValidationResult check_enums(const char* owner, lla_variant variant, lla_dtype dtype) {
  if (variant != LLA_VARIANT_MAMBA2 && variant != LLA_VARIANT_GATED_DELTANET)
    return invalid(std::string(owner) + ".variant: " + std::to_string(variant) +
                   " is not an lla_variant");
  if (dtype != LLA_DTYPE_F32 && dtype != LLA_DTYPE_F16 && dtype != LLA_DTYPE_BF16)
    return invalid(std::string(owner) + ".dtype: " + std::to_string(dtype) +
                   " is not an lla_dtype");
  return {};
}

ValidationResult check_positive(const char* owner,
                                std::initializer_list<std::pair<const char*, int>> sizes) {
  for (const auto& [name, value] : sizes)
    if (value < 1)
      return invalid(std::string(owner) + "." + name + ": " + std::to_string(value) +
                     " must be at least 1");
  return {};
}

ValidationResult check_grouping(const char* owner, int heads, int groups) {
  if (heads % groups != 0)
    return invalid(std::string(owner) + ".heads: " + std::to_string(heads) +
                   " is not a multiple of " + owner + ".groups (" + std::to_string(groups) + ")");
  return {};
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
                         " is a valid head size, but lla supports multiples of 16 up to " +
                         std::to_string(d.max) + " only");
  if (levels > kMaxLevels)
    return unsupported(std::string(owner) + ".levels: " + std::to_string(levels) +
                       " is more than the " + std::to_string(kMaxLevels) + " lla supports");
  return {};
}

ValidationResult check_tensor_pointers(const std::vector<TensorField>& tensors) {
  for (const TensorField& t : tensors) {
    const auto address = reinterpret_cast<uintptr_t>(t.pointer);
    if (!t.pointer) return invalid(std::string(t.name) + " is NULL");
    if (address % t.alignment != 0)
      return invalid(std::string(t.name) + ": " + pointer_text(t.pointer) + " is not " +
                     std::to_string(t.alignment) + "-byte aligned");
    if (address > UINTPTR_MAX - static_cast<uint64_t>(t.bytes))
      return invalid(std::string(t.name) + ": " + pointer_text(t.pointer) + " + " +
                     std::to_string(t.bytes) + " bytes runs past the end of the address space");
  }
  for (const TensorField& out : tensors) {
    if (!out.is_output) continue;
    const auto out_begin = reinterpret_cast<uintptr_t>(out.pointer);
    for (const TensorField& t : tensors) {
      if (&t == &out) continue;
      const auto begin = reinterpret_cast<uintptr_t>(t.pointer);
      if (begin < out_begin + out.bytes && out_begin < begin + t.bytes)
        return invalid(std::string(out.name) + ": its " + std::to_string(out.bytes) +
                       " bytes at " + pointer_text(out.pointer) + " overlap " + t.name + " (" +
                       std::to_string(t.bytes) + " bytes at " + pointer_text(t.pointer) + ")");
    }
  }
  return {};
}

ValidationResult check_tensor_memory(const std::vector<TensorField>& tensors,
                                     const PointerInspector& inspector, int device_ordinal) {
  for (const TensorField& t : tensors) {
    const PointerLocation where = inspector.locate(t.pointer);
    const std::string subject = std::string(t.name) + ": " + pointer_text(t.pointer);
    switch (where.kind) {
      case MemoryKind::managed:
        break;
      case MemoryKind::device:
        if (where.device_ordinal != device_ordinal)
          return invalid(subject + " is memory of device " + std::to_string(where.device_ordinal) +
                         ", but the lla_context runs on device " + std::to_string(device_ordinal));
        break;
      case MemoryKind::host:
        return invalid(subject + " is page-locked host memory; lla needs device or managed memory");
      case MemoryKind::unregistered:
        return invalid(subject + " is not CUDA memory (pageable host memory, freed memory or a "
                                 "stray pointer); lla needs device or managed memory");
    }
  }
  return {};
}

}  // namespace lla::runtime
