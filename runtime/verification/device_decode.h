#pragma once
// A decode batch on a context's backend for checks and benchmarks (the GPU tests, `lla bench
// --decode`): the tensors of lla_decode_step in that backend's memory, filled from and read
// back as float64 reference data.

#include <cstdint>
#include <memory>
#include <vector>

#include "backend/backend.h"
#include "lla/lla.h"
#include "reference/reference.h"

namespace lla::runtime {

// The lla_decode_problem of a reference problem of seq_len 1.
lla_decode_problem to_lla_decode_problem(const reference::Problem& p, lla_dtype dtype, int64_t max_position);

class DeviceDecode {
 public:
  // p: the reference problem of one step (seq_len 1), on ctx's backend (ctx must outlive this).
  // Throws StatusError when memory cannot be had.
  DeviceDecode(lla_context* ctx, const reference::Problem& p, lla_dtype dtype, int64_t max_position);
  ~DeviceDecode();

  const lla_decode_problem& problem() const { return problem_; }
  lla_decode_args args(bool advance_positions) const;
  const backend::Backend& backend() const { return backend_; }
  const backend::Stream& stream() const { return *stream_; }

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
  std::unique_ptr<backend::DeviceMemory>& tensor(compiler::Buffer role);
  const backend::DeviceMemory& tensor(compiler::Buffer role) const;

  const backend::Backend& backend_;
  lla_decode_problem problem_;
  bool with_beta_;
  std::unique_ptr<backend::DeviceMemory> memory_[static_cast<int>(compiler::Buffer::workspace)];
  std::unique_ptr<backend::Stream> stream_;
};

}  // namespace lla::runtime
