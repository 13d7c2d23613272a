#include "backend_case_runner.h"

#include <algorithm>
#include <cctype>

#include "backend/registry.h"
#include "families/kernel_family.h"
#include "reference/dtype_codec.h"
#include "verification/device_forward.h"

namespace lla::tools {

namespace {

constexpr int kHeadDimGranularity = 16;

int round_up(int n) { return (n + kHeadDimGranularity - 1) / kHeadDimGranularity * kHeadDimGranularity; }

// Copies rows of `width` values into rows of `padded_width`, zero-filling the rest.
std::vector<double> pad_rows(const std::vector<double>& values, int width, int padded_width) {
  const size_t rows = values.size() / width;
  std::vector<double> out(rows * padded_width, 0.0);
  for (size_t r = 0; r < rows; ++r)
    std::copy(values.begin() + r * width, values.begin() + (r + 1) * width,
              out.begin() + r * padded_width);
  return out;
}

std::vector<double> trim_rows(const std::vector<double>& values, int padded_width, int width) {
  const size_t rows = values.size() / padded_width;
  std::vector<double> out(rows * width);
  for (size_t r = 0; r < rows; ++r)
    std::copy(values.begin() + r * padded_width, values.begin() + r * padded_width + width,
              out.begin() + r * width);
  return out;
}

}  // namespace

namespace {

OwnedContext create_untuned_context(lla_backend choice) {
  lla_options options;
  lla_options_init(&options);
  options.tune = LLA_TUNE_OFF;
  options.backend = choice;
  lla_context* ctx = nullptr;
  if (lla_create(&options, &ctx) != LLA_SUCCESS) {
    std::string device = runtime::backend::lla_backend_name(choice);
    std::transform(device.begin(), device.end(), device.begin(), [](unsigned char c) { return std::toupper(c); });
    throw std::runtime_error("no " + device + " device: " + lla_last_error(nullptr));
  }
  return OwnedContext(ctx, lla_destroy);
}

}  // namespace

BackendCaseRunner::BackendCaseRunner(lla_backend choice) : ctx_(create_untuned_context(choice)) {}

reference::Result BackendCaseRunner::run(const reference::GoldenCase& c, int chunk) const {
  const compiler::Variant variant =
      c.problem.variant == reference::Variant::mamba2 ? compiler::Variant::mamba2 : compiler::Variant::gated_deltanet;
  if (!compiler::find_family({variant, compiler::Pass::forward}))
    throw CaseSkipped(std::string("the ") + compiler::variant_name(variant) + " forward kernel is not built yet");
  if (c.initial_state)
    throw CaseSkipped("continues a sequence: this runner does not pass initial states yet");
  reference::Problem padded = c.problem;
  padded.key_dim = round_up(c.problem.key_dim);
  padded.value_dim = round_up(c.problem.value_dim);
  reference::Inputs inputs = c.inputs;
  inputs.q = pad_rows(c.inputs.q, c.problem.key_dim, padded.key_dim);
  inputs.k = pad_rows(c.inputs.k, c.problem.key_dim, padded.key_dim);
  inputs.v = pad_rows(c.inputs.v, c.problem.value_dim, padded.value_dim);

  runtime::DeviceForwardOptions options;
  options.dtype = LLA_DTYPE_F32;
  options.chunk = chunk;
  const runtime::DeviceForwardRun run = runtime::run_forward_on_device(
      ctx_.get(), padded, reference::round_inputs(inputs, compiler::Dtype::f32), options);
  reference::Result result;
  result.o = trim_rows(run.o, padded.value_dim, c.problem.value_dim);
  return result;
}

}  // namespace lla::tools
