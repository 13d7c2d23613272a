#include "api/forward_validation.h"

#include <cmath>
#include <vector>

namespace lla::runtime {
namespace {

constexpr int kMinChunk = 16;
constexpr int kMaxChunk = 128;

bool is_power_of_two(int x) { return x > 0 && (x & (x - 1)) == 0; }

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
  if (ValidationResult r = check_enums("lla_problem", p->variant, p->dtype); !r.ok()) return r;
  if (ValidationResult r = check_positive("lla_problem", {{"batch", p->batch},
                                                          {"seq_len", p->seq_len},
                                                          {"heads", p->heads},
                                                          {"groups", p->groups},
                                                          {"key_dim", p->key_dim},
                                                          {"value_dim", p->value_dim},
                                                          {"levels", p->levels}});
      !r.ok())
    return r;
  if (ValidationResult r = check_grouping("lla_problem", p->heads, p->groups); !r.ok()) return r;
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
  return check_tensor_sizes(
      "lla_problem",
      {{"batch*seq_len*groups*key_dim", checked_product({B, T, G, p->key_dim, bytes})},
       {"batch*seq_len*heads*value_dim", checked_product({B, T, H, p->value_dim, bytes})},
       {"batch*seq_len*heads*levels", checked_product({B, T, H, p->levels, bytes})},
       {"batch*seq_len*heads", checked_product({B, T, H, 4})}});
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
  return check_tensor_pointers(forward_tensors(p, *a));
}

ValidationResult check_forward_memory(const lla_problem& p, const lla_forward_args& a,
                                      const PointerInspector& inspector, int device_ordinal) {
  return check_tensor_memory(forward_tensors(p, a), inspector, device_ordinal);
}

ValidationResult check_forward_support(const lla_problem& p) {
  if (p.variant == LLA_VARIANT_GATED_DELTANET)
    return unsupported("lla_problem.variant: the Gated DeltaNet forward kernel is not available yet");
  if (p.qk_l2norm)
    return unsupported("lla_problem.qk_l2norm: in-kernel q/k l2norm is not available for "
                       "LLA_VARIANT_MAMBA2 yet; normalise q and k before the call");
  if (ValidationResult r = check_supported_sizes("lla_problem", p.key_dim, p.value_dim, p.levels);
      !r.ok())
    return r;
  if (p.chunk != 0 && (p.chunk < kMinChunk || p.chunk > kMaxChunk))
    return unsupported("lla_problem.chunk: " + std::to_string(p.chunk) +
                       " is outside the supported 16..128 (or 0 to let lla choose)");
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
