#pragma once
// Runs the CPU forward and decode kernels on host tensors and the float64 reference on the
// same (dtype-rounded) inputs, for the CPU backend's tests and benchmark.

#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "cpu_kernels.h"
#include "levels/fenwick_levels.h"
#include "reference/decode_reference.h"
#include "reference/dtype_codec.h"
#include "reference/reference.h"

namespace lla::testing {

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};
using AlignedBytes = std::unique_ptr<uint8_t, AlignedFree>;

inline AlignedBytes aligned_bytes(size_t n) {
  return AlignedBytes(static_cast<uint8_t*>(std::aligned_alloc(64, (n + 63) / 64 * 64 + 64)));
}

// A tensor in host memory: encoded bytes, 64-byte aligned.
struct HostTensor {
  AlignedBytes bytes;
  size_t size = 0;
  HostTensor() = default;
  explicit HostTensor(const std::vector<uint8_t>& data) : bytes(aligned_bytes(data.size())), size(data.size()) {
    if (size) std::memcpy(bytes.get(), data.data(), size);
  }
  explicit HostTensor(const std::vector<float>& data)
      : HostTensor(std::vector<uint8_t>(reinterpret_cast<const uint8_t*>(data.data()),
                                        reinterpret_cast<const uint8_t*>(data.data()) + data.size() * 4)) {}
  void* get() const { return bytes.get(); }
  std::vector<double> floats() const {
    std::vector<double> out(size / 4);
    for (size_t i = 0; i < out.size(); ++i) out[i] = reinterpret_cast<const float*>(bytes.get())[i];
    return out;
  }
};

inline std::vector<float> to_floats(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }

// The tensors of one CPU call, bound by their plan names.
struct CallTensors {
  HostTensor q, k, v, g, lambda, o, state, positions, initial_state, final_state;
  void* bind(compiler::Buffer b) {
    using compiler::Buffer;
    switch (b) {
      case Buffer::q: return q.get();
      case Buffer::k: return k.get();
      case Buffer::v: return v.get();
      case Buffer::g: return g.get();
      case Buffer::lambda: return lambda.get();
      case Buffer::o: return o.get();
      case Buffer::state: return state.get();
      case Buffer::positions: return positions.get();
      case Buffer::initial_state: return initial_state.get();
      case Buffer::final_state: return final_state.get();
      default: return nullptr;
    }
  }
};

// The call's inputs encoded in the kernel's dtype (g in fp32), o sized for the output.
inline CallTensors encode_inputs(const reference::Inputs& in, compiler::Dtype dtype) {
  CallTensors t;
  t.q = HostTensor(reference::encode(in.q, dtype));
  t.k = HostTensor(reference::encode(in.k, dtype));
  t.v = HostTensor(reference::encode(in.v, dtype));
  t.lambda = HostTensor(reference::encode(in.lambda, dtype));
  t.g = HostTensor(to_floats(in.g));
  t.o = HostTensor(std::vector<uint8_t>(in.v.size() * compiler::dtype_bytes(dtype), 0xff));
  return t;
}

inline void run_plan(const ccpu::CpuKernelSpec& spec, const compiler::LaunchPlan& plan, CallTensors& t) {
  AlignedBytes workspace = aligned_bytes(plan.workspace_bytes);
  rcpu::run_plan(plan, CpuKernels::instance().entries(spec),
                 [&](compiler::Buffer b) { return t.bind(b); }, workspace.get(),
                 CpuKernels::instance().pool());
}

// Rows [row0, row0 + length) of a batch-1 problem's inputs, as a batch-1 problem of `length`.
inline reference::Inputs slice_rows(const reference::Problem& p, const reference::Inputs& in,
                                    int64_t row0, int64_t length) {
  const auto part = [&](const std::vector<double>& x, size_t per_row) {
    return std::vector<double>(x.begin() + row0 * per_row, x.begin() + (row0 + length) * per_row);
  };
  reference::Inputs out;
  out.q = part(in.q, size_t(p.groups) * p.key_dim);
  out.k = part(in.k, size_t(p.groups) * p.key_dim);
  out.v = part(in.v, size_t(p.heads) * p.value_dim);
  out.g = part(in.g, p.heads);
  out.lambda = part(in.lambda, size_t(p.heads) * p.levels);
  return out;
}

}  // namespace lla::testing
