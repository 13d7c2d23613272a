#pragma once
// Values of command-line options, parsed with errors that name the option and the text.

#include <string>

#include "generator/kernel_spec.h"

namespace lla::tools {

// Throws std::invalid_argument "<option>: '<text>' is not an integer".
int parse_int(const std::string& option, const std::string& text);

// A number of seconds above zero; throws std::invalid_argument naming the option otherwise.
double parse_positive_seconds(const std::string& option, const std::string& text);

// "bf16", "f16" or "f32"; throws std::invalid_argument naming --dtype otherwise.
compiler::Dtype parse_dtype(const std::string& text);

}  // namespace lla::tools
