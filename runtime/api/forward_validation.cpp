#include "api/forward_validation.h"

#include <cmath>
#include <vector>

namespace lla::runtime {
namespace {

using dispatch::SequenceExtent;
using dispatch::has_sequences;
using dispatch::sequence_count;
using dispatch::sequence_extent;

constexpr int kMinChunk = 16;
constexpr int kMaxChunk = 128;

bool is_power_of_two(int x) { return x > 0 && (x & (x - 1)) == 0; }

// Bytes of one Fenwick state tensor [S, H, L, K, V] float32 of the call.
int64_t state_bytes(const lla_problem& p, const lla_forward_args& a) {
  return checked_product({sequence_count(p, a), p.heads, p.levels, p.key_dim, p.value_dim, 4});
}

// The tensors a call reads and writes, beta only for Gated DeltaNet, the states when given
// (final_state may be the initial_state memory, updated in place).
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
  if (a.initial_state && a.initial_state != a.final_state)
    tensors.push_back({"lla_forward_args.initial_state", a.initial_state, state_bytes(p, a), 16, false});
  if (a.final_state)
    tensors.push_back({"lla_forward_args.final_state", a.final_state, state_bytes(p, a), 16, true});
  return tensors;
}

constexpr int64_t kMaxPosition = 2147483647;  // positions are 32-bit in the kernels

ValidationResult check_offsets(const lla_problem& p, const lla_forward_args& a) {
  if (p.batch != 1)
    return invalid("lla_forward_args.seq_offsets: packed sequences need lla_problem.batch = 1, not " +
                   std::to_string(p.batch));
  if (a.num_seqs < 1)
    return invalid("lla_forward_args.num_seqs: " + std::to_string(a.num_seqs) +
                   " with seq_offsets; packed calls hold at least one sequence");
  if (a.seq_offsets[0] != 0)
    return invalid("lla_forward_args.seq_offsets[0]: " + std::to_string(a.seq_offsets[0]) +
                   " is not 0");
  for (int s = 1; s <= a.num_seqs; ++s)
    if (a.seq_offsets[s] < a.seq_offsets[s - 1])
      return invalid("lla_forward_args.seq_offsets[" + std::to_string(s) + "]: " +
                     std::to_string(a.seq_offsets[s]) + " is below seq_offsets[" +
                     std::to_string(s - 1) + "] = " + std::to_string(a.seq_offsets[s - 1]) +
                     " (offsets must not decrease)");
  if (a.seq_offsets[a.num_seqs] != p.seq_len)
    return invalid("lla_forward_args.seq_offsets[" + std::to_string(a.num_seqs) + "]: " +
                   std::to_string(a.seq_offsets[a.num_seqs]) +
                   " is not lla_problem.seq_len = " + std::to_string(p.seq_len) +
                   " (the packed token count)");
  return {};
}

ValidationResult check_sequences(const lla_problem& p, const lla_forward_args& a) {
  if (a.seq_offsets) {
    if (ValidationResult r = check_offsets(p, a); !r.ok()) return r;
  } else if (a.num_seqs != 0 && a.num_seqs != p.batch) {
    return invalid("lla_forward_args.num_seqs: " + std::to_string(a.num_seqs) +
                   " without seq_offsets; it must be 0 or lla_problem.batch = " +
                   std::to_string(p.batch));
  }
  for (int64_t s = 0; s < sequence_count(p, a); ++s) {
    const SequenceExtent e = sequence_extent(p, a, s);
    const std::string at = "[" + std::to_string(s) + "]";
    if (e.start < 0)
      return invalid("lla_forward_args.start_positions" + at + ": " + std::to_string(e.start) +
                     " is negative");
    if (e.start > kMaxPosition - e.length)
      return unsupported("lla_forward_args.start_positions" + at + ": " + std::to_string(e.start) +
                         " + length " + std::to_string(e.length) +
                         " passes 2^31 - 1, the last position lla supports");
    if (e.start > 0 && !a.initial_state)
      return invalid("lla_forward_args.initial_state: NULL, but start_positions" + at + " = " +
                     std::to_string(e.start) + " continues a sequence from its state");
    const int needed = lla_num_levels(e.start + e.length);
    if (p.levels < needed)
      return invalid("lla_problem.levels: " + std::to_string(p.levels) + " is fewer than the " +
                     std::to_string(needed) + " that sequence " + std::to_string(s) +
                     " needs (start position " + std::to_string(e.start) + " + length " +
                     std::to_string(e.length) + ", lla_num_levels)");
  }
  return {};
}

}  // namespace

ValidationResult check_forward_problem(const lla_problem* p, bool packed) {
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
  if (!packed && p->levels < needed_levels)
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
  if (has_sequences(*a))
    if (ValidationResult r = check_sequences(p, *a); !r.ok()) return r;
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
  if (ValidationResult r = check_forward_problem(p, a && a->seq_offsets); !r.ok()) return r;
  if (ValidationResult r = check_forward_args(*p, a); !r.ok()) return r;
  if (ValidationResult r = check_forward_memory(*p, *a, inspector, device_ordinal); !r.ok())
    return r;
  return check_forward_support(*p);
}

}  // namespace lla::runtime
