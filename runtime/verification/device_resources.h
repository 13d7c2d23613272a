#pragma once
// Device-side helpers of the verification and timing paths (`lla run`, `lla bench`, the GPU
// tests): owned buffers, events and streams of the current context, and the timing protocol of
// perf.md (events around each repetition, L2 flushed before it, median with min and max).

#include <cuda.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "driver/cuda_driver.h"
#include "lla/lla.h"

namespace lla::runtime {

// A device allocation of the context current while it lives.
class DeviceBuffer {
 public:
  DeviceBuffer(const driver::CudaDriver& d, size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  // At most bytes() bytes, from the start; complete on return.
  void upload(const std::vector<uint8_t>& bytes);
  std::vector<uint8_t> download() const;           // all bytes()
  void* get() const { return reinterpret_cast<void*>(ptr_); }
  CUdeviceptr address() const { return ptr_; }
  size_t bytes() const { return bytes_; }

 private:
  const driver::CudaDriver& d_;
  size_t bytes_;
  CUdeviceptr ptr_ = 0;
};

class Event {
 public:
  explicit Event(const driver::CudaDriver& d);
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  CUevent get() const { return event_; }

 private:
  const driver::CudaDriver& d_;
  CUevent event_ = nullptr;
};

class Stream {
 public:
  explicit Stream(const driver::CudaDriver& d);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  CUstream get() const { return stream_; }
  void synchronize() const;

 private:
  const driver::CudaDriver& d_;
  CUstream stream_ = nullptr;
};

struct TimingSummary {
  double median_ms = 0;
  double min_ms = 0;
  double max_ms = 0;
  int repetitions = 0;
};

TimingSummary summarize(std::vector<double> times_ms);

// Runs `work` (which queues on `stream`) `repetitions` times, each after writing a buffer twice
// the size of the device's L2 (which evicts its inputs) and between two events; waits for each.
// Returns each repetition's milliseconds, in order.
std::vector<double> time_samples(const driver::CudaDriver& d, CUdevice device, CUstream stream,
                                 int repetitions, const std::function<void()>& work);

// time_samples, summarized.
TimingSummary time_repetitions(const driver::CudaDriver& d, CUdevice device, CUstream stream,
                               int repetitions, const std::function<void()>& work);

// Throws std::runtime_error "<call>: <status>: <lla_last_error>" unless status is success.
void require_success(const char* call, lla_context* ctx, lla_status status);

}  // namespace lla::runtime
