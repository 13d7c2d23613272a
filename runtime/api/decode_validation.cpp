#include "api/decode_validation.h"

#include <cmath>
#include <vector>

#include "levels/fenwick_levels.h"

namespace lla::runtime {
namespace {

// The tensors a call reads and writes, beta only for Gated DeltaNet.
std::vector<TensorField> decode_tensors(const lla_decode_problem& p, const lla_decode_args& a) {
  const DecodeTensorBytes bytes = decode_tensor_bytes(p);
  std::vector<TensorField> tensors = {
      {"lla_decode_args.q", a.q, bytes.qk, 16, false},
      {"lla_decode_args.k", a.k, bytes.qk, 16, false},
      {"lla_decode_args.v", a.v, bytes.vo, 16, false},
      {"lla_decode_args.g", a.g, bytes.g, 4, false},
      {"lla_decode_args.lambda", a.lambda, bytes.lambda, 16, false},
      {"lla_decode_args.o", a.o, bytes.vo, 16, true},
      {"lla_decode_args.state", a.state, bytes.state, 16, true},
      {"lla_decode_args.positions", a.positions, bytes.positions, 8, a.advance_positions != 0},
  };
  if (p.variant == LLA_VARIANT_GATED_DELTANET)
    tensors.push_back({"lla_decode_args.beta", a.beta, bytes.beta,
                       static_cast<uintptr_t>(element_bytes(p.dtype)), false});
  return tensors;
}

}  // namespace

ValidationResult check_decode_problem(const lla_decode_problem* p) {
  if (!p) return invalid("p (the lla_decode_problem) is NULL");
  const char* owner = "lla_decode_problem";
  if (ValidationResult r = check_enums(owner, p->variant, p->dtype); !r.ok()) return r;
  if (ValidationResult r = check_positive(owner, {{"batch", p->batch},
                                                  {"heads", p->heads},
                                                  {"groups", p->groups},
                                                  {"key_dim", p->key_dim},
                                                  {"value_dim", p->value_dim},
                                                  {"levels", p->levels}});
      !r.ok())
    return r;
  if (ValidationResult r = check_grouping(owner, p->heads, p->groups); !r.ok()) return r;
  if (p->max_position < 0)
    return invalid("lla_decode_problem.max_position: " + std::to_string(p->max_position) +
                   " is negative");
  // lla_num_levels(max_position + 1), without the overflow of + 1.
  const int needed_levels = levels::bit_length(static_cast<uint64_t>(p->max_position)) + 1;
  if (p->levels < needed_levels)
    return invalid("lla_decode_problem.levels: " + std::to_string(p->levels) +
                   " levels cannot hold max_position " + std::to_string(p->max_position) +
                   ", which needs " + std::to_string(needed_levels) +
                   " (lla_num_levels(max_position + 1))");
  if (!std::isfinite(p->scale))
    return invalid("lla_decode_problem.scale: " + std::to_string(p->scale) + " is not finite");

  const int64_t B = p->batch, H = p->heads, G = p->groups, L = p->levels;
  const int64_t bytes = element_bytes(p->dtype);
  return check_tensor_sizes(
      owner, {{"batch*groups*key_dim", checked_product({B, G, p->key_dim, bytes})},
              {"batch*heads*value_dim", checked_product({B, H, p->value_dim, bytes})},
              {"batch*heads*levels", checked_product({B, H, L, bytes})},
              {"batch*heads*levels*key_dim*value_dim",
               checked_product({B, H, L, p->key_dim, p->value_dim, 4})}});
}

DecodeTensorBytes decode_tensor_bytes(const lla_decode_problem& p) {
  const int64_t sequence_heads = int64_t{p.batch} * p.heads;
  const int64_t bytes = element_bytes(p.dtype);
  DecodeTensorBytes t;
  t.qk = int64_t{p.batch} * p.groups * p.key_dim * bytes;
  t.vo = sequence_heads * p.value_dim * bytes;
  t.g = sequence_heads * 4;
  t.beta = sequence_heads * bytes;
  t.lambda = sequence_heads * p.levels * bytes;
  t.state = sequence_heads * p.levels * p.key_dim * p.value_dim * 4;
  t.positions = int64_t{p.batch} * 8;
  return t;
}

ValidationResult check_decode_args(const lla_decode_problem& p, const lla_decode_args* a) {
  if (!a) return invalid("a (the lla_decode_args) is NULL");
  if (p.variant == LLA_VARIANT_MAMBA2 && a->beta)
    return invalid("lla_decode_args.beta: must be NULL for LLA_VARIANT_MAMBA2 (beta is a "
                   "Gated DeltaNet input)");
  return check_tensor_pointers(decode_tensors(p, *a));
}

ValidationResult check_decode_memory(const lla_decode_problem& p, const lla_decode_args& a,
                                     const PointerInspector& inspector, int device_ordinal) {
  return check_tensor_memory(decode_tensors(p, a), inspector, device_ordinal);
}

ValidationResult check_decode_support(const lla_decode_problem& p) {
  if (p.variant == LLA_VARIANT_GATED_DELTANET)
    return unsupported("lla_decode_problem.variant: the Gated DeltaNet decode step is not "
                       "available on the GPU yet (lla's float64 reference has it)");
  if (p.qk_l2norm)
    return unsupported("lla_decode_problem.qk_l2norm: in-kernel q/k l2norm is not available for "
                       "LLA_VARIANT_MAMBA2 yet; normalise q and k before the call");
  return check_supported_sizes("lla_decode_problem", p.key_dim, p.value_dim, p.levels);
}

ValidationResult validate_decode(const lla_decode_problem* p, const lla_decode_args* a,
                                 const PointerInspector& inspector, int device_ordinal) {
  if (ValidationResult r = check_decode_problem(p); !r.ok()) return r;
  if (ValidationResult r = check_decode_args(*p, a); !r.ok()) return r;
  if (ValidationResult r = check_decode_memory(*p, *a, inspector, device_ordinal); !r.ok())
    return r;
  return check_decode_support(*p);
}

}  // namespace lla::runtime
