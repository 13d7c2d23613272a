#include "api/logger.h"

#include <cstdio>
#include <cstdlib>

#include "api/status_error.h"

namespace lla::runtime {

std::optional<lla_log_level> parse_log_level(std::string_view text) {
  if (text == "error") return LLA_LOG_ERROR;
  if (text == "warn") return LLA_LOG_WARN;
  if (text == "info") return LLA_LOG_INFO;
  if (text == "debug") return LLA_LOG_DEBUG;
  return std::nullopt;
}

const char* log_level_name(lla_log_level level) {
  switch (level) {
    case LLA_LOG_ERROR: return "error";
    case LLA_LOG_WARN: return "warn";
    case LLA_LOG_INFO: return "info";
    case LLA_LOG_DEBUG: return "debug";
    case LLA_LOG_FROM_ENV: break;
  }
  return "?";
}

lla_log_level log_level_from_env() {
  const char* value = std::getenv("LLA_LOG");
  if (!value || !*value) return LLA_LOG_WARN;
  if (auto level = parse_log_level(value)) return *level;
  throw StatusError(LLA_ERR_INVALID_ARGUMENT, std::string("LLA_LOG='") + value +
                                                  "' is not one of error, warn, info, debug");
}

void Logger::log(lla_log_level level, const std::string& message) const {
  if (!enabled(level)) return;
  // One fprintf per line, so lines of concurrent callers do not interleave.
  std::fprintf(stderr, "lla: %s: %s\n", log_level_name(level), message.c_str());
}

}  // namespace lla::runtime
