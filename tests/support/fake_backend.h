#pragma once
// A backend behind the seam (runtime/backend/backend.h) that runs nothing: host memory, modules
// that remember their entry points, runs recorded as they were asked for, and a clock that
// always reads the same. The dispatcher, the candidate bench and validation are tested against
// it on the CPU; the images it loads are the CUDA toolchain's (NVRTC needs no device).

#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/status_error.h"
#include "backend/backend.h"
#include "backend/cuda/cuda_toolchain.h"

namespace lla::test {

class FakeBackend : public runtime::backend::Backend {
 public:
  struct Run {
    compiler::LaunchPlan plan;
    runtime::backend::BoundBuffers buffers;
    std::vector<std::string> module_entry_points;
  };

  FakeBackend() {
    device_.name = "Fake Device";
    device_.cc_major = 8;
    device_.sm_count = 4;
    device_.max_shared_per_block_optin = 163 * 1024;
    device_.target = compiler::cuda_target("sm_80");
  }

  compiler::BackendKind kind() const override { return compiler::BackendKind::cuda; }
  const compiler::DeviceInfo& device() const override { return device_; }
  const runtime::backend::Toolchain& toolchain() const override { return runtime::backend::cuda::cuda_toolchain(); }
  std::unique_ptr<runtime::backend::Activation> activate() const override {
    return std::make_unique<runtime::backend::Activation>();
  }

  std::unique_ptr<runtime::backend::Module> load(const runtime::backend::CompiledImage& image,
                                                 const std::vector<std::string>& entry_points) const override {
    if (image.bytes.empty()) throw runtime::StatusError(LLA_ERR_INTERNAL, "an empty image");
    ++loads;
    return std::make_unique<Module>(entry_points);
  }

  void run(const runtime::backend::Module& module, const compiler::LaunchPlan& plan,
           const runtime::backend::BoundBuffers& buffers, void*) const override {
    const auto& fake = static_cast<const Module&>(module);
    for (const compiler::Launch& l : plan.launches)
      if (std::find(fake.entry_points.begin(), fake.entry_points.end(), l.kernel) == fake.entry_points.end())
        throw runtime::StatusError(LLA_ERR_INTERNAL, "the plan names " + l.kernel + ", which the module lacks");
    // Every output "computed": zeros, unless the test wants it left as it was.
    if (write_outputs)
      if (Memory* o = memory_at(buffers.address(compiler::Buffer::o))) std::fill(o->bytes_.begin(), o->bytes_.end(), 0);
    std::lock_guard<std::mutex> lock(mutex_);
    runs.push_back({plan, buffers, fake.entry_points});
  }

  void synchronize() const override {}

  std::unique_ptr<runtime::backend::DeviceMemory> allocate(size_t bytes) const override {
    auto memory = std::make_unique<Memory>(*this, bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    allocations_[memory->data()] = memory.get();
    return memory;
  }
  std::unique_ptr<runtime::backend::Stream> create_stream() const override { return std::make_unique<Stream>(); }
  void fill(runtime::backend::DeviceMemory& memory, uint32_t word, const runtime::backend::Stream&) const override {
    auto& m = static_cast<Memory&>(memory);
    for (size_t i = 0; i + 4 <= m.bytes_.size(); i += 4) std::memcpy(&m.bytes_[i], &word, 4);
  }
  void copy(runtime::backend::DeviceMemory& destination, const runtime::backend::DeviceMemory& source, size_t bytes,
            const runtime::backend::Stream&) const override {
    std::memcpy(destination.data(), source.data(), bytes);
  }
  std::vector<double> time(const runtime::backend::Stream&, int repetitions,
                           const std::function<void()>& work) const override {
    std::vector<double> samples;
    for (int i = 0; i < repetitions; ++i) {
      work();
      samples.push_back(sample_ms);
    }
    return samples;
  }
  cache::Provenance provenance() const override {
    cache::Provenance p;
    p.device_name = device_.name;
    p.sm_count = device_.sm_count;
    p.nvrtc_version = toolchain().identity(device_.target).version;
    return p;
  }
  // Memory this backend allocated is its own; anything else is "host memory".
  std::optional<std::string> memory_problem(const void* pointer) const override {
    if (memory_at(pointer)) return std::nullopt;
    return std::string("is not memory of the fake device");
  }

  // The bytes of memory allocated here that `pointer` points into the start of.
  const std::vector<uint8_t>* bytes_at(const void* pointer) const {
    const Memory* m = memory_at(pointer);
    return m ? &m->bytes_ : nullptr;
  }

  mutable std::vector<Run> runs;
  mutable int loads = 0;
  bool write_outputs = true;
  double sample_ms = 1.0;

 private:
  struct Module : runtime::backend::Module {
    explicit Module(std::vector<std::string> entries) : entry_points(std::move(entries)) {}
    std::vector<std::string> entry_points;
  };
  struct Stream : runtime::backend::Stream {
    void* handle() const override { return nullptr; }
    void synchronize() const override {}
  };
  class Memory : public runtime::backend::DeviceMemory {
   public:
    Memory(const FakeBackend& owner, size_t bytes) : owner_(owner), bytes_(bytes, 0xab) {}
    ~Memory() override {
      std::lock_guard<std::mutex> lock(owner_.mutex_);
      owner_.allocations_.erase(data());
    }
    void* data() const override { return const_cast<uint8_t*>(bytes_.data()); }
    size_t bytes() const override { return bytes_.size(); }
    void upload(const std::vector<uint8_t>& bytes) override { std::copy(bytes.begin(), bytes.end(), bytes_.begin()); }
    std::vector<uint8_t> download() const override { return bytes_; }

    const FakeBackend& owner_;
    std::vector<uint8_t> bytes_;
  };
  Memory* memory_at(const void* pointer) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto found = allocations_.find(pointer);
    return found == allocations_.end() ? nullptr : found->second;
  }

  compiler::DeviceInfo device_;
  mutable std::mutex mutex_;
  mutable std::map<const void*, Memory*> allocations_;
};

}  // namespace lla::test
