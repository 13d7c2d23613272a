// lla on a machine without a usable CUDA driver or device: lla_create says so and leaves no
// context. On a machine with a device these tests skip, saying why.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "backend/cuda/cuda_driver.h"
#include "lla/lla.h"

namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

const lla::runtime::driver::DriverLoadResult& loaded_driver() {
  return lla::runtime::driver::load_cuda_driver();
}

#define SKIP_WITH_A_DEVICE()                                                                 \
  do {                                                                                       \
    if (loaded_driver().driver)                                                      \
      GTEST_SKIP() << "a CUDA device is usable here; this test covers machines without one"; \
  } while (0)

TEST(NoDevice, CreateReportsNoDeviceAndLeavesNoContext) {
  SKIP_WITH_A_DEVICE();
  lla_context* ctx = reinterpret_cast<lla_context*>(0x1);
  EXPECT_EQ(lla_create(nullptr, &ctx), LLA_ERR_NO_DEVICE);
  EXPECT_EQ(ctx, nullptr);
  const std::string reason = loaded_driver().unavailable_reason;
  EXPECT_EQ(lla_last_error(nullptr), reason);
  EXPECT_THAT(reason, HasSubstr("CUDA"));
}

TEST(NoDevice, MissingLibcudaIsNamedWithTheLoaderMessage) {
  SKIP_WITH_A_DEVICE();
  const std::string reason = loaded_driver().unavailable_reason;
  if (reason.find("libcuda.so.1 not found") == std::string::npos)
    GTEST_SKIP() << "libcuda.so.1 is present but unusable here: " << reason;
  EXPECT_THAT(reason, StartsWith("no CUDA driver (libcuda.so.1 not found: "));
  EXPECT_THAT(reason, HasSubstr("libcuda.so.1"));  // dlerror() names the file it looked for
}

TEST(NoDevice, EveryCreateFailsTheSameWay) {
  SKIP_WITH_A_DEVICE();
  lla_options options;
  lla_options_init(&options);
  options.cache_dir = "/nonexistent/lla-no-device-test";
  for (int i = 0; i < 3; ++i) {
    lla_context* ctx = nullptr;
    EXPECT_EQ(lla_create(&options, &ctx), LLA_ERR_NO_DEVICE);
    EXPECT_EQ(ctx, nullptr);
    EXPECT_EQ(lla_last_error(nullptr), loaded_driver().unavailable_reason);
  }
}

TEST(NoDevice, TheErrorBelongsToTheFailingThread) {
  SKIP_WITH_A_DEVICE();
  lla_context* ctx = nullptr;
  ASSERT_EQ(lla_create(nullptr, &ctx), LLA_ERR_NO_DEVICE);
  std::string seen_elsewhere = "unset";
  std::thread([&] { seen_elsewhere = lla_last_error(nullptr); }).join();
  EXPECT_EQ(seen_elsewhere, "");
  EXPECT_NE(std::string(lla_last_error(nullptr)), "");
}

TEST(CudaDriver, ArchForComputeCapability) {
  EXPECT_EQ(lla::runtime::driver::arch_for_compute_capability(9, 0), "sm_90a");
  EXPECT_EQ(lla::runtime::driver::arch_for_compute_capability(8, 0), "sm_80");
  EXPECT_EQ(lla::runtime::driver::arch_for_compute_capability(8, 9), "sm_89");
}

TEST(NoDevice, DestroyingNullIsHarmless) {
  lla_destroy(nullptr);
  EXPECT_STREQ(lla_last_error(nullptr), "");
}

}  // namespace
