#pragma once
// Runs the CPU forward and decode kernels on host tensors and the float64 reference on the
// same (dtype-rounded) inputs, for the CPU backend's tests and benchmark.

#include <cstring>
#include <utility>
#include <vector>

#include "cpu/host_memory.h"
#include "cpu_kernels.h"
#include "levels/fenwick_levels.h"
#include "reference/decode_reference.h"
#include "reference/dtype_codec.h"
#include "reference/reference.h"

namespace lla::testing {

// A tensor in host memory: encoded bytes, 64-byte aligned.
struct HostTensor {
  rcpu::AlignedBuffer bytes;
  HostTensor() = default;
  explicit HostTensor(const std::vector<uint8_t>& data) : bytes(data.size()) {
    if (!data.empty()) std::memcpy(bytes.data(), data.data(), data.size());
  }
  explicit HostTensor(const std::vector<float>& data)
      : HostTensor(std::vector<uint8_t>(reinterpret_cast<const uint8_t*>(data.data()),
                                        reinterpret_cast<const uint8_t*>(data.data()) + data.size() * 4)) {}
  void* get() const { return bytes.data(); }
  size_t size() const { return bytes.size(); }
  std::vector<uint8_t> raw() const { return std::vector<uint8_t>(bytes.data(), bytes.data() + bytes.size()); }
  std::vector<double> floats() const {
    const auto* f = reinterpret_cast<const float*>(bytes.data());
    return std::vector<double>(f, f + bytes.size() / 4);
  }
};

inline std::vector<float> to_floats(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }

// The tensors of one CPU call, bound by their plan names.
struct CallTensors {
  HostTensor q, k, v, g, lambda, o, state, positions, initial_state, final_state;
  rcpu::BufferTable table() const {
    using compiler::Buffer;
    rcpu::BufferTable t;
    const std::pair<Buffer, const HostTensor*> named[] = {
        {Buffer::q, &q}, {Buffer::k, &k}, {Buffer::v, &v}, {Buffer::g, &g}, {Buffer::lambda, &lambda},
        {Buffer::o, &o}, {Buffer::state, &state}, {Buffer::positions, &positions},
        {Buffer::initial_state, &initial_state}, {Buffer::final_state, &final_state}};
    for (const auto& [buffer, tensor] : named) t.set(buffer, tensor->get());
    return t;
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

inline void run_plan(const ccpu::CpuKernelSpec& spec, const compiler::LaunchPlan& plan,
                     const rcpu::BufferTable& buffers) {
  rcpu::AlignedBuffer workspace(plan.workspace_bytes);
  rcpu::run_plan(plan, CpuKernels::instance().entries(spec), buffers.binding(), workspace.data(),
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
