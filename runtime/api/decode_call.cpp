#include "api/decode_call.h"

#include <cmath>
#include <vector>

#include "levels/fenwick_levels.h"

namespace lla::runtime {
namespace {

compiler::FamilyKey key_of(const lla_decode_problem& p) { return {to_compiler_variant(p.variant), compiler::Pass::decode}; }

std::vector<ArgTensor> arg_tensors(const lla_decode_args& a) {
  std::vector<ArgTensor> tensors = shared_arg_tensors(a);
  tensors.push_back({"state", compiler::Buffer::state, a.state});
  tensors.push_back({"positions", compiler::Buffer::positions, a.positions, a.advance_positions != 0});
  return tensors;
}

std::vector<TensorField> decode_fields(const lla_decode_problem& p, const lla_decode_args& a) {
  return call_tensor_fields("lla_decode_args", compiler::tensors_of(key_of(p)), arg_tensors(a), decode_sizes(p),
                            to_compiler_dtype(p.dtype));
}

}  // namespace

compiler::ProblemSizes decode_sizes(const lla_decode_problem& p) { return shared_sizes(p); }

ValidationResult check_decode_problem(const lla_decode_problem* p) {
  if (!p) return invalid("p (the lla_decode_problem) is NULL");
  const char* owner = "lla_decode_problem";
  if (ValidationResult r = check_shared_fields(owner, shared_fields(*p)); !r.ok()) return r;
  if (p->max_position < 0)
    return invalid("lla_decode_problem.max_position: " + std::to_string(p->max_position) + " is negative");
  // lla_num_levels(max_position + 1), without the overflow of + 1.
  const int needed_levels = levels::bit_length(static_cast<uint64_t>(p->max_position)) + 1;
  if (p->levels < needed_levels)
    return invalid("lla_decode_problem.levels: " + std::to_string(p->levels) + " levels cannot hold max_position " +
                   std::to_string(p->max_position) + ", which needs " + std::to_string(needed_levels) +
                   " (lla_num_levels(max_position + 1))");
  if (!std::isfinite(p->scale))
    return invalid("lla_decode_problem.scale: " + std::to_string(p->scale) + " is not finite");
  return check_tensor_sizes(owner, compiler::tensors_of(key_of(*p)), decode_sizes(*p), to_compiler_dtype(p->dtype));
}

ValidationResult check_decode_args(const lla_decode_problem& p, const lla_decode_args* a) {
  if (!a) return invalid("a (the lla_decode_args) is NULL");
  if (ValidationResult r =
          check_foreign_tensors("lla_decode_args", p.variant, compiler::tensors_of(key_of(p)), arg_tensors(*a));
      !r.ok())
    return r;
  return check_tensor_pointers(decode_fields(p, *a));
}

ValidationResult check_decode_support(const lla_decode_problem& p) {
  return check_problem_support("lla_decode_problem", key_of(p), p.qk_l2norm != 0, p.key_dim, p.value_dim, p.levels);
}

ValidationResult validate_decode(const lla_decode_problem* p, const lla_decode_args* a,
                                 const backend::MemoryInspector& memory) {
  return first_failure({[&] { return check_decode_problem(p); }, [&] { return check_decode_args(*p, a); },
                        [&] { return check_tensor_memory(decode_fields(*p, *a), memory); },
                        [&] { return check_decode_support(*p); }});
}

dispatch::Call decode_call(const lla_decode_problem& p, const lla_decode_args& a, const compiler::DeviceInfo& device,
                           void* stream) {
  dispatch::Call call;
  call.request = shared_request(p, compiler::Pass::decode, device);
  call.request.shape.max_position = p.max_position;
  call.request.shape.advance_positions = a.advance_positions != 0;
  call.shape = call.request.shape;
  call.stream = stream;
  for (const ArgTensor& t : arg_tensors(a)) call.buffers.bind(t.role, t.pointer);
  return call;
}

}  // namespace lla::runtime
