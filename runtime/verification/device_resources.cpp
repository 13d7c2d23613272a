#include "verification/device_resources.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace lla::runtime {

DeviceBuffer::DeviceBuffer(const driver::CudaDriver& d, size_t bytes) : d_(d), bytes_(bytes) {
  driver::check_cuda(d_, d_.cuMemAlloc(&ptr_, std::max<size_t>(bytes, 1)), "cuMemAlloc");
}

DeviceBuffer::~DeviceBuffer() { d_.cuMemFree(ptr_); }

void DeviceBuffer::upload(const std::vector<uint8_t>& bytes) {
  if (bytes.size() > bytes_)
    throw std::invalid_argument("DeviceBuffer::upload: " + std::to_string(bytes.size()) +
                                " bytes into a buffer of " + std::to_string(bytes_));
  if (bytes.empty()) return;
  driver::check_cuda(d_, d_.cuMemcpyHtoD(ptr_, bytes.data(), bytes.size()), "cuMemcpyHtoD");
  // From pageable memory the copy may still be in flight on return, unordered with the
  // non-blocking streams that read the buffer next.
  driver::check_cuda(d_, d_.cuCtxSynchronize(), "cuCtxSynchronize");
}

std::vector<uint8_t> DeviceBuffer::download() const {
  std::vector<uint8_t> bytes(bytes_);
  driver::check_cuda(d_, d_.cuMemcpyDtoH(bytes.data(), ptr_, bytes_), "cuMemcpyDtoH");
  return bytes;
}

Event::Event(const driver::CudaDriver& d) : d_(d) {
  driver::check_cuda(d_, d_.cuEventCreate(&event_, CU_EVENT_DEFAULT), "cuEventCreate");
}

Event::~Event() { d_.cuEventDestroy(event_); }

Stream::Stream(const driver::CudaDriver& d) : d_(d) {
  driver::check_cuda(d_, d_.cuStreamCreate(&stream_, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
}

Stream::~Stream() { d_.cuStreamDestroy(stream_); }

void Stream::synchronize() const {
  driver::check_cuda(d_, d_.cuStreamSynchronize(stream_), "cuStreamSynchronize");
}

TimingSummary summarize(std::vector<double> times_ms) {
  TimingSummary s;
  if (times_ms.empty()) return s;
  std::sort(times_ms.begin(), times_ms.end());
  const size_t n = times_ms.size();
  s.median_ms = n % 2 ? times_ms[n / 2] : 0.5 * (times_ms[n / 2 - 1] + times_ms[n / 2]);
  s.min_ms = times_ms.front();
  s.max_ms = times_ms.back();
  s.repetitions = static_cast<int>(n);
  return s;
}

std::vector<double> time_samples(const driver::CudaDriver& d, CUdevice device, CUstream stream,
                                 int repetitions, const std::function<void()>& work) {
  int l2_bytes = 0;
  driver::check_cuda(d, d.cuDeviceGetAttribute(&l2_bytes, CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, device),
                     "cuDeviceGetAttribute(L2_CACHE_SIZE)");
  DeviceBuffer flush(d, 2 * static_cast<size_t>(std::max(l2_bytes, 1)));
  Event start(d), stop(d);
  std::vector<double> times;
  for (int i = 0; i < repetitions; ++i) {
    driver::check_cuda(d, d.cuMemsetD8Async(flush.address(), static_cast<unsigned char>(i),
                                            flush.bytes(), stream),
                       "cuMemsetD8Async");
    driver::check_cuda(d, d.cuEventRecord(start.get(), stream), "cuEventRecord");
    work();
    driver::check_cuda(d, d.cuEventRecord(stop.get(), stream), "cuEventRecord");
    driver::check_cuda(d, d.cuEventSynchronize(stop.get()), "cuEventSynchronize");
    float ms = 0;
    driver::check_cuda(d, d.cuEventElapsedTime(&ms, start.get(), stop.get()), "cuEventElapsedTime");
    times.push_back(ms);
  }
  return times;
}

TimingSummary time_repetitions(const driver::CudaDriver& d, CUdevice device, CUstream stream,
                               int repetitions, const std::function<void()>& work) {
  return summarize(time_samples(d, device, stream, repetitions, work));
}

void require_success(const char* call, lla_context* ctx, lla_status status) {
  if (status != LLA_SUCCESS)
    throw std::runtime_error(std::string(call) + ": " + lla_status_string(status) + ": " +
                             lla_last_error(ctx));
}

}  // namespace lla::runtime
