#include "verification/device_decode.h"

#include <cstring>

#include "api/context_internal.h"
#include "api/decode_call.h"
#include "api/status_error.h"
#include "reference/dtype_codec.h"
#include "verification/device_resources.h"

namespace lla::runtime {
namespace {

using compiler::Buffer;

// The tensors of a step, by role, as the decode pass declares them for both variants.
const std::vector<compiler::TensorDecl>& step_tensors() {
  return compiler::tensors_of({compiler::Variant::gated_deltanet, compiler::Pass::decode});
}

}  // namespace

lla_decode_problem to_lla_decode_problem(const reference::Problem& p, lla_dtype dtype, int64_t max_position) {
  lla_decode_problem lp;
  lla_decode_problem_init(&lp, p.variant == reference::Variant::mamba2 ? LLA_VARIANT_MAMBA2 : LLA_VARIANT_GATED_DELTANET,
                          dtype, p.batch, p.heads, p.groups, p.key_dim, p.value_dim, max_position);
  lp.levels = p.levels;
  lp.scale = static_cast<float>(p.scale);
  lp.qk_l2norm = p.qk_l2norm ? 1 : 0;
  return lp;
}

DeviceDecode::DeviceDecode(lla_context* ctx, const reference::Problem& p, lla_dtype dtype, int64_t max_position)
    : backend_(context_backend(*ctx)),
      problem_(to_lla_decode_problem(p, dtype, max_position)),
      with_beta_(p.variant == reference::Variant::gated_deltanet) {
  const compiler::ProblemSizes sizes = decode_sizes(problem_);
  for (const compiler::TensorDecl& t : step_tensors())
    tensor(t.role) = backend_.allocate(static_cast<size_t>(tensor_bytes(t, sizes, to_compiler_dtype(dtype))));
  stream_ = backend_.create_stream();
}

DeviceDecode::~DeviceDecode() = default;

std::unique_ptr<backend::DeviceMemory>& DeviceDecode::tensor(Buffer role) { return memory_[static_cast<int>(role)]; }

const backend::DeviceMemory& DeviceDecode::tensor(Buffer role) const {
  const std::unique_ptr<backend::DeviceMemory>& m = memory_[static_cast<int>(role)];
  if (!m) throw StatusError(LLA_ERR_INTERNAL, "a decode step has no tensor of role " + std::to_string(static_cast<int>(role)));
  return *m;
}

lla_decode_args DeviceDecode::args(bool advance_positions) const {
  lla_decode_args a;
  lla_decode_args_init(&a);
  a.q = tensor(Buffer::q).data();
  a.k = tensor(Buffer::k).data();
  a.v = tensor(Buffer::v).data();
  a.g = static_cast<const float*>(tensor(Buffer::g).data());
  a.beta = with_beta_ ? tensor(Buffer::beta).data() : nullptr;
  a.lambda = tensor(Buffer::lambda).data();
  a.o = tensor(Buffer::o).data();
  a.state = static_cast<float*>(tensor(Buffer::state).data());
  a.positions = static_cast<long long*>(tensor(Buffer::positions).data());
  a.advance_positions = advance_positions ? 1 : 0;
  return a;
}

void DeviceDecode::upload_inputs(const reference::Inputs& token) {
  const compiler::Dtype dtype = to_compiler_dtype(problem_.dtype);
  tensor(Buffer::q)->upload(reference::encode(token.q, dtype));
  tensor(Buffer::k)->upload(reference::encode(token.k, dtype));
  tensor(Buffer::v)->upload(reference::encode(token.v, dtype));
  tensor(Buffer::g)->upload(reference::encode(token.g, compiler::Dtype::f32));
  tensor(Buffer::lambda)->upload(reference::encode(token.lambda, dtype));
  tensor(Buffer::beta)->upload(reference::encode(token.beta, dtype));
}

void DeviceDecode::upload_state(const std::vector<double>& state) {
  tensor(Buffer::state)->upload(reference::encode(state, compiler::Dtype::f32));
}

void DeviceDecode::fill_state(float value) {
  uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  const auto active = backend_.activate();
  backend_.fill(*tensor(Buffer::state), bits, *stream_);
}

void DeviceDecode::upload_positions(const std::vector<int64_t>& positions) {
  std::vector<uint8_t> bytes(positions.size() * sizeof(int64_t));
  std::memcpy(bytes.data(), positions.data(), bytes.size());
  tensor(Buffer::positions)->upload(bytes);
}

std::vector<double> DeviceDecode::download_state() const {
  stream_->synchronize();
  return reference::decode(tensor(Buffer::state).download(), compiler::Dtype::f32);
}

std::vector<int64_t> DeviceDecode::download_positions() const {
  stream_->synchronize();
  const std::vector<uint8_t> bytes = tensor(Buffer::positions).download();
  std::vector<int64_t> positions(bytes.size() / sizeof(int64_t));
  std::memcpy(positions.data(), bytes.data(), positions.size() * sizeof(int64_t));
  return positions;
}

std::vector<double> DeviceDecode::download_o() const {
  stream_->synchronize();
  return reference::decode(tensor(Buffer::o).download(), to_compiler_dtype(problem_.dtype));
}

void DeviceDecode::poison_o() {
  const auto active = backend_.activate();
  backend_.fill(*tensor(Buffer::o), 0xffffffffu, *stream_);  // NaN in every dtype
}

std::vector<double> DeviceDecode::step(lla_context* ctx, bool advance_positions) {
  poison_o();
  const lla_decode_args a = args(advance_positions);
  require_success("lla_decode_step", ctx, lla_decode_step(ctx, &problem_, &a, stream_->handle()));
  return download_o();
}

}  // namespace lla::runtime
