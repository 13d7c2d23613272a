#pragma once
// When the tuner runs: never, the first time a problem bucket is seen, or always.

#include <optional>
#include <string_view>

namespace lla::tuner {

enum class TunePolicy { off, on_miss, force };

// "off", "on-miss" or "force"; nullopt for anything else.
std::optional<TunePolicy> parse_tune_policy(std::string_view text);
const char* tune_policy_name(TunePolicy p);

// LLA_TUNE when set and valid, else on-miss. An invalid value throws std::invalid_argument
// naming the variable and the accepted values.
TunePolicy tune_policy_from_env();

}  // namespace lla::tuner
