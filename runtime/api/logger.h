#pragma once
// Messages of one context to stderr, one line each ("lla: warn: ..."), filtered by level.

#include <optional>
#include <string>
#include <string_view>

#include "lla/lla.h"

namespace lla::runtime {

// "error", "warn", "info" or "debug"; nullopt for anything else.
std::optional<lla_log_level> parse_log_level(std::string_view text);
const char* log_level_name(lla_log_level level);

// LLA_LOG when set and not empty, else warn. Throws StatusError(LLA_ERR_INVALID_ARGUMENT)
// naming the variable when its value is not a level.
lla_log_level log_level_from_env();

class Logger {
 public:
  explicit Logger(lla_log_level level) : level_(level) {}
  lla_log_level level() const { return level_; }
  bool enabled(lla_log_level level) const { return level <= level_; }
  void log(lla_log_level level, const std::string& message) const;
  void error(const std::string& message) const { log(LLA_LOG_ERROR, message); }
  void warn(const std::string& message) const { log(LLA_LOG_WARN, message); }
  void info(const std::string& message) const { log(LLA_LOG_INFO, message); }
  void debug(const std::string& message) const { log(LLA_LOG_DEBUG, message); }

 private:
  lla_log_level level_;
};

}  // namespace lla::runtime
