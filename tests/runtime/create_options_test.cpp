// lla_create's options and environment: every wrong value is refused, naming the field or the
// variable, before any device is touched, so these run the same with and without a GPU.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include <cstdlib>
#include <string>

#include "api/context.h"
#include "api/status_error.h"
#include "cache_location.h"
#include "lla/lla.h"

namespace lla::runtime {
namespace {

using ::testing::HasSubstr;

class CreateOptions : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("LLA_LOG");
    unsetenv("LLA_TUNE");
  }
  void TearDown() override { SetUp(); }

  // lla_create's status, checking that a failure leaves *ctx NULL (and lla_last_error set).
  lla_status create(const lla_options* options) {
    lla_context* ctx = reinterpret_cast<lla_context*>(0x1);
    const lla_status status = lla_create(options, &ctx);
    if (status == LLA_SUCCESS) {
      lla_destroy(ctx);
    } else {
      EXPECT_EQ(ctx, nullptr);
    }
    return status;
  }
};

TEST_F(CreateOptions, NullOutputPointerIsAnInvalidArgument) {
  EXPECT_EQ(lla_create(nullptr, nullptr), LLA_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(lla_last_error(nullptr), HasSubstr("ctx"));
}

TEST_F(CreateOptions, InvalidLogVariableIsNamed) {
  setenv("LLA_LOG", "verbose", 1);
  EXPECT_EQ(create(nullptr), LLA_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(lla_last_error(nullptr), HasSubstr("LLA_LOG='verbose'"));
}

TEST_F(CreateOptions, InvalidTuneVariableIsNamed) {
  setenv("LLA_TUNE", "sometimes", 1);
  EXPECT_EQ(create(nullptr), LLA_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(lla_last_error(nullptr), HasSubstr("LLA_TUNE='sometimes'"));
}

TEST_F(CreateOptions, OutOfRangeFieldsAreNamed) {
  lla_options options;
  lla_options_init(&options);
  options.tune = static_cast<lla_tune_policy>(9);
  EXPECT_EQ(create(&options), LLA_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(lla_last_error(nullptr), HasSubstr("lla_options.tune"));

  lla_options_init(&options);
  options.log_level = static_cast<lla_log_level>(-2);
  EXPECT_EQ(create(&options), LLA_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(lla_last_error(nullptr), HasSubstr("lla_options.log_level"));

  lla_options_init(&options);
  options.device = -1;
  EXPECT_EQ(create(&options), LLA_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(lla_last_error(nullptr), HasSubstr("lla_options.device"));
}

TEST_F(CreateOptions, TuneBudgetIsValidatedAndDefaultsTo30Seconds) {
  lla_options options;
  lla_options_init(&options);
  EXPECT_EQ(resolve_options(&options).tune_budget_s, 30.0);
  options.tune_budget_seconds = 2.5;
  EXPECT_EQ(resolve_options(&options).tune_budget_s, 2.5);
  for (double bad : {-1.0, std::nan(""), HUGE_VAL}) {
    options.tune_budget_seconds = bad;
    lla_context* ctx = nullptr;
    EXPECT_EQ(lla_create(&options, &ctx), LLA_ERR_INVALID_ARGUMENT) << bad;
    EXPECT_EQ(ctx, nullptr);
    EXPECT_THAT(lla_last_error(nullptr), HasSubstr("lla_options.tune_budget_seconds")) << bad;
  }
}

TEST_F(CreateOptions, DefaultsComeFromTheEnvironment) {
  ResolvedOptions r = resolve_options(nullptr);
  EXPECT_EQ(r.device, 0);
  EXPECT_EQ(r.log_level, LLA_LOG_WARN);
  EXPECT_EQ(r.tune, tuner::TunePolicy::on_miss);
  EXPECT_EQ(r.cache_dir, cache::default_cache_dir());
  EXPECT_FALSE(r.explicit_cache_dir);

  setenv("LLA_LOG", "debug", 1);
  setenv("LLA_TUNE", "force", 1);
  r = resolve_options(nullptr);
  EXPECT_EQ(r.log_level, LLA_LOG_DEBUG);
  EXPECT_EQ(r.tune, tuner::TunePolicy::force);
}

TEST_F(CreateOptions, ExplicitOptionsOverrideTheEnvironment) {
  setenv("LLA_LOG", "not-a-level", 1);
  setenv("LLA_TUNE", "not-a-policy", 1);
  lla_options options;
  lla_options_init(&options);
  options.device = 3;
  options.cache_dir = "/tmp/lla-explicit";
  options.tune = LLA_TUNE_OFF;
  options.log_level = LLA_LOG_ERROR;
  const ResolvedOptions r = resolve_options(&options);
  EXPECT_EQ(r.device, 3);
  EXPECT_EQ(r.cache_dir, "/tmp/lla-explicit");
  EXPECT_TRUE(r.explicit_cache_dir);
  EXPECT_EQ(r.tune, tuner::TunePolicy::off);
  EXPECT_EQ(r.log_level, LLA_LOG_ERROR);
}

TEST_F(CreateOptions, AnEmptyCacheDirMeansTheDefault) {
  lla_options options;
  lla_options_init(&options);
  options.cache_dir = "";
  const ResolvedOptions r = resolve_options(&options);
  EXPECT_FALSE(r.explicit_cache_dir);
  EXPECT_EQ(r.cache_dir, cache::default_cache_dir());
}

TEST_F(CreateOptions, ResolveThrowsAStatusError) {
  setenv("LLA_LOG", "loud", 1);
  try {
    resolve_options(nullptr);
    FAIL() << "resolve_options accepted LLA_LOG=loud";
  } catch (const StatusError& e) {
    EXPECT_EQ(e.status(), LLA_ERR_INVALID_ARGUMENT);
    EXPECT_THAT(e.what(), HasSubstr("error, warn, info, debug"));
  }
}

}  // namespace
}  // namespace lla::runtime
