#pragma once
// Scratch files for tests that feed files to the code under test (edited golden cases, broken
// JSON). Each is named after the running test, so test processes run in parallel do not share
// one.

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace lla::test {

// The text of a file ("" when it cannot be read).
inline std::string read_text(const std::string& path) {
  std::ifstream stream(path);
  std::ostringstream text;
  text << stream.rdbuf();
  return text.str();
}

// A bundled golden case (tests/data/cases) as JSON.
inline nlohmann::json bundled_case_json(const std::string& file_name) {
  return nlohmann::json::parse(read_text(std::string(LLA_TEST_CASES_DIR) + "/" + file_name));
}

// The path of a scratch file "<suite>_<test>_<suffix>" in the test binary directory.
inline std::string scratch_path(const std::string& suffix) {
  const testing::TestInfo* test = testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(test->test_suite_name()) + "_" + test->name() + "_" + suffix;
  std::replace(name.begin(), name.end(), '/', '_');
  return std::string(LLA_TEST_BINARY_DIR) + "/" + name;
}

// Writes text to scratch_path(suffix) and returns that path.
inline std::string write_scratch(const std::string& suffix, const std::string& text) {
  const std::string path = scratch_path(suffix);
  std::ofstream(path) << text;
  return path;
}

}  // namespace lla::test
