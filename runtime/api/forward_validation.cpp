#include "api/forward_validation.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <vector>

namespace lla::runtime {
namespace {

constexpr int kMaxKeyDim = 256;
constexpr int kMaxValueDim = 512;
constexpr int kMinChunk = 16;
constexpr int kMaxChunk = 128;
constexpr int kMaxLevels = 64;

ValidationResult fail(lla_status status, std::string message) {
  return {status, std::move(message)};
}

ValidationResult invalid(std::string message) {
  return fail(LLA_ERR_INVALID_ARGUMENT, std::move(message));
}

std::string pointer_text(const void* p) {
  char text[32];
  std::snprintf(text, sizeof text, "%p", p);
  return text;
}

bool is_power_of_two(int x) { return x > 0 && (x & (x - 1)) == 0; }

int element_bytes(lla_dtype dtype) { return dtype == LLA_DTYPE_F32 ? 4 : 2; }

// The product of the factors, or -1 when it does not fit in int64 (factors are positive).
int64_t checked_product(std::initializer_list<int64_t> factors) {
  int64_t product = 1;
  for (int64_t f : factors)
    if (__builtin_mul_overflow(product, f, &product)) return -1;
  return product;
}

struct TensorField {
  const char* name;
  const void* pointer;
  int64_t bytes;
  uintptr_t alignment;
  bool is_output;
};

// The tensors a call reads and writes, beta only for Gated DeltaNet.
std::vector<TensorField> forward_tensors(const lla_problem& p, const lla_forward_args& a) {
  const ForwardTensorBytes bytes = forward_tensor_bytes(p);
  std::vector<TensorField> tensors = {
      {"lla_forward_args.q", a.q, bytes.qk, 16, false},
      {"lla_forward_args.k", a.k, bytes.qk, 16, false},
      {"lla_forward_args.v", a.v, bytes.vo, 16, false},
      {"lla_forward_args.g", a.g, bytes.g, 4, false},
      {"lla_forward_args.lambda", a.lambda, bytes.lambda, 16, false},
      {"lla_forward_args.o", a.o, bytes.vo, 16, true},
  };
  if (p.variant == LLA_VARIANT_GATED_DELTANET)
    tensors.push_back({"lla_forward_args.beta", a.beta, bytes.beta,
                       static_cast<uintptr_t>(element_bytes(p.dtype)), false});
  return tensors;
}

}  // namespace

ValidationResult check_forward_problem(const lla_problem* p) {
  if (!p) return invalid("p (the lla_problem) is NULL");
  if (p->variant != LLA_VARIANT_MAMBA2 && p->variant != LLA_VARIANT_GATED_DELTANET)
    return invalid("lla_problem.variant: " + std::to_string(p->variant) +
                   " is not an lla_variant");
  if (p->dtype != LLA_DTYPE_F32 && p->dtype != LLA_DTYPE_F16 && p->dtype != LLA_DTYPE_BF16)
    return invalid("lla_problem.dtype: " + std::to_string(p->dtype) + " is not an lla_dtype");
  const struct {
    const char* name;
    int value;
  } sizes[] = {{"batch", p->batch},     {"seq_len", p->seq_len},     {"heads", p->heads},
               {"groups", p->groups},   {"key_dim", p->key_dim},     {"value_dim", p->value_dim},
               {"levels", p->levels}};
  for (const auto& s : sizes)
    if (s.value < 1)
      return invalid(std::string("lla_problem.") + s.name + ": " + std::to_string(s.value) +
                     " must be at least 1");
  if (p->heads % p->groups != 0)
    return invalid("lla_problem.heads: " + std::to_string(p->heads) +
                   " is not a multiple of lla_problem.groups (" + std::to_string(p->groups) + ")");
  const int needed_levels = lla_num_levels(p->seq_len);
  if (p->levels < needed_levels)
    return invalid("lla_problem.levels: " + std::to_string(p->levels) + " is fewer than the " +
                   std::to_string(needed_levels) + " that seq_len " + std::to_string(p->seq_len) +
                   " needs (lla_num_levels)");
  if (p->chunk != 0 && !is_power_of_two(p->chunk))
    return invalid("lla_problem.chunk: " + std::to_string(p->chunk) +
                   " is not a power of two (or 0 to let lla choose)");
  if (!std::isfinite(p->scale))
    return invalid("lla_problem.scale: " + std::to_string(p->scale) + " is not finite");

  const int64_t B = p->batch, T = p->seq_len, H = p->heads, G = p->groups;
  const int64_t bytes = element_bytes(p->dtype);
  const struct {
    const char* what;
    int64_t product;
  } products[] = {
      {"batch*seq_len*groups*key_dim", checked_product({B, T, G, p->key_dim, bytes})},
      {"batch*seq_len*heads*value_dim", checked_product({B, T, H, p->value_dim, bytes})},
      {"batch*seq_len*heads*levels", checked_product({B, T, H, p->levels, bytes})},
      {"batch*seq_len*heads", checked_product({B, T, H, 4})},
  };
  for (const auto& s : products)
    if (s.product < 0)
      return invalid(std::string("lla_problem: the tensor of ") + s.what +
                     " elements has more bytes than a 64-bit size holds");
  return {};
}

ForwardTensorBytes forward_tensor_bytes(const lla_problem& p) {
  const int64_t tokens = int64_t{p.batch} * p.seq_len;
  const int64_t bytes = element_bytes(p.dtype);
  ForwardTensorBytes t;
  t.qk = tokens * p.groups * p.key_dim * bytes;
  t.vo = tokens * p.heads * p.value_dim * bytes;
  t.g = tokens * p.heads * 4;
  t.beta = tokens * p.heads * bytes;
  t.lambda = tokens * p.heads * p.levels * bytes;
  return t;
}

ValidationResult check_forward_args(const lla_problem& p, const lla_forward_args* a) {
  if (!a) return invalid("a (the lla_forward_args) is NULL");
  if (p.variant == LLA_VARIANT_MAMBA2 && a->beta)
    return invalid("lla_forward_args.beta: must be NULL for LLA_VARIANT_MAMBA2 (beta is a "
                   "Gated DeltaNet input)");
  const std::vector<TensorField> tensors = forward_tensors(p, *a);
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
  const TensorField& o = *std::find_if(tensors.begin(), tensors.end(),
                                        [](const TensorField& t) { return t.is_output; });
  const auto o_begin = reinterpret_cast<uintptr_t>(o.pointer);
  for (const TensorField& t : tensors) {
    if (t.is_output) continue;
    const auto begin = reinterpret_cast<uintptr_t>(t.pointer);
    if (begin < o_begin + o.bytes && o_begin < begin + t.bytes)
      return invalid("lla_forward_args.o: its " + std::to_string(o.bytes) + " bytes at " +
                     pointer_text(o.pointer) + " overlap " + t.name + " (" +
                     std::to_string(t.bytes) + " bytes at " + pointer_text(t.pointer) + ")");
  }
  return {};
}

ValidationResult check_forward_memory(const lla_problem& p, const lla_forward_args& a,
                                      const PointerInspector& inspector, int device_ordinal) {
  for (const TensorField& t : forward_tensors(p, a)) {
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

ValidationResult check_forward_support(const lla_problem& p) {
  if (p.variant == LLA_VARIANT_GATED_DELTANET)
    return fail(LLA_ERR_NOT_SUPPORTED,
                "lla_problem.variant: the Gated DeltaNet forward kernel is not available yet");
  if (p.qk_l2norm)
    return fail(LLA_ERR_NOT_SUPPORTED,
                "lla_problem.qk_l2norm: in-kernel q/k l2norm is not available for "
                "LLA_VARIANT_MAMBA2 yet; normalise q and k before the call");
  const struct {
    const char* name;
    int value;
    int max;
  } dims[] = {{"key_dim", p.key_dim, kMaxKeyDim}, {"value_dim", p.value_dim, kMaxValueDim}};
  for (const auto& d : dims)
    if (d.value % 16 != 0 || d.value > d.max)
      return fail(LLA_ERR_NOT_SUPPORTED,
                  std::string("lla_problem.") + d.name + ": " + std::to_string(d.value) +
                      " is a valid head size, but lla supports multiples of 16 up to " +
                      std::to_string(d.max) + " only");
  if (p.levels > kMaxLevels)
    return fail(LLA_ERR_NOT_SUPPORTED, "lla_problem.levels: " + std::to_string(p.levels) +
                                           " is more than the " + std::to_string(kMaxLevels) +
                                           " lla supports");
  if (p.chunk != 0 && (p.chunk < kMinChunk || p.chunk > kMaxChunk))
    return fail(LLA_ERR_NOT_SUPPORTED, "lla_problem.chunk: " + std::to_string(p.chunk) +
                                           " is outside the supported 16..128 (or 0 to let "
                                           "lla choose)");
  return {};
}

ValidationResult validate_forward(const lla_problem* p, const lla_forward_args* a,
                                  const PointerInspector& inspector, int device_ordinal) {
  if (ValidationResult r = check_forward_problem(p); !r.ok()) return r;
  if (ValidationResult r = check_forward_args(*p, a); !r.ok()) return r;
  if (ValidationResult r = check_forward_memory(*p, *a, inspector, device_ordinal); !r.ok())
    return r;
  return check_forward_support(*p);
}

}  // namespace lla::runtime
