#include "verification/device_decode.h"

#include <cstring>

#include "api/decode_validation.h"
#include "dispatch/module_launch.h"
#include "reference/dtype_codec.h"

namespace lla::runtime {
namespace {

CUdevice device_handle(const driver::CudaDriver& d, int ordinal) {
  CUdevice device = 0;
  driver::check_cuda(d, d.cuDeviceGet(&device, ordinal), "cuDeviceGet");
  return device;
}

}  // namespace

lla_decode_problem to_lla_decode_problem(const reference::Problem& p, lla_dtype dtype,
                                         int64_t max_position) {
  lla_decode_problem lp;
  lla_decode_problem_init(&lp,
                          p.variant == reference::Variant::mamba2 ? LLA_VARIANT_MAMBA2
                                                                  : LLA_VARIANT_GATED_DELTANET,
                          dtype, p.batch, p.heads, p.groups, p.key_dim, p.value_dim, max_position);
  lp.levels = p.levels;
  lp.scale = static_cast<float>(p.scale);
  lp.qk_l2norm = p.qk_l2norm ? 1 : 0;
  return lp;
}

DeviceDecode::DeviceDecode(int device, const reference::Problem& p, lla_dtype dtype,
                           int64_t max_position)
    : d_(driver::cuda_driver()),
      device_(device_handle(d_, device)),
      context_(d_, device_),
      current_(d_, context_.get()),
      problem_(to_lla_decode_problem(p, dtype, max_position)),
      with_beta_(p.variant == reference::Variant::gated_deltanet),
      q_(d_, decode_tensor_bytes(problem_).qk),
      k_(d_, decode_tensor_bytes(problem_).qk),
      v_(d_, decode_tensor_bytes(problem_).vo),
      g_(d_, decode_tensor_bytes(problem_).g),
      beta_(d_, decode_tensor_bytes(problem_).beta),
      lambda_(d_, decode_tensor_bytes(problem_).lambda),
      o_(d_, decode_tensor_bytes(problem_).vo),
      state_(d_, decode_tensor_bytes(problem_).state),
      positions_(d_, decode_tensor_bytes(problem_).positions),
      stream_(d_) {}

lla_decode_args DeviceDecode::args(bool advance_positions) const {
  lla_decode_args a;
  lla_decode_args_init(&a);
  a.q = q_.get();
  a.k = k_.get();
  a.v = v_.get();
  a.g = static_cast<const float*>(g_.get());
  a.beta = with_beta_ ? beta_.get() : nullptr;
  a.lambda = lambda_.get();
  a.o = o_.get();
  a.state = static_cast<float*>(state_.get());
  a.positions = static_cast<long long*>(positions_.get());
  a.advance_positions = advance_positions ? 1 : 0;
  return a;
}

void DeviceDecode::upload_inputs(const reference::Inputs& token) {
  const compiler::Dtype dtype = dispatch::to_compiler_dtype(problem_.dtype);
  q_.upload(reference::encode(token.q, dtype));
  k_.upload(reference::encode(token.k, dtype));
  v_.upload(reference::encode(token.v, dtype));
  g_.upload(reference::encode(token.g, compiler::Dtype::f32));
  lambda_.upload(reference::encode(token.lambda, dtype));
  beta_.upload(reference::encode(token.beta, dtype));
}

void DeviceDecode::upload_state(const std::vector<double>& state) {
  state_.upload(reference::encode(state, compiler::Dtype::f32));
}

void DeviceDecode::fill_state(float value) {
  unsigned bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  driver::check_cuda(d_, d_.cuMemsetD32Async(state_.address(), bits, state_.bytes() / 4,
                                             stream_.get()),
                     "cuMemsetD32Async");
}

void DeviceDecode::upload_positions(const std::vector<int64_t>& positions) {
  std::vector<uint8_t> bytes(positions.size() * sizeof(int64_t));
  std::memcpy(bytes.data(), positions.data(), bytes.size());
  positions_.upload(bytes);
}

std::vector<double> DeviceDecode::download_state() const {
  stream_.synchronize();
  return reference::decode(state_.download(), compiler::Dtype::f32);
}

std::vector<int64_t> DeviceDecode::download_positions() const {
  stream_.synchronize();
  const std::vector<uint8_t> bytes = positions_.download();
  std::vector<int64_t> positions(bytes.size() / sizeof(int64_t));
  std::memcpy(positions.data(), bytes.data(), positions.size() * sizeof(int64_t));
  return positions;
}

std::vector<double> DeviceDecode::download_o() const {
  stream_.synchronize();
  return reference::decode(o_.download(), dispatch::to_compiler_dtype(problem_.dtype));
}

void DeviceDecode::poison_o() {
  driver::check_cuda(d_, d_.cuMemsetD8Async(o_.address(), 0xff, o_.bytes(), stream_.get()),
                     "cuMemsetD8Async");  // NaN in every dtype
}

std::vector<double> DeviceDecode::step(lla_context* ctx, bool advance_positions) {
  poison_o();
  const lla_decode_args a = args(advance_positions);
  require_success("lla_decode_step", ctx, lla_decode_step(ctx, &problem_, &a, stream_.get()));
  return download_o();
}

}  // namespace lla::runtime
