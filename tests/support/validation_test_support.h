#pragma once
// Validation tests on the CPU: a PointerInspector that stands in for the driver, and the check
// of a verdict's status and the field its message names.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "api/pointer_inspection.h"
#include "api/validation_checks.h"
#include "lla/lla.h"

namespace lla::testing {

// Answers device memory of device 0 for every pointer except those listed in `overrides`.
class FakeInspector : public runtime::PointerInspector {
 public:
  runtime::PointerLocation locate(const void* pointer) const override {
    auto found = overrides.find(pointer);
    return found != overrides.end() ? found->second
                                    : runtime::PointerLocation{runtime::MemoryKind::device, 0};
  }
  std::map<const void*, runtime::PointerLocation> overrides;
};

#define EXPECT_VERDICT(result, expected_status, field)                                       \
  do {                                                                                      \
    const ::lla::runtime::ValidationResult r_ = (result);                                   \
    EXPECT_EQ(r_.status, expected_status) << lla_status_string(r_.status) << ": " << r_.message; \
    EXPECT_THAT(r_.message, ::testing::HasSubstr(field));                                    \
  } while (0)

}  // namespace lla::testing
