#pragma once
// A decode batch on the device for checks and benchmarks (the GPU tests, `lla bench --decode`):
// the tensors of lla_decode_step in device memory of the primary context, filled from and read
// back as float64 reference data.

#include <cuda.h>

#include <cstdint>
#include <vector>

#include "driver/cuda_driver.h"
#include "lla/lla.h"
#include "reference/reference.h"
#include "verification/device_resources.h"

namespace lla::runtime {

// The lla_decode_problem of a reference problem of seq_len 1.
lla_decode_problem to_lla_decode_problem(const reference::Problem& p, lla_dtype dtype,
                                         int64_t max_position);

class DeviceDecode {
 public:
  // p: the reference problem of one step (seq_len 1). Makes device `device`'s primary context
  // current on the calling thread while it lives. Throws StatusError on CUDA failures.
  DeviceDecode(int device, const reference::Problem& p, lla_dtype dtype, int64_t max_position);

  const lla_decode_problem& problem() const { return problem_; }
  lla_decode_args args(bool advance_positions) const;
  CUdevice device() const { return device_; }
  CUstream stream() const { return stream_.get(); }

  // One token of every sequence, already rounded to the dtype (reference::round_inputs).
  void upload_inputs(const reference::Inputs& token);
  void upload_state(const std::vector<double>& state);  // [B,H,L,K,V], stored as fp32
  // Every state element set to `value`, on the stream: a large state without a host copy.
  void fill_state(float value);
  void upload_positions(const std::vector<int64_t>& positions);

  // Downloads wait for the work queued on the stream.
  std::vector<double> download_state() const;
  std::vector<int64_t> download_positions() const;
  std::vector<double> download_o() const;
  // Sets every element of o to NaN, on the stream, so an element a step leaves unwritten shows.
  void poison_o();

  // poison_o, lla_decode_step on the stream, download o. Throws std::runtime_error with
  // the status and lla_last_error when the call fails.
  std::vector<double> step(lla_context* ctx, bool advance_positions);

 private:
  const driver::CudaDriver& d_;
  CUdevice device_;
  driver::RetainedPrimaryContext context_;
  driver::ScopedContext current_;
  lla_decode_problem problem_;
  bool with_beta_;
  DeviceBuffer q_, k_, v_, g_, beta_, lambda_, o_, state_, positions_;
  Stream stream_;
};

}  // namespace lla::runtime
