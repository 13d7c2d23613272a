#include "cache_location.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace lla::cache {
namespace {

// Sets or clears the variables default_cache_dir reads, restoring them afterwards.
class CacheLocationTest : public ::testing::Test {
 protected:
  static constexpr const char* kVariables[] = {"LLA_CACHE_DIR", "XDG_CACHE_HOME", "HOME"};

  void SetUp() override {
    for (const char* name : kVariables) {
      const char* value = std::getenv(name);
      saved_.push_back(value ? std::optional<std::string>(value) : std::nullopt);
    }
  }
  void TearDown() override {
    for (size_t i = 0; i < saved_.size(); ++i) set(kVariables[i], saved_[i]);
  }
  static void set(const char* name, const std::optional<std::string>& value) {
    if (value) {
      setenv(name, value->c_str(), 1);
    } else {
      unsetenv(name);
    }
  }

 private:
  std::vector<std::optional<std::string>> saved_;
};

TEST_F(CacheLocationTest, LlaCacheDirComesFirst) {
  set("LLA_CACHE_DIR", "/srv/lla-cache");
  set("XDG_CACHE_HOME", "/xdg");
  set("HOME", "/home/someone");
  EXPECT_EQ(default_cache_dir(), "/srv/lla-cache");
}

TEST_F(CacheLocationTest, XdgCacheHomeWhenLlaCacheDirIsUnsetOrEmpty) {
  set("LLA_CACHE_DIR", std::nullopt);
  set("XDG_CACHE_HOME", "/xdg");
  set("HOME", "/home/someone");
  EXPECT_EQ(default_cache_dir(), "/xdg/lla");
  set("LLA_CACHE_DIR", "");
  EXPECT_EQ(default_cache_dir(), "/xdg/lla");
}

TEST_F(CacheLocationTest, HomeCacheWhenXdgCacheHomeIsUnsetOrEmpty) {
  set("LLA_CACHE_DIR", std::nullopt);
  set("XDG_CACHE_HOME", std::nullopt);
  set("HOME", "/home/someone");
  EXPECT_EQ(default_cache_dir(), "/home/someone/.cache/lla");
  set("XDG_CACHE_HOME", "");
  EXPECT_EQ(default_cache_dir(), "/home/someone/.cache/lla");
}

TEST_F(CacheLocationTest, WorkingDirectoryWithoutHome) {
  set("LLA_CACHE_DIR", std::nullopt);
  set("XDG_CACHE_HOME", std::nullopt);
  set("HOME", std::nullopt);
  EXPECT_EQ(default_cache_dir(), ".lla-cache");
}

}  // namespace
}  // namespace lla::cache
