#pragma once
// GPU tests: a context on device 0 with a private cache folder, or a visible skip when this
// machine has no usable CUDA device.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "backend/cuda/cuda_driver.h"
#include "lla/lla.h"

namespace lla::testing {

// Skips the calling test, with the reason, when no CUDA device is usable here.
#define LLA_SKIP_WITHOUT_GPU()                                                          \
  do {                                                                                  \
    const auto& loaded = ::lla::runtime::driver::load_cuda_driver();                    \
    if (!loaded.driver) GTEST_SKIP() << "GPU test skipped: " << loaded.unavailable_reason; \
  } while (0)

// A context whose cache lives in a folder under the test binary directory: a fresh one, unless
// `folder` is keep (a second context of the same test reusing the first one's cache).
enum class CacheFolder { fresh, keep };

class GpuContext {
 public:
  explicit GpuContext(const std::string& cache_name, lla_tune_policy tune = LLA_TUNE_OFF,
                      CacheFolder folder = CacheFolder::fresh) {
    cache_dir_ = std::string(LLA_TEST_BINARY_DIR) + "/gpu-cache-" + cache_name;
    if (folder == CacheFolder::fresh) std::filesystem::remove_all(cache_dir_);
    lla_options options;
    lla_options_init(&options);
    options.cache_dir = cache_dir_.c_str();
    options.tune = tune;
    status_ = lla_create(&options, &ctx_);
    if (status_ != LLA_SUCCESS) error_ = lla_last_error(nullptr);
  }
  ~GpuContext() { lla_destroy(ctx_); }
  GpuContext(const GpuContext&) = delete;
  GpuContext& operator=(const GpuContext&) = delete;

  lla_context* get() const { return ctx_; }
  lla_status status() const { return status_; }
  const std::string& error() const { return error_; }
  const std::string& cache_dir() const { return cache_dir_; }

 private:
  std::string cache_dir_;
  lla_context* ctx_ = nullptr;
  lla_status status_ = LLA_SUCCESS;
  std::string error_;
};

}  // namespace lla::testing
