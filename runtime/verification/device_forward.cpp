#include "verification/device_forward.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <string>

#include "api/context_internal.h"
#include "driver/cuda_driver.h"
#include "reference/dtype_codec.h"

namespace lla::runtime {

namespace {

compiler::Dtype to_compiler_dtype(lla_dtype d) {
  switch (d) {
    case LLA_DTYPE_F32: return compiler::Dtype::f32;
    case LLA_DTYPE_F16: return compiler::Dtype::f16;
    case LLA_DTYPE_BF16: return compiler::Dtype::bf16;
  }
  throw std::invalid_argument("unknown lla_dtype");
}

// A device allocation of the primary context that is current while it lives.
class DeviceBuffer {
 public:
  DeviceBuffer(const driver::CudaDriver& d, size_t bytes) : d_(d), bytes_(bytes) {
    driver::check_cuda(d_, d_.cuMemAlloc(&ptr_, std::max<size_t>(bytes, 1)), "cuMemAlloc");
  }
  ~DeviceBuffer() { d_.cuMemFree(ptr_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void upload(const std::vector<uint8_t>& bytes) {
    if (!bytes.empty())
      driver::check_cuda(d_, d_.cuMemcpyHtoD(ptr_, bytes.data(), bytes.size()), "cuMemcpyHtoD");
  }
  std::vector<uint8_t> download() const {
    std::vector<uint8_t> bytes(bytes_);
    driver::check_cuda(d_, d_.cuMemcpyDtoH(bytes.data(), ptr_, bytes_), "cuMemcpyDtoH");
    return bytes;
  }
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
  explicit Event(const driver::CudaDriver& d) : d_(d) {
    driver::check_cuda(d_, d_.cuEventCreate(&event_, CU_EVENT_DEFAULT), "cuEventCreate");
  }
  ~Event() { d_.cuEventDestroy(event_); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  CUevent get() const { return event_; }

 private:
  const driver::CudaDriver& d_;
  CUevent event_ = nullptr;
};

class Stream {
 public:
  explicit Stream(const driver::CudaDriver& d) : d_(d) {
    driver::check_cuda(d_, d_.cuStreamCreate(&stream_, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  }
  ~Stream() { d_.cuStreamDestroy(stream_); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  CUstream get() const { return stream_; }
  void synchronize() const {
    driver::check_cuda(d_, d_.cuStreamSynchronize(stream_), "cuStreamSynchronize");
  }

 private:
  const driver::CudaDriver& d_;
  CUstream stream_ = nullptr;
};

void check_status(lla_context* ctx, lla_status status) {
  if (status != LLA_SUCCESS)
    throw std::runtime_error(std::string("lla_forward: ") + lla_status_string(status) + ": " +
                             lla_last_error(ctx));
}

TimingSummary summarize(std::vector<double> times) {
  TimingSummary s;
  if (times.empty()) return s;
  std::sort(times.begin(), times.end());
  const size_t n = times.size();
  s.median_ms = n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
  s.min_ms = times.front();
  s.max_ms = times.back();
  s.repetitions = static_cast<int>(n);
  return s;
}

}  // namespace

lla_problem to_lla_problem(const reference::Problem& p, lla_dtype dtype, int chunk) {
  lla_problem lp;
  lla_problem_init(&lp,
                   p.variant == reference::Variant::mamba2 ? LLA_VARIANT_MAMBA2
                                                           : LLA_VARIANT_GATED_DELTANET,
                   dtype, p.batch, p.seq_len, p.heads, p.groups, p.key_dim, p.value_dim);
  lp.levels = p.levels;
  lp.chunk = chunk;
  lp.scale = static_cast<float>(p.scale);
  lp.qk_l2norm = p.qk_l2norm ? 1 : 0;
  return lp;
}

DeviceForwardRun run_forward_on_device(lla_context* ctx, int device, const reference::Problem& p,
                                       const reference::Inputs& in,
                                       const DeviceForwardOptions& options) {
  const driver::CudaDriver& d = driver::cuda_driver();
  const compiler::Dtype dtype = to_compiler_dtype(options.dtype);
  CUdevice cu_device = 0;
  driver::check_cuda(d, d.cuDeviceGet(&cu_device, device), "cuDeviceGet");
  driver::RetainedPrimaryContext context(d, cu_device);
  driver::ScopedContext current(d, context.get());

  DeviceBuffer q(d, in.q.size() * compiler::dtype_bytes(dtype));
  DeviceBuffer k(d, in.k.size() * compiler::dtype_bytes(dtype));
  DeviceBuffer v(d, in.v.size() * compiler::dtype_bytes(dtype));
  DeviceBuffer g(d, in.g.size() * sizeof(float));
  DeviceBuffer lambda(d, in.lambda.size() * compiler::dtype_bytes(dtype));
  DeviceBuffer beta(d, in.beta.size() * compiler::dtype_bytes(dtype));
  DeviceBuffer o(d, reference::v_size(p) * compiler::dtype_bytes(dtype));
  q.upload(reference::encode(in.q, dtype));
  k.upload(reference::encode(in.k, dtype));
  v.upload(reference::encode(in.v, dtype));
  g.upload(reference::encode(in.g, compiler::Dtype::f32));
  lambda.upload(reference::encode(in.lambda, dtype));
  beta.upload(reference::encode(in.beta, dtype));
  o.upload(std::vector<uint8_t>(o.bytes(), 0xff));  // NaN in every dtype

  const lla_problem problem = to_lla_problem(p, options.dtype, options.chunk);
  lla_forward_args args{};
  args.q = q.get();
  args.k = k.get();
  args.v = v.get();
  args.g = static_cast<const float*>(g.get());
  args.lambda = lambda.get();
  args.beta = in.beta.empty() ? nullptr : beta.get();
  args.o = o.get();

  Stream stream(d);
  DeviceForwardRun run;
  const auto first_start = std::chrono::steady_clock::now();
  check_status(ctx, lla_forward(ctx, &problem, &args, stream.get()));
  run.first_call_host_ms = std::chrono::duration<double, std::milli>(
                               std::chrono::steady_clock::now() - first_start).count();
  run.first_call = *last_forward_dispatch();
  stream.synchronize();

  run.o = reference::decode(o.download(), dtype);
  run.unwritten = static_cast<size_t>(
      std::count_if(run.o.begin(), run.o.end(), [](double x) { return std::isnan(x); }));

  for (int i = 0; i < options.warmup; ++i)
    check_status(ctx, lla_forward(ctx, &problem, &args, stream.get()));
  if (options.repetitions > 0) {
    // Writing a buffer twice the size of L2 between runs evicts the inputs (perf.md).
    int l2_bytes = 0;
    driver::check_cuda(d, d.cuDeviceGetAttribute(&l2_bytes, CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE,
                                                 cu_device),
                       "cuDeviceGetAttribute");
    DeviceBuffer flush(d, 2 * static_cast<size_t>(std::max(l2_bytes, 1)));
    Event start(d), stop(d);
    std::vector<double> times;
    for (int i = 0; i < options.repetitions; ++i) {
      driver::check_cuda(d, d.cuMemsetD8Async(flush.address(), static_cast<unsigned char>(i),
                                              flush.bytes(), stream.get()),
                         "cuMemsetD8Async");
      driver::check_cuda(d, d.cuEventRecord(start.get(), stream.get()), "cuEventRecord");
      check_status(ctx, lla_forward(ctx, &problem, &args, stream.get()));
      driver::check_cuda(d, d.cuEventRecord(stop.get(), stream.get()), "cuEventRecord");
      driver::check_cuda(d, d.cuEventSynchronize(stop.get()), "cuEventSynchronize");
      float ms = 0;
      driver::check_cuda(d, d.cuEventElapsedTime(&ms, start.get(), stop.get()),
                         "cuEventElapsedTime");
      times.push_back(ms);
    }
    run.timing = summarize(std::move(times));
  }
  stream.synchronize();
  return run;
}

}  // namespace lla::runtime
