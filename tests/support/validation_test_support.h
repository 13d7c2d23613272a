#pragma once
// Validation tests on the CPU: a MemoryInspector that stands in for the CUDA backend (its
// memory rule over driver answers the test makes up), and the check of a verdict's status and
// the field its message names.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "api/validation_checks.h"
#include "backend/cuda/cuda_backend.h"
#include "lla/lla.h"

namespace lla::testing {

// The CUDA backend of device 0 as validation sees it: the driver answers device memory of
// device 0 for every pointer except those listed in `overrides`.
class FakeInspector : public runtime::backend::MemoryInspector {
 public:
  std::optional<std::string> memory_problem(const void* pointer) const override {
    auto found = overrides.find(pointer);
    return runtime::backend::cuda::cuda_memory_problem(
        found != overrides.end() ? found->second : runtime::backend::cuda::PointerLocation{runtime::backend::cuda::MemoryKind::device, 0},
        0);
  }
  std::map<const void*, runtime::backend::cuda::PointerLocation> overrides;
};

#define EXPECT_VERDICT(result, expected_status, field)                                       \
  do {                                                                                      \
    const ::lla::runtime::ValidationResult r_ = (result);                                   \
    EXPECT_EQ(r_.status, expected_status) << lla_status_string(r_.status) << ": " << r_.message; \
    EXPECT_THAT(r_.message, ::testing::HasSubstr(field));                                    \
  } while (0)

}  // namespace lla::testing
