// The CUDA backend: the device, its context, memory, streams, timing and the memory rule.
#include "backend/cuda/cuda_backend.h"

#include <algorithm>
#include <stdexcept>

#include "api/status_error.h"
#include "backend/cuda/cuda_internal.h"
#include "backend/cuda/cuda_toolchain.h"

namespace lla::runtime::backend::cuda {
namespace {

CUdevice device_handle(const driver::CudaDriver& driver, int ordinal) {
  if (ordinal < 0 || ordinal >= driver.device_count)
    throw StatusError(LLA_ERR_INVALID_ARGUMENT, "lla_options.device: " + std::to_string(ordinal) +
                                                    " is not a device ordinal; the driver reports " +
                                                    std::to_string(driver.device_count) + " device(s)");
  CUdevice device = 0;
  driver::check_cuda(driver, driver.cuDeviceGet(&device, ordinal), "cuDeviceGet");
  return device;
}

int device_attribute(const driver::CudaDriver& driver, CUdevice device, CUdevice_attribute attribute,
                     const char* name) {
  int value = 0;
  driver::check_cuda(driver, driver.cuDeviceGetAttribute(&value, attribute, device),
                     (std::string("cuDeviceGetAttribute(") + name + ")").c_str());
  return value;
}

compiler::DeviceInfo query_device_info(const driver::CudaDriver& driver, CUdevice device) {
  compiler::DeviceInfo info;
  char name[256] = {};
  driver::check_cuda(driver, driver.cuDeviceGetName(name, sizeof name - 1, device), "cuDeviceGetName");
  info.name = name;
  info.cc_major = device_attribute(driver, device, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                                   "COMPUTE_CAPABILITY_MAJOR");
  info.cc_minor = device_attribute(driver, device, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                                   "COMPUTE_CAPABILITY_MINOR");
  info.sm_count = device_attribute(driver, device, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, "MULTIPROCESSOR_COUNT");
  info.max_shared_per_block_optin = device_attribute(
      driver, device, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, "MAX_SHARED_MEMORY_PER_BLOCK_OPTIN");
  info.target = compiler::cuda_target(driver::arch_for_compute_capability(info.cc_major, info.cc_minor));
  return info;
}

// The primary context current on the calling thread while it lives.
class CudaActivation final : public Activation {
 public:
  CudaActivation(const driver::CudaDriver& driver, CUcontext context) : current_(driver, context) {}

 private:
  driver::ScopedContext current_;
};

class CudaMemory final : public DeviceMemory {
 public:
  CudaMemory(const CudaBackend& backend, size_t bytes) : backend_(backend), bytes_(bytes) {
    const driver::ScopedContext current(d(), backend_.context());
    driver::check_cuda(d(), d().cuMemAlloc(&address_, std::max<size_t>(bytes, 1)), "cuMemAlloc");
  }
  ~CudaMemory() override {
    release_in(d(), backend_.context(), [&] { d().cuMemFree(address_); });
  }
  CudaMemory(const CudaMemory&) = delete;
  CudaMemory& operator=(const CudaMemory&) = delete;

  void* data() const override { return reinterpret_cast<void*>(address_); }
  size_t bytes() const override { return bytes_; }
  void upload(const std::vector<uint8_t>& bytes) override {
    if (bytes.size() > bytes_)
      throw StatusError(LLA_ERR_INTERNAL, "DeviceMemory::upload: " + std::to_string(bytes.size()) +
                                              " bytes into " + std::to_string(bytes_));
    if (bytes.empty()) return;
    const driver::ScopedContext current(d(), backend_.context());
    driver::check_cuda(d(), d().cuMemcpyHtoD(address_, bytes.data(), bytes.size()), "cuMemcpyHtoD");
    // From pageable memory the copy may still be in flight on return, unordered with the
    // non-blocking streams that read the memory next.
    driver::check_cuda(d(), d().cuCtxSynchronize(), "cuCtxSynchronize");
  }
  std::vector<uint8_t> download() const override {
    const driver::ScopedContext current(d(), backend_.context());
    driver::check_cuda(d(), d().cuCtxSynchronize(), "cuCtxSynchronize");
    std::vector<uint8_t> bytes(bytes_);
    driver::check_cuda(d(), d().cuMemcpyDtoH(bytes.data(), address_, bytes_), "cuMemcpyDtoH");
    return bytes;
  }
  CUdeviceptr address() const { return address_; }

 private:
  const driver::CudaDriver& d() const { return backend_.driver(); }
  const CudaBackend& backend_;
  size_t bytes_;
  CUdeviceptr address_ = 0;
};

class CudaStream final : public Stream {
 public:
  explicit CudaStream(const CudaBackend& backend) : backend_(backend) {
    const driver::ScopedContext current(d(), backend_.context());
    driver::check_cuda(d(), d().cuStreamCreate(&stream_, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  }
  ~CudaStream() override {
    release_in(d(), backend_.context(), [&] { d().cuStreamDestroy(stream_); });
  }
  CudaStream(const CudaStream&) = delete;
  CudaStream& operator=(const CudaStream&) = delete;

  void* handle() const override { return stream_; }
  void synchronize() const override {
    const driver::ScopedContext current(d(), backend_.context());
    driver::check_cuda(d(), d().cuStreamSynchronize(stream_), "cuStreamSynchronize");
  }

 private:
  const driver::CudaDriver& d() const { return backend_.driver(); }
  const CudaBackend& backend_;
  CUstream stream_ = nullptr;
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

CUstream stream_of(const Stream& stream) { return static_cast<CUstream>(stream.handle()); }

const CudaMemory& cuda_memory(const DeviceMemory& memory) {
  const auto* cuda = dynamic_cast<const CudaMemory*>(&memory);
  if (!cuda) throw StatusError(LLA_ERR_INTERNAL, "the CUDA backend was given memory of another backend");
  return *cuda;
}

}  // namespace

PointerLocation locate_pointer(const driver::CudaDriver& driver, const void* pointer) {
  // Zero-initialised 4-byte slots: the driver writes a bool for IS_MANAGED, an unsigned for
  // MEMORY_TYPE and an int for DEVICE_ORDINAL, and leaves them zero for memory it does not know.
  unsigned int memory_type = 0;
  unsigned int is_managed = 0;
  int device_ordinal = -1;
  CUpointer_attribute attributes[] = {CU_POINTER_ATTRIBUTE_MEMORY_TYPE, CU_POINTER_ATTRIBUTE_IS_MANAGED,
                                      CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL};
  void* data[] = {&memory_type, &is_managed, &device_ordinal};
  CUresult r = driver.cuPointerGetAttributes(3, attributes, data, reinterpret_cast<CUdeviceptr>(pointer));
  if (r == CUDA_ERROR_INVALID_VALUE || r == CUDA_ERROR_INVALID_CONTEXT) return {};
  driver::check_cuda(driver, r, "cuPointerGetAttributes");
  if (is_managed) return {MemoryKind::managed, -1};
  if (memory_type == CU_MEMORYTYPE_DEVICE) return {MemoryKind::device, device_ordinal};
  if (memory_type == CU_MEMORYTYPE_HOST) return {MemoryKind::host, -1};
  return {};
}

std::optional<std::string> cuda_memory_problem(const PointerLocation& where, int ordinal) {
  switch (where.kind) {
    case MemoryKind::managed: return std::nullopt;
    case MemoryKind::device:
      if (where.device_ordinal == ordinal) return std::nullopt;
      return "is memory of device " + std::to_string(where.device_ordinal) + ", but the lla_context runs on device " +
             std::to_string(ordinal);
    case MemoryKind::host: return std::string("is page-locked host memory; lla needs device or managed memory");
    case MemoryKind::unregistered: break;
  }
  return std::string(
      "is not CUDA memory (pageable host memory, freed memory or a stray pointer); lla needs device or managed "
      "memory");
}

CudaBackend::CudaBackend(const driver::CudaDriver& driver, int ordinal)
    : driver_(driver),
      ordinal_(ordinal),
      device_(device_handle(driver, ordinal)),
      context_(driver, device_),
      info_(query_device_info(driver, device_)) {
  if (!device_attribute(driver_, device_, CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED, "MEMORY_POOLS_SUPPORTED"))
    throw StatusError(LLA_ERR_NOT_SUPPORTED, "device " + std::to_string(ordinal_) + " (" + info_.name +
                                                 ") has no stream-ordered allocator (cuMemAllocAsync), which lla "
                                                 "needs for its workspace");
  workspace_pool_ = std::make_unique<WorkspacePool>(driver_, device_);
}

CudaBackend::~CudaBackend() {
  release_in(driver_, context_.get(), [&] {
    driver_.cuCtxSynchronize();
    workspace_pool_.reset();
  });
}

const Toolchain& CudaBackend::toolchain() const { return cuda_toolchain(); }

std::unique_ptr<Activation> CudaBackend::activate() const {
  return std::make_unique<CudaActivation>(driver_, context_.get());
}

void CudaBackend::synchronize() const {
  driver::check_cuda(driver_, driver_.cuCtxSynchronize(), "cuCtxSynchronize");
}

std::unique_ptr<DeviceMemory> CudaBackend::allocate(size_t bytes) const {
  return std::make_unique<CudaMemory>(*this, bytes);
}

std::unique_ptr<Stream> CudaBackend::create_stream() const { return std::make_unique<CudaStream>(*this); }

void CudaBackend::fill(DeviceMemory& memory, uint32_t word, const Stream& stream) const {
  driver::check_cuda(driver_,
                     driver_.cuMemsetD32Async(cuda_memory(memory).address(), word, memory.bytes() / 4, stream_of(stream)),
                     "cuMemsetD32Async");
}

void CudaBackend::copy(DeviceMemory& destination, const DeviceMemory& source, size_t bytes,
                       const Stream& stream) const {
  driver::check_cuda(driver_,
                     driver_.cuMemcpyDtoDAsync(cuda_memory(destination).address(), cuda_memory(source).address(),
                                               bytes, stream_of(stream)),
                     "cuMemcpyDtoDAsync");
}

std::vector<double> CudaBackend::time(const Stream& stream, int repetitions, const std::function<void()>& work) const {
  const int l2_bytes =
      device_attribute(driver_, device_, CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, "L2_CACHE_SIZE");
  const CudaMemory flush(*this, 2 * static_cast<size_t>(std::max(l2_bytes, 1)));
  const Event start(driver_), stop(driver_);
  const CUstream s = stream_of(stream);
  std::vector<double> times;
  for (int i = 0; i < repetitions; ++i) {
    // Writing twice the L2 evicts the inputs the last repetition left there.
    driver::check_cuda(driver_, driver_.cuMemsetD8Async(flush.address(), static_cast<unsigned char>(i), flush.bytes(), s),
                       "cuMemsetD8Async");
    driver::check_cuda(driver_, driver_.cuEventRecord(start.get(), s), "cuEventRecord");
    work();
    driver::check_cuda(driver_, driver_.cuEventRecord(stop.get(), s), "cuEventRecord");
    driver::check_cuda(driver_, driver_.cuEventSynchronize(stop.get()), "cuEventSynchronize");
    float ms = 0;
    driver::check_cuda(driver_, driver_.cuEventElapsedTime(&ms, start.get(), stop.get()), "cuEventElapsedTime");
    times.push_back(ms);
  }
  return times;
}

cache::Provenance CudaBackend::provenance() const {
  cache::Provenance p;
  p.device_name = info_.name;
  p.sm_count = info_.sm_count;
  int sm_khz = 0, memory_khz = 0;
  if (driver_.cuDeviceGetAttribute(&sm_khz, CU_DEVICE_ATTRIBUTE_CLOCK_RATE, device_) == CUDA_SUCCESS &&
      driver_.cuDeviceGetAttribute(&memory_khz, CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE, device_) == CUDA_SUCCESS) {
    p.clocks = "sm " + std::to_string(sm_khz / 1000) + " MHz, memory " + std::to_string(memory_khz / 1000) + " MHz";
  }
  const int version = driver_.version;
  p.driver_version = std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10);
  p.nvrtc_version = toolchain().identity(info_.target).version;
  return p;
}

std::optional<std::string> CudaBackend::memory_problem(const void* pointer) const {
  return cuda_memory_problem(locate_pointer(driver_, pointer), ordinal_);
}

BackendReport report_cuda() {
  BackendReport report;
  report.facts.push_back({"driver", "CUDA driver", std::nullopt});
  report.facts.push_back({"nvrtc", "NVRTC", std::nullopt});
  try {
    report.facts[1].value = compiler::nvrtc_version_string();
  } catch (const std::exception& e) {
    report.unavailable = e.what();
  }
  const driver::DriverLoadResult& loaded = driver::load_cuda_driver();
  if (!loaded.driver) {
    report.unavailable = loaded.unavailable_reason;
    return report;
  }
  const driver::CudaDriver& d = *loaded.driver;
  report.facts[0].value = std::to_string(d.version / 1000) + "." + std::to_string(d.version % 1000 / 10);
  for (int ordinal = 0; ordinal < d.device_count; ++ordinal) {
    BackendReport::Device device;
    device.ordinal = ordinal;
    try {
      device.info = query_device_info(d, device_handle(d, ordinal));
    } catch (const std::exception& e) {
      device.error = e.what();
    }
    report.devices.push_back(std::move(device));
  }
  return report;
}

std::unique_ptr<Backend> open_cuda_backend(const BackendOptions& options) {
  return std::make_unique<CudaBackend>(driver::cuda_driver(), options.device);
}

}  // namespace lla::runtime::backend::cuda
