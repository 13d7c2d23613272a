#include "tune_policy.h"

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace lla::tuner {

std::optional<TunePolicy> parse_tune_policy(std::string_view text) {
  if (text == "off") return TunePolicy::off;
  if (text == "on-miss") return TunePolicy::on_miss;
  if (text == "force") return TunePolicy::force;
  return std::nullopt;
}

const char* tune_policy_name(TunePolicy p) {
  switch (p) {
    case TunePolicy::off: return "off";
    case TunePolicy::on_miss: return "on-miss";
    case TunePolicy::force: return "force";
  }
  return "?";
}

TunePolicy tune_policy_from_env() {
  const char* value = std::getenv("LLA_TUNE");
  if (!value || !*value) return TunePolicy::on_miss;
  if (auto p = parse_tune_policy(value)) return *p;
  throw std::invalid_argument(std::string("LLA_TUNE='") + value +
                              "' is not one of off, on-miss, force");
}

}  // namespace lla::tuner
