#include "api/forward_call.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace lla::runtime {
namespace {

constexpr int kMinChunk = 16;
constexpr int kMaxChunk = 128;
constexpr int64_t kMaxPosition = 2147483647;  // positions are 32-bit in the kernels

bool is_power_of_two(int x) { return x > 0 && (x & (x - 1)) == 0; }

compiler::FamilyKey key_of(const lla_problem& p) { return {to_compiler_variant(p.variant), compiler::Pass::forward}; }

std::vector<ArgTensor> arg_tensors(const lla_forward_args& a) {
  std::vector<ArgTensor> tensors = shared_arg_tensors(a);
  tensors.push_back({"initial_state", compiler::Buffer::initial_state, a.initial_state});
  tensors.push_back({"final_state", compiler::Buffer::final_state, a.final_state});
  return tensors;
}

// The call's tensors as the pointer and memory checks see them (a call whose sequences passed
// check_sequences).
std::vector<TensorField> forward_fields(const lla_problem& p, const lla_forward_args& a) {
  return call_tensor_fields("lla_forward_args", compiler::tensors_of(key_of(p)), arg_tensors(a),
                            forward_sizes(p, sequence_count(p, a)), to_compiler_dtype(p.dtype));
}

ValidationResult check_offsets(const lla_problem& p, const lla_forward_args& a) {
  if (p.batch != 1)
    return invalid("lla_forward_args.seq_offsets: packed sequences need lla_problem.batch = 1, not " +
                   std::to_string(p.batch));
  if (a.num_seqs < 1)
    return invalid("lla_forward_args.num_seqs: " + std::to_string(a.num_seqs) +
                   " with seq_offsets; packed calls hold at least one sequence");
  if (a.seq_offsets[0] != 0)
    return invalid("lla_forward_args.seq_offsets[0]: " + std::to_string(a.seq_offsets[0]) + " is not 0");
  for (int s = 1; s <= a.num_seqs; ++s)
    if (a.seq_offsets[s] < a.seq_offsets[s - 1])
      return invalid("lla_forward_args.seq_offsets[" + std::to_string(s) + "]: " + std::to_string(a.seq_offsets[s]) +
                     " is below seq_offsets[" + std::to_string(s - 1) + "] = " + std::to_string(a.seq_offsets[s - 1]) +
                     " (offsets must not decrease)");
  if (a.seq_offsets[a.num_seqs] != p.seq_len)
    return invalid("lla_forward_args.seq_offsets[" + std::to_string(a.num_seqs) + "]: " +
                   std::to_string(a.seq_offsets[a.num_seqs]) + " is not lla_problem.seq_len = " +
                   std::to_string(p.seq_len) + " (the packed token count)");
  return {};
}

ValidationResult check_sequences(const lla_problem& p, const lla_forward_args& a) {
  if (a.seq_offsets) {
    if (ValidationResult r = check_offsets(p, a); !r.ok()) return r;
  } else if (a.num_seqs != 0 && a.num_seqs != p.batch) {
    return invalid("lla_forward_args.num_seqs: " + std::to_string(a.num_seqs) +
                   " without seq_offsets; it must be 0 or lla_problem.batch = " + std::to_string(p.batch));
  }
  for (int64_t s = 0; s < sequence_count(p, a); ++s) {
    const SequenceExtent e = sequence_extent(p, a, s);
    const std::string at = "[" + std::to_string(s) + "]";
    if (e.start < 0)
      return invalid("lla_forward_args.start_positions" + at + ": " + std::to_string(e.start) + " is negative");
    if (e.start > kMaxPosition - e.length)
      return unsupported("lla_forward_args.start_positions" + at + ": " + std::to_string(e.start) + " + length " +
                         std::to_string(e.length) + " passes 2^31 - 1, the last position lla supports");
    if (e.start > 0 && !a.initial_state)
      return invalid("lla_forward_args.initial_state: NULL, but start_positions" + at + " = " +
                     std::to_string(e.start) + " continues a sequence from its state");
    const int needed = lla_num_levels(e.start + e.length);
    if (p.levels < needed)
      return invalid("lla_problem.levels: " + std::to_string(p.levels) + " is fewer than the " +
                     std::to_string(needed) + " that sequence " + std::to_string(s) + " needs (start position " +
                     std::to_string(e.start) + " + length " + std::to_string(e.length) + ", lla_num_levels)");
  }
  return {};
}

}  // namespace

bool has_sequences(const lla_forward_args& a) {
  return a.num_seqs != 0 || a.seq_offsets || a.start_positions || a.initial_state || a.final_state ||
         a.final_positions;
}

int64_t sequence_count(const lla_problem& p, const lla_forward_args& a) { return a.seq_offsets ? a.num_seqs : p.batch; }

SequenceExtent sequence_extent(const lla_problem& p, const lla_forward_args& a, int64_t s) {
  SequenceExtent e;
  if (a.seq_offsets) {
    e.row0 = a.seq_offsets[s];
    e.length = a.seq_offsets[s + 1] - a.seq_offsets[s];
  } else {
    e.row0 = s * p.seq_len;
    e.length = p.seq_len;
  }
  e.start = a.start_positions ? a.start_positions[s] : 0;
  return e;
}

compiler::ProblemSizes forward_sizes(const lla_problem& p, int64_t sequences) {
  compiler::ProblemSizes s = shared_sizes(p);
  s.seq_len = p.seq_len;
  s.sequences = sequences;
  return s;
}

ValidationResult check_forward_problem(const lla_problem* p, bool packed) {
  if (!p) return invalid("p (the lla_problem) is NULL");
  if (ValidationResult r = check_shared_fields("lla_problem", shared_fields(*p), {{"seq_len", p->seq_len}}); !r.ok())
    return r;
  const int needed_levels = lla_num_levels(p->seq_len);
  if (!packed && p->levels < needed_levels)
    return invalid("lla_problem.levels: " + std::to_string(p->levels) + " is fewer than the " +
                   std::to_string(needed_levels) + " that seq_len " + std::to_string(p->seq_len) +
                   " needs (lla_num_levels)");
  if (p->chunk != 0 && !is_power_of_two(p->chunk))
    return invalid("lla_problem.chunk: " + std::to_string(p->chunk) + " is not a power of two (or 0 to let lla choose)");
  if (!std::isfinite(p->scale))
    return invalid("lla_problem.scale: " + std::to_string(p->scale) + " is not finite");
  // The states of a call with sequences are checked with the call's sequence count.
  return check_tensor_sizes("lla_problem", compiler::tensors_of(key_of(*p)), forward_sizes(*p, p->batch),
                            to_compiler_dtype(p->dtype));
}

ValidationResult check_forward_args(const lla_problem& p, const lla_forward_args* a) {
  if (!a) return invalid("a (the lla_forward_args) is NULL");
  const std::vector<compiler::TensorDecl>& tensors = compiler::tensors_of(key_of(p));
  if (ValidationResult r = check_foreign_tensors("lla_forward_args", p.variant, tensors, arg_tensors(*a)); !r.ok())
    return r;
  if (has_sequences(*a))
    if (ValidationResult r = check_sequences(p, *a); !r.ok()) return r;
  if (ValidationResult r = check_tensor_sizes("lla_forward_args", tensors, forward_sizes(p, sequence_count(p, *a)),
                                              to_compiler_dtype(p.dtype));
      !r.ok())
    return r;
  return check_tensor_pointers(forward_fields(p, *a));
}

ValidationResult check_forward_support(const lla_problem& p) {
  if (ValidationResult r =
          check_problem_support("lla_problem", key_of(p), p.qk_l2norm != 0, p.key_dim, p.value_dim, p.levels);
      !r.ok())
    return r;
  if (p.chunk != 0 && (p.chunk < kMinChunk || p.chunk > kMaxChunk))
    return unsupported("lla_problem.chunk: " + std::to_string(p.chunk) +
                       " is outside the supported 16..128 (or 0 to let lla choose)");
  return {};
}

ValidationResult validate_forward(const lla_problem* p, const lla_forward_args* a,
                                  const backend::MemoryInspector& memory) {
  return first_failure({[&] { return check_forward_problem(p, a && a->seq_offsets); },
                        [&] { return check_forward_args(*p, a); },
                        [&] { return check_tensor_memory(forward_fields(*p, *a), memory); },
                        [&] { return check_forward_support(*p); }});
}

compiler::Request forward_request(const lla_problem& p, const compiler::DeviceInfo& device) {
  compiler::Request request = shared_request(p, compiler::Pass::forward, device);
  request.chunk = p.chunk;
  request.shape.seq_len = p.seq_len;
  return request;
}

dispatch::Call forward_call(const lla_problem& p, const lla_forward_args& a, const compiler::DeviceInfo& device,
                            void* stream) {
  dispatch::Call call;
  call.request = forward_request(p, device);
  call.shape = call.request.shape;
  call.stream = stream;
  // A call with sequences or states plans from a table of its sequences; its configuration is
  // that of num_seqs sequences of the longest one's length.
  if (has_sequences(a)) {
    int64_t longest = 1;
    for (int64_t s = 0; s < sequence_count(p, a); ++s) {
      const SequenceExtent e = sequence_extent(p, a, s);
      call.shape.sequences.push_back({e.row0, e.start, e.length});
      longest = std::max(longest, e.length);
    }
    call.shape.initial_state = a.initial_state != nullptr;
    call.shape.final_state = a.final_state != nullptr;
    call.request.shape.batch = static_cast<int>(sequence_count(p, a));
    call.request.shape.seq_len = static_cast<int>(longest);
  }
  for (const ArgTensor& t : arg_tensors(a)) call.buffers.bind(t.role, t.pointer);
  return call;
}

void write_final_positions(const lla_problem& p, const lla_forward_args& a) {
  if (!a.final_positions) return;
  for (int64_t s = 0; s < sequence_count(p, a); ++s) {
    const SequenceExtent e = sequence_extent(p, a, s);
    a.final_positions[s] = e.start + e.length;
  }
}

}  // namespace lla::runtime
